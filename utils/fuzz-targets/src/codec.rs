//! The streaming decoders (plain and noise) and the noise handshake, both roles.

use crate::chunks::Chunker;
use codec_sv2::{CodecError, HandshakeCodec, NoiseDecoder, NoiseEncoder, StandardDecoder};
use const_sv2::{SV2_FRAME_HEADER_SIZE, SV2_MAX_PAYLOAD_SIZE};
use framing_sv2::{Frame, FramingError};
use noise_sv2::secp256k1::SecretKey;
use noise_sv2::{
    AuthoritySecretKey, HandshakeKey, Initiator, NoiseError, Responder, ENCRYPTED_HEADER_LEN,
    INITIATOR_MESSAGE_LEN, RESPONDER_MESSAGE_LEN,
};

/// The time every handshake in these targets happens at (unix seconds).
pub(crate) const NOW: u32 = 1_767_237_945;
const CERT_VALIDITY_SECS: u32 = 3600;

/// Payload limits a decoder may be built with (picked by a byte of the input).
const LIMITS: [usize; 4] = [SV2_MAX_PAYLOAD_SIZE, 0, 64, 1 << 16];

fn key(n: u8) -> SecretKey {
    // 32 equal bytes 1..=0x7f are far below the group order: always a valid key.
    SecretKey::from_slice(&[n.clamp(1, 0x7f); 32]).expect("valid secret key")
}

fn authority() -> AuthoritySecretKey {
    AuthoritySecretKey(key(1))
}

pub(crate) fn initiator() -> Initiator {
    Initiator::with_ephemeral(
        authority().public_key().0,
        HandshakeKey::from_secret(key(2)),
    )
}

fn responder_with(validity: u32, signer: AuthoritySecretKey) -> Responder {
    Responder::with_keys(
        signer.keypair(),
        HandshakeKey::from_secret(key(3)),
        HandshakeKey::from_secret(key(4)),
        validity,
        [5; 32],
    )
}

pub(crate) fn responder() -> Responder {
    responder_with(CERT_VALIDITY_SECS, authority())
}

/// A finished handshake with the fixed keys: (initiator's encoder, decoder), (responder's).
type Ends = ((NoiseEncoder, NoiseDecoder), (NoiseEncoder, NoiseDecoder));

fn handshake(max_payload: usize) -> Ends {
    let mut i = initiator();
    let msg1 = i.start().expect("start");
    let (msg2, rs) = responder().respond(&msg1, NOW).expect("respond");
    let (is, _) = i.finish(&msg2, NOW).expect("finish");
    let (ie, id) = is.split();
    let (re, rd) = rs.split();
    (
        (
            NoiseEncoder::new(ie),
            NoiseDecoder::with_max_payload(id, max_payload),
        ),
        (
            NoiseEncoder::new(re),
            NoiseDecoder::with_max_payload(rd, max_payload),
        ),
    )
}

/// What a frame decoded to, owned, for comparisons.
type Decoded = (u16, u8, Vec<u8>);

fn owned(f: Frame<'_>) -> Decoded {
    (
        f.header.raw_extension_type(),
        f.header.msg_type(),
        f.payload.to_vec(),
    )
}

/// How a decode run ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Every byte used, the decoder idle.
    Clean,
    /// Every byte used, a frame incomplete.
    Partial,
    Error(CodecError),
}

// ------------------------------------------------------------------------- plain decoder

/// The reference: framing_sv2 over the whole stream, with the decoder's payload limit.
fn reference_frames(stream: &[u8], max: usize) -> (Vec<Decoded>, End) {
    let mut frames = Vec::new();
    let mut rest = stream;
    loop {
        if rest.is_empty() {
            return (frames, End::Clean);
        }
        if let Ok(h) = framing_sv2::Header::from_bytes(rest) {
            if h.msg_length() > max {
                let e = FramingError::PayloadTooLarge {
                    len: h.msg_length(),
                    max,
                };
                return (frames, End::Error(e.into()));
            }
        }
        match Frame::parse_prefix(rest) {
            Ok((f, after)) => {
                frames.push(owned(f));
                rest = after;
            }
            Err(_) => return (frames, End::Partial),
        }
    }
}

fn decode_chunks(dec: &mut StandardDecoder, chunks: &[&[u8]]) -> (Vec<Decoded>, End) {
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let before = dec.missing();
            match dec.decode(rest) {
                Ok((used, frame)) => {
                    assert!(used <= rest.len());
                    match frame {
                        Some(f) => frames.push(owned(f)),
                        None => {
                            // Without a frame, all the input was taken and counted down.
                            assert_eq!(used, rest.len(), "bytes left over without a frame");
                            let missing = dec.missing();
                            assert!(missing > 0);
                            if used < before {
                                assert_eq!(missing, before - used);
                            }
                        }
                    }
                    assert!(used > 0, "no progress");
                    rest = &rest[used..];
                }
                Err(e) => return (frames, End::Error(e)),
            }
        }
    }
    let end = if dec.is_idle() {
        End::Clean
    } else {
        End::Partial
    };
    (frames, end)
}

/// The readers' API: fill exactly `writable()`, then `next_frame()`.
fn decode_writable(dec: &mut StandardDecoder, stream: &[u8]) -> (Vec<Decoded>, End) {
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        let w = dec.writable();
        let n = w.len();
        assert_eq!(n, w.len());
        if stream.len() - pos < n || n == 0 {
            // Feed the rest through decode() so the end state is comparable.
            let (more, end) = decode_chunks(dec, &[&stream[pos..]]);
            frames.extend(more);
            return (frames, end);
        }
        w.copy_from_slice(&stream[pos..pos + n]);
        pos += n;
        match dec.next_frame() {
            Ok(Some(f)) => frames.push(owned(f)),
            Ok(None) => {}
            Err(e) => return (frames, End::Error(e)),
        }
    }
}

/// codec_sv2's streaming plain decoder. Input: a byte choosing the payload limit, three
/// bytes seeding the chunking, then the stream. The frames (and the error or partial frame
/// at the end) must be the same fed whole, in chunks, or through `writable()`, and the same
/// as framing_sv2 parsing the stream in one piece.
pub fn standard_decoder(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let (ctl, stream) = data.split_at(4);
    let max = LIMITS[ctl[0] as usize % LIMITS.len()];
    let expected = reference_frames(stream, max);

    let whole = decode_chunks(&mut StandardDecoder::with_max_payload(max), &[stream]);
    assert_eq!(whole, expected, "decoded whole");

    let chunks = Chunker::new(Chunker::seed_from(ctl)).split(stream);
    let mut dec = StandardDecoder::with_max_payload(max);
    let chunked = decode_chunks(&mut dec, &chunks);
    assert_eq!(chunked, expected, "decoded in {} chunks", chunks.len());
    if let End::Error(_) = chunked.1 {
        // After an error the decoder is reset and works again.
        dec.reset();
        assert!(dec.is_idle());
        let (f, end) = decode_chunks(&mut dec, &[&[0, 0, 0, 0, 0, 0]]);
        assert_eq!((f.len(), end), (1, End::Clean));
    }

    let mut dec = StandardDecoder::with_max_payload(max);
    assert_eq!(decode_writable(&mut dec, stream), expected, "writable()");

    let mut dec = StandardDecoder::with_max_payload(max);
    if let Ok((_, Some(f))) = dec.decode_owned(stream) {
        assert_eq!(Some(&owned(f.as_frame())), expected.0.first());
    }
}

// ------------------------------------------------------------------------- noise decoder

fn noise_decode_chunks(dec: &mut NoiseDecoder, chunks: &[&[u8]]) -> (Vec<Decoded>, End) {
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let before = dec.missing();
            match dec.decode(rest) {
                Ok((used, frame)) => {
                    assert!(used > 0 && used <= rest.len());
                    match frame {
                        Some(f) => frames.push(owned(f)),
                        None => {
                            assert_eq!(used, rest.len());
                            if used < before {
                                assert_eq!(dec.missing(), before - used);
                            }
                        }
                    }
                    rest = &rest[used..];
                }
                Err(e) => return (frames, End::Error(e)),
            }
        }
    }
    let end = if dec.missing() == ENCRYPTED_HEADER_LEN {
        End::Clean
    } else {
        End::Partial
    };
    (frames, end)
}

/// codec_sv2's noise decoder after a real handshake (fixed keys). Input: a control byte
/// (direction, tampering, payload limit), four bytes seeding the chunking and the tampering,
/// then plaintext frames, which the peer encrypts; bytes after the last whole frame are sent
/// as they are (garbage a peer could send). Untampered, every frame comes back as it was,
/// however the ciphertext is chunked; a flipped bit stops the stream with an error at the
/// frame it hit; garbage never decodes to a frame.
pub fn noise_decoder(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let (ctl, body) = data.split_at(5);
    let c = ctl[0];
    let max = LIMITS[(c >> 3) as usize % LIMITS.len()];
    let ((mut ie, mut id), (mut re, mut rd)) = handshake(max);
    // bit 0: which side sends.
    let (enc, dec) = if c & 1 == 0 {
        (&mut ie, &mut rd)
    } else {
        (&mut re, &mut id)
    };

    let mut plain: Vec<Decoded> = Vec::new();
    // Wire ranges of each frame.
    let mut wire = Vec::new();
    let mut ends = Vec::new();
    let mut rest = body;
    while let Ok((f, after)) = Frame::parse_prefix(rest) {
        let len = SV2_FRAME_HEADER_SIZE + f.payload.len();
        let ct = enc
            .encrypt_frame(&rest[..len])
            .expect("encrypt a whole frame");
        assert_eq!(
            ct.len(),
            noise_sv2::encrypted_frame_len(f.payload.len()),
            "ciphertext length"
        );
        wire.extend_from_slice(ct);
        ends.push(wire.len());
        plain.push(owned(f));
        rest = after;
    }
    let garbage = rest;
    wire.extend_from_slice(garbage);

    // Frames past the limit are refused at their header.
    let allowed = plain.iter().take_while(|f| f.2.len() <= max).count();

    let seed = Chunker::seed_from(&ctl[1..]);
    let mode = (c >> 1) & 3;
    let mut hit = None;
    if mode == 1 && !wire.is_empty() {
        let p = (seed >> 8) as usize % wire.len();
        wire[p] ^= 1 << (seed & 7);
        hit = Some(p);
    }
    let chunks = Chunker::new(seed).split(&wire);
    let (frames, end) = noise_decode_chunks(dec, &chunks);

    match hit {
        Some(p) => {
            // The frame whose bytes hold p, or the garbage after the frames.
            let k = ends.iter().position(|&e| p < e).unwrap_or(plain.len());
            let good = k.min(allowed);
            assert_eq!(frames[..], plain[..good], "frames before the flipped bit");
            if k < plain.len() || good < allowed {
                assert!(
                    matches!(end, End::Error(_)),
                    "flipped bit at {p} not detected"
                );
            }
        }
        None if allowed < plain.len() => {
            assert_eq!(frames[..], plain[..allowed]);
            assert!(matches!(
                end,
                End::Error(CodecError::Framing(FramingError::PayloadTooLarge { .. }))
            ));
        }
        None => {
            assert_eq!(frames, plain, "frames through encryption");
            match end {
                End::Clean => assert!(garbage.is_empty()),
                // Garbage of a whole encrypted header or more fails its tag.
                End::Partial => {
                    assert!(!garbage.is_empty() && garbage.len() < ENCRYPTED_HEADER_LEN)
                }
                End::Error(e) => {
                    assert!(!garbage.is_empty(), "error {e} on an untouched stream");
                }
            }
        }
    }
}

// ------------------------------------------------------------------------- handshake

/// noise_sv2's initiator fed a responder's message 2. Input: a control byte, then either
/// (bit 0 clear) message 2 itself, or (bit 0 set) twelve bytes of parameters for a real
/// responder (certificate validity, the responder's and the initiator's clocks; bit 1 signs
/// with another authority key) and bytes XORed over the message 2 it sends. A message 2 not
/// made by the responder is refused; a real one is accepted exactly when its certificate is
/// valid at the initiator's clock, and the sessions then talk.
pub fn handshake_initiator(data: &[u8]) {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    let mut i = initiator();
    let msg1 = i.start().expect("start");
    if c & 1 == 0 {
        let r = i.finish(rest, NOW);
        match r {
            Err(NoiseError::HandshakeMessageLength { expected, got }) => {
                assert_eq!((expected, got), (RESPONDER_MESSAGE_LEN, rest.len()));
            }
            Err(_) => assert_eq!(rest.len(), RESPONDER_MESSAGE_LEN),
            Ok(_) => {
                let (real, _) = responder().respond(&msg1, NOW).expect("respond");
                assert_eq!(
                    rest, real,
                    "a message 2 the responder did not make was accepted"
                );
            }
        }
        return;
    }
    if rest.len() < 12 {
        return;
    }
    let (params, mask) = rest.split_at(12);
    let u = |i: usize| u32::from_le_bytes([params[i], params[i + 1], params[i + 2], params[i + 3]]);
    let (validity, resp_now, init_now) = (u(0), u(4), u(8));
    let signer = if c & 2 == 0 {
        authority()
    } else {
        AuthoritySecretKey(key(6))
    };
    let (mut msg2, rs) = responder_with(validity, signer)
        .respond(&msg1, resp_now)
        .expect("respond to a real message 1");
    let mut tampered = false;
    for (b, m) in msg2.iter_mut().zip(mask) {
        *b ^= m;
        tampered |= *m != 0;
    }
    let r = i.finish(&msg2, init_now);
    if tampered {
        assert!(r.is_err(), "a tampered message 2 was accepted");
        return;
    }
    if c & 2 != 0 {
        assert_eq!(r.err(), Some(NoiseError::CertificateSignature));
        return;
    }
    let earliest = resp_now.saturating_sub(noise_sv2::CLOCK_SKEW_SECS);
    let latest = resp_now
        .saturating_add(validity)
        .saturating_add(noise_sv2::CLOCK_SKEW_SECS);
    let valid_now = (earliest..=latest).contains(&init_now);
    match r {
        Ok((is, result)) => {
            assert!(valid_now, "certificate accepted outside its window");
            assert_eq!(result.certificate.valid_from, resp_now);
            let (mut ie, _) = is.split();
            let (_, rd) = rs.split();
            let mut ct = Vec::new();
            ie.encrypt_frame_to_vec(&[0, 0, 1, 2, 0, 0, 7, 8], &mut ct)
                .unwrap();
            let mut dec = NoiseDecoder::new(rd);
            let (_, f) = dec.decode(&ct).unwrap();
            assert_eq!(f.unwrap().payload, &[7, 8]);
        }
        Err(e) => {
            assert!(!valid_now, "a valid certificate was refused: {e}");
            assert!(matches!(e, NoiseError::CertificateNotValidNow { .. }));
        }
    }
}

/// noise_sv2's responder fed an initiator's message 1. Input: a control byte; bit 0 clear:
/// the rest is message 1 (any length); set: 64 bytes of message 1, then transport bytes for
/// the session it opened. Any 64 bytes are a valid ElligatorSwift encoding, so exactly the
/// 64-byte messages are answered; a message 1 from the real initiator completes a session
/// that carries frames both ways.
pub fn handshake_responder(data: &[u8]) {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    if c & 1 == 0 {
        match responder().respond(rest, NOW) {
            Ok((msg2, _)) => {
                assert_eq!(rest.len(), INITIATOR_MESSAGE_LEN);
                assert_eq!(msg2.len(), RESPONDER_MESSAGE_LEN);
            }
            Err(e) => {
                assert_ne!(rest.len(), INITIATOR_MESSAGE_LEN, "64 bytes refused: {e}");
                assert_eq!(
                    e,
                    NoiseError::HandshakeMessageLength {
                        expected: INITIATOR_MESSAGE_LEN,
                        got: rest.len()
                    }
                );
            }
        }
        return;
    }
    if rest.len() < INITIATOR_MESSAGE_LEN {
        return;
    }
    let (msg1, transport) = rest.split_at(INITIATOR_MESSAGE_LEN);
    let (msg2, rs) = responder()
        .respond(msg1, NOW)
        .expect("any 64 bytes are a message 1");
    let (mut re, rd) = rs.split();
    let mut dec = NoiseDecoder::new(rd);
    let chunks = Chunker::new(Chunker::seed_from(transport)).split(transport);
    let (frames, _) = noise_decode_chunks(&mut dec, &chunks);
    let mut i = initiator();
    let real = i.start().expect("start") == msg1;
    // Only the real initiator (whose keys are fixed) can have encrypted frames for it.
    assert!(
        real || frames.is_empty(),
        "bytes nobody encrypted decoded to a frame"
    );
    if real {
        let (is, _) = i.finish(&msg2, NOW).expect("the real initiator finishes");
        let (_, id) = is.split();
        let mut ct = Vec::new();
        re.encrypt_frame_to_vec(&[0, 0, 1, 0, 0, 0], &mut ct)
            .unwrap();
        let mut dec = NoiseDecoder::new(id);
        let (_, f) = dec.decode(&ct).unwrap();
        assert_eq!(f.unwrap().header.msg_type(), 1);
    }
}

/// codec_sv2's HandshakeCodec, either role, fed a byte stream in chunks. Input: a control
/// byte (bit 0: initiator; bit 1, initiator only: the real responder's message 2 goes
/// first), four bytes seeding the chunking, then the stream. The codec must take exactly a
/// handshake message, count `missing()` down, agree with the state machines it wraps, and
/// leave the rest for the transport decoder it returns.
pub fn handshake_codec(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let (ctl, body) = data.split_at(5);
    let c = ctl[0];
    let initiator_role = c & 1 == 1;
    let (mut codec, mut stream) = if initiator_role {
        let (codec, msg1) = HandshakeCodec::initiator(initiator()).expect("initiator");
        let mut stream = Vec::new();
        if c & 2 != 0 {
            let (msg2, _) = responder().respond(&msg1, NOW).expect("respond");
            stream.extend_from_slice(&msg2);
        }
        (codec, stream)
    } else {
        (HandshakeCodec::responder(responder()), Vec::new())
    };
    stream.extend_from_slice(body);
    let want = codec.missing();
    assert_eq!(
        want,
        if initiator_role {
            RESPONDER_MESSAGE_LEN
        } else {
            INITIATOR_MESSAGE_LEN
        }
    );
    let chunks = Chunker::new(Chunker::seed_from(&ctl[1..])).split(&stream);
    let mut taken = 0;
    let mut done = None;
    let mut leftover: Vec<u8> = Vec::new();
    'feed: for chunk in &chunks {
        if done.is_some() {
            leftover.extend_from_slice(chunk);
            continue;
        }
        let before = codec.missing();
        match codec.decode(chunk, SV2_MAX_PAYLOAD_SIZE, NOW) {
            Ok((used, d)) => {
                assert_eq!(used, before.min(chunk.len()));
                taken += used;
                if let Some(d) = d {
                    assert_eq!(taken, want);
                    leftover.extend_from_slice(&chunk[used..]);
                    done = Some(d);
                } else {
                    assert_eq!(codec.missing(), before - used);
                }
            }
            Err(_) => {
                assert_eq!(taken + before, want, "failed before the message was whole");
                break 'feed;
            }
        }
    }
    let direct = if initiator_role {
        stream.len() >= want && {
            let mut i = initiator();
            i.start().unwrap();
            i.finish(&stream[..want], NOW).is_ok()
        }
    } else {
        stream.len() >= want
    };
    assert_eq!(
        done.is_some(),
        direct,
        "the codec and the state machine disagree"
    );
    if let Some(mut d) = done {
        if initiator_role {
            assert!(d.result.is_some() && d.reply.is_none());
        } else {
            let reply = d.reply.take().expect("a responder's reply");
            let (msg2, _) = responder().respond(&stream[..want], NOW).unwrap();
            assert_eq!(reply, msg2.to_vec());
        }
        let chunks = Chunker::new(Chunker::seed_from(&leftover)).split(&leftover);
        let (frames, _) = noise_decode_chunks(&mut d.decoder, &chunks);
        // With the fixed keys, a real peer's frames decode; anything else must not.
        let real_peer = if initiator_role {
            c & 2 != 0
        } else {
            let mut i = initiator();
            i.start().unwrap()[..] == stream[..want]
        };
        assert!(
            real_peer || frames.is_empty(),
            "bytes nobody encrypted decoded to a frame"
        );
    }
}
