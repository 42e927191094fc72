//! TLV fields: extension data appended after a base message's last field.
//!
//! Layout of one field: Type = extension_type (U16) then field_type (U8), Length (U16), then
//! Length bytes of Value. The spec's TLV example writes the U16s most significant byte first;
//! deployed implementations encode them like every other Sv2 integer, little-endian
//! (`0x0002` is `02 00` on the wire). The wire wins: this module is little-endian.

use binary_sv2::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Reader};
use const_sv2::{
    EXTENSION_TYPE_WORKER_HASHRATE_TRACKING, TLV_FIELD_TYPE_USER_IDENTITY, TLV_HEADER_SIZE,
    TLV_USER_IDENTITY_MAX_LEN,
};
use std::borrow::Cow;

/// One TLV field, borrowing its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub extension_type: u16,
    pub field_type: u8,
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Bytes on the wire.
    pub fn encoded_len(&self) -> usize {
        TLV_HEADER_SIZE + self.value.len()
    }

    /// Write into the start of `dst`; returns the bytes written.
    pub fn write(&self, dst: &mut [u8]) -> Result<usize, EncodeError> {
        if self.value.len() > u16::MAX as usize {
            return Err(EncodeErrorKind::TooLong {
                ty: "TLV value",
                len: self.value.len(),
                max: u16::MAX as usize,
            }
            .into());
        }
        let n = self.encoded_len();
        let available = dst.len();
        let out = dst
            .get_mut(..n)
            .ok_or(EncodeError::new(EncodeErrorKind::BufferTooSmall {
                needed: n,
                available,
            }))?;
        out[0..2].copy_from_slice(&self.extension_type.to_le_bytes());
        out[2] = self.field_type;
        out[3..5].copy_from_slice(&(self.value.len() as u16).to_le_bytes());
        out[5..].copy_from_slice(self.value);
        Ok(n)
    }

    /// Append to a vector.
    pub fn write_to_vec(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.resize(start + self.encoded_len(), 0);
        self.write(&mut out[start..]).map(|_| ())
    }

    /// Read one field.
    pub fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let h = r.take_array::<TLV_HEADER_SIZE>("TLV header")?;
        let len = u16::from_le_bytes([h[3], h[4]]) as usize;
        Ok(Tlv {
            extension_type: u16::from_le_bytes([h[0], h[1]]),
            field_type: h[2],
            value: r.take(len, "TLV value")?,
        })
    }
}

/// The TLV fields after a message, validated once and then iterated without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlvList<'a> {
    bytes: &'a [u8],
}

impl<'a> TlvList<'a> {
    /// Check that `bytes` is a whole number of well-formed TLV fields.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        while r.remaining() > 0 {
            Tlv::read(&mut r)?;
        }
        Ok(TlvList { bytes })
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The fields' bytes as on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn iter(&self) -> impl Iterator<Item = Tlv<'a>> + 'a {
        let mut r = Reader::new(self.bytes);
        // Validated in `parse`, so reads do not fail; stop rather than panic if one did.
        std::iter::from_fn(move || {
            if r.remaining() == 0 {
                None
            } else {
                Tlv::read(&mut r).ok()
            }
        })
    }

    /// The first field of the given extension and field type.
    pub fn find(&self, extension_type: u16, field_type: u8) -> Option<Tlv<'a>> {
        self.iter()
            .find(|t| t.extension_type == extension_type && t.field_type == field_type)
    }
}

/// Extension 0x0002's `user_identity`: the worker a share on an extended channel belongs to,
/// at most 32 bytes. The TLV value is the identity's bytes (the TLV length is its length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity<'a>(Cow<'a, [u8]>);

impl<'a> UserIdentity<'a> {
    pub const MAX_LEN: usize = TLV_USER_IDENTITY_MAX_LEN;

    pub fn new(identity: impl Into<Cow<'a, str>>) -> Result<Self, EncodeError> {
        let bytes = match identity.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: impl Into<Cow<'a, [u8]>>) -> Result<Self, EncodeError> {
        let bytes = bytes.into();
        if bytes.len() > Self::MAX_LEN {
            return Err(EncodeErrorKind::TooLong {
                ty: "user_identity",
                len: bytes.len(),
                max: Self::MAX_LEN,
            }
            .into());
        }
        Ok(UserIdentity(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn to_tlv(&self) -> Tlv<'_> {
        Tlv {
            extension_type: EXTENSION_TYPE_WORKER_HASHRATE_TRACKING,
            field_type: TLV_FIELD_TYPE_USER_IDENTITY,
            value: &self.0,
        }
    }

    /// Find the user_identity field in a TLV list; an over-long one is an error.
    pub fn find(list: &TlvList<'a>) -> Result<Option<UserIdentity<'a>>, DecodeError> {
        match list.find(
            EXTENSION_TYPE_WORKER_HASHRATE_TRACKING,
            TLV_FIELD_TYPE_USER_IDENTITY,
        ) {
            None => Ok(None),
            Some(t) if t.value.len() > Self::MAX_LEN => Err(DecodeErrorKind::TooLong {
                ty: "user_identity",
                len: t.value.len(),
                max: Self::MAX_LEN,
            }
            .into()),
            Some(t) => Ok(Some(UserIdentity(Cow::Borrowed(t.value)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_layout_is_little_endian() {
        // ext 0x0002 -> 02 00 | field 0x01 | len 3 -> 03 00 | "abc"
        let mut out = Vec::new();
        Tlv {
            extension_type: 2,
            field_type: 1,
            value: b"abc",
        }
        .write_to_vec(&mut out)
        .unwrap();
        assert_eq!(out, [0x02, 0x00, 0x01, 0x03, 0x00, b'a', b'b', b'c']);
    }

    #[test]
    fn truncated_tlvs_are_refused() {
        assert!(TlvList::parse(&[0x02, 0x00, 0x01]).is_err());
        assert!(TlvList::parse(&[0x02, 0x00, 0x01, 0x05, 0x00, b'a']).is_err());
        assert!(TlvList::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn user_identity_limit() {
        assert!(UserIdentity::new("x".repeat(32)).is_ok());
        assert!(UserIdentity::new("x".repeat(33)).is_err());
        let long = [0x02, 0x00, 0x01, 33, 0x00];
        let mut bytes = long.to_vec();
        bytes.extend_from_slice(&[b'x'; 33]);
        let list = TlvList::parse(&bytes).unwrap();
        assert!(UserIdentity::find(&list).is_err());
    }

    #[test]
    fn several_fields_are_found_by_type() {
        let mut out = Vec::new();
        Tlv {
            extension_type: 9,
            field_type: 1,
            value: b"zz",
        }
        .write_to_vec(&mut out)
        .unwrap();
        UserIdentity::new("w1")
            .unwrap()
            .to_tlv()
            .write_to_vec(&mut out)
            .unwrap();
        let list = TlvList::parse(&out).unwrap();
        assert_eq!(list.iter().count(), 2);
        assert_eq!(
            UserIdentity::find(&list).unwrap().unwrap().as_bytes(),
            b"w1"
        );
    }
}
