//! Lines as real miners and pools write them. Each group names the software and where its
//! line format comes from; the values are ours, the shapes (field order, id types, spacing,
//! param counts, error forms) are theirs.

use serde_json::json;
use sv1_api::methods::*;
use sv1_api::*;

fn client_msg(line: &str) -> (Id, ClientMessage) {
    match Message::parse(line).unwrap() {
        Message::Request { id, method, params } => (
            id,
            ClientMessage::from_request(&method, &params)
                .unwrap()
                .unwrap(),
        ),
        other => panic!("not a request: {other:?}"),
    }
}

fn server_msg(line: &str) -> ServerMessage {
    match Message::parse(line).unwrap() {
        Message::Request { method, params, .. } => ServerMessage::from_request(&method, &params)
            .unwrap()
            .unwrap(),
        other => panic!("not a request: {other:?}"),
    }
}

/// cpuminer / cpuminer-multi (pooler; util.c, stratum_subscribe / stratum_submit format
/// strings): params before id in submit, id as a trailing key, no version bits.
#[test]
fn cpuminer() {
    let (id, m) =
        client_msg(r#"{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}"#);
    assert_eq!(id, Id::Number(1));
    assert_eq!(
        m,
        ClientMessage::Subscribe(Subscribe {
            user_agent: Some("cpuminer/2.5.1".into()),
            session_id: None
        })
    );
    let (_, m) = client_msg(
        r#"{"method": "mining.submit", "params": ["nyajira.xa", "e4c", "00000000", "52b7a1a9", "79280100"], "id":4}"#,
    );
    let ClientMessage::Submit(s) = m else {
        panic!()
    };
    assert_eq!(
        (s.job_id.as_str(), s.ntime, s.nonce, s.version_bits),
        ("e4c", 0x52b7a1a9, 0x79280100, None)
    );
    assert_eq!(s.extranonce2, vec![0, 0, 0, 0]);
}

/// cgminer and bmminer (Antminer firmware; cgminer util.c): subscribe with a second parameter
/// (the session id to resume), authorize with a password, submit with params first and
/// bmminer's sixth version-bits parameter.
#[test]
fn cgminer_and_bmminer() {
    let (_, m) = client_msg(
        r#"{"id": 0, "method": "mining.subscribe", "params": ["bmminer/2.0.0", "a0b1c2d3"]}"#,
    );
    assert_eq!(
        m,
        ClientMessage::Subscribe(Subscribe {
            user_agent: Some("bmminer/2.0.0".into()),
            session_id: Some("a0b1c2d3".into())
        })
    );
    let (_, m) =
        client_msg(r#"{"id": 2, "method": "mining.authorize", "params": ["acct.s19", "123"]}"#);
    assert_eq!(
        m,
        ClientMessage::Authorize(Authorize {
            name: "acct.s19".into(),
            password: Some("123".into())
        })
    );
    let (id, m) = client_msg(
        r#"{"params": ["acct.s19", "18c5", "0a000000", "65a8f2d1", "1F2E3D4C", "00A6E000"], "id": 11, "method": "mining.submit"}"#,
    );
    assert_eq!(id, Id::Number(11));
    let ClientMessage::Submit(s) = m else {
        panic!()
    };
    assert_eq!(s.nonce, 0x1f2e3d4c, "upper-case hex");
    assert_eq!(s.version_bits, Some(0x00a6e000));
}

/// ESP-Miner (Bitaxe; components/stratum/stratum_api.c): configure first with a full mask,
/// suggest_difficulty with a number, submit with `%08lx` fields and version bits.
#[test]
fn esp_miner_bitaxe() {
    let (_, m) = client_msg(
        r#"{"id": 1, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]}"#,
    );
    let ClientMessage::Configure(c) = m else {
        panic!()
    };
    assert_eq!(c.version_rolling.unwrap().mask, Some(0xffff_ffff));
    let (_, m) =
        client_msg(r#"{"id": 3, "method": "mining.suggest_difficulty", "params": [1000]}"#);
    assert_eq!(m, ClientMessage::SuggestDifficulty(1000.0));
    let (_, m) = client_msg(
        r#"{"id": 7, "method": "mining.submit", "params": ["bc1qexample.bitaxe", "1b2", "00000001", "6512a4b0", "1a2b3c4d", "00a6e000"]}"#,
    );
    let ClientMessage::Submit(s) = m else {
        panic!()
    };
    assert_eq!(s.version_bits, Some(0x00a6e000));
}

/// BIP 310 (bitcoin/bips bip-0310.mediawiki): configure with two extensions and the answer,
/// and mining.set_version_mask as a notification with a null id.
#[test]
fn bip310_version_rolling() {
    let (_, m) = client_msg(
        r#"{"method": "mining.configure","id": 1,"params": [["minimum-difficulty", "version-rolling"],{"minimum-difficulty.value": 2048,"version-rolling.mask": "1fffe000","version-rolling.min-bit-count": 2}]}"#,
    );
    let ClientMessage::Configure(c) = m else {
        panic!()
    };
    assert_eq!(c.minimum_difficulty, Some(2048.0));
    let vr = c.version_rolling.unwrap();
    assert_eq!((vr.mask, vr.min_bit_count), (Some(0x1fffe000), Some(2)));
    let Message::Response { result, error, .. } = Message::parse(r#"{"error": null,"id": 1,"result": {"version-rolling": true,"version-rolling.mask": "18000000","minimum-difficulty": true}}"#).unwrap() else { panic!() };
    assert!(error.is_none());
    assert_eq!(result["version-rolling.mask"], "18000000");
    assert_eq!(
        server_msg(r#"{"params":["1fffe000"], "id":null, "method": "mining.set_version_mask"}"#),
        ServerMessage::SetVersionMask(0x1fffe000)
    );
}

/// Slush Pool / Braiins Pool (the original Stratum documentation): the subscribe answer with
/// two subscriptions, mining.notify and mining.set_difficulty with null ids.
#[test]
fn slush_braiins_pool() {
    let Message::Response { result, .. } = Message::parse(r#"{"id": 1, "result": [ [ ["mining.set_difficulty", "b4b6693b72a50c7116db18d6497cac52"], ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4], "error": null}"#).unwrap() else { panic!() };
    assert_eq!(
        parse_subscribe_result(&result).unwrap(),
        (vec![8, 0, 0, 2], 4)
    );
    let n = server_msg(
        r#"{"params": ["bf", "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008", "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000", [], "00000002", "1c2ac4af", "504e86b9", false], "id": null, "method": "mining.notify"}"#,
    );
    let ServerMessage::Notify(n) = n else {
        panic!()
    };
    assert_eq!(
        (n.job_id.as_str(), n.version, n.nbits, n.ntime, n.clean_jobs),
        ("bf", 2, 0x1c2ac4af, 0x504e86b9, false)
    );
    assert!(n.merkle_branch.is_empty());
    assert_eq!(
        server_msg(r#"{"id": null, "method": "mining.set_difficulty", "params": [2]}"#),
        ServerMessage::SetDifficulty(2.0)
    );
}

/// ckpool (stratifier.c): a single-pair subscriptions entry, and rejected shares answered with
/// result false and a "reject-reason" instead of an error.
#[test]
fn ckpool() {
    let Message::Response { result, .. } = Message::parse(
        r#"{"result":[[["mining.notify","1e00a7e1"]],"1e00a7e1",8],"id":1,"error":null}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(parse_subscribe_result(&result).unwrap().1, 8);
    let Message::Response { result, error, .. } =
        Message::parse(r#"{"reject-reason":"Stale","result":false,"error":null,"id":4}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(result, json!(false));
    assert_eq!(error.unwrap().message, "Stale");
}

/// NiceHash (its Stratum extension notes): mining.extranonce.subscribe with empty params,
/// mining.set_extranonce, errors as [code, message, null], and string ids.
#[test]
fn nicehash() {
    let (_, m) = client_msg(r#"{"id": 3, "method": "mining.extranonce.subscribe", "params": []}"#);
    assert_eq!(m, ClientMessage::ExtranonceSubscribe);
    assert_eq!(
        server_msg(r#"{"id":null,"method":"mining.set_extranonce","params":["08000002",4]}"#),
        ServerMessage::SetExtranonce {
            extranonce1: vec![8, 0, 0, 2],
            extranonce2_size: 4
        }
    );
    let Message::Response { id, error, .. } =
        Message::parse(r#"{"id":"s4","result":null,"error":[21,"Job not found",null]}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(id, Id::String("s4".into()));
    assert_eq!(error.unwrap().code, codes::JOB_NOT_FOUND);
    // The object form of errors (JSON-RPC 2.0 style) too.
    let Message::Response { error, .. } = Message::parse(
        r#"{"jsonrpc":"2.0","id":5,"error":{"code":23,"message":"Low difficulty share"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(error.unwrap().code, codes::LOW_DIFFICULTY);
}

/// Firmware that subscribes with null or missing params, and client.* server messages.
#[test]
fn lenient_shapes_and_client_methods() {
    for line in [
        r#"{"id":1,"method":"mining.subscribe","params":null}"#,
        r#"{"id":1,"method":"mining.subscribe"}"#,
        r#"{"id":1,"method":"mining.subscribe","params":[]}"#,
    ] {
        assert_eq!(
            client_msg(line).1,
            ClientMessage::Subscribe(Subscribe::default()),
            "{line}"
        );
    }
    assert_eq!(
        server_msg(
            r#"{"id":null,"method":"client.reconnect","params":["pool2.example","3334",5]}"#
        ),
        ServerMessage::Reconnect {
            host: Some("pool2.example".into()),
            port: Some(3334),
            wait_secs: Some(5)
        }
    );
    assert_eq!(
        server_msg(r#"{"id":null,"method":"client.reconnect","params":[]}"#),
        ServerMessage::Reconnect {
            host: None,
            port: None,
            wait_secs: None
        }
    );
    assert_eq!(
        server_msg(
            r#"{"id":null,"method":"client.show_message","params":["maintenance at 12:00"]}"#
        ),
        ServerMessage::ShowMessage("maintenance at 12:00".into())
    );
    assert_eq!(
        server_msg(r#"{"id":9,"method":"client.get_version","params":[]}"#),
        ServerMessage::GetVersion
    );
}
