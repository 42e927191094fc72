//! Malformed and hostile input: every refusal names the method and the field, nothing panics,
//! and nothing is buffered without bound.

use quickcheck::quickcheck;
use sv1_api::methods::*;
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::*;

fn refuse(line: &str) -> Sv1Error {
    match Message::parse(line) {
        Err(e) => e,
        Ok(Message::Request { method, params, .. }) => {
            ClientMessage::from_request(&method, &params)
                .and_then(|_| ServerMessage::from_request(&method, &params))
                .map(|m| panic!("accepted {line}: {m:?}"))
                .unwrap_err()
        }
        Ok(other) => panic!("accepted {line}: {other:?}"),
    }
}

#[test]
fn bad_lines_are_refused_with_method_and_field() {
    let cases = [
        ("not json", "(line): not JSON"),
        ("[1,2,3]", "(line): not a JSON object"),
        (r#"{"id":1}"#, "(line): neither a request"),
        (
            r#"{"id":{},"method":"mining.subscribe"}"#,
            "(line): id must be",
        ),
        (r#"{"id":1,"method":7}"#, "(line): method must be a string"),
        (
            r#"{"id":1,"method":"mining.authorize","params":[]}"#,
            "mining.authorize: name: missing",
        ),
        (
            r#"{"id":1,"method":"mining.submit","params":["w","j","zz","00","00"]}"#,
            "mining.submit: extranonce2: invalid hex",
        ),
        (
            r#"{"id":1,"method":"mining.submit","params":["w","j","00","123456789","00"]}"#,
            "mining.submit: ntime: expected up to 8 hex digits",
        ),
        (
            r#"{"id":1,"method":"mining.submit","params":["w","j","00","00"]}"#,
            "mining.submit: nonce: missing",
        ),
        (
            r#"{"id":1,"method":"mining.submit","params":["w","j","00","00","00",[]]}"#,
            "mining.submit: version_bits: expected a string",
        ),
        (
            r#"{"id":1,"method":"mining.suggest_difficulty","params":[-5]}"#,
            "mining.suggest_difficulty: difficulty: must be a positive number",
        ),
        (
            r#"{"id":1,"method":"mining.configure","params":["version-rolling"]}"#,
            "mining.configure: extensions: expected an array",
        ),
        (
            r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"xyz"}]}"#,
            "mining.configure: version-rolling.mask: invalid hex",
        ),
    ];
    for (line, want) in cases {
        let e = refuse(line).to_string();
        assert!(
            e.starts_with(want),
            "{line}: {e:?} should start with {want:?}"
        );
    }
    let server_cases = [
        (
            r#"{"id":null,"method":"mining.notify","params":["j","00","",""]}"#,
            "mining.notify: prev_hash: expected 32 bytes",
        ),
        (
            r#"{"id":null,"method":"mining.notify","params":["j","0000000000000000000000000000000000000000000000000000000000000000","","",["ab"],"1","1","1",true]}"#,
            "mining.notify: merkle_branch: expected 32 bytes",
        ),
        (
            r#"{"id":null,"method":"mining.set_difficulty","params":["lots"]}"#,
            "mining.set_difficulty: difficulty: expected a number",
        ),
        (
            r#"{"id":null,"method":"mining.set_extranonce","params":["00",99]}"#,
            "mining.set_extranonce: extranonce2_size: missing or not 0..32",
        ),
    ];
    for (line, want) in server_cases {
        let Message::Request { method, params, .. } = Message::parse(line).unwrap() else {
            panic!()
        };
        let e = ServerMessage::from_request(&method, &params)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{line}: {e:?}");
    }
}

#[test]
fn server_answers_bad_requests_and_keeps_going() {
    let mut s = Server::new(ServerConfig::default());
    let out = s.handle_line(r#"{"id":5,"method":"mining.authorize","params":[]}"#);
    assert!(
        out.lines[0].contains("\"id\":5") && out.lines[0].contains("name: missing"),
        "{:?}",
        out.lines
    );
    let out = s.handle_line("\u{0}\u{1}garbage");
    assert!(out.lines.is_empty());
    assert!(matches!(out.events[0], ServerEvent::BadLine(_)));
    let out = s.handle_line(r#"{"id":6,"method":"mining.unknown_thing","params":[]}"#);
    assert!(out.lines[0].contains("unknown method"));
    // Still serves a normal subscribe.
    let out = s.handle_line(r#"{"id":7,"method":"mining.subscribe","params":[]}"#);
    assert!(out.lines[0].contains("\"id\":7"));
}

#[test]
fn line_reader_splits_joins_and_limits() {
    let mut r = LineReader::new(64);
    // Several messages in one read, CRLF and LF, an empty line.
    r.push(b"{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"");
    assert_eq!(r.next_line().unwrap().unwrap(), "{\"a\":1}");
    assert_eq!(r.next_line().unwrap().unwrap(), "{\"b\":2}");
    assert_eq!(r.next_line().unwrap(), None);
    // One message over many reads.
    for b in b":3}\n" {
        r.push(&[*b]);
    }
    assert_eq!(r.next_line().unwrap().unwrap(), "{\"c\":3}");
    // A peer that never sends a newline is cut off at the limit.
    let mut r = LineReader::new(64);
    r.push(&[b'x'; 40]);
    assert_eq!(r.next_line().unwrap(), None);
    r.push(&[b'x'; 40]);
    assert_eq!(r.next_line(), Err(LineError::TooLong { max: 64 }));
    // A complete but over-long line too.
    let mut r = LineReader::new(8);
    r.push(b"0123456789\n");
    assert!(r.next_line().is_err());
}

quickcheck! {
    fn random_lines_never_panic(bytes: Vec<u8>) -> bool {
        let line = String::from_utf8_lossy(&bytes);
        let mut s = Server::new(ServerConfig::default());
        let _ = s.handle_line(&line);
        let mut c = sv1_api::client::Client::new("t");
        let _ = c.handle_line(&line);
        let mut r = LineReader::new(128);
        r.push(&bytes);
        while let Ok(Some(l)) = r.next_line() { let _ = s.handle_line(&l); }
        true
    }

    fn random_json_params_never_panic(method_pick: u8, params: Vec<String>, nums: Vec<i64>) -> bool {
        let methods = [SUBSCRIBE, AUTHORIZE, CONFIGURE, EXTRANONCE_SUBSCRIBE, SUGGEST_DIFFICULTY, SUBMIT,
                       NOTIFY, SET_DIFFICULTY, SET_EXTRANONCE, SET_VERSION_MASK, RECONNECT, SHOW_MESSAGE, GET_VERSION];
        let m = methods[method_pick as usize % methods.len()];
        let mut p: Vec<serde_json::Value> = params.into_iter().map(serde_json::Value::from).collect();
        p.extend(nums.into_iter().map(serde_json::Value::from));
        let v = serde_json::Value::Array(p);
        let _ = ClientMessage::from_request(m, &v);
        let _ = ServerMessage::from_request(m, &v);
        true
    }
}
