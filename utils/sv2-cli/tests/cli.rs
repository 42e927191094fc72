//! The `sv2` binary as an operator uses it: every public vector frame decodes and re-encodes
//! byte for byte through the two commands, and bad lines give an error line without stopping
//! the tool.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const VECTORS: &str = include_str!("../../../test/vectors/sv2-messages.jsonl");

fn run(args: &[&str], stdin: &str) -> (Vec<String>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sv2"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_string();
    let writer = std::thread::spawn(move || input.write_all(data.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    (lines, out.status.code().unwrap())
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"))
}

#[test]
fn every_vector_frame_round_trips_through_decode_and_encode() {
    let vectors: Vec<Value> = VECTORS.lines().map(json).collect();
    let frames: Vec<&str> = vectors
        .iter()
        .map(|v| v["frame_hex"].as_str().unwrap())
        .collect();
    let (decoded, code) = run(&["decode"], &frames.join("\n"));
    assert_eq!(code, 0);
    assert_eq!(decoded.len(), frames.len());
    for (line, v) in decoded.iter().zip(&vectors) {
        let d = json(line);
        assert_eq!(
            d["message"].as_str().unwrap().replace('.', ""),
            v["message"].as_str().unwrap()
        );
        assert_eq!(d["msg_type"], v["msg_type"]);
        assert_eq!(d["channel_msg"], v["channel_bit"]);
        assert_eq!(d["extension_type"], v["extension_type"]);
    }
    let (encoded, code) = run(&["encode"], &decoded.join("\n"));
    assert_eq!(code, 0);
    assert_eq!(encoded, frames);
}

#[test]
fn design_example_encodes_and_decodes() {
    let line = r#"{"extension_type":0,"channel_msg":false,"msg_type":0,"message":"SetupConnection","fields":{"protocol":0,"min_version":2,"max_version":2,"flags":1,"endpoint_host":"pool.example","endpoint_port":3333,"vendor":"acme","hardware_version":"v1","firmware":"f1","device_id":"d1"}}"#;
    let (hex, code) = run(&["encode", line], "");
    assert_eq!(code, 0);
    let (back, code) = run(&["decode", &hex[0]], "");
    assert_eq!(code, 0);
    assert_eq!(json(&back[0]), json(line));
}

#[test]
fn bad_lines_give_errors_and_the_tool_goes_on() {
    let good = "000001060000020003000000"; // SetupConnection.Success {used_version 2, flags 3}
    let cases = [
        ("abc", "invalid hex"),                                // odd hex
        ("zz", "invalid hex"),                                 // not hex
        ("000001", "header truncated"),                        // truncated header
        ("000001060000020003", "payload truncated"), // length field larger than data
        ("00001e000000", "unknown message type 0x1e"), // reserved type
        ("0000ff000000", "unknown message type 0xff"),
        ("030000000000", "unknown extension_type 0x0003"),
        // NewMiningJob whose OPTION count is 2
        ("00801531000002000000050000000200000065000000200000000000000000000000000000000000000000000000000000000000000000", "OPTION count must be 0 or 1"),
        // NewExtendedMiningJob whose merkle_path says 5 hashes and holds none
        ("00801f0f0000020000000500000000000000200105", "merkle_path: SEQ0_255 truncated"),
        // SubmitSharesExtended with a 33-byte extranonce
        ("00801b3a000002000000070000000500000000000000000000000000000021000000000000000000000000000000000000000000000000000000000000000000",
         "extranonce: B0_32 length 33 exceeds its maximum of 32"),
    ];
    let mut input = String::new();
    for (line, _) in &cases {
        input.push_str(line);
        input.push('\n');
        input.push_str(good);
        input.push('\n');
    }
    let (out, code) = run(&["decode"], &input);
    assert_eq!(code, 1, "a failed line makes the exit status non-zero");
    assert_eq!(out.len(), cases.len() * 2);
    for (i, (line, want)) in cases.iter().enumerate() {
        let err = json(&out[2 * i]);
        let msg = err["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{line}: {err}"));
        assert!(
            msg.contains(want),
            "{line}: {msg:?} should mention {want:?}"
        );
        assert_eq!(json(&out[2 * i + 1])["message"], "SetupConnection.Success");
    }
}

#[test]
fn encode_refuses_bad_objects_and_goes_on() {
    let path: Vec<String> = (0..256)
        .map(|_| format!("\"{}\"", "00".repeat(32)))
        .collect();
    let too_long = format!(
        r#"{{"message":"NewExtendedMiningJob","fields":{{"channel_id":1,"job_id":1,"min_ntime":null,"version":0,"version_rolling_allowed":false,"merkle_path":[{}],"coinbase_tx_prefix":"","coinbase_tx_suffix":""}}}}"#,
        path.join(",")
    );
    let cases = [
        (
            too_long.as_str(),
            "SEQ0_255 length 256 exceeds its maximum of 255",
        ),
        (
            r#"{"message":"CloseChannel","fields":{"channel_id":1}}"#,
            "missing field `reason_code`",
        ),
        (
            r#"{"message":"CloseChannel","fields":{"channel_id":1,"reason_code":"x","extra":1}}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"message":"NoSuchMessage","fields":{}}"#,
            "unknown message",
        ),
        (
            r#"{"message":"SetNewPrevHash","fields":{}}"#,
            "unknown message",
        ),
        (
            r#"{"message":"SetExtranoncePrefix","fields":{"channel_id":1,"extranonce_prefix":"0"}}"#,
            "invalid hex",
        ),
        (
            r#"{"message":"ChannelEndpointChanged","fields":{"channel_id":4294967296}}"#,
            "invalid value",
        ),
        ("not json", "invalid JSON"),
    ];
    let good = r#"{"message":"ChannelEndpointChanged","fields":{"channel_id":1}}"#;
    let mut input = String::new();
    for (line, _) in &cases {
        input.push_str(line);
        input.push('\n');
        input.push_str(good);
        input.push('\n');
    }
    let (out, code) = run(&["encode"], &input);
    assert_eq!(code, 1);
    for (i, (_, want)) in cases.iter().enumerate() {
        let msg = json(&out[2 * i])["error"].as_str().unwrap().to_string();
        assert!(msg.contains(want), "{msg:?} should mention {want:?}");
        assert_eq!(out[2 * i + 1], "00800304000001000000");
    }
}

#[test]
fn invalid_utf8_strings_round_trip_as_hex() {
    // CloseChannel whose reason_code is ff fe (not UTF-8)
    let frame = "0080180700000100000002fffe";
    let (out, code) = run(&["decode", frame], "");
    assert_eq!(code, 0);
    let d = json(&out[0]);
    assert_eq!(
        d["fields"]["reason_code"],
        serde_json::json!({"hex": "fffe"})
    );
    let (back, _) = run(&["encode", &out[0]], "");
    assert_eq!(back[0], frame);
}

#[test]
fn names_without_dots_and_msg_type_disambiguation() {
    let (out, code) = run(
        &[
            "encode",
            r#"{"message":"SubmitSharesSuccess","fields":{"channel_id":1,"last_sequence_number":2,"new_submits_accepted_count":3,"new_shares_sum":4}}"#,
        ],
        "",
    );
    assert_eq!(code, 0);
    assert!(out[0].starts_with("00801c"));
    let tdp = r#"{"message":"SetNewPrevHash","msg_type":114,"fields":{"template_id":1,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","header_timestamp":0,"n_bits":0,"target":"0000000000000000000000000000000000000000000000000000000000000000"}}"#;
    let (out, code) = run(&["encode", tdp], "");
    assert_eq!(code, 0);
    assert!(out[0].starts_with("000072"));
}

#[test]
fn tlv_trailer_is_shown_and_re_encoded() {
    // SubmitSharesExtended (extranonce empty) + TLV 02 00 | 01 | 02 00 | "w1"
    let frame = "00801b2000000100000002000000030000000400000005000000060000000002000102007731";
    let (out, code) = run(&["decode", frame], "");
    assert_eq!(code, 0, "{out:?}");
    let d = json(&out[0]);
    assert_eq!(d["tlvs"][0]["extension_type"], 2);
    assert_eq!(d["tlvs"][0]["value"], "7731");
    let (back, _) = run(&["encode", &out[0]], "");
    assert_eq!(back[0], frame);
}
