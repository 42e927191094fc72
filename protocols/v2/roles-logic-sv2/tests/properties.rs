//! Property tests over every message: quickcheck round trips (binary and JSON), and random or
//! truncated bytes fed to every decoder, which must answer with an error, never a panic.

use binary_sv2::{Decodable, Encodable, IntoStatic};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use roles_logic_sv2::parsers::*;

type Generator = fn(&mut Gen) -> AnyMessage<'static>;

macro_rules! generators {
    ($($enum:ident: [$($ty:ty),*]),*) => {
        vec![$($(
            (|g: &mut Gen| AnyMessage::from($enum::from(<$ty as Arbitrary>::arbitrary(g)))) as Generator,
        )*)*]
    };
}

fn all_generators() -> Vec<Generator> {
    use common_messages_sv2 as c;
    use extensions_sv2 as e;
    use job_declaration_sv2 as j;
    use mining_sv2 as m;
    use template_distribution_sv2 as t;
    generators!(
        CommonMessages: [c::SetupConnection<'static>, c::SetupConnectionSuccess, c::SetupConnectionError<'static>, c::ChannelEndpointChanged, c::Reconnect<'static>],
        Mining: [m::OpenStandardMiningChannel<'static>, m::OpenStandardMiningChannelSuccess<'static>, m::OpenMiningChannelError<'static>,
                 m::OpenExtendedMiningChannel<'static>, m::OpenExtendedMiningChannelSuccess<'static>, m::NewMiningJob, m::UpdateChannel,
                 m::UpdateChannelError<'static>, m::CloseChannel<'static>, m::SetExtranoncePrefix<'static>, m::SubmitSharesStandard,
                 m::SubmitSharesExtended<'static>, m::SubmitSharesSuccess, m::SubmitSharesError<'static>, m::NewExtendedMiningJob<'static>,
                 m::SetNewPrevHash, m::SetTarget, m::SetCustomMiningJob<'static>, m::SetCustomMiningJobSuccess,
                 m::SetCustomMiningJobError<'static>, m::SetGroupChannel<'static>],
        JobDeclaration: [j::AllocateMiningJobToken<'static>, j::AllocateMiningJobTokenSuccess<'static>, j::ProvideMissingTransactions<'static>,
                 j::ProvideMissingTransactionsSuccess<'static>, j::DeclareMiningJob<'static>, j::DeclareMiningJobSuccess<'static>,
                 j::DeclareMiningJobError<'static>, j::PushSolution<'static>],
        TemplateDistribution: [t::CoinbaseOutputConstraints, t::NewTemplate<'static>, t::SetNewPrevHash, t::RequestTransactionData,
                 t::RequestTransactionDataSuccess<'static>, t::RequestTransactionDataError<'static>, t::SubmitSolution<'static>],
        ExtensionsNegotiation: [e::RequestExtensions<'static>, e::RequestExtensionsSuccess<'static>, e::RequestExtensionsError<'static>]
    )
}

#[test]
fn there_is_a_generator_for_every_message() {
    let mut g = Gen::new(4);
    let mut names: Vec<_> = all_generators()
        .iter()
        .map(|gen| {
            let m = gen(&mut g);
            (m.extension_type(), m.msg_type())
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), AnyMessage::messages().count());
}

/// encode -> parse gives the same message and the same bytes; into_static keeps it; the JSON
/// of `sv2 decode` reads back to the same bytes.
fn round_trip(m: AnyMessage<'static>) -> TestResult {
    let bytes = m.to_bytes().unwrap();
    if bytes.len() != m.encoded_len() {
        return TestResult::error("encoded_len is not exact");
    }
    let parsed = match AnyMessage::parse(m.extension_type(), m.msg_type(), &bytes) {
        Ok(p) => p,
        Err(e) => return TestResult::error(format!("{}: {e}", m.name())),
    };
    // Debug compares every field, NaN included.
    if format!("{parsed:?}") != format!("{m:?}") {
        return TestResult::error(format!("{} changed in a round trip", m.name()));
    }
    if parsed.to_bytes().unwrap() != bytes {
        return TestResult::error(format!("{} re-encodes differently", m.name()));
    }
    let owned = parsed.into_static();
    if owned.to_bytes().unwrap() != bytes {
        return TestResult::error("into_static changed the message");
    }
    // NaN and infinite F32s included: they print as {"hex": ...} (binary_sv2::f32_json).
    let json = serde_json::to_string(&m).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    match AnyMessage::deserialize_fields(m.extension_type(), m.msg_type(), value) {
        Ok(back) if back.to_bytes().unwrap() == bytes => {}
        Ok(_) => return TestResult::error(format!("{} JSON round trip changed bytes", m.name())),
        Err(e) => return TestResult::error(format!("{} JSON: {e}", m.name())),
    }
    TestResult::passed()
}

#[test]
fn quickcheck_round_trip_of_every_message() {
    // Every message, many sizes: sequences and byte strings from empty to their limits.
    for gen in all_generators() {
        for size in 0..24 {
            let mut g = Gen::new(size * 3);
            let r = round_trip(gen(&mut g));
            assert!(!r.is_failure(), "{r:?}");
        }
    }
    // And quickcheck's own exploration over (message, size).
    fn prop(pick: u8, size: u8) -> TestResult {
        let gens = all_generators();
        let mut g = Gen::new(size as usize % 64);
        round_trip(gens[pick as usize % gens.len()](&mut g))
    }
    QuickCheck::new()
        .tests(1000)
        .quickcheck(prop as fn(u8, u8) -> TestResult);
}

/// Random payloads for every message type: never a panic; whatever decodes re-encodes to
/// bytes that decode to the same message.
#[test]
fn random_bytes_never_panic_any_decoder() {
    fn prop(bytes: Vec<u8>, pick: u8) -> bool {
        let infos: Vec<_> = AnyMessage::messages().collect();
        let info = infos[pick as usize % infos.len()];
        for payload in [&bytes[..], &bytes[..bytes.len() / 2]] {
            let _ = AnyMessage::parse_with_tlvs(info.extension_type, info.msg_type, payload);
            if let Ok(m) = AnyMessage::parse(info.extension_type, info.msg_type, payload) {
                let again = m.to_bytes().unwrap();
                let m2 = AnyMessage::parse(info.extension_type, info.msg_type, &again).unwrap();
                if format!("{m:?}") != format!("{m2:?}") {
                    return false;
                }
            }
        }
        true
    }
    QuickCheck::new()
        .tests(5000)
        .quickcheck(prop as fn(Vec<u8>, u8) -> bool);
}

/// Payloads that start like a real message (so decoding gets past the first fields) and are
/// then cut or corrupted.
#[test]
fn corrupted_real_messages_never_panic() {
    let mut g = Gen::new(30);
    for gen in all_generators() {
        for _ in 0..30 {
            let m = gen(&mut g);
            let mut bytes = m.to_bytes().unwrap();
            for cut in 0..bytes.len().min(200) {
                let _ = AnyMessage::parse(m.extension_type(), m.msg_type(), &bytes[..cut]);
            }
            for i in 0..bytes.len().min(64) {
                bytes[i] ^= 0xff;
                let _ = AnyMessage::parse(m.extension_type(), m.msg_type(), &bytes);
                bytes[i] ^= 0xff;
            }
        }
    }
}

#[test]
fn unknown_types_are_errors_not_panics() {
    for msg_type in 0..=255u8 {
        let known = AnyMessage::messages().any(|m| m.extension_type == 0 && m.msg_type == msg_type);
        let r = AnyMessage::parse(0, msg_type, &[]);
        if !known {
            assert!(
                matches!(r, Err(ParserError::UnknownMessageType { msg_type: t, .. }) if t == msg_type),
                "{msg_type:#x}"
            );
        }
    }
    // The reserved 0x1e is unknown; an unknown extension is named.
    assert!(AnyMessage::parse(0, 0x1e, &[]).is_err());
    assert_eq!(
        AnyMessage::parse(0x4001, 0, &[]),
        Err(ParserError::UnknownExtension {
            extension_type: 0x4001
        })
    );
    // The channel bit is ignored in the lookup.
    assert!(AnyMessage::parse(0x8000, 0x03, &[1, 0, 0, 0]).is_ok());
}

#[test]
fn decode_errors_name_message_field_and_limit() {
    // SubmitSharesExtended with an extranonce length of 33 (> B0_32).
    let mut payload = vec![0u8; 24];
    payload.push(33);
    payload.extend_from_slice(&[0; 33]);
    let err = AnyMessage::parse(0, 0x1b, &payload).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SubmitSharesExtended.extranonce: B0_32 length 33 exceeds its maximum of 32"
    );
    // NewMiningJob with OPTION count 2.
    let err = AnyMessage::parse(0, 0x15, &[0, 0, 0, 0, 0, 0, 0, 0, 2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "NewMiningJob.min_ntime: OPTION count must be 0 or 1, got 2"
    );
    // Truncated sequence: merkle_path says 3 hashes, holds 1.
    let mut job = mining_sv2::NewExtendedMiningJob {
        channel_id: 1,
        job_id: 1,
        min_ntime: None,
        version: 0,
        version_rolling_allowed: true,
        merkle_path: binary_sv2::Seq0255::from_items([binary_sv2::U256([1; 32])]).unwrap(),
        coinbase_tx_prefix: binary_sv2::B064K::new(vec![]).unwrap(),
        coinbase_tx_suffix: binary_sv2::B064K::new(vec![]).unwrap(),
    }
    .to_bytes()
    .unwrap();
    job[14] = 3; // the count byte of merkle_path
    let err = AnyMessage::parse(0, 0x1f, &job).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("NewExtendedMiningJob.merkle_path: SEQ0_255 truncated"),
        "{err}"
    );
    // Trailing bytes name the message.
    let err = AnyMessage::parse(0, 0x03, &[1, 0, 0, 0, 9]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ChannelEndpointChanged: 1 unexpected bytes after the last field"
    );
}

#[test]
fn tlv_trailers_are_read_after_submit_shares_extended() {
    use extensions_sv2::tlv::{TlvList, UserIdentity};
    let share = mining_sv2::SubmitSharesExtended::decode(&[0u8; 25]).unwrap();
    let mut payload = share.to_bytes().unwrap();
    UserIdentity::new("worker.1")
        .unwrap()
        .to_tlv()
        .write_to_vec(&mut payload)
        .unwrap();
    assert!(
        AnyMessage::parse(0, 0x1b, &payload).is_err(),
        "strict parse refuses the trailer"
    );
    let (m, tlvs): (AnyMessage, TlvList) = AnyMessage::parse_with_tlvs(0, 0x1b, &payload).unwrap();
    assert_eq!(m.name(), "SubmitSharesExtended");
    assert_eq!(
        UserIdentity::find(&tlvs).unwrap().unwrap().as_str(),
        Some("worker.1")
    );
    // A trailer that is not TLV is refused.
    let mut bad = share.to_bytes().unwrap();
    bad.extend_from_slice(&[1, 2]);
    assert!(AnyMessage::parse_with_tlvs(0, 0x1b, &bad).is_err());
}
