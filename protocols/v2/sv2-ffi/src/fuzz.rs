//! The C API driven from Rust over arbitrary bytes, for the fuzz target `ffi_decode`
//! (utils/fuzz-targets). It lives here because `unsafe` is only allowed in this crate.

use crate::codec::*;
use crate::error::*;
use crate::messages::{sv2_message_free, Sv2Message};

/// The authority secret key of test/vectors/noise-handshake.jsonl (a test key, not a secret).
#[cfg(feature = "noise")]
const TEST_AUTHORITY_SECRET: &std::ffi::CStr =
    c"2Hd589ihhJFsEN71X2i7pwpneh2S7cU4hHogfdxtnsXJCQYcKf";

/// A codec made by one of the constructors, freed on drop.
struct Owned(*mut Sv2Codec);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a constructor of this crate and is freed only here.
        unsafe { sv2_codec_free(self.0) }
    }
}

fn plain() -> Owned {
    let mut p = std::ptr::null_mut();
    // SAFETY: `p` is a valid place for the pointer.
    let st = unsafe { sv2_codec_new_plain(&mut p) };
    assert_eq!(st, SV2_OK);
    Owned(p)
}

fn not_a_panic(st: Sv2Status, call: &str) -> Sv2Status {
    assert_ne!(
        st,
        SV2_ERR_PANIC,
        "{call} caught a panic: {:?}",
        // SAFETY: sv2_last_error never returns NULL and its string lives until the next
        // failing call on this thread.
        unsafe { std::ffi::CStr::from_ptr(sv2_last_error()) }
    );
    st
}

/// Take every message out of `codec`; each is re-encoded into `enc` (if given), which must
/// succeed: what the library decodes it can encode. Returns the number of messages and
/// whether the codec failed for good.
fn drain(codec: &Owned, enc: Option<&Owned>) -> (usize, bool) {
    let mut n = 0;
    loop {
        // SAFETY: an all-zero Sv2Message is valid (NULL pointers, zero numbers).
        let mut msg: Sv2Message = unsafe { std::mem::zeroed() };
        // SAFETY: a live codec and a valid place for the message.
        let st = not_a_panic(
            unsafe { sv2_codec_next(codec.0, &mut msg) },
            "sv2_codec_next",
        );
        match st {
            SV2_OK => {
                n += 1;
                if let Some(enc) = enc {
                    // SAFETY: a live codec and a message the library just filled in.
                    let e = unsafe { sv2_codec_encode(enc.0, &msg) };
                    assert_eq!(
                        not_a_panic(e, "sv2_codec_encode"),
                        SV2_OK,
                        "a decoded message of type {:#04x} does not encode",
                        msg.msg_type
                    );
                }
                // SAFETY: a message from sv2_codec_next, freed once.
                unsafe { sv2_message_free(&mut msg) };
                // A second free is harmless (the message was zeroed).
                // SAFETY: as above.
                unsafe { sv2_message_free(&mut msg) };
            }
            SV2_NEED_MORE_BYTES => return (n, false),
            // The bad frame was consumed; the codec goes on.
            SV2_ERR_UNKNOWN_MESSAGE | SV2_ERR_DECODE => {}
            _ => return (n, true),
        }
    }
}

fn feed(codec: &Owned, bytes: &[u8]) -> Sv2Status {
    // SAFETY: a live codec and a slice valid for its length.
    let st = unsafe { sv2_codec_feed(codec.0, bytes.as_ptr(), bytes.len()) };
    not_a_panic(st, "sv2_codec_feed")
}

fn output(codec: &Owned) -> Vec<u8> {
    let mut data = std::ptr::null();
    let mut len = 0;
    // SAFETY: a live codec and valid places for the results.
    let st = unsafe { sv2_codec_output(codec.0, &mut data, &mut len) };
    assert_eq!(st, SV2_OK);
    if len == 0 {
        return Vec::new();
    }
    // SAFETY: the codec says `data` holds `len` bytes, valid until the next call on it.
    let out = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
    // SAFETY: a live codec.
    assert_eq!(unsafe { sv2_codec_consume_output(codec.0, len) }, SV2_OK);
    out
}

/// Feed `data` to the C API as a peer's bytes and take out every message. The first byte
/// chooses the codec (bit 0 set: a noise responder, else plain) and the size of the chunks
/// fed (its upper bits, plus one); the rest is the stream. No call may return
/// `SV2_ERR_PANIC`; every decoded message must encode again, and those frames must decode to
/// as many messages.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let Some((&c, stream)) = data.split_first() else {
        return;
    };
    let chunk = (c >> 1) as usize + 1;
    let codec = if c & 1 == 0 {
        plain()
    } else {
        #[cfg(feature = "noise")]
        {
            let mut p = std::ptr::null_mut();
            // SAFETY: a NUL-terminated key and a valid place for the pointer.
            let st = unsafe { sv2_codec_new_responder(TEST_AUTHORITY_SECRET.as_ptr(), 60, &mut p) };
            assert_eq!(st, SV2_OK);
            Owned(p)
        }
        #[cfg(not(feature = "noise"))]
        plain()
    };
    let enc = plain();
    let mut decoded = 0;
    for piece in stream.chunks(chunk) {
        let st = feed(&codec, piece);
        let (n, fatal) = drain(&codec, Some(&enc));
        decoded += n;
        if st != SV2_OK || fatal {
            // A failed codec refuses everything after.
            assert_ne!(feed(&codec, &[0]), SV2_OK);
            break;
        }
        let mut ready = false;
        // SAFETY: a live codec and a valid place for the answer.
        let st = unsafe { sv2_codec_is_ready(codec.0, &mut ready) };
        assert!(st == SV2_OK || st == SV2_ERR_STATE);
    }
    let again = plain();
    assert_eq!(feed(&again, &output(&enc)), SV2_OK);
    assert_eq!(drain(&again, None), (decoded, false));
}
