//! Encrypted frames (feature `noise_sv2`), after a `noise_sv2` handshake.
//!
//! On the wire: the 6-byte header encrypted alone (22 bytes), then the payload encrypted in
//! pieces of at most 65519 bytes, each with a 16-byte tag; an empty payload adds nothing.

use crate::{CodecError, Decoded};
use binary_sv2::Encodable;
use const_sv2::{SV2_FRAME_HEADER_SIZE, SV2_MAX_PAYLOAD_SIZE};
use framing_sv2::{encode_frame_with, Frame, FramingError, Header, Sv2Message};
use noise_sv2::{
    encrypted_payload_len, Decryptor, Encryptor, HandshakeResult, Initiator, NoiseSession,
    Responder, ENCRYPTED_HEADER_LEN, INITIATOR_MESSAGE_LEN, RESPONDER_MESSAGE_LEN,
};

/// The handshake as a byte-stream codec: feed it what arrives, it says exactly how many bytes
/// it still needs (the handshake messages have no Sv2 header: 64 bytes from the initiator,
/// 234 from the responder), and it hands over the transport codecs when done.
#[derive(Debug)]
pub struct HandshakeCodec {
    role: Option<Role>,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum Role {
    Initiator(Box<Initiator>),
    Responder(Box<Responder>),
}

/// The end of a handshake.
#[derive(Debug)]
pub struct HandshakeDone {
    pub encoder: NoiseEncoder,
    pub decoder: NoiseDecoder,
    /// Bytes to send to the peer before anything else (the responder's message 2).
    pub reply: Option<Vec<u8>>,
    /// The checked certificate (initiator).
    pub result: Option<HandshakeResult>,
}

impl HandshakeCodec {
    /// Start as initiator; the returned bytes (message 1) go to the peer first.
    pub fn initiator(
        mut init: Initiator,
    ) -> Result<(Self, [u8; INITIATOR_MESSAGE_LEN]), CodecError> {
        let msg1 = init.start()?;
        Ok((
            HandshakeCodec {
                role: Some(Role::Initiator(Box::new(init))),
                buf: Vec::with_capacity(RESPONDER_MESSAGE_LEN),
            },
            msg1,
        ))
    }

    /// Start as responder: wait for message 1.
    pub fn responder(resp: Responder) -> Self {
        HandshakeCodec {
            role: Some(Role::Responder(Box::new(resp))),
            buf: Vec::with_capacity(INITIATOR_MESSAGE_LEN),
        }
    }

    /// Exactly how many more bytes the handshake needs.
    pub fn missing(&self) -> usize {
        let want = match self.role {
            Some(Role::Initiator(_)) => RESPONDER_MESSAGE_LEN,
            Some(Role::Responder(_)) => INITIATOR_MESSAGE_LEN,
            None => return 0,
        };
        want - self.buf.len()
    }

    /// Consume bytes; returns how many were used and, once the message is complete, the
    /// transport codecs. Bytes after the handshake message are not consumed: feed them to the
    /// returned decoder. `now` is unix seconds (certificates).
    pub fn decode(
        &mut self,
        input: &[u8],
        max_payload: usize,
        now: u32,
    ) -> Result<(usize, Option<HandshakeDone>), CodecError> {
        let n = self.missing().min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        if self.missing() > 0 || self.role.is_none() {
            return Ok((n, None));
        }
        let (session, reply, result): (NoiseSession, _, _) = match self.role.take() {
            Some(Role::Initiator(i)) => {
                let (s, r) = (*i).finish(&self.buf, now)?;
                (s, None, Some(r))
            }
            Some(Role::Responder(r)) => {
                let (m2, s) = (*r).respond(&self.buf, now)?;
                (s, Some(m2.to_vec()), None)
            }
            None => return Ok((n, None)),
        };
        let (enc, dec) = session.split();
        Ok((
            n,
            Some(HandshakeDone {
                encoder: NoiseEncoder::new(enc),
                decoder: NoiseDecoder::with_max_payload(dec, max_payload),
                reply,
                result,
            }),
        ))
    }
}

/// Streaming decoder of encrypted frames.
#[derive(Debug)]
pub struct NoiseDecoder {
    decryptor: Decryptor,
    /// Encrypted header, then encrypted payload, of the current frame; decrypted in place.
    buf: Vec<u8>,
    filled: usize,
    header: Option<Header>,
    max_payload: usize,
}

impl NoiseDecoder {
    pub fn new(decryptor: Decryptor) -> Self {
        Self::with_max_payload(decryptor, SV2_MAX_PAYLOAD_SIZE)
    }

    /// Frames whose decrypted header announces more than `max_payload` bytes are refused as
    /// soon as the header is in.
    pub fn with_max_payload(decryptor: Decryptor, max_payload: usize) -> Self {
        NoiseDecoder {
            decryptor,
            buf: Vec::new(),
            filled: 0,
            header: None,
            max_payload: max_payload.min(SV2_MAX_PAYLOAD_SIZE),
        }
    }

    fn target(&self) -> usize {
        match self.header {
            None => ENCRYPTED_HEADER_LEN,
            Some(h) => ENCRYPTED_HEADER_LEN + encrypted_payload_len(h.msg_length()),
        }
    }

    /// Exactly how many more bytes complete the encrypted header or, once it is in, the frame.
    pub fn missing(&self) -> usize {
        self.target() - self.filled
    }

    /// True when no partial frame is held.
    pub fn is_idle(&self) -> bool {
        self.filled == 0
    }

    /// Consume bytes from `input`; returns how many were used and the (decrypted) frame they
    /// completed, if any. Any error means the stream can no longer be trusted: close it.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded<Frame<'_>>, CodecError> {
        if self.filled == 0 {
            crate::shrink_idle(&mut self.buf);
        }
        let mut used = 0;
        loop {
            let missing = self.missing();
            let n = crate::take_missing(&mut self.buf, &mut self.filled, missing, &input[used..]);
            used += n;
            if n < missing {
                return Ok((used, None));
            }
            if self.section_complete()? {
                break;
            }
        }
        Ok((used, self.take_frame()?))
    }

    /// The buffer to read the next `missing()` bytes into; then call
    /// [`NoiseDecoder::next_frame`].
    pub fn writable(&mut self) -> &mut [u8] {
        let end = self.target();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.filled..end]
    }

    /// Account for a filled [`NoiseDecoder::writable`] slice.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CodecError> {
        self.filled = self.target();
        if self.section_complete()? {
            self.take_frame()
        } else {
            Ok(None)
        }
    }

    fn section_complete(&mut self) -> Result<bool, CodecError> {
        if self.header.is_some() {
            return Ok(true);
        }
        let mut ct = [0u8; ENCRYPTED_HEADER_LEN];
        ct.copy_from_slice(&self.buf[..ENCRYPTED_HEADER_LEN]);
        let plain = self.decryptor.decrypt_header(&mut ct)?;
        let header = Header::from_array(&plain);
        if header.msg_length() > self.max_payload {
            return Err(FramingError::PayloadTooLarge {
                len: header.msg_length(),
                max: self.max_payload,
            }
            .into());
        }
        self.buf[..SV2_FRAME_HEADER_SIZE].copy_from_slice(&plain);
        self.header = Some(header);
        Ok(header.msg_length() == 0)
    }

    fn take_frame(&mut self) -> Result<Option<Frame<'_>>, CodecError> {
        let Some(header) = self.header.take() else {
            return Ok(None);
        };
        let end = self.filled;
        self.filled = 0;
        let payload: &[u8] = if header.msg_length() == 0 {
            &[]
        } else {
            self.decryptor
                .decrypt_payload(&mut self.buf[ENCRYPTED_HEADER_LEN..end])?
        };
        Ok(Some(Frame { header, payload }))
    }
}

/// Encodes messages into encrypted frames in reusable buffers.
#[derive(Debug)]
pub struct NoiseEncoder {
    encryptor: Encryptor,
    plain: Vec<u8>,
    wire: Vec<u8>,
}

impl NoiseEncoder {
    pub fn new(encryptor: Encryptor) -> Self {
        NoiseEncoder {
            encryptor,
            plain: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// The encrypted frame of `msg`, valid until the next call.
    pub fn encode<M: Sv2Message>(&mut self, msg: &M) -> Result<&[u8], CodecError> {
        self.encode_with(M::EXTENSION_TYPE, M::CHANNEL_BIT, M::MSG_TYPE, msg)
    }

    /// The encrypted frame of `msg` with explicit header values.
    pub fn encode_with<M: Encodable + ?Sized>(
        &mut self,
        extension_type: u16,
        channel_msg: bool,
        msg_type: u8,
        msg: &M,
    ) -> Result<&[u8], CodecError> {
        let len = SV2_FRAME_HEADER_SIZE + msg.encoded_len();
        if self.plain.len() < len {
            self.plain.resize(len, 0);
        }
        encode_frame_with(
            extension_type,
            channel_msg,
            msg_type,
            msg,
            &mut self.plain[..len],
        )?;
        self.encrypt_plain(len)
    }

    /// Encrypt an already encoded plaintext frame (header and payload).
    pub fn encrypt_frame(&mut self, frame: &[u8]) -> Result<&[u8], CodecError> {
        Frame::parse(frame)?;
        if self.plain.len() < frame.len() {
            self.plain.resize(frame.len(), 0);
        }
        self.plain[..frame.len()].copy_from_slice(frame);
        self.encrypt_plain(frame.len())
    }

    fn encrypt_plain(&mut self, len: usize) -> Result<&[u8], CodecError> {
        let wire_len = ENCRYPTED_HEADER_LEN + encrypted_payload_len(len - SV2_FRAME_HEADER_SIZE);
        if self.wire.len() < wire_len {
            self.wire.resize(wire_len, 0);
        }
        let n = self
            .encryptor
            .encrypt_frame(&self.plain[..len], &mut self.wire[..wire_len])?;
        Ok(&self.wire[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common_messages_sv2::{Reconnect, SetupConnectionSuccess};
    use noise_sv2::{AuthoritySecretKey, HandshakeKey, Initiator, Responder};

    fn pair() -> ((NoiseEncoder, NoiseDecoder), (NoiseEncoder, NoiseDecoder)) {
        let a = AuthoritySecretKey::generate().unwrap();
        let mut i = Initiator::new(a.public_key().0).unwrap();
        let r = Responder::new(a.keypair(), HandshakeKey::generate().unwrap(), 60).unwrap();
        let (m2, s) = r.respond(&i.start().unwrap(), 1000).unwrap();
        let (c, _) = i.finish(&m2, 1000).unwrap();
        let (ce, cd) = c.split();
        let (se, sd) = s.split();
        (
            (NoiseEncoder::new(ce), NoiseDecoder::new(cd)),
            (NoiseEncoder::new(se), NoiseDecoder::new(sd)),
        )
    }

    #[test]
    fn frames_in_any_chunking() {
        let ((mut enc, _), (_, mut dec)) = pair();
        let mut stream = Vec::new();
        stream.extend_from_slice(
            enc.encode(&SetupConnectionSuccess {
                used_version: 2,
                flags: 1,
            })
            .unwrap(),
        );
        stream.extend_from_slice(
            enc.encode(&Reconnect {
                new_host: "h".try_into().unwrap(),
                new_port: 1,
            })
            .unwrap(),
        );
        stream.extend_from_slice(enc.encrypt_frame(&[0, 0, 0x7f, 0, 0, 0]).unwrap());
        assert_eq!(dec.missing(), 22);
        // One byte at a time: missing() counts down exactly.
        let mut got = Vec::new();
        for b in &stream {
            let before = dec.missing();
            let (used, frame) = dec.decode(std::slice::from_ref(b)).unwrap();
            assert_eq!(used, 1);
            if let Some(f) = frame {
                got.push((f.header.msg_type(), f.payload.to_vec()));
            } else if before > 1 {
                assert_eq!(dec.missing(), before - 1);
            } else {
                // The header just completed: now the encrypted payload is missing.
                assert!(dec.missing() > 16);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (0x01, vec![2, 0, 1, 0, 0, 0]));
        assert_eq!(got[2], (0x7f, vec![]));
    }

    #[test]
    fn handshake_codec_byte_by_byte() {
        let a = AuthoritySecretKey::generate().unwrap();
        let (mut client, msg1) =
            HandshakeCodec::initiator(Initiator::new(a.public_key().0).unwrap()).unwrap();
        let mut server = HandshakeCodec::responder(
            Responder::new(a.keypair(), HandshakeKey::generate().unwrap(), 60).unwrap(),
        );
        assert_eq!(server.missing(), 64);
        let mut done = None;
        for (i, b) in msg1.iter().enumerate() {
            let (used, d) = server
                .decode(std::slice::from_ref(b), 1 << 20, 1000)
                .unwrap();
            assert_eq!(used, 1);
            assert_eq!(server.missing(), 63 - i);
            done = d;
        }
        let mut server_done = done.unwrap();
        let reply = server_done.reply.take().unwrap();
        assert_eq!(client.missing(), 234);
        // Message 2 followed by a first transport frame in the same read.
        let mut stream = reply.clone();
        stream.extend_from_slice(
            server_done
                .encoder
                .encode(&SetupConnectionSuccess {
                    used_version: 2,
                    flags: 0,
                })
                .unwrap(),
        );
        let (used, d) = client.decode(&stream, 1 << 20, 1000).unwrap();
        assert_eq!(used, 234);
        let mut client_done = d.unwrap();
        assert!(client_done.result.is_some());
        let (_, frame) = client_done.decoder.decode(&stream[used..]).unwrap();
        assert_eq!(frame.unwrap().header.msg_type(), 0x01);
        // A tampered message 2 fails.
        let (mut c2, _) =
            HandshakeCodec::initiator(Initiator::new(a.public_key().0).unwrap()).unwrap();
        let mut bad = reply;
        bad[100] ^= 4;
        assert!(c2.decode(&bad, 1 << 20, 1000).is_err());
    }

    #[test]
    fn oversized_and_tampered_frames_are_errors() {
        let ((mut enc, _), (_, mut dec)) = pair();
        let mut dec_small = {
            let ((_, _), (_, d)) = pair();
            d
        };
        let wire = enc
            .encode(&SetupConnectionSuccess {
                used_version: 2,
                flags: 1,
            })
            .unwrap()
            .to_vec();
        // Tampered: a flipped bit in the payload.
        let mut bad = wire.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(dec.decode(&bad), Err(CodecError::Noise(_))));
        // Another session's bytes.
        assert!(dec_small.decode(&wire).is_err());
    }
}
