//! SEQ0_255[T] and SEQ0_64K[T].
//!
//! A sequence keeps its elements in wire form: decoding validates every element once and then
//! borrows the bytes; encoding is the count and one copy of those bytes. Elements are read back
//! by [`Seq::iter`] (or [`Seq::get`] for fixed-size elements) as borrowed views. So a 12-entry
//! merkle path decodes and re-encodes without allocating, and a transaction list is never
//! copied until the application asks for an owned value.

use crate::codec::{Decodable, Encodable, IntoStatic, Reader, Writer};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
use crate::types::{PubKey, Signature, Str0255, B016M, B0255, B032, B064K, U24, U256};
use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// A type that can be an element of a sequence. `View<'x>` is the element read back from bytes
/// that live for `'x` (the type itself for integers, a borrowed byte type for byte strings).
pub trait SeqElement {
    type View<'x>: Decodable<'x> + Encodable + fmt::Debug;
}

macro_rules! seq_element_plain {
    ($($t:ty),*) => {$(
        impl SeqElement for $t {
            type View<'x> = $t;
        }
    )*};
}
seq_element_plain!(bool, u8, u16, u32, u64, f32, U24, U256, PubKey, Signature);

macro_rules! seq_element_bytes {
    ($($t:ident),*) => {$(
        impl SeqElement for $t<'_> {
            type View<'x> = $t<'x>;
        }
    )*};
}
seq_element_bytes!(B032, B0255, B064K, B016M, Str0255);

/// A sequence of at most `MAX` elements with a `PREFIX`-byte little-endian count.
pub struct Seq<'a, T, const MAX: usize, const PREFIX: usize> {
    count: usize,
    bytes: Cow<'a, [u8]>,
    _element: PhantomData<fn() -> T>,
}

/// SEQ0_255[T]: up to 255 elements, U8 count.
pub type Seq0255<'a, T> = Seq<'a, T, 255, 1>;
/// SEQ0_64K[T]: up to 65535 elements, U16 count.
pub type Seq064K<'a, T> = Seq<'a, T, 65_535, 2>;

impl<'a, T: SeqElement, const MAX: usize, const PREFIX: usize> Seq<'a, T, MAX, PREFIX> {
    /// The spec's name of the type.
    pub const SPEC_NAME: &'static str = if PREFIX == 1 { "SEQ0_255" } else { "SEQ0_64K" };
    /// Largest allowed number of elements.
    pub const MAX_LEN: usize = MAX;

    /// An empty sequence.
    pub fn new() -> Self {
        Seq {
            count: 0,
            bytes: Cow::Borrowed(&[]),
            _element: PhantomData,
        }
    }

    /// Build a sequence from elements, refusing more than `MAX` of them.
    pub fn from_items<I, E>(items: I) -> Result<Self, EncodeError>
    where
        I: IntoIterator<Item = E>,
        E: Encodable,
    {
        let mut bytes = Vec::new();
        let mut count = 0usize;
        for item in items {
            count += 1;
            if count > MAX {
                return Err(EncodeErrorKind::TooLong {
                    ty: Self::SPEC_NAME,
                    len: count,
                    max: MAX,
                }
                .into());
            }
            let start = bytes.len();
            bytes.resize(start + item.encoded_len(), 0);
            item.encode(&mut bytes[start..])?;
        }
        Ok(Seq {
            count,
            bytes: Cow::Owned(bytes),
            _element: PhantomData,
        })
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements' bytes as on the wire, without the count.
    #[inline]
    pub fn elements_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Iterate over the elements, borrowing from this sequence.
    pub fn iter(&self) -> SeqIter<'_, T> {
        SeqIter {
            reader: Reader::new(&self.bytes),
            left: self.count,
            _element: PhantomData,
        }
    }

    /// The element at `index`; O(1) for fixed-size elements.
    pub fn get(&self, index: usize) -> Option<T::View<'_>> {
        if index >= self.count {
            return None;
        }
        match <T::View<'_> as Decodable<'_>>::FIXED_SIZE {
            Some(size) => {
                let start = index * size;
                let bytes = self.bytes.get(start..start + size)?;
                <T::View<'_> as Decodable<'_>>::decode(bytes).ok()
            }
            None => self.iter().nth(index),
        }
    }

    /// The elements, collected.
    pub fn to_vec(&self) -> Vec<T::View<'_>> {
        self.iter().collect()
    }
}

impl<T: SeqElement, const MAX: usize, const PREFIX: usize> Default for Seq<'_, T, MAX, PREFIX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const MAX: usize, const PREFIX: usize> Clone for Seq<'_, T, MAX, PREFIX> {
    fn clone(&self) -> Self {
        Seq {
            count: self.count,
            bytes: self.bytes.clone(),
            _element: PhantomData,
        }
    }
}

// Equal elements have equal encodings (booleans excepted, which are always re-encoded as 0/1
// on construction), so comparing the wire bytes compares the elements.
impl<T, const MAX: usize, const PREFIX: usize> PartialEq for Seq<'_, T, MAX, PREFIX> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.bytes == other.bytes
    }
}

impl<T, const MAX: usize, const PREFIX: usize> Eq for Seq<'_, T, MAX, PREFIX> {}

impl<T, const MAX: usize, const PREFIX: usize> Hash for Seq<'_, T, MAX, PREFIX> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.count.hash(state);
        self.bytes.hash(state);
    }
}

impl<T: SeqElement, const MAX: usize, const PREFIX: usize> fmt::Debug for Seq<'_, T, MAX, PREFIX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over the elements of a [`Seq`].
pub struct SeqIter<'s, T: SeqElement> {
    reader: Reader<'s>,
    left: usize,
    _element: PhantomData<fn() -> T>,
}

impl<'s, T: SeqElement> Iterator for SeqIter<'s, T> {
    type Item = T::View<'s>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Every element was validated when the sequence was decoded or built, so this read
        // cannot fail; if it ever did, the iteration would end early rather than panic.
        match <T::View<'s> as Decodable<'s>>::read_from(&mut self.reader) {
            Ok(v) => Some(v),
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T: SeqElement> ExactSizeIterator for SeqIter<'_, T> {}

impl<T: SeqElement, const MAX: usize, const PREFIX: usize> Encodable for Seq<'_, T, MAX, PREFIX> {
    #[inline]
    fn encoded_len(&self) -> usize {
        PREFIX + self.bytes.len()
    }

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let c = (self.count as u32).to_le_bytes();
        w.put_slice(&c[..PREFIX])?;
        w.put_slice(&self.bytes)
    }
}

impl<'a, T: SeqElement, const MAX: usize, const PREFIX: usize> Decodable<'a>
    for Seq<'a, T, MAX, PREFIX>
{
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let p = r.take(PREFIX, Self::SPEC_NAME)?;
        let mut c = [0u8; 4];
        c[..PREFIX].copy_from_slice(p);
        let count = u32::from_le_bytes(c) as usize;
        if count > MAX {
            return Err(DecodeErrorKind::TooLong {
                ty: Self::SPEC_NAME,
                len: count,
                max: MAX,
            }
            .into());
        }
        let bytes = match <T::View<'a> as Decodable<'a>>::FIXED_SIZE {
            Some(size) => r.take(count * size, Self::SPEC_NAME)?,
            None => {
                let start = r.clone();
                for _ in 0..count {
                    <T::View<'a> as Decodable<'a>>::read_from(r)?;
                }
                let used = start.remaining() - r.remaining();
                let mut start = start;
                start.take(used, Self::SPEC_NAME)?
            }
        };
        Ok(Seq {
            count,
            bytes: Cow::Borrowed(bytes),
            _element: PhantomData,
        })
    }
}

impl<T, const MAX: usize, const PREFIX: usize> IntoStatic for Seq<'_, T, MAX, PREFIX>
where
    T: IntoStatic,
{
    type Static = Seq<'static, T::Static, MAX, PREFIX>;
    fn into_static(self) -> Self::Static {
        Seq {
            count: self.count,
            bytes: Cow::Owned(self.bytes.into_owned()),
            _element: PhantomData,
        }
    }
}
