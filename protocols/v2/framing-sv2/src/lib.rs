//! # framing_sv2
//!
//! The Stratum V2 frame (03-Protocol-Overview.md, 3.2): a 6-byte header (`extension_type` U16
//! whose top bit is `channel_msg`, `msg_type` U8, `msg_length` U24) followed by the payload.
//!
//! * [`Header`]: parse and build the header; the payload limit (2^24 - 1) is enforced.
//! * [`Frame`]: a borrowed view of one frame inside a byte slice (no copy).
//! * [`Sv2Frame`]: an owned frame, header and payload in one buffer of any type.
//! * [`Sv2Message`]: what a message type knows about its own header values;
//!   [`encode_frame`] writes header and payload into the caller's buffer without allocating.
//!
//! ```
//! use framing_sv2::{Frame, Header};
//! let bytes = [0x00, 0x80, 0x18, 0x04, 0x00, 0x00, 1, 0, 0, 0];
//! let (frame, rest) = Frame::parse_prefix(&bytes).unwrap();
//! assert!(rest.is_empty());
//! assert_eq!(frame.header.msg_type(), 0x18);
//! assert!(frame.header.channel_msg());
//! assert_eq!(frame.payload, &[1, 0, 0, 0]);
//! ```

use binary_sv2::{Encodable, EncodeError};
use const_sv2::{CHANNEL_BIT_MASK, SV2_FRAME_HEADER_SIZE, SV2_MAX_PAYLOAD_SIZE};
use std::fmt;

/// Framing errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Fewer than 6 bytes where a header was expected.
    HeaderTruncated { available: usize },
    /// The header announces more payload bytes than there are.
    PayloadTruncated { expected: usize, available: usize },
    /// A payload larger than the limit in force (2^24 - 1, or a decoder's smaller limit).
    PayloadTooLarge { len: usize, max: usize },
    /// Bytes after the payload of a buffer that must hold exactly one frame.
    TrailingBytes { count: usize },
    /// The message could not be encoded.
    Encode(EncodeError),
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::HeaderTruncated { available } => write!(
                f,
                "frame header truncated: needs {SV2_FRAME_HEADER_SIZE} bytes, {available} available"
            ),
            FramingError::PayloadTruncated {
                expected,
                available,
            } => write!(
                f,
                "frame payload truncated: msg_length is {expected}, {available} bytes available"
            ),
            FramingError::PayloadTooLarge { len, max } => {
                write!(
                    f,
                    "frame payload of {len} bytes exceeds the maximum of {max}"
                )
            }
            FramingError::TrailingBytes { count } => {
                write!(f, "{count} bytes after the end of the frame")
            }
            FramingError::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FramingError {}

impl From<EncodeError> for FramingError {
    fn from(e: EncodeError) -> Self {
        FramingError::Encode(e)
    }
}

/// The 6-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The U16 as on the wire, channel_msg bit included.
    extension_type: u16,
    msg_type: u8,
    msg_length: u32,
}

impl Header {
    pub const SIZE: usize = SV2_FRAME_HEADER_SIZE;

    /// Build a header. `extension_type` is given without the channel bit.
    pub fn new(
        extension_type: u16,
        channel_msg: bool,
        msg_type: u8,
        msg_length: usize,
    ) -> Result<Self, FramingError> {
        if msg_length > SV2_MAX_PAYLOAD_SIZE {
            return Err(FramingError::PayloadTooLarge {
                len: msg_length,
                max: SV2_MAX_PAYLOAD_SIZE,
            });
        }
        let bit = if channel_msg { CHANNEL_BIT_MASK } else { 0 };
        Ok(Header {
            extension_type: (extension_type & !CHANNEL_BIT_MASK) | bit,
            msg_type,
            msg_length: msg_length as u32,
        })
    }

    /// Parse the first 6 bytes of `bytes`.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FramingError> {
        match bytes.first_chunk::<6>() {
            Some(h) => Ok(Header::from_array(h)),
            None => Err(FramingError::HeaderTruncated {
                available: bytes.len(),
            }),
        }
    }

    #[inline]
    pub fn from_array(h: &[u8; 6]) -> Self {
        Header {
            extension_type: u16::from_le_bytes([h[0], h[1]]),
            msg_type: h[2],
            msg_length: u32::from_le_bytes([h[3], h[4], h[5], 0]),
        }
    }

    #[inline]
    pub fn to_bytes(&self) -> [u8; 6] {
        let e = self.extension_type.to_le_bytes();
        let l = self.msg_length.to_le_bytes();
        [e[0], e[1], self.msg_type, l[0], l[1], l[2]]
    }

    /// The extension type without the channel_msg bit (the spec: the bit is ignored in the
    /// extension lookup).
    #[inline]
    pub fn extension_type(&self) -> u16 {
        self.extension_type & !CHANNEL_BIT_MASK
    }

    /// The U16 as on the wire, with the channel_msg bit.
    #[inline]
    pub fn raw_extension_type(&self) -> u16 {
        self.extension_type
    }

    /// The channel_msg bit: the payload starts with the U32 channel_id.
    #[inline]
    pub fn channel_msg(&self) -> bool {
        self.extension_type & CHANNEL_BIT_MASK != 0
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.msg_type
    }

    /// Payload length in bytes.
    #[inline]
    pub fn msg_length(&self) -> usize {
        self.msg_length as usize
    }

    /// Header plus payload.
    #[inline]
    pub fn frame_len(&self) -> usize {
        SV2_FRAME_HEADER_SIZE + self.msg_length as usize
    }
}

/// One frame borrowed from a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: Header,
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parse the frame at the start of `bytes` and return it with the bytes after it.
    #[inline]
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Frame<'a>, &'a [u8]), FramingError> {
        let header = Header::from_bytes(bytes)?;
        let end = header.frame_len();
        if bytes.len() < end {
            return Err(FramingError::PayloadTruncated {
                expected: header.msg_length(),
                available: bytes.len() - SV2_FRAME_HEADER_SIZE,
            });
        }
        Ok((
            Frame {
                header,
                payload: &bytes[SV2_FRAME_HEADER_SIZE..end],
            },
            &bytes[end..],
        ))
    }

    /// Parse a slice that holds exactly one frame.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FramingError> {
        let (frame, rest) = Frame::parse_prefix(bytes)?;
        if !rest.is_empty() {
            return Err(FramingError::TrailingBytes { count: rest.len() });
        }
        Ok(frame)
    }

    /// Copy into an owned frame.
    pub fn to_owned_frame(&self) -> Sv2Frame<Vec<u8>> {
        let mut buf = Vec::with_capacity(self.header.frame_len());
        buf.extend_from_slice(&self.header.to_bytes());
        buf.extend_from_slice(self.payload);
        Sv2Frame {
            header: self.header,
            buf,
        }
    }
}

/// An owned frame: header and payload in one buffer (`Vec<u8>`, a pooled buffer, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sv2Frame<B> {
    header: Header,
    buf: B,
}

impl<B: AsRef<[u8]>> Sv2Frame<B> {
    /// Wrap a buffer that holds exactly one frame.
    pub fn from_bytes(buf: B) -> Result<Self, FramingError> {
        let header = Frame::parse(buf.as_ref())?.header;
        Ok(Sv2Frame { header, buf })
    }

    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[SV2_FRAME_HEADER_SIZE..self.header.frame_len()]
    }

    /// Header and payload, as on the wire.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf.as_ref()[..self.header.frame_len()]
    }

    #[inline]
    pub fn as_frame(&self) -> Frame<'_> {
        Frame {
            header: self.header,
            payload: self.payload(),
        }
    }

    pub fn into_inner(self) -> B {
        self.buf
    }
}

impl Sv2Frame<Vec<u8>> {
    /// Encode a message into a new frame.
    pub fn from_message<M: Sv2Message>(msg: &M) -> Result<Self, FramingError> {
        let mut buf = vec![0u8; encoded_frame_len(msg)];
        encode_frame(msg, &mut buf)?;
        Sv2Frame::from_bytes(buf)
    }
}

/// What a message type knows about its frame header.
pub trait Sv2Message: Encodable {
    /// Extension type without the channel bit (0 for the base protocols).
    const EXTENSION_TYPE: u16;
    const MSG_TYPE: u8;
    /// Whether frames of this message carry the channel_msg bit.
    const CHANNEL_BIT: bool;
    /// The name as 08-Message-Types.md writes it (`SubmitShares.Success`).
    const NAME: &'static str;
}

/// Frame length of a message: header plus payload.
#[inline]
pub fn encoded_frame_len<M: Encodable + ?Sized>(msg: &M) -> usize {
    SV2_FRAME_HEADER_SIZE + msg.encoded_len()
}

/// Write the frame of `msg` into the start of `dst`; returns the bytes written.
#[inline]
pub fn encode_frame<M: Sv2Message>(msg: &M, dst: &mut [u8]) -> Result<usize, FramingError> {
    encode_frame_with(M::EXTENSION_TYPE, M::CHANNEL_BIT, M::MSG_TYPE, msg, dst)
}

/// Write a frame with explicit header values (for callers that route by runtime type).
#[inline]
pub fn encode_frame_with<M: Encodable + ?Sized>(
    extension_type: u16,
    channel_msg: bool,
    msg_type: u8,
    msg: &M,
    dst: &mut [u8],
) -> Result<usize, FramingError> {
    let len = msg.encoded_len();
    let header = Header::new(extension_type, channel_msg, msg_type, len)?;
    let total = SV2_FRAME_HEADER_SIZE + len;
    if dst.len() < total {
        return Err(FramingError::Encode(
            binary_sv2::EncodeErrorKind::BufferTooSmall {
                needed: total,
                available: dst.len(),
            }
            .into(),
        ));
    }
    dst[..SV2_FRAME_HEADER_SIZE].copy_from_slice(&header.to_bytes());
    let mut w = binary_sv2::Writer::new(&mut dst[SV2_FRAME_HEADER_SIZE..total]);
    msg.write_to(&mut w)?;
    Ok(total)
}

/// Implement [`Sv2Message`] for a message struct from the const_sv2 constants.
#[macro_export]
macro_rules! impl_sv2_message {
    ($ty:ident $(<$lt:lifetime>)?, $ext:expr, $msg_type:expr, $channel_bit:expr, $name:literal) => {
        impl$(<$lt>)? $crate::Sv2Message for $ty$(<$lt>)? {
            const EXTENSION_TYPE: u16 = $ext;
            const MSG_TYPE: u8 = $msg_type;
            const CHANNEL_BIT: bool = $channel_bit;
            const NAME: &'static str = $name;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn header_layout_by_hand() {
        // extension_type 0x0001 | channel bit -> 01 80; msg_type 0x1b; msg_length 0x030201
        let h = Header::new(0x0001, true, 0x1b, 0x030201).unwrap();
        assert_eq!(h.to_bytes(), [0x01, 0x80, 0x1b, 0x01, 0x02, 0x03]);
        assert_eq!(Header::from_bytes(&h.to_bytes()).unwrap(), h);
        assert_eq!(h.extension_type(), 1);
        assert_eq!(h.raw_extension_type(), 0x8001);
    }

    #[test]
    fn payload_limit_is_u24() {
        assert!(Header::new(0, false, 0, SV2_MAX_PAYLOAD_SIZE).is_ok());
        assert_eq!(
            Header::new(0, false, 0, SV2_MAX_PAYLOAD_SIZE + 1),
            Err(FramingError::PayloadTooLarge {
                len: SV2_MAX_PAYLOAD_SIZE + 1,
                max: SV2_MAX_PAYLOAD_SIZE
            })
        );
    }

    #[test]
    fn truncated_and_trailing_frames_are_refused() {
        assert_eq!(
            Frame::parse(&[0, 0, 0]),
            Err(FramingError::HeaderTruncated { available: 3 })
        );
        assert_eq!(
            Frame::parse(&[0, 0, 0, 5, 0, 0, 1, 2]),
            Err(FramingError::PayloadTruncated {
                expected: 5,
                available: 2
            })
        );
        assert_eq!(
            Frame::parse(&[0, 0, 0, 1, 0, 0, 1, 2]),
            Err(FramingError::TrailingBytes { count: 1 })
        );
        assert!(Sv2Frame::from_bytes(vec![0, 0, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn encode_into_small_buffer_fails() {
        let mut buf = [0u8; 8];
        let err = encode_frame_with(0, false, 0, &7u32, &mut buf).unwrap_err();
        assert!(matches!(err, FramingError::Encode(_)));
        let mut buf = [0u8; 10];
        assert_eq!(encode_frame_with(0, true, 0x18, &7u32, &mut buf), Ok(10));
        assert_eq!(buf, [0, 0x80, 0x18, 4, 0, 0, 7, 0, 0, 0]);
    }

    quickcheck! {
        fn any_bytes_parse_without_panic(bytes: Vec<u8>) -> bool {
            match Frame::parse_prefix(&bytes) {
                Ok((f, rest)) => f.payload.len() + rest.len() + 6 == bytes.len(),
                Err(_) => true,
            }
        }

        fn header_round_trip(ext: u16, bit: bool, mt: u8, len: u32) -> bool {
            let len = (len as usize) & SV2_MAX_PAYLOAD_SIZE;
            let h = Header::new(ext, bit, mt, len).unwrap();
            let back = Header::from_bytes(&h.to_bytes()).unwrap();
            back == h && back.channel_msg() == bit && back.msg_length() == len
                && back.extension_type() == ext & 0x7fff
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
