//! The logic of `sv2 decode` and `sv2 encode`, line by line, as DESIGN.md specifies the JSON:
//!
//! ```text
//! {"extension_type":0,"channel_msg":false,"msg_type":0,"message":"SetupConnection","fields":{...}}
//! ```
//!
//! Decoding prints one object per frame; a line that does not decode gives
//! `{"error": "..."}`. Encoding reads such objects and gives the frame hex, byte for byte what
//! decoding read. TLV fields after a message (extensions) appear as `"tlvs"`.

use binary_sv2::Encodable;
use extensions_sv2::tlv::{Tlv, TlvList};
use framing_sv2::{Frame, FramingError, Header};
use roles_logic_sv2::parsers::AnyMessage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One TLV field in JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlvJson {
    pub extension_type: u16,
    pub field_type: u8,
    /// Lowercase hex.
    pub value: String,
}

#[derive(Serialize)]
struct FrameOut<'a> {
    extension_type: u16,
    channel_msg: bool,
    msg_type: u8,
    message: &'static str,
    fields: &'a AnyMessage<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tlvs: Vec<TlvJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameIn {
    extension_type: Option<u16>,
    channel_msg: Option<bool>,
    msg_type: Option<u8>,
    message: String,
    fields: Value,
    #[serde(default)]
    tlvs: Vec<TlvJson>,
}

/// The JSON object for one error.
pub fn error_json(msg: impl std::fmt::Display) -> String {
    serde_json::json!({ "error": msg.to_string() }).to_string()
}

/// The JSON line of one frame, as `sv2 decode` prints it.
pub fn frame_to_json(frame: &Frame<'_>) -> Result<String, String> {
    let h = frame.header;
    let (msg, tlvs) = AnyMessage::parse_with_tlvs(h.extension_type(), h.msg_type(), frame.payload)
        .map_err(|e| e.to_string())?;
    let out = FrameOut {
        extension_type: h.extension_type(),
        channel_msg: h.channel_msg(),
        msg_type: h.msg_type(),
        message: msg.name(),
        fields: &msg,
        tlvs: tlvs_to_json(&tlvs),
    };
    serde_json::to_string(&out).map_err(|e| e.to_string())
}

fn tlvs_to_json(tlvs: &TlvList<'_>) -> Vec<TlvJson> {
    tlvs.iter()
        .map(|t| TlvJson {
            extension_type: t.extension_type,
            field_type: t.field_type,
            value: hex::encode(t.value),
        })
        .collect()
}

/// Decode one line of hex into one JSON line per frame it holds (normally one). Every frame
/// that fails, or a remainder that is not a whole frame, gives an `Err` line.
pub fn decode_line(line: &str) -> Vec<Result<String, String>> {
    let text = line.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = match hex::decode(text) {
        Ok(b) => b,
        Err(e) => return vec![Err(format!("invalid hex: {e}"))],
    };
    if bytes.is_empty() {
        return vec![Err("empty frame: needs at least the 6-byte header".into())];
    }
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match Frame::parse_prefix(rest) {
            Ok((frame, tail)) => {
                out.push(frame_to_json(&frame));
                rest = tail;
            }
            Err(e) => {
                let msg = match (e, Header::from_bytes(rest)) {
                    (FramingError::PayloadTruncated { .. }, Ok(h)) => format!(
                        "{e} (extension_type 0x{:04x}, msg_type 0x{:02x})",
                        h.extension_type(),
                        h.msg_type()
                    ),
                    _ => e.to_string(),
                };
                out.push(Err(msg));
                break;
            }
        }
    }
    out
}

/// Encode one JSON object into frame hex.
pub fn encode_line(line: &str) -> Result<String, String> {
    let input: FrameIn =
        serde_json::from_str(line.trim()).map_err(|e| format!("invalid JSON: {e}"))?;
    let info =
        AnyMessage::lookup(&input.message, input.msg_type).ok_or_else(|| match input.msg_type {
            Some(t) => format!(
                "unknown message {:?} with msg_type 0x{t:02x}",
                input.message
            ),
            None => format!("unknown message {:?}", input.message),
        })?;
    if let Some(ext) = input.extension_type {
        if ext & 0x7fff != info.extension_type {
            return Err(format!(
                "{} has extension_type {}, not {ext}",
                info.name, info.extension_type
            ));
        }
    }
    let msg = AnyMessage::deserialize_fields(info.extension_type, info.msg_type, input.fields)
        .map_err(|e| format!("{}: {e}", info.name))?;
    let channel_msg = input.channel_msg.unwrap_or(info.channel_bit);
    let mut payload = msg.to_bytes().map_err(|e| format!("{}: {e}", info.name))?;
    for t in &input.tlvs {
        let value = hex::decode(&t.value).map_err(|e| format!("tlvs: invalid hex: {e}"))?;
        Tlv {
            extension_type: t.extension_type,
            field_type: t.field_type,
            value: &value,
        }
        .write_to_vec(&mut payload)
        .map_err(|e| format!("tlvs: {e}"))?;
    }
    let header = Header::new(
        info.extension_type,
        channel_msg,
        info.msg_type,
        payload.len(),
    )
    .map_err(|e| format!("{}: {e}", info.name))?;
    let mut frame = header.to_bytes().to_vec();
    frame.extend_from_slice(&payload);
    Ok(hex::encode(frame))
}

pub mod probe;

/// `sv2 keygen`: a new authority key pair, as lines to paste into a config.
pub fn keygen() -> Result<String, String> {
    let sk = noise_sv2::AuthoritySecretKey::generate().map_err(|e| e.to_string())?;
    let pk = sk.public_key();
    Ok(format!(
        "# Stratum V2 authority key pair. Keep the secret key in the pool's config only;\n\
         # give the public key to miners (base58check, as deployed pools print it).\n\
         authority_secret_key = \"{}\"\n\
         authority_public_key = \"{}\"\n\
         # the same keys in hex (secret key, x-only public key)\n\
         authority_secret_key_hex = \"{}\"\n\
         authority_public_key_hex = \"{}\"",
        sk.to_base58(),
        pk.to_base58(),
        sk.to_hex(),
        pk.to_hex()
    ))
}
