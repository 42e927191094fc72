//! Conformance against the public vectors in test/vectors/sv2-messages.jsonl (produced by
//! another implementation, see test/vectors/README.md): for every message and value case,
//! decoding the frame gives the vector's header values and fields, and building the message
//! from the fields encodes to the vector's payload and frame, byte for byte.

use binary_sv2::Encodable;
use framing_sv2::Frame;
use roles_logic_sv2::parsers::AnyMessage;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

const VECTORS: &str = include_str!("../../../../test/vectors/sv2-messages.jsonl");

/// The vectors use the other implementation's field names in two places; the spec's names
/// are ours (README of the vectors, "Where the specification's text and these bytes differ").
fn to_spec_field_names(message: &str, fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let k = match (message, k.as_str()) {
                ("SetCustomMiningJob", "token") => "mining_job_token",
                ("AllocateMiningJobTokenSuccess", "coinbase_outputs") => "coinbase_tx_outputs",
                _ => k,
            };
            (k.to_string(), v.clone())
        })
        .collect()
}

fn vectors() -> impl Iterator<Item = Value> {
    VECTORS
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector line is JSON"))
}

#[test]
fn every_vector_decodes_to_its_fields() {
    let mut seen = BTreeSet::new();
    for v in vectors() {
        let name = v["message"].as_str().unwrap();
        let case = v["case"].as_str().unwrap();
        let frame_bytes = hex::decode(v["frame_hex"].as_str().unwrap()).unwrap();
        let frame = Frame::parse(&frame_bytes).unwrap();
        assert_eq!(
            frame.header.msg_type() as u64,
            v["msg_type"].as_u64().unwrap()
        );
        assert_eq!(
            frame.header.channel_msg(),
            v["channel_bit"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(
            frame.header.extension_type() as u64,
            v["extension_type"].as_u64().unwrap()
        );

        let msg = AnyMessage::parse(
            frame.header.extension_type(),
            frame.header.msg_type(),
            frame.payload,
        )
        .unwrap_or_else(|e| panic!("{name} {case}: {e}"));
        assert_eq!(msg.name().replace('.', ""), name, "{case}");
        assert_eq!(msg.channel_bit(), frame.header.channel_msg(), "{name}");
        let ours = serde_json::to_value(&msg).unwrap();
        let expected = Value::Object(to_spec_field_names(name, v["fields"].as_object().unwrap()));
        assert_eq!(ours, expected, "{name} {case}");
        seen.insert((v["subprotocol"].to_string(), name.to_string()));
    }
    // 44 messages: 5 common, 21 mining, 8 job declaration, 7 template distribution,
    // 3 extensions negotiation.
    assert_eq!(seen.len(), 44);
    assert_eq!(AnyMessage::messages().count(), 44);
}

#[test]
fn every_vector_encodes_from_its_fields() {
    for v in vectors() {
        let name = v["message"].as_str().unwrap();
        let case = v["case"].as_str().unwrap();
        let ext = v["extension_type"].as_u64().unwrap() as u16;
        let msg_type = v["msg_type"].as_u64().unwrap() as u8;
        let fields = Value::Object(to_spec_field_names(name, v["fields"].as_object().unwrap()));
        let msg = AnyMessage::deserialize_fields(ext, msg_type, fields)
            .unwrap_or_else(|e| panic!("{name} {case}: {e}"));
        assert_eq!(
            hex::encode(msg.to_bytes().unwrap()),
            v["payload_hex"].as_str().unwrap(),
            "{name} {case}"
        );
        let mut frame = vec![0u8; 6 + msg.encoded_len()];
        framing_sv2::encode_frame_with(ext, msg.channel_bit(), msg_type, &msg, &mut frame).unwrap();
        assert_eq!(
            hex::encode(&frame),
            v["frame_hex"].as_str().unwrap(),
            "{name} {case}"
        );
    }
}

#[test]
fn the_other_implementations_field_names_are_accepted_too() {
    for v in vectors() {
        let ext = v["extension_type"].as_u64().unwrap() as u16;
        let msg_type = v["msg_type"].as_u64().unwrap() as u8;
        let msg = AnyMessage::deserialize_fields(ext, msg_type, v["fields"].clone()).unwrap();
        assert_eq!(
            hex::encode(msg.to_bytes().unwrap()),
            v["payload_hex"].as_str().unwrap()
        );
    }
}

#[test]
fn every_vector_survives_truncation_without_panic() {
    for v in vectors() {
        let payload = hex::decode(v["payload_hex"].as_str().unwrap()).unwrap();
        let ext = v["extension_type"].as_u64().unwrap() as u16;
        let msg_type = v["msg_type"].as_u64().unwrap() as u8;
        // Every proper prefix of a payload must be refused with an error (never a panic).
        // Messages whose every field is present in the prefix are the only exception: none,
        // since each payload is exactly the message.
        let step = (payload.len() / 64).max(1);
        for cut in (0..payload.len()).step_by(step) {
            assert!(
                AnyMessage::parse(ext, msg_type, &payload[..cut]).is_err(),
                "{} accepted a payload cut at {cut}",
                v["message"]
            );
        }
        // One byte too many is refused by the strict parser.
        let mut longer = payload.clone();
        longer.push(0);
        assert!(AnyMessage::parse(ext, msg_type, &longer).is_err());
    }
}
