//! [`Sv2Codec`]: the decoder and encoder of one connection, plain or noise, with byte queues
//! in and out, so C code only moves bytes between the codec and its socket.

use crate::error::*;
use crate::messages::{decode_message, encode_message, FrameSink, Sv2Message};
use codec_sv2::{CodecError, Encoder, StandardDecoder};
use framing_sv2::Frame;
use std::ffi::{c_char, CStr};

#[cfg(feature = "noise")]
use codec_sv2::{HandshakeCodec, NoiseDecoder, NoiseEncoder};

/// The decoder and encoder of one connection (opaque). Sans-IO: feed it the bytes you read,
/// take messages out; encode messages in, take the bytes to write out.
///
/// Created by `sv2_codec_new_plain`, `sv2_codec_new_initiator` or `sv2_codec_new_responder`;
/// owned by the caller until `sv2_codec_free`. Not thread-safe: use one codec from one thread
/// at a time.
pub struct Sv2Codec {
    state: State,
    /// Bytes fed and not yet decoded, from `in_pos`.
    inbox: Vec<u8>,
    in_pos: usize,
    /// Bytes to send, from `out_pos`.
    outbox: Vec<u8>,
    out_pos: usize,
    /// What an initiator's handshake checked.
    certificate: Option<Sv2Certificate>,
}

/// The server's certificate as an initiator checked it during the handshake: signed by the
/// authority key given to `sv2_codec_new_initiator`, over `server_static_key`, and valid at
/// the time of the handshake.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Sv2Certificate {
    /// Always 0 in the current spec.
    pub version: u16,
    /// Unix seconds from which it is valid.
    pub valid_from: u32,
    /// Unix seconds after which it is no longer valid.
    pub not_valid_after: u32,
    /// The server's static public key (x-only, 32 bytes), which the certificate vouches for.
    pub server_static_key: [u8; 32],
    /// The final handshake hash, a value both sides share (channel binding).
    pub handshake_hash: [u8; 32],
}

enum State {
    Plain(Box<(StandardDecoder, Encoder)>),
    #[cfg(feature = "noise")]
    Handshake(Box<HandshakeCodec>),
    #[cfg(feature = "noise")]
    Transport(Box<(NoiseDecoder, NoiseEncoder)>),
    /// A fatal error happened; the text says which.
    Failed(String),
}

impl Sv2Codec {
    fn new(state: State, first_output: &[u8]) -> Self {
        Sv2Codec {
            state,
            inbox: Vec::new(),
            in_pos: 0,
            outbox: first_output.to_vec(),
            out_pos: 0,
            certificate: None,
        }
    }

    fn fail(&mut self, e: FfiError) -> FfiError {
        self.state = State::Failed(e.message.clone());
        e
    }

    /// After feeding: run the handshake on what arrived, if it is not done.
    fn progress(&mut self) -> Result<(), FfiError> {
        #[cfg(feature = "noise")]
        if let State::Handshake(hs) = &mut self.state {
            let r = hs.decode(
                &self.inbox[self.in_pos..],
                const_sv2::SV2_MAX_PAYLOAD_SIZE,
                unix_now(),
            );
            match r {
                Ok((used, done)) => {
                    self.in_pos += used;
                    if let Some(done) = done {
                        if let Some(reply) = done.reply {
                            self.outbox.extend_from_slice(&reply);
                        }
                        self.certificate = done.result.map(|r| Sv2Certificate {
                            version: r.certificate.version,
                            valid_from: r.certificate.valid_from,
                            not_valid_after: r.certificate.not_valid_after,
                            server_static_key: r.responder_static.serialize(),
                            handshake_hash: r.handshake_hash,
                        });
                        self.state = State::Transport(Box::new((done.decoder, done.encoder)));
                    }
                }
                Err(e) => return Err(self.fail(codec_error(e))),
            }
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Sv2Message>, FfiError> {
        let input = &self.inbox[self.in_pos..];
        let (used, decoded) = match &mut self.state {
            State::Plain(codec) => match codec.0.decode(input) {
                Ok((used, frame)) => (used, frame.map(to_message)),
                Err(e) => return Err(self.fail(codec_error(e))),
            },
            #[cfg(feature = "noise")]
            State::Transport(codec) => match codec.0.decode(input) {
                Ok((used, frame)) => (used, frame.map(to_message)),
                Err(e) => return Err(self.fail(codec_error(e))),
            },
            #[cfg(feature = "noise")]
            State::Handshake(_) => (0, None),
            State::Failed(why) => return Err(failed(why)),
        };
        self.in_pos += used;
        if self.in_pos == self.inbox.len() {
            self.inbox.clear();
            self.in_pos = 0;
        } else if self.in_pos > 64 * 1024 && self.in_pos * 2 > self.inbox.len() {
            // A caller that always feeds before draining must not grow the inbox forever.
            self.inbox.drain(..self.in_pos);
            self.in_pos = 0;
        }
        decoded.transpose()
    }

    fn encode(&mut self, msg: &Sv2Message) -> Result<(), FfiError> {
        let out = &mut self.outbox;
        // SAFETY (both arms): the caller of sv2_codec_encode promises the message's pointers.
        let r = match &mut self.state {
            State::Plain(codec) => unsafe { encode_message(msg, &mut Sink(&mut codec.1, out)) },
            #[cfg(feature = "noise")]
            State::Transport(codec) => unsafe {
                encode_message(msg, &mut NoiseSink(&mut codec.1, out))
            },
            #[cfg(feature = "noise")]
            State::Handshake(_) => {
                return Err(FfiError::new(
                    SV2_ERR_STATE,
                    "the noise handshake is not done: feed the peer's bytes first",
                ))
            }
            State::Failed(why) => return Err(failed(why)),
        };
        match r {
            Err(e) if e.status == SV2_ERR_NOISE => Err(self.fail(e)),
            r => r,
        }
    }
}

fn failed(why: &str) -> FfiError {
    FfiError::new(
        SV2_ERR_STATE,
        format!("the codec failed earlier ({why}); create a new one for a new connection"),
    )
}

fn to_message(frame: Frame<'_>) -> Result<Sv2Message, FfiError> {
    let ext = frame.header.extension_type();
    if ext != 0 {
        return Err(FfiError::new(
            SV2_ERR_UNKNOWN_MESSAGE,
            format!(
                "message type 0x{:02x} of extension 0x{ext:04x} is not decoded by this library",
                frame.header.msg_type()
            ),
        ));
    }
    decode_message(frame.header.msg_type(), frame.payload)
}

fn codec_error(e: CodecError) -> FfiError {
    match e {
        CodecError::Framing(e) => FfiError::new(SV2_ERR_FRAMING, e.to_string()),
        #[cfg(feature = "noise")]
        CodecError::Noise(e) => FfiError::new(SV2_ERR_NOISE, e.to_string()),
    }
}

struct Sink<'a>(&'a mut Encoder, &'a mut Vec<u8>);

impl FrameSink for Sink<'_> {
    fn encode<M: framing_sv2::Sv2Message>(&mut self, m: &M) -> Result<(), FfiError> {
        let bytes = self
            .0
            .encode(m)
            .map_err(|e| FfiError::new(SV2_ERR_ENCODE, format!("{}: {e}", M::NAME)))?;
        self.1.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(feature = "noise")]
struct NoiseSink<'a>(&'a mut NoiseEncoder, &'a mut Vec<u8>);

#[cfg(feature = "noise")]
impl FrameSink for NoiseSink<'_> {
    fn encode<M: framing_sv2::Sv2Message>(&mut self, m: &M) -> Result<(), FfiError> {
        let bytes = self.0.encode(m).map_err(|e| match e {
            CodecError::Framing(e) => FfiError::new(SV2_ERR_ENCODE, format!("{}: {e}", M::NAME)),
            other => codec_error(other),
        })?;
        self.1.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(feature = "noise")]
fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(u32::MAX as u64) as u32)
}

/// # Safety
/// `p` is NULL or valid for writes.
unsafe fn out_ptr<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, FfiError> {
    // SAFETY: the caller's promise.
    unsafe { p.as_mut() }.ok_or_else(|| FfiError::null(what))
}

/// # Safety
/// `p` is NULL or a codec from this library, not freed.
unsafe fn codec_mut<'a>(p: *mut Sv2Codec) -> Result<&'a mut Sv2Codec, FfiError> {
    // SAFETY: the caller's promise.
    unsafe { p.as_mut() }.ok_or_else(|| FfiError::null("codec"))
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::null(what));
    }
    // SAFETY: non-null and NUL-terminated by the caller's promise.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))
}

fn boxed(out: &mut *mut Sv2Codec, codec: Sv2Codec) -> Result<Sv2Status, FfiError> {
    *out = Box::into_raw(Box::new(codec));
    Ok(SV2_OK)
}

/// Create a codec for an unencrypted connection (e.g. a template provider on localhost).
/// Messages can be encoded and decoded at once.
///
/// Ownership: on SV2_OK, `*out` is a new codec the caller owns; free it with
/// `sv2_codec_free`. On error `*out` is set to NULL.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_new_plain(out: *mut *mut Sv2Codec) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { out_ptr(out, "out")? };
        *out = std::ptr::null_mut();
        boxed(
            out,
            Sv2Codec::new(
                State::Plain(Box::new((StandardDecoder::new(), Encoder::new()))),
                &[],
            ),
        )
    })
}

/// Create a codec for an encrypted connection that we opened (a client: a mining device, a
/// proxy, a pool connecting to its template provider). `authority_public_key` is the
/// server's authority public key in the base58check form pools publish (e.g.
/// "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"). The handshake checks that the
/// server's certificate is signed by that key and valid now.
///
/// The first handshake message is queued at once: send what `sv2_codec_output` gives, then
/// feed what the server answers until `sv2_codec_is_ready` says true.
///
/// Ownership: as `sv2_codec_new_plain`. The key string is only read during the call.
///
/// # Safety
/// `authority_public_key` is NULL or a NUL-terminated string; `out` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_new_initiator(
    authority_public_key: *const c_char,
    out: *mut *mut Sv2Codec,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { out_ptr(out, "out")? };
        *out = std::ptr::null_mut();
        // SAFETY: the caller's promise.
        let key = unsafe { c_str(authority_public_key, "authority_public_key")? };
        new_initiator(key).and_then(|codec| boxed(out, codec))
    })
}

#[cfg(feature = "noise")]
fn new_initiator(key: &str) -> Result<Sv2Codec, FfiError> {
    let key: noise_sv2::AuthorityPublicKey = key
        .trim()
        .parse()
        .map_err(|e| FfiError::invalid(format!("authority_public_key: {e}")))?;
    let init = noise_sv2::Initiator::new(key.0).map_err(|e| codec_error(e.into()))?;
    let (hs, msg1) = HandshakeCodec::initiator(init).map_err(codec_error)?;
    Ok(Sv2Codec::new(State::Handshake(Box::new(hs)), &msg1))
}

#[cfg(not(feature = "noise"))]
fn new_initiator(_: &str) -> Result<Sv2Codec, FfiError> {
    Err(unsupported())
}

/// Create a codec for an encrypted connection that a client opened to us (a server: a pool,
/// a template provider). `authority_secret_key` is our authority secret key in base58check
/// form; each codec makes a fresh static key and a certificate for it, signed by the
/// authority and valid for `cert_validity_secs` from now.
///
/// Feed the client's first bytes; the handshake answer is then in `sv2_codec_output`, and
/// `sv2_codec_is_ready` says true.
///
/// Ownership: as `sv2_codec_new_plain`. The key string is only read during the call.
///
/// # Safety
/// As `sv2_codec_new_initiator`.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_new_responder(
    authority_secret_key: *const c_char,
    cert_validity_secs: u32,
    out: *mut *mut Sv2Codec,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { out_ptr(out, "out")? };
        *out = std::ptr::null_mut();
        // SAFETY: the caller's promise.
        let key = unsafe { c_str(authority_secret_key, "authority_secret_key")? };
        if cert_validity_secs == 0 {
            return Err(FfiError::invalid("cert_validity_secs must be at least 1"));
        }
        new_responder(key, cert_validity_secs).and_then(|codec| boxed(out, codec))
    })
}

#[cfg(feature = "noise")]
fn new_responder(key: &str, validity: u32) -> Result<Sv2Codec, FfiError> {
    let key: noise_sv2::AuthoritySecretKey = key
        .trim()
        .parse()
        .map_err(|e| FfiError::invalid(format!("authority_secret_key: {e}")))?;
    let static_key = noise_sv2::HandshakeKey::generate().map_err(|e| codec_error(e.into()))?;
    let resp = noise_sv2::Responder::new(key.keypair(), static_key, validity)
        .map_err(|e| codec_error(e.into()))?;
    Ok(Sv2Codec::new(
        State::Handshake(Box::new(HandshakeCodec::responder(resp))),
        &[],
    ))
}

#[cfg(not(feature = "noise"))]
fn new_responder(_: &str, _: u32) -> Result<Sv2Codec, FfiError> {
    Err(unsupported())
}

#[cfg(not(feature = "noise"))]
fn unsupported() -> FfiError {
    FfiError::new(
        SV2_ERR_UNSUPPORTED,
        "this build of the library has no noise support (built without the `noise` feature)",
    )
}

/// Free a codec and everything it holds (queued bytes included). NULL is ignored. Messages
/// already taken from it stay valid: they own their memory.
///
/// # Safety
/// `codec` is NULL or a codec from this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_free(codec: *mut Sv2Codec) {
    if codec.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: from Box::into_raw in a constructor, freed once by the caller's promise.
        drop(unsafe { Box::from_raw(codec) });
    }));
}

/// Give the codec `len` bytes received from the peer (any amount: a byte, a frame, many
/// frames). During the noise handshake this also advances it, which can queue the answer in
/// `sv2_codec_output`; a failed handshake returns SV2_ERR_NOISE.
///
/// Ownership: the bytes are copied; `data` is only read during the call.
///
/// # Safety
/// `codec` is NULL or a live codec; `data` is NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_feed(
    codec: *mut Sv2Codec,
    data: *const u8,
    len: usize,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec_mut(codec)? };
        // SAFETY: the caller's promise.
        let bytes = unsafe { crate::types::c_slice(data, len, "data")? };
        if let State::Failed(why) = &codec.state {
            return Err(failed(why));
        }
        codec.inbox.extend_from_slice(bytes);
        codec.progress()?;
        Ok(SV2_OK)
    })
}

/// Take the next complete message out of the bytes fed so far.
///
/// Returns SV2_OK with `*out` set (free it with `sv2_message_free`), or SV2_NEED_MORE_BYTES
/// when no whole message has arrived. SV2_ERR_UNKNOWN_MESSAGE and SV2_ERR_DECODE consume the
/// bad frame and the codec goes on (call again for the next one); SV2_ERR_FRAMING and
/// SV2_ERR_NOISE are fatal: the connection must be closed. On any status but SV2_OK, `*out`
/// is zeroed (freeing it is harmless).
///
/// # Safety
/// `codec` is NULL or a live codec; `out` is NULL or valid for writing an `Sv2Message`.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_next(codec: *mut Sv2Codec, out: *mut Sv2Message) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { out_ptr(out, "out")? };
        // SAFETY: an all-zero Sv2Message is valid (NULL pointers, zero numbers); written
        // without reading or dropping what `out` held.
        unsafe { std::ptr::write(out, std::mem::zeroed()) };
        // SAFETY: the caller's promise.
        let codec = unsafe { codec_mut(codec)? };
        match codec.next()? {
            Some(m) => {
                *out = m;
                Ok(SV2_OK)
            }
            None => Ok(SV2_NEED_MORE_BYTES),
        }
    })
}

/// Encode `msg` into a frame (encrypted after a noise handshake) and queue it for sending;
/// take the bytes with `sv2_codec_output`. A field longer than its type allows returns
/// SV2_ERR_ENCODE and queues nothing.
///
/// Ownership: `msg` and what it points to are only read during the call.
///
/// # Safety
/// `codec` is NULL or a live codec; `msg` is NULL or a valid message whose pointers are valid
/// for their lengths.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_encode(
    codec: *mut Sv2Codec,
    msg: *const Sv2Message,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec_mut(codec)? };
        // SAFETY: the caller's promise.
        let msg = unsafe { msg.as_ref() }.ok_or_else(|| FfiError::null("msg"))?;
        codec.encode(msg)?;
        Ok(SV2_OK)
    })
}

/// The bytes waiting to be sent to the peer (handshake messages and encoded frames), in
/// order. `*len` is 0 when there are none. After writing some of them to the socket, say how
/// many with `sv2_codec_consume_output`.
///
/// Ownership: `*data` points into the codec; it stays valid until the next call that takes
/// this codec mutably (feed, next, encode, consume_output, free). Do not free it.
///
/// # Safety
/// `codec` is NULL or a live codec; `data` and `len` are NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_output(
    codec: *const Sv2Codec,
    data: *mut *const u8,
    len: *mut usize,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec.as_ref() }.ok_or_else(|| FfiError::null("codec"))?;
        // SAFETY: the caller's promise.
        let data = unsafe { out_ptr(data, "data")? };
        // SAFETY: the caller's promise.
        let len = unsafe { out_ptr(len, "len")? };
        let pending = &codec.outbox[codec.out_pos..];
        *data = pending.as_ptr();
        *len = pending.len();
        Ok(SV2_OK)
    })
}

/// Drop the first `n` bytes of the output (they were sent). `n` larger than what is queued
/// returns SV2_ERR_INVALID_ARGUMENT and drops nothing.
///
/// # Safety
/// `codec` is NULL or a live codec.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_consume_output(codec: *mut Sv2Codec, n: usize) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec_mut(codec)? };
        let pending = codec.outbox.len() - codec.out_pos;
        if n > pending {
            return Err(FfiError::invalid(format!(
                "consume {n} bytes, but only {pending} are queued"
            )));
        }
        codec.out_pos += n;
        if codec.out_pos == codec.outbox.len() {
            codec.outbox.clear();
            codec.out_pos = 0;
        }
        Ok(SV2_OK)
    })
}

/// `*ready` is true once messages can be encoded and decoded: at once for a plain codec,
/// after the handshake for a noise one.
///
/// # Safety
/// `codec` is NULL or a live codec; `ready` is NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_is_ready(codec: *const Sv2Codec, ready: *mut bool) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec.as_ref() }.ok_or_else(|| FfiError::null("codec"))?;
        // SAFETY: the caller's promise.
        let ready = unsafe { out_ptr(ready, "ready")? };
        *ready = false;
        match &codec.state {
            State::Plain(_) => *ready = true,
            #[cfg(feature = "noise")]
            State::Transport(_) => *ready = true,
            #[cfg(feature = "noise")]
            State::Handshake(_) => {}
            State::Failed(why) => return Err(failed(why)),
        }
        Ok(SV2_OK)
    })
}

/// The certificate the server presented, once an initiator's handshake is done (it was
/// checked then: a codec whose check failed never gets here). SV2_ERR_STATE for a plain or
/// responder codec, or before the handshake is done.
///
/// # Safety
/// `codec` is NULL or a live codec; `out` is NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn sv2_codec_certificate(
    codec: *const Sv2Codec,
    out: *mut Sv2Certificate,
) -> Sv2Status {
    guard(|| {
        // SAFETY: the caller's promise.
        let codec = unsafe { codec.as_ref() }.ok_or_else(|| FfiError::null("codec"))?;
        // SAFETY: the caller's promise.
        let out = unsafe { out_ptr(out, "out")? };
        *out = Sv2Certificate::default();
        *out = codec.certificate.ok_or_else(|| {
            FfiError::new(
                SV2_ERR_STATE,
                "no certificate: only an initiator whose handshake is done has one",
            )
        })?;
        Ok(SV2_OK)
    })
}
