//! The C ABI driven from Rust: every public vector decodes into C structs and encodes back to
//! the same bytes; every message type round-trips through its C struct (quickcheck); random
//! bytes never panic; noise codecs complete a handshake with each other and with noise_sv2.

use binary_sv2::Encodable;
use codec_sv2::Encoder;
use framing_sv2::Sv2Message as _;
use quickcheck::{QuickCheck, TestResult};
use std::ffi::CStr;
use std::ptr;
use sv2_ffi::*;

const VECTORS: &str = include_str!("../../../../test/vectors/sv2-messages.jsonl");
const AUTHORITY_SECRET: &std::ffi::CStr = c"jvRuXAe3N2zzAdps41oF4gN82Ft85p48GBPxngwAVqKep9gGu";
const AUTHORITY_PUBLIC: &std::ffi::CStr = c"9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(sv2_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// A codec that frees itself.
struct Codec(*mut Sv2Codec);

impl Drop for Codec {
    fn drop(&mut self) {
        unsafe { sv2_codec_free(self.0) }
    }
}

impl Codec {
    fn plain() -> Codec {
        let mut c = ptr::null_mut();
        assert_eq!(unsafe { sv2_codec_new_plain(&mut c) }, Sv2Status::SV2_OK);
        Codec(c)
    }

    fn feed(&self, bytes: &[u8]) -> Sv2Status {
        unsafe { sv2_codec_feed(self.0, bytes.as_ptr(), bytes.len()) }
    }

    fn next(&self) -> (Sv2Status, Sv2Message) {
        let mut m: Sv2Message = unsafe { std::mem::zeroed() };
        let s = unsafe { sv2_codec_next(self.0, &mut m) };
        (s, m)
    }

    fn output(&self) -> Vec<u8> {
        let (mut p, mut n) = (ptr::null(), 0usize);
        assert_eq!(
            unsafe { sv2_codec_output(self.0, &mut p, &mut n) },
            Sv2Status::SV2_OK
        );
        let v = if n == 0 {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
        };
        assert_eq!(
            unsafe { sv2_codec_consume_output(self.0, n) },
            Sv2Status::SV2_OK
        );
        v
    }

    fn encode(&self, m: &Sv2Message) -> Sv2Status {
        unsafe { sv2_codec_encode(self.0, m) }
    }

    fn ready(&self) -> bool {
        let mut r = false;
        assert_eq!(
            unsafe { sv2_codec_is_ready(self.0, &mut r) },
            Sv2Status::SV2_OK
        );
        r
    }
}

/// Feed `frame` to a plain codec, re-encode what came out, and return those bytes.
fn through_c_structs(frame: &[u8]) -> Result<Vec<u8>, String> {
    let c = Codec::plain();
    assert_eq!(c.feed(frame), Sv2Status::SV2_OK);
    let (s, mut m) = c.next();
    if s != Sv2Status::SV2_OK {
        return Err(format!("{s:?}: {}", last_error()));
    }
    let s = c.encode(&m);
    unsafe { sv2_message_free(&mut m) };
    if s != Sv2Status::SV2_OK {
        return Err(format!("{s:?}: {}", last_error()));
    }
    Ok(c.output())
}

#[test]
fn every_vector_decodes_into_c_structs_and_encodes_back_byte_for_byte() {
    let mut checked = 0;
    for line in VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let frame = hex(v["frame_hex"].as_str().unwrap());
        let name = format!("{} {}", v["message"], v["case"]);
        if v["extension_type"].as_u64() != Some(0) {
            // Extension messages are not part of the C API: refused, and the codec goes on.
            let c = Codec::plain();
            c.feed(&frame);
            assert_eq!(c.next().0, Sv2Status::SV2_ERR_UNKNOWN_MESSAGE, "{name}");
            assert_eq!(c.next().0, Sv2Status::SV2_NEED_MORE_BYTES, "{name}");
            continue;
        }
        let again = through_c_structs(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again, frame, "{name}");
        checked += 1;
    }
    // 41 messages, each in at least three cases.
    assert!(checked >= 123, "only {checked} vectors checked");
}

#[test]
fn decoded_fields_are_readable_from_c_structs() {
    // SetupConnection, typical case of the vectors: strings arrive NUL-terminated.
    let line = VECTORS
        .lines()
        .find(|l| l.contains(r#""message":"SetupConnection","case":"typical""#))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let c = Codec::plain();
    c.feed(&hex(v["frame_hex"].as_str().unwrap()));
    let (s, mut m) = c.next();
    assert_eq!(s, Sv2Status::SV2_OK);
    assert_eq!(m.msg_type, Sv2MessageType::SV2_MSG_SETUP_CONNECTION as u8);
    let sc = unsafe { m.body.setup_connection };
    let f = &v["fields"];
    assert_eq!(sc.protocol as u64, f["protocol"].as_u64().unwrap());
    assert_eq!(sc.flags as u64, f["flags"].as_u64().unwrap());
    let host = unsafe { CStr::from_ptr(sc.endpoint_host.data) };
    assert_eq!(host.to_str().unwrap(), f["endpoint_host"].as_str().unwrap());
    assert_eq!(sc.endpoint_host.len, host.to_bytes().len());
    unsafe { sv2_message_free(&mut m) };
    assert!(m.storage.is_null());
    unsafe { sv2_message_free(&mut m) }; // a second free does nothing
}

#[test]
fn tags_are_the_spec_message_types_and_names() {
    for (name, ty) in [
        ("SetupConnection", Sv2MessageType::SV2_MSG_SETUP_CONNECTION),
        (
            "SubmitShares.Error",
            Sv2MessageType::SV2_MSG_SUBMIT_SHARES_ERROR,
        ),
        (
            "SetNewPrevHash",
            Sv2MessageType::SV2_MSG_MINING_SET_NEW_PREV_HASH,
        ),
        ("SubmitSolution", Sv2MessageType::SV2_MSG_SUBMIT_SOLUTION),
        ("PushSolution", Sv2MessageType::SV2_MSG_PUSH_SOLUTION),
    ] {
        let n = unsafe { CStr::from_ptr(sv2_message_type_name(ty as u8)) };
        assert_eq!(n.to_str().unwrap(), name);
    }
    assert!(sv2_message_type_name(0xff).is_null());
    assert_eq!(
        Sv2MessageType::SV2_MSG_SUBMIT_SOLUTION as u8,
        template_distribution_sv2::SubmitSolution::MSG_TYPE
    );
}

/// Encode `m` with the Rust encoder, pass it through the C structs, compare.
fn round_trip<M: framing_sv2::Sv2Message>(m: M) -> TestResult {
    let frame = Encoder::new().encode(&m).unwrap().to_vec();
    match through_c_structs(&frame) {
        Ok(again) => TestResult::from_bool(again == frame),
        Err(e) => TestResult::error(e),
    }
}

macro_rules! round_trip_tests {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[test]
        fn every_message_round_trips_through_its_c_struct() {
            $(
                fn $name(m: $ty) -> TestResult {
                    // Payloads near the frame limit are slow and prove nothing more here.
                    if m.encoded_len() > 1 << 20 {
                        return TestResult::discard();
                    }
                    round_trip(m)
                }
                QuickCheck::new().tests(60).quickcheck($name as fn($ty) -> TestResult);
            )*
        }
    };
}

round_trip_tests! {
    setup_connection: common_messages_sv2::SetupConnection<'static>,
    setup_connection_success: common_messages_sv2::SetupConnectionSuccess,
    setup_connection_error: common_messages_sv2::SetupConnectionError<'static>,
    channel_endpoint_changed: common_messages_sv2::ChannelEndpointChanged,
    reconnect: common_messages_sv2::Reconnect<'static>,
    open_standard: mining_sv2::OpenStandardMiningChannel<'static>,
    open_standard_success: mining_sv2::OpenStandardMiningChannelSuccess<'static>,
    open_error: mining_sv2::OpenMiningChannelError<'static>,
    open_extended: mining_sv2::OpenExtendedMiningChannel<'static>,
    open_extended_success: mining_sv2::OpenExtendedMiningChannelSuccess<'static>,
    new_mining_job: mining_sv2::NewMiningJob,
    update_channel: mining_sv2::UpdateChannel,
    update_channel_error: mining_sv2::UpdateChannelError<'static>,
    close_channel: mining_sv2::CloseChannel<'static>,
    set_extranonce_prefix: mining_sv2::SetExtranoncePrefix<'static>,
    submit_standard: mining_sv2::SubmitSharesStandard,
    submit_extended: mining_sv2::SubmitSharesExtended<'static>,
    submit_success: mining_sv2::SubmitSharesSuccess,
    submit_error: mining_sv2::SubmitSharesError<'static>,
    new_extended_job: mining_sv2::NewExtendedMiningJob<'static>,
    mining_prev_hash: mining_sv2::SetNewPrevHash,
    set_target: mining_sv2::SetTarget,
    set_custom_job: mining_sv2::SetCustomMiningJob<'static>,
    set_custom_job_success: mining_sv2::SetCustomMiningJobSuccess,
    set_custom_job_error: mining_sv2::SetCustomMiningJobError<'static>,
    set_group_channel: mining_sv2::SetGroupChannel<'static>,
    constraints: template_distribution_sv2::CoinbaseOutputConstraints,
    new_template: template_distribution_sv2::NewTemplate<'static>,
    td_prev_hash: template_distribution_sv2::SetNewPrevHash,
    request_tx_data: template_distribution_sv2::RequestTransactionData,
    request_tx_data_success: template_distribution_sv2::RequestTransactionDataSuccess<'static>,
    request_tx_data_error: template_distribution_sv2::RequestTransactionDataError<'static>,
    submit_solution: template_distribution_sv2::SubmitSolution<'static>,
    allocate_token: job_declaration_sv2::AllocateMiningJobToken<'static>,
    allocate_token_success: job_declaration_sv2::AllocateMiningJobTokenSuccess<'static>,
    provide_missing: job_declaration_sv2::ProvideMissingTransactions<'static>,
    provide_missing_success: job_declaration_sv2::ProvideMissingTransactionsSuccess<'static>,
    declare_job: job_declaration_sv2::DeclareMiningJob<'static>,
    declare_job_success: job_declaration_sv2::DeclareMiningJobSuccess<'static>,
    declare_job_error: job_declaration_sv2::DeclareMiningJobError<'static>,
    push_solution: job_declaration_sv2::PushSolution<'static>,
}

#[test]
fn random_bytes_never_panic_and_never_yield_garbage() {
    fn prop(bytes: Vec<u8>, chunk: u8) -> bool {
        let c = Codec::plain();
        for part in bytes.chunks(chunk as usize + 1) {
            if c.feed(part) != Sv2Status::SV2_OK {
                return true; // a fatal framing error refuses further input
            }
            loop {
                let (s, mut m) = c.next();
                unsafe { sv2_message_free(&mut m) };
                match s {
                    Sv2Status::SV2_OK
                    | Sv2Status::SV2_ERR_DECODE
                    | Sv2Status::SV2_ERR_UNKNOWN_MESSAGE => continue,
                    Sv2Status::SV2_NEED_MORE_BYTES => break,
                    Sv2Status::SV2_ERR_FRAMING | Sv2Status::SV2_ERR_STATE => return true,
                    _ => return false,
                }
            }
        }
        true
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(Vec<u8>, u8) -> bool);
}

#[test]
fn frames_come_out_in_order_when_feeding_runs_ahead_of_taking() {
    let c = Codec::plain();
    let mut enc = Encoder::new();
    let frame = |id: u32, enc: &mut Encoder| {
        enc.encode(&common_messages_sv2::ChannelEndpointChanged { channel_id: id })
            .unwrap()
            .to_vec()
    };
    let take = |want: u32| {
        let (s, mut m) = c.next();
        assert_eq!(s, Sv2Status::SV2_OK);
        assert_eq!(unsafe { m.body.channel_endpoint_changed.channel_id }, want);
        unsafe { sv2_message_free(&mut m) };
    };
    // Two frames in, one out, 20,000 times (200 kB queued at the end): the inbox is
    // compacted on the way without losing or reordering a byte.
    let mut next = 0;
    for i in 0..20_000u32 {
        let mut two = frame(2 * i, &mut enc);
        two.extend(frame(2 * i + 1, &mut enc));
        // Split across feeds at an odd place.
        c.feed(&two[..7]);
        c.feed(&two[7..]);
        take(next);
        next += 1;
    }
    while next < 40_000 {
        take(next);
        next += 1;
    }
    assert_eq!(c.next().0, Sv2Status::SV2_NEED_MORE_BYTES);
}

#[test]
fn bad_frames_are_refused_and_the_codec_goes_on() {
    let c = Codec::plain();
    // SetupConnection.Success with a payload one byte short, then a good ChannelEndpointChanged.
    let mut bytes = vec![0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 2, 0, 1, 0, 0];
    let good = Encoder::new()
        .encode(&common_messages_sv2::ChannelEndpointChanged { channel_id: 7 })
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(&good);
    // An unknown message type.
    bytes.extend_from_slice(&[0x00, 0x00, 0x7f, 0x00, 0x00, 0x00]);
    c.feed(&bytes);
    assert_eq!(c.next().0, Sv2Status::SV2_ERR_DECODE);
    assert!(
        last_error().contains("SetupConnection.Success"),
        "{}",
        last_error()
    );
    let (s, mut m) = c.next();
    assert_eq!(s, Sv2Status::SV2_OK);
    assert_eq!(unsafe { m.body.channel_endpoint_changed.channel_id }, 7);
    unsafe { sv2_message_free(&mut m) };
    assert_eq!(c.next().0, Sv2Status::SV2_ERR_UNKNOWN_MESSAGE);
    assert_eq!(c.next().0, Sv2Status::SV2_NEED_MORE_BYTES);
}

#[cfg(feature = "noise")]
#[test]
fn noise_initiator_and_responder_talk_through_the_c_abi() {
    let mut i = ptr::null_mut();
    let mut r = ptr::null_mut();
    unsafe {
        assert_eq!(
            sv2_codec_new_initiator(AUTHORITY_PUBLIC.as_ptr(), &mut i),
            Sv2Status::SV2_OK
        );
        assert_eq!(
            sv2_codec_new_responder(AUTHORITY_SECRET.as_ptr(), 3600, &mut r),
            Sv2Status::SV2_OK
        );
    }
    let (i, r) = (Codec(i), Codec(r));
    assert!(!i.ready() && !r.ready());
    let msg1 = i.output();
    assert_eq!(msg1.len(), 64);
    // Byte by byte: the handshake is a stream like any other.
    for b in &msg1 {
        assert_eq!(r.feed(std::slice::from_ref(b)), Sv2Status::SV2_OK);
    }
    assert!(r.ready());
    let msg2 = r.output();
    assert_eq!(msg2.len(), 234);
    assert_eq!(i.feed(&msg2), Sv2Status::SV2_OK, "{}", last_error());
    assert!(i.ready());

    let mut m: Sv2Message = unsafe { std::mem::zeroed() };
    m.msg_type = Sv2MessageType::SV2_MSG_CLOSE_CHANNEL as u8;
    m.body.close_channel = Sv2CloseChannel {
        channel_id: 3,
        reason_code: Sv2Str {
            data: c"bye".as_ptr(),
            len: 3,
        },
    };
    assert_eq!(i.encode(&m), Sv2Status::SV2_OK);
    let wire = i.output();
    assert!(!wire.windows(3).any(|w| w == b"bye"), "encrypted");
    r.feed(&wire);
    let (s, mut got) = r.next();
    assert_eq!(s, Sv2Status::SV2_OK);
    let cc = unsafe { got.body.close_channel };
    assert_eq!(cc.channel_id, 3);
    assert_eq!(unsafe { CStr::from_ptr(cc.reason_code.data) }, c"bye");
    unsafe { sv2_message_free(&mut got) };

    // Replaying the same bytes fails: the nonce moved on. The codec is then dead.
    r.feed(&wire);
    assert_eq!(r.next().0, Sv2Status::SV2_ERR_NOISE);
    assert_eq!(r.next().0, Sv2Status::SV2_ERR_STATE);
}

#[cfg(feature = "noise")]
#[test]
fn an_initiator_refuses_a_responder_signed_by_another_authority() {
    let other = noise_sv2::AuthoritySecretKey::generate().unwrap();
    let other_secret = std::ffi::CString::new(other.to_base58()).unwrap();
    let (mut i, mut r) = (ptr::null_mut(), ptr::null_mut());
    unsafe {
        sv2_codec_new_initiator(AUTHORITY_PUBLIC.as_ptr(), &mut i);
        sv2_codec_new_responder(other_secret.as_ptr(), 3600, &mut r);
    }
    let (i, r) = (Codec(i), Codec(r));
    r.feed(&i.output());
    assert_eq!(i.feed(&r.output()), Sv2Status::SV2_ERR_NOISE);
    assert!(last_error().contains("signature"), "{}", last_error());
    assert_eq!(
        i.encode(&unsafe { std::mem::zeroed() }),
        Sv2Status::SV2_ERR_STATE
    );
}

#[cfg(feature = "noise")]
#[test]
fn the_c_initiator_handshakes_with_the_rust_responder() {
    let authority: noise_sv2::AuthoritySecretKey =
        AUTHORITY_SECRET.to_str().unwrap().parse().unwrap();
    let responder = noise_sv2::Responder::new(
        authority.keypair(),
        noise_sv2::HandshakeKey::generate().unwrap(),
        60,
    )
    .unwrap();
    let mut i = ptr::null_mut();
    unsafe { sv2_codec_new_initiator(AUTHORITY_PUBLIC.as_ptr(), &mut i) };
    let i = Codec(i);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let (msg2, _session) = responder.respond(&i.output(), now).unwrap();
    assert_eq!(i.feed(&msg2), Sv2Status::SV2_OK, "{}", last_error());
    assert!(i.ready());
}

#[cfg(not(feature = "noise"))]
#[test]
fn without_noise_the_noise_constructors_say_unsupported() {
    let mut c = ptr::null_mut();
    assert_eq!(
        unsafe { sv2_codec_new_initiator(AUTHORITY_PUBLIC.as_ptr(), &mut c) },
        Sv2Status::SV2_ERR_UNSUPPORTED
    );
    assert!(c.is_null());
    assert_eq!(
        unsafe { sv2_codec_new_responder(AUTHORITY_SECRET.as_ptr(), 60, &mut c) },
        Sv2Status::SV2_ERR_UNSUPPORTED
    );
}
