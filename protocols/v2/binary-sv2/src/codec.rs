//! The Encodable / Decodable traits and the cursor types they work on.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};

/// A value with a Stratum V2 binary encoding.
///
/// `encoded_len` is exact, so a caller can size its buffer before encoding; `write_to` writes
/// into the caller's buffer and never allocates.
pub trait Encodable {
    /// Exact number of bytes [`Encodable::write_to`] writes.
    fn encoded_len(&self) -> usize;

    /// Write the encoding at the writer's position.
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Encode into the start of `dst`; returns the number of bytes written.
    fn encode(&self, dst: &mut [u8]) -> Result<usize, EncodeError> {
        let needed = self.encoded_len();
        if dst.len() < needed {
            return Err(EncodeErrorKind::BufferTooSmall {
                needed,
                available: dst.len(),
            }
            .into());
        }
        let mut w = Writer::new(&mut dst[..needed]);
        self.write_to(&mut w)?;
        Ok(w.position())
    }

    /// Encode into a new vector (convenience; the hot paths use [`Encodable::encode`]).
    fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = vec![0u8; self.encoded_len()];
        self.encode(&mut v)?;
        Ok(v)
    }
}

/// A value that can be decoded from bytes borrowed for `'a`.
///
/// Byte fields (B0_*, STR0_255, BYTES, sequences) borrow from the input; nothing is copied.
pub trait Decodable<'a>: Sized {
    /// The encoded size, if every value of the type has the same one.
    const FIXED_SIZE: Option<usize> = None;

    /// Read one value at the reader's position.
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError>;

    /// Decode a whole payload: bytes left after the value are an error.
    fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::read_from(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    /// Decode one value from the start of `bytes` and return it with what follows it.
    fn decode_prefix(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::read_from(&mut r)?;
        Ok((v, r.rest()))
    }
}

/// Turn a value that may borrow its input into one that owns everything (`'static`), so that
/// applications can keep messages without threading decoder lifetimes through their code.
pub trait IntoStatic {
    type Static: 'static;
    fn into_static(self) -> Self::Static;
}

/// Sum of the fixed sizes of a struct's fields, or `None` if any field is variable.
/// Used by the derive macro.
pub const fn sum_fixed_sizes(sizes: &[Option<usize>]) -> Option<usize> {
    let mut total = 0;
    let mut i = 0;
    while i < sizes.len() {
        match sizes[i] {
            Some(s) => total += s,
            None => return None,
        }
        i += 1;
    }
    Some(total)
}

/// A cursor over input bytes. All reads are bounds-checked and return typed errors.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes; the reader is left empty.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Take `n` bytes, or fail naming the type being read.
    #[inline]
    pub fn take(&mut self, n: usize, ty: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(truncated(ty, n, self.buf.len()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Take exactly `N` bytes as an array.
    #[inline]
    pub fn take_array<const N: usize>(&mut self, ty: &'static str) -> Result<[u8; N], DecodeError> {
        match self.buf.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(*head)
            }
            None => Err(truncated(ty, N, self.buf.len())),
        }
    }

    /// Fail if bytes remain.
    #[inline]
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeErrorKind::TrailingBytes {
                count: self.buf.len(),
            }
            .into())
        }
    }
}

#[cold]
fn truncated(ty: &'static str, needed: usize, available: usize) -> DecodeError {
    DecodeErrorKind::Truncated {
        ty,
        needed,
        available,
    }
    .into()
}

/// A cursor over a caller's output buffer.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    #[inline]
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + bytes.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                Ok(())
            }
            None => Err(EncodeErrorKind::BufferTooSmall {
                needed: end,
                available: self.buf.len(),
            }
            .into()),
        }
    }

    #[inline]
    pub fn put_u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.put_slice(&[v])
    }
}
