//! Typed errors of the binary codec. Each says which type, which limit, and (once a derived
//! struct has wrapped it) which message and field.

use std::fmt;

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended inside a value of type `ty`.
    Truncated {
        ty: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length prefix announced more bytes or elements than the type allows.
    TooLong {
        ty: &'static str,
        len: usize,
        max: usize,
    },
    /// An OPTION whose count byte is neither 0 nor 1.
    InvalidOptionCount { count: u8 },
    /// Bytes remained after the last field of a message.
    TrailingBytes { count: usize },
    /// A value the type or message does not allow.
    InvalidValue {
        ty: &'static str,
        reason: &'static str,
    },
}

/// Where and what: the details of a [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeErrorDetails {
    pub kind: DecodeErrorKind,
    /// Name of the struct (message) being decoded.
    pub message: Option<&'static str>,
    /// Name of the field being decoded.
    pub field: Option<&'static str>,
}

/// A decoding error with the message and field it happened in, when known.
///
/// Boxed so that `Result<T, DecodeError>` stays one word wider than `T`: every field read
/// returns one, and a large error type made the hot decoding path measurably slower. The
/// allocation happens only on the error path. Fields are read through `Deref`
/// (`err.kind`, `err.message`, `err.field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<DecodeErrorDetails>);

impl std::ops::Deref for DecodeError {
    type Target = DecodeErrorDetails;
    fn deref(&self) -> &DecodeErrorDetails {
        &self.0
    }
}

impl DecodeError {
    #[cold]
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError(Box::new(DecodeErrorDetails {
            kind,
            message: None,
            field: None,
        }))
    }

    /// Attach the innermost struct and field; outer structs keep the inner location.
    #[cold]
    pub fn at(mut self, message: &'static str, field: &'static str) -> Self {
        if self.0.message.is_none() {
            self.0.message = Some(message);
            self.0.field = Some(field);
        }
        self
    }

    /// Attach a message name to an error that has none (used for trailing bytes).
    #[cold]
    pub fn in_message(mut self, message: &'static str) -> Self {
        if self.0.message.is_none() {
            self.0.message = Some(message);
        }
        self
    }
}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::new(kind)
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeErrorKind::Truncated {
                ty,
                needed,
                available,
            } => write!(
                f,
                "{ty} truncated: needs {needed} bytes, {available} available"
            ),
            DecodeErrorKind::TooLong { ty, len, max } => {
                write!(f, "{ty} length {len} exceeds its maximum of {max}")
            }
            DecodeErrorKind::InvalidOptionCount { count } => {
                write!(f, "OPTION count must be 0 or 1, got {count}")
            }
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the last field")
            }
            DecodeErrorKind::InvalidValue { ty, reason } => write!(f, "invalid {ty}: {reason}"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message, self.field) {
            (Some(m), Some(field)) => write!(f, "{m}.{field}: {}", self.kind),
            (Some(m), None) => write!(f, "{m}: {}", self.kind),
            _ => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What went wrong while building or encoding a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeErrorKind {
    /// The caller's buffer is smaller than the encoded value.
    BufferTooSmall { needed: usize, available: usize },
    /// A value is longer than its type allows (bytes for B0_*/STR0_255, elements for SEQ*).
    TooLong {
        ty: &'static str,
        len: usize,
        max: usize,
    },
    /// An integer does not fit its type (U24).
    OutOfRange {
        ty: &'static str,
        value: u64,
        max: u64,
    },
}

/// An encoding error, with the message and field when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeError {
    pub kind: EncodeErrorKind,
    pub message: Option<&'static str>,
    pub field: Option<&'static str>,
}

impl EncodeError {
    pub const fn new(kind: EncodeErrorKind) -> Self {
        EncodeError {
            kind,
            message: None,
            field: None,
        }
    }

    #[cold]
    pub fn at(mut self, message: &'static str, field: &'static str) -> Self {
        if self.message.is_none() {
            self.message = Some(message);
            self.field = Some(field);
        }
        self
    }
}

impl From<EncodeErrorKind> for EncodeError {
    fn from(kind: EncodeErrorKind) -> Self {
        EncodeError::new(kind)
    }
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeErrorKind::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer too small: needs {needed} bytes, has {available}"
            ),
            EncodeErrorKind::TooLong { ty, len, max } => {
                write!(f, "{ty} length {len} exceeds its maximum of {max}")
            }
            EncodeErrorKind::OutOfRange { ty, value, max } => {
                write!(f, "{ty} value {value} exceeds its maximum of {max}")
            }
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message, self.field) {
            (Some(m), Some(field)) => write!(f, "{m}.{field}: {}", self.kind),
            _ => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for EncodeError {}
