//! The data types of the spec's table (03-Protocol-Overview.md, 3.1), plus F32.
//!
//! | spec | Rust |
//! |---|---|
//! | BOOL | `bool` |
//! | U8, U16, U32, U64 | `u8`, `u16`, `u32`, `u64` |
//! | U24 | [`U24`] |
//! | F32 | `f32` |
//! | U256, PUBKEY, SIGNATURE | [`U256`], [`PubKey`], [`Signature`] (fixed arrays, `Copy`) |
//! | STR0_255 | [`Str0255`] |
//! | B0_32, B0_255, B0_64K, B0_16M | [`B032`], [`B0255`], [`B064K`], [`B016M`] |
//! | BYTES | [`Bytes`] |
//! | OPTION[T] | `Option<T>` |
//! | SEQ0_255[T], SEQ0_64K[T] | [`Seq0255`], [`Seq064K`](crate::Seq064K) |
//!
//! Every multi-byte integer is little-endian. The fixed 32- and 64-byte types are copied out of
//! the input: a 32-byte copy is cheaper than keeping a borrow, and they are integers and keys,
//! not byte strings. Every variable-length type borrows.

use crate::codec::{Decodable, Encodable, IntoStatic, Reader, Writer};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
use std::borrow::Cow;
use std::fmt;

macro_rules! impl_int {
    ($t:ty, $name:literal, $n:literal) => {
        impl Encodable for $t {
            #[inline]
            fn encoded_len(&self) -> usize {
                $n
            }
            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.put_slice(&self.to_le_bytes())
            }
        }
        impl<'a> Decodable<'a> for $t {
            const FIXED_SIZE: Option<usize> = Some($n);
            #[inline]
            fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.take_array::<$n>($name)?))
            }
        }
        impl IntoStatic for $t {
            type Static = $t;
            #[inline]
            fn into_static(self) -> $t {
                self
            }
        }
    };
}

impl_int!(u8, "U8", 1);
impl_int!(u16, "U16", 2);
impl_int!(u32, "U32", 4);
impl_int!(u64, "U64", 8);
// F32 is not in the spec's type table but nominal_hash_rate uses it: IEEE-754 binary32, LE.
impl_int!(f32, "F32", 4);

impl Encodable for bool {
    #[inline]
    fn encoded_len(&self) -> usize {
        1
    }
    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_u8(*self as u8)
    }
}

impl<'a> Decodable<'a> for bool {
    const FIXED_SIZE: Option<usize> = Some(1);
    /// The spec: "Recipients MUST NOT interpret bits outside of the least significant bit".
    /// A sender that sets the upper bits is read by its lowest bit, and re-encodes as 0 or 1.
    #[inline]
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(r.take_array::<1>("BOOL")?[0] & 1 == 1)
    }
}

impl IntoStatic for bool {
    type Static = bool;
    fn into_static(self) -> bool {
        self
    }
}

/// U24: an unsigned 24-bit little-endian integer (0 to 2^24 - 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct U24(u32);

impl U24 {
    pub const MAX: u32 = (1 << 24) - 1;

    pub fn new(v: u32) -> Result<Self, EncodeError> {
        if v > Self::MAX {
            return Err(EncodeErrorKind::OutOfRange {
                ty: "U24",
                value: v as u64,
                max: Self::MAX as u64,
            }
            .into());
        }
        Ok(U24(v))
    }

    #[inline]
    pub fn get(self) -> u32 {
        self.0
    }

    #[inline]
    pub fn to_le_bytes(self) -> [u8; 3] {
        let b = self.0.to_le_bytes();
        [b[0], b[1], b[2]]
    }

    #[inline]
    pub fn from_le_bytes(b: [u8; 3]) -> Self {
        U24(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }
}

impl TryFrom<u32> for U24 {
    type Error = EncodeError;
    fn try_from(v: u32) -> Result<Self, EncodeError> {
        U24::new(v)
    }
}

impl From<U24> for u32 {
    fn from(v: U24) -> u32 {
        v.0
    }
}

impl Encodable for U24 {
    fn encoded_len(&self) -> usize {
        3
    }
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_slice(&self.to_le_bytes())
    }
}

impl<'a> Decodable<'a> for U24 {
    const FIXED_SIZE: Option<usize> = Some(3);
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(U24::from_le_bytes(r.take_array::<3>("U24")?))
    }
}

impl IntoStatic for U24 {
    type Static = U24;
    fn into_static(self) -> U24 {
        self
    }
}

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $spec:literal, $n:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// Size on the wire.
            pub const LEN: usize = $n;
            /// The spec's name of the type.
            pub const SPEC_NAME: &'static str = $spec;

            /// The bytes in wire order.
            #[inline]
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }

            /// Build from a slice that must be exactly the right size.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, EncodeError> {
                <[u8; $n]>::try_from(bytes).map($name).map_err(|_| {
                    EncodeErrorKind::TooLong { ty: $spec, len: bytes.len(), max: $n }.into()
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name([0; $n])
            }
        }

        impl From<[u8; $n]> for $name {
            fn from(b: [u8; $n]) -> Self {
                $name(b)
            }
        }

        impl From<$name> for [u8; $n] {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl Encodable for $name {
            #[inline]
            fn encoded_len(&self) -> usize {
                $n
            }
            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.put_slice(&self.0)
            }
        }

        impl<'a> Decodable<'a> for $name {
            const FIXED_SIZE: Option<usize> = Some($n);
            #[inline]
            fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
                Ok($name(r.take_array::<$n>($spec)?))
            }
        }

        impl IntoStatic for $name {
            type Static = $name;
            fn into_static(self) -> $name {
                self
            }
        }
    };
}

fixed_bytes!(
    /// U256: 32 bytes, an unsigned integer in little-endian order (hashes and targets).
    U256,
    "U256",
    32
);
fixed_bytes!(
    /// PUBKEY: the 32-byte x coordinate of a secp256k1 public key (BIP340).
    PubKey,
    "PUBKEY",
    32
);
fixed_bytes!(
    /// SIGNATURE: a 64-byte BIP340 Schnorr signature.
    Signature,
    "SIGNATURE",
    64
);

impl U256 {
    /// Build from a big-endian hex string as block explorers and `bitcoind` print hashes.
    pub fn from_be_hex(s: &str) -> Result<Self, hex::FromHexError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b)?;
        b.reverse();
        Ok(U256(b))
    }

    /// The integer as big-endian bytes (most significant first).
    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut b = self.0;
        b.reverse();
        b
    }
}

#[inline]
fn write_len_prefix(w: &mut Writer<'_>, len: usize, prefix: usize) -> Result<(), EncodeError> {
    let b = (len as u32).to_le_bytes();
    w.put_slice(&b[..prefix])
}

#[inline]
fn read_len_prefix(
    r: &mut Reader<'_>,
    prefix: usize,
    ty: &'static str,
) -> Result<usize, DecodeError> {
    let p = r.take(prefix, ty)?;
    let mut b = [0u8; 4];
    b[..prefix].copy_from_slice(p);
    Ok(u32::from_le_bytes(b) as usize)
}

macro_rules! byte_type {
    ($(#[$doc:meta])* $name:ident, $spec:literal, $max:expr, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name<'a>(Cow<'a, [u8]>);

        impl<'a> $name<'a> {
            /// Largest allowed content length.
            pub const MAX_LEN: usize = $max;
            /// The spec's name of the type.
            pub const SPEC_NAME: &'static str = $spec;

            /// Borrow or own `bytes`, refusing content longer than the type allows.
            pub fn new(bytes: impl Into<Cow<'a, [u8]>>) -> Result<Self, EncodeError> {
                let bytes = bytes.into();
                if bytes.len() > $max {
                    return Err(EncodeErrorKind::TooLong {
                        ty: $spec,
                        len: bytes.len(),
                        max: $max,
                    }
                    .into());
                }
                Ok($name(bytes))
            }

            /// The content, without the length prefix.
            #[inline]
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            #[inline]
            pub fn len(&self) -> usize {
                self.0.len()
            }

            #[inline]
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// A borrowed view of this value (no copy).
            pub fn as_borrowed(&self) -> $name<'_> {
                $name(Cow::Borrowed(&self.0))
            }

            /// The content as an owned vector.
            pub fn into_vec(self) -> Vec<u8> {
                self.0.into_owned()
            }
        }

        impl<'a> TryFrom<&'a [u8]> for $name<'a> {
            type Error = EncodeError;
            fn try_from(b: &'a [u8]) -> Result<Self, EncodeError> {
                $name::new(b)
            }
        }

        impl TryFrom<Vec<u8>> for $name<'static> {
            type Error = EncodeError;
            fn try_from(b: Vec<u8>) -> Result<Self, EncodeError> {
                $name::new(b)
            }
        }

        impl AsRef<[u8]> for $name<'_> {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::ops::Deref for $name<'_> {
            type Target = [u8];
            fn deref(&self) -> &[u8] {
                &self.0
            }
        }

        impl Encodable for $name<'_> {
            #[inline]
            fn encoded_len(&self) -> usize {
                $prefix + self.0.len()
            }
            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                write_len_prefix(w, self.0.len(), $prefix)?;
                w.put_slice(&self.0)
            }
        }

        impl<'a> Decodable<'a> for $name<'a> {
            #[inline]
            fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
                let len = read_len_prefix(r, $prefix, $spec)?;
                if len > $max {
                    return Err(DecodeErrorKind::TooLong { ty: $spec, len, max: $max }.into());
                }
                Ok($name(Cow::Borrowed(r.take(len, $spec)?)))
            }
        }

        impl IntoStatic for $name<'_> {
            type Static = $name<'static>;
            fn into_static(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }
    };
}

byte_type!(
    /// B0_32: up to 32 bytes with a U8 length prefix.
    B032, "B0_32", 32, 1
);
byte_type!(
    /// B0_255: up to 255 bytes with a U8 length prefix.
    B0255, "B0_255", 255, 1
);
byte_type!(
    /// B0_64K: up to 65535 bytes with a U16 length prefix.
    B064K, "B0_64K", 65_535, 2
);
byte_type!(
    /// B0_16M: up to 2^24 - 1 bytes with a U24 length prefix.
    B016M, "B0_16M", (1 << 24) - 1, 3
);
byte_type!(
    /// STR0_255: up to 255 bytes with a U8 length prefix, meant to be text.
    ///
    /// Stored as bytes, not `String`: peers do send bytes that are not valid UTF-8, and a
    /// proxy or debugging tool must pass them on unchanged. [`Str0255::as_str`] checks.
    Str0255, "STR0_255", 255, 1
);

impl<'a> Str0255<'a> {
    /// The content as text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The content as text, with invalid UTF-8 replaced (for logs).
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl<'a> TryFrom<&'a str> for Str0255<'a> {
    type Error = EncodeError;
    fn try_from(s: &'a str) -> Result<Self, EncodeError> {
        Str0255::new(s.as_bytes())
    }
}

impl TryFrom<String> for Str0255<'static> {
    type Error = EncodeError;
    fn try_from(s: String) -> Result<Self, EncodeError> {
        Str0255::new(s.into_bytes())
    }
}

impl fmt::Debug for Str0255<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "Str0255(hex {})", hex::encode(&self.0)),
        }
    }
}

impl fmt::Display for Str0255<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

macro_rules! hex_debug {
    ($($name:ident),*) => {$(
        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(&self.0))
            }
        }
    )*};
}
hex_debug!(B032, B0255, B064K, B016M);

/// BYTES: bytes whose length the context gives. As a field it takes everything up to the end
/// of the payload, so it can only be the last field of a message.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes<'a>(Cow<'a, [u8]>);

impl<'a> Bytes<'a> {
    pub fn new(bytes: impl Into<Cow<'a, [u8]>>) -> Self {
        Bytes(bytes.into())
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({})", hex::encode(&self.0))
    }
}

impl Encodable for Bytes<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_slice(&self.0)
    }
}

impl<'a> Decodable<'a> for Bytes<'a> {
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Bytes(Cow::Borrowed(r.rest())))
    }
}

impl IntoStatic for Bytes<'_> {
    type Static = Bytes<'static>;
    fn into_static(self) -> Bytes<'static> {
        Bytes(Cow::Owned(self.0.into_owned()))
    }
}

/// OPTION[T]: a count byte, 0 (absent) or 1 (present), then T if present. The spec defines it
/// as SEQ0_1[T]; any other count is refused.
impl<T: Encodable> Encodable for Option<T> {
    #[inline]
    fn encoded_len(&self) -> usize {
        1 + self.as_ref().map_or(0, Encodable::encoded_len)
    }
    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            None => w.put_u8(0),
            Some(v) => {
                w.put_u8(1)?;
                v.write_to(w)
            }
        }
    }
}

impl<'a, T: Decodable<'a>> Decodable<'a> for Option<T> {
    #[inline]
    fn read_from(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        match r.take_array::<1>("OPTION")?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::read_from(r)?)),
            count => Err(DecodeErrorKind::InvalidOptionCount { count }.into()),
        }
    }
}

impl<T: IntoStatic> IntoStatic for Option<T> {
    type Static = Option<T::Static>;
    fn into_static(self) -> Self::Static {
        self.map(IntoStatic::into_static)
    }
}
