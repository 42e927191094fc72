//! # codec_sv2
//!
//! Turns a byte stream into Stratum V2 frames and messages into frame bytes, with no I/O.
//!
//! [`StandardDecoder`] takes bytes in chunks of any size (one byte at a time included) and
//! always knows exactly how many more it needs ([`StandardDecoder::missing`]). A frame that
//! arrives whole in one chunk is returned borrowed from that chunk, without a copy; only a frame
//! split across chunks is assembled in the decoder's own buffer, which is reused.
//!
//! [`Encoder`] writes frames into one reusable buffer: after the first frames it does not
//! allocate.
//!
//! With the `noise_sv2` feature, [`NoiseEncoder`] and [`NoiseDecoder`] do the same for
//! encrypted frames after the handshake (`noise_sv2`); the decoder likewise says exactly how
//! many bytes it needs: 22 for the encrypted header, then the encrypted payload.
//!
//! With the `with_buffer_pool` feature, frames can also be taken as owned buffers from a
//! `buffer_sv2::BufferPool` ([`StandardDecoder::decode_pooled`], [`Encoder::encode_pooled`]).
//!
//! ```
//! use codec_sv2::{Encoder, StandardDecoder};
//! use common_messages_sv2::ChannelEndpointChanged;
//!
//! let mut enc = Encoder::new();
//! let bytes = enc.encode(&ChannelEndpointChanged { channel_id: 9 }).unwrap().to_vec();
//!
//! let mut dec = StandardDecoder::new();
//! assert_eq!(dec.missing(), 6);
//! // Feed one byte at a time: the frame appears with the last byte.
//! for (i, b) in bytes.iter().enumerate() {
//!     let (used, frame) = dec.decode(std::slice::from_ref(b)).unwrap();
//!     assert_eq!(used, 1);
//!     assert_eq!(frame.is_some(), i == bytes.len() - 1);
//! }
//! ```

use binary_sv2::Encodable;
use const_sv2::{SV2_FRAME_HEADER_SIZE, SV2_MAX_PAYLOAD_SIZE};
use framing_sv2::{encode_frame_with, Frame, FramingError, Header, Sv2Frame, Sv2Message};
use std::fmt;

#[cfg(feature = "with_buffer_pool")]
use buffer_sv2::{BufferPool, PooledBuffer};

#[cfg(feature = "noise_sv2")]
mod noise;
#[cfg(feature = "noise_sv2")]
pub use noise::{HandshakeCodec, HandshakeDone, NoiseDecoder, NoiseEncoder};

/// Errors of the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    Framing(FramingError),
    /// Decryption or encryption failed (feature `noise_sv2`): close the connection.
    #[cfg(feature = "noise_sv2")]
    Noise(noise_sv2::NoiseError),
}

#[cfg(feature = "noise_sv2")]
impl From<noise_sv2::NoiseError> for CodecError {
    fn from(e: noise_sv2::NoiseError) -> Self {
        CodecError::Noise(e)
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Framing(e) => write!(f, "{e}"),
            #[cfg(feature = "noise_sv2")]
            CodecError::Noise(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<FramingError> for CodecError {
    fn from(e: FramingError) -> Self {
        CodecError::Framing(e)
    }
}

/// What a decode call returns: bytes consumed, and the frame they completed, if any.
pub type Decoded<F> = (usize, Option<F>);

/// Copy up to `missing` bytes from `input` into `buf` at `*filled` (growing `buf` as needed)
/// and advance `*filled`; returns how many were copied. The one buffering step of both
/// streaming decoders.
#[inline]
pub(crate) fn take_missing(
    buf: &mut Vec<u8>,
    filled: &mut usize,
    missing: usize,
    input: &[u8],
) -> usize {
    let n = missing.min(input.len());
    let end = *filled + n;
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[*filled..end].copy_from_slice(&input[..n]);
    *filled = end;
    n
}

/// A buffer kept after a large frame is given back when the decoder is idle again, so one big
/// frame does not pin its memory for the rest of the connection.
pub(crate) const KEEP_IDLE_BUFFER: usize = 64 * 1024;

pub(crate) fn shrink_idle(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_IDLE_BUFFER {
        *buf = Vec::new();
    }
}

/// Streaming decoder of plaintext frames.
#[derive(Debug)]
pub struct StandardDecoder {
    /// The frame being assembled across chunks (header, then payload).
    scratch: Vec<u8>,
    /// Bytes of the current frame in `scratch`.
    filled: usize,
    /// Header of the current frame, once its 6 bytes are in.
    header: Option<Header>,
    max_payload: usize,
}

impl Default for StandardDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StandardDecoder {
    /// A decoder that accepts payloads up to the protocol's limit (2^24 - 1 bytes).
    pub fn new() -> Self {
        Self::with_max_payload(SV2_MAX_PAYLOAD_SIZE)
    }

    /// A decoder that refuses frames whose msg_length exceeds `max_payload` as soon as their
    /// header arrives, so a peer cannot make it buffer more than that.
    pub fn with_max_payload(max_payload: usize) -> Self {
        StandardDecoder {
            scratch: Vec::new(),
            filled: 0,
            header: None,
            max_payload: max_payload.min(SV2_MAX_PAYLOAD_SIZE),
        }
    }

    /// Exactly how many more bytes complete the current header or, once the header is in,
    /// the current frame.
    #[inline]
    pub fn missing(&self) -> usize {
        match self.header {
            None => SV2_FRAME_HEADER_SIZE - self.filled,
            Some(h) => h.frame_len() - self.filled,
        }
    }

    /// True when no partial frame is held.
    pub fn is_idle(&self) -> bool {
        self.filled == 0
    }

    /// Forget any partial frame (after an error, or to reuse the decoder).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.header = None;
    }

    #[inline]
    fn check(&self, header: &Header) -> Result<(), CodecError> {
        if header.msg_length() > self.max_payload {
            return Err(FramingError::PayloadTooLarge {
                len: header.msg_length(),
                max: self.max_payload,
            }
            .into());
        }
        Ok(())
    }

    /// Consume bytes from `input`; returns how many were used and the frame they completed,
    /// if any. Call again with the unused rest. The frame borrows from `input` when it was
    /// whole there, from the decoder otherwise.
    #[inline]
    pub fn decode<'s>(&'s mut self, input: &'s [u8]) -> Result<Decoded<Frame<'s>>, CodecError> {
        if self.filled == 0 {
            shrink_idle(&mut self.scratch);
            if let Some(h) = input.first_chunk::<6>() {
                let header = Header::from_array(h);
                self.check(&header)?;
                let end = header.frame_len();
                if input.len() >= end {
                    return Ok((
                        end,
                        Some(Frame {
                            header,
                            payload: &input[SV2_FRAME_HEADER_SIZE..end],
                        }),
                    ));
                }
            }
        }
        let mut used = 0;
        loop {
            let missing = self.missing();
            let n = take_missing(&mut self.scratch, &mut self.filled, missing, &input[used..]);
            used += n;
            if n < missing {
                return Ok((used, None));
            }
            if self.section_complete()? {
                break;
            }
        }
        Ok((used, self.take_frame()))
    }

    /// Called when `missing()` reached 0: parse the header, or report the frame complete.
    fn section_complete(&mut self) -> Result<bool, CodecError> {
        if self.header.is_none() {
            let header = Header::from_bytes(&self.scratch[..SV2_FRAME_HEADER_SIZE])?;
            if let Err(e) = self.check(&header) {
                self.reset();
                return Err(e);
            }
            self.header = Some(header);
            return Ok(header.msg_length() == 0);
        }
        Ok(true)
    }

    fn take_frame(&mut self) -> Option<Frame<'_>> {
        let header = self.header.take()?;
        self.filled = 0;
        Some(Frame {
            header,
            payload: &self.scratch[SV2_FRAME_HEADER_SIZE..header.frame_len()],
        })
    }

    /// The buffer to read the next `missing()` bytes into (for readers that fill an exact
    /// slice). After filling all of it, call [`StandardDecoder::next_frame`].
    pub fn writable(&mut self) -> &mut [u8] {
        let end = self.filled + self.missing();
        if self.scratch.len() < end {
            self.scratch.resize(end, 0);
        }
        &mut self.scratch[self.filled..end]
    }

    /// Account for a filled [`StandardDecoder::writable`] slice; returns the frame if it is
    /// complete.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CodecError> {
        self.filled += self.missing();
        if self.section_complete()? {
            Ok(self.take_frame())
        } else {
            Ok(None)
        }
    }

    /// Like [`StandardDecoder::decode`], returning an owned frame.
    pub fn decode_owned(&mut self, input: &[u8]) -> Result<Decoded<Sv2Frame<Vec<u8>>>, CodecError> {
        let (used, frame) = self.decode(input)?;
        Ok((used, frame.map(|f| f.to_owned_frame())))
    }

    /// Like [`StandardDecoder::decode`], returning the frame in a buffer from `pool`.
    #[cfg(feature = "with_buffer_pool")]
    pub fn decode_pooled(
        &mut self,
        input: &[u8],
        pool: &BufferPool,
    ) -> Result<Decoded<Sv2Frame<PooledBuffer>>, CodecError> {
        let (used, frame) = self.decode(input)?;
        let frame = match frame {
            None => None,
            Some(f) => {
                let mut buf = pool.get(f.header.frame_len());
                buf[..SV2_FRAME_HEADER_SIZE].copy_from_slice(&f.header.to_bytes());
                buf[SV2_FRAME_HEADER_SIZE..].copy_from_slice(f.payload);
                Some(Sv2Frame::from_bytes(buf)?)
            }
        };
        Ok((used, frame))
    }
}

/// Encodes messages into frames in a reusable buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Encoder { buf: Vec::new() }
    }

    /// The frame of `msg`, valid until the next call.
    #[inline]
    pub fn encode<M: Sv2Message>(&mut self, msg: &M) -> Result<&[u8], CodecError> {
        self.encode_with(M::EXTENSION_TYPE, M::CHANNEL_BIT, M::MSG_TYPE, msg)
    }

    /// The frame of `msg` with explicit header values.
    #[inline]
    pub fn encode_with<M: Encodable + ?Sized>(
        &mut self,
        extension_type: u16,
        channel_msg: bool,
        msg_type: u8,
        msg: &M,
    ) -> Result<&[u8], CodecError> {
        let len = SV2_FRAME_HEADER_SIZE + msg.encoded_len();
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let n = encode_frame_with(
            extension_type,
            channel_msg,
            msg_type,
            msg,
            &mut self.buf[..len],
        )?;
        Ok(&self.buf[..n])
    }

    /// The frame of `msg` in a buffer from `pool`, to hand to another task.
    #[cfg(feature = "with_buffer_pool")]
    pub fn encode_pooled<M: Sv2Message>(
        msg: &M,
        pool: &BufferPool,
    ) -> Result<Sv2Frame<PooledBuffer>, CodecError> {
        let mut buf = pool.get(framing_sv2::encoded_frame_len(msg));
        framing_sv2::encode_frame(msg, &mut buf)?;
        Ok(Sv2Frame::from_bytes(buf)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common_messages_sv2::{Reconnect, SetupConnectionSuccess};
    use quickcheck::quickcheck;

    #[test]
    fn a_large_frame_does_not_pin_its_buffer_once_decoded() {
        let mut big = vec![0u8, 0, 0x42];
        big.extend_from_slice(&[0x00, 0x00, 0x10]); // 1 MiB payload
        big.resize(6 + (1 << 20), 7);
        let mut d = StandardDecoder::new();
        for chunk in big.chunks(1000) {
            let (used, _) = d.decode(chunk).unwrap();
            assert_eq!(used, chunk.len());
        }
        assert!(d.is_idle());
        // The next frame's first bytes give the megabyte back.
        let (_, f) = d.decode(&[0, 0, 0x42, 1]).unwrap();
        assert!(f.is_none());
        assert!(d.scratch.capacity() <= KEEP_IDLE_BUFFER);
    }

    fn frames() -> Vec<u8> {
        let mut enc = Encoder::new();
        let mut out = Vec::new();
        out.extend_from_slice(
            enc.encode(&SetupConnectionSuccess {
                used_version: 2,
                flags: 5,
            })
            .unwrap(),
        );
        out.extend_from_slice(
            enc.encode(&Reconnect {
                new_host: "h".try_into().unwrap(),
                new_port: 1,
            })
            .unwrap(),
        );
        // A frame with an empty payload (unknown message type 0x7f).
        out.extend_from_slice(&[0, 0, 0x7f, 0, 0, 0]);
        out
    }

    fn decode_in_chunks(bytes: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut dec = StandardDecoder::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (used, frame) = dec.decode(rest).unwrap();
                if let Some(f) = frame {
                    out.push(f.to_owned_frame().as_bytes().to_vec());
                }
                rest = &rest[used..];
            }
        }
        assert!(dec.is_idle());
        out
    }

    #[test]
    fn any_chunking_gives_the_same_frames() {
        let bytes = frames();
        let whole = decode_in_chunks(&bytes, bytes.len());
        assert_eq!(whole.len(), 3);
        assert_eq!(whole.concat(), bytes);
        for chunk in 1..bytes.len() {
            assert_eq!(decode_in_chunks(&bytes, chunk), whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn missing_counts_down_exactly() {
        let bytes = frames();
        let mut dec = StandardDecoder::new();
        assert_eq!(dec.missing(), 6);
        for (i, b) in bytes[..6].iter().enumerate() {
            assert_eq!(dec.missing(), 6 - i);
            dec.decode(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(dec.missing(), 6); // SetupConnection.Success payload is 6 bytes
    }

    #[test]
    fn writable_api_reads_exact_slices() {
        let bytes = frames();
        let mut dec = StandardDecoder::new();
        let mut pos = 0;
        let mut n = 0;
        while pos < bytes.len() {
            let w = dec.writable();
            let len = w.len();
            w.copy_from_slice(&bytes[pos..pos + len]);
            pos += len;
            if dec.next_frame().unwrap().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn oversized_frames_are_refused_at_the_header() {
        let mut dec = StandardDecoder::with_max_payload(100);
        let header = Header::new(0, false, 0x71, 101).unwrap().to_bytes();
        assert_eq!(
            dec.decode(&header),
            Err(CodecError::Framing(FramingError::PayloadTooLarge {
                len: 101,
                max: 100
            }))
        );
        // Split header: refused when the sixth byte arrives, and the decoder is reusable.
        dec.decode(&header[..3]).unwrap();
        assert!(dec.decode(&header[3..]).is_err());
        assert!(dec.is_idle());
        assert!(dec.decode(&frames()).unwrap().1.is_some());
    }

    quickcheck! {
        fn random_streams_never_panic(bytes: Vec<u8>, chunk: u8) -> bool {
            let mut dec = StandardDecoder::with_max_payload(1 << 16);
            for piece in bytes.chunks(chunk as usize + 1) {
                let mut rest = piece;
                while !rest.is_empty() {
                    match dec.decode(rest) {
                        Ok((used, _)) => rest = &rest[used..],
                        Err(_) => { dec.reset(); break; }
                    }
                }
            }
            true
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
