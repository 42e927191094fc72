//! Splitting a byte stream into lines, with a limit.
//!
//! Sv1 is one JSON object per line, LF or CRLF terminated. A peer that never sends a newline
//! must not make us buffer without bound: past `max_line` bytes the reader returns
//! [`LineError::TooLong`] and the caller closes that connection.

use std::fmt;

/// Default maximum line length. A mining.notify with a large coinbase and 20 merkle branches
/// is a few KiB; 64 KiB leaves room for any honest peer.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A line (or the unterminated rest of one) exceeds the limit: close the connection.
    TooLong { max: usize },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong { max } => {
                write!(f, "line longer than {max} bytes; closing the connection")
            }
        }
    }
}

impl std::error::Error for LineError {}

/// Accumulates bytes and hands out complete lines (without the line end).
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Start of the next unread line in `buf`.
    start: usize,
    max_line: usize,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineReader {
    pub fn new(max_line: usize) -> Self {
        LineReader {
            buf: Vec::new(),
            start: 0,
            max_line,
        }
    }

    /// Add bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, if any. Empty lines are skipped; a trailing `\r` is removed.
    /// Invalid UTF-8 is replaced, so the JSON parser reports it as a bad line.
    pub fn next_line(&mut self) -> Result<Option<String>, LineError> {
        loop {
            let rest = &self.buf[self.start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    if pos > self.max_line {
                        return Err(LineError::TooLong { max: self.max_line });
                    }
                    let mut line = &rest[..pos];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.start += pos + 1;
                    if self.start == self.buf.len() {
                        self.buf.clear();
                        self.start = 0;
                    }
                    if text.trim().is_empty() {
                        continue;
                    }
                    return Ok(Some(text));
                }
                None => {
                    if rest.len() > self.max_line {
                        return Err(LineError::TooLong { max: self.max_line });
                    }
                    // Compact so that the buffer holds at most one partial line.
                    if self.start > 0 {
                        self.buf.drain(..self.start);
                        self.start = 0;
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}
