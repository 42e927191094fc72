//! quickcheck round trip of every message: typed -> line -> parsed -> typed is the identity.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use sv1_api::methods::*;
use sv1_api::*;

fn s(g: &mut Gen) -> String {
    // Printable, like what firmware sends; JSON escaping is exercised by quotes and unicode.
    let pool = ['a', 'Z', '0', '.', '_', '-', '"', '\\', 'é', '€', ' '];
    (0..u8::arbitrary(g) % 20)
        .map(|_| *g.choose(&pool).unwrap())
        .collect()
}

fn bytes(g: &mut Gen, max: usize) -> Vec<u8> {
    (0..usize::arbitrary(g) % (max + 1))
        .map(|_| u8::arbitrary(g))
        .collect()
}

fn diff(g: &mut Gen) -> f64 {
    (u32::arbitrary(g) % 1_000_000 + 1) as f64 / 64.0
}

fn client_msg(g: &mut Gen) -> ClientMessage {
    match u8::arbitrary(g) % 6 {
        0 => ClientMessage::Subscribe(Subscribe {
            user_agent: Some(s(g)),
            session_id: if bool::arbitrary(g) { Some(s(g)) } else { None },
        }),
        1 => ClientMessage::Authorize(Authorize {
            name: s(g),
            password: Some(s(g)),
        }),
        2 => ClientMessage::Configure(Configure {
            version_rolling: Some(VersionRollingRequest {
                mask: Some(u32::arbitrary(g)),
                min_bit_count: Some(u32::arbitrary(g) % 33),
            }),
            minimum_difficulty: if bool::arbitrary(g) {
                Some(diff(g))
            } else {
                None
            },
            subscribe_extranonce: bool::arbitrary(g),
            info: None,
            unknown: vec![],
        }),
        3 => ClientMessage::ExtranonceSubscribe,
        4 => ClientMessage::SuggestDifficulty(diff(g)),
        _ => ClientMessage::Submit(Submit {
            worker: s(g),
            job_id: s(g),
            extranonce2: bytes(g, 16),
            ntime: u32::arbitrary(g),
            nonce: u32::arbitrary(g),
            version_bits: if bool::arbitrary(g) {
                Some(u32::arbitrary(g))
            } else {
                None
            },
        }),
    }
}

fn server_msg(g: &mut Gen) -> ServerMessage {
    let h = |g: &mut Gen| -> [u8; 32] { std::array::from_fn(|_| u8::arbitrary(g)) };
    match u8::arbitrary(g) % 7 {
        0 => ServerMessage::Notify(Notify {
            job_id: s(g),
            prev_hash: h(g),
            coinb1: bytes(g, 100),
            coinb2: bytes(g, 100),
            merkle_branch: (0..u8::arbitrary(g) % 14).map(|_| h(g)).collect(),
            version: u32::arbitrary(g),
            nbits: u32::arbitrary(g),
            ntime: u32::arbitrary(g),
            clean_jobs: bool::arbitrary(g),
        }),
        1 => ServerMessage::SetDifficulty(diff(g)),
        2 => ServerMessage::SetExtranonce {
            extranonce1: bytes(g, 8),
            extranonce2_size: usize::arbitrary(g) % 33,
        },
        3 => ServerMessage::SetVersionMask(u32::arbitrary(g)),
        4 => ServerMessage::Reconnect {
            host: Some(format!("h{}", s(g))),
            port: Some(u16::arbitrary(g)),
            wait_secs: Some(u32::arbitrary(g) as u64),
        },
        5 => ServerMessage::ShowMessage(s(g)),
        _ => ServerMessage::GetVersion,
    }
}

#[test]
fn client_messages_round_trip() {
    fn prop(seed: u64) -> bool {
        let mut g = Gen::new(32 + (seed % 32) as usize);
        let m = client_msg(&mut g);
        let line = m.to_message(Id::Number(seed as i64 >> 1)).to_line();
        let Ok(Message::Request { method, params, .. }) = Message::parse(&line) else {
            return false;
        };
        ClientMessage::from_request(&method, &params).unwrap() == Some(m)
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u64) -> bool);
}

#[test]
fn server_messages_round_trip() {
    fn prop(seed: u64) -> bool {
        let mut g = Gen::new(32 + (seed % 32) as usize);
        let m = server_msg(&mut g);
        let line = m.to_message(Id::Null).to_line();
        let Ok(Message::Request { method, params, .. }) = Message::parse(&line) else {
            return false;
        };
        ServerMessage::from_request(&method, &params).unwrap() == Some(m)
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u64) -> bool);
}

#[test]
fn responses_and_errors_round_trip() {
    let r = Message::error(
        Id::String("a".into()),
        codes::DUPLICATE_SHARE,
        "Duplicate share",
    );
    assert_eq!(Message::parse(&r.to_line()).unwrap(), r);
    let ok = Message::response(Id::Number(-3), serde_json::json!(true));
    assert_eq!(Message::parse(&ok.to_line()).unwrap(), ok);
    let res = subscribe_result("sub", &[1, 2, 3, 4], 8);
    assert_eq!(parse_subscribe_result(&res).unwrap(), (vec![1, 2, 3, 4], 8));
}
