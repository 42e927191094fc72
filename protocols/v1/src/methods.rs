//! Typed Sv1 messages: what miners send ([`ClientMessage`]) and what pools send
//! ([`ServerMessage`]), with parsing that accepts what real software puts on the wire and
//! refuses the rest naming the method and the field.

use crate::error::Sv1Error;
use crate::json_rpc::{as_i64_lenient, Id, Message};
use serde_json::{json, Map, Value};

pub const SUBSCRIBE: &str = "mining.subscribe";
pub const AUTHORIZE: &str = "mining.authorize";
pub const CONFIGURE: &str = "mining.configure";
pub const EXTRANONCE_SUBSCRIBE: &str = "mining.extranonce.subscribe";
pub const SUGGEST_DIFFICULTY: &str = "mining.suggest_difficulty";
pub const SUBMIT: &str = "mining.submit";
pub const NOTIFY: &str = "mining.notify";
pub const SET_DIFFICULTY: &str = "mining.set_difficulty";
pub const SET_EXTRANONCE: &str = "mining.set_extranonce";
pub const SET_VERSION_MASK: &str = "mining.set_version_mask";
pub const RECONNECT: &str = "client.reconnect";
pub const SHOW_MESSAGE: &str = "client.show_message";
pub const GET_VERSION: &str = "client.get_version";

/// Positional parameters; an object or null counts as "no positional parameters".
struct Params<'a> {
    method: &'a str,
    items: &'a [Value],
}

impl<'a> Params<'a> {
    fn new(method: &'a str, params: &'a Value) -> Self {
        let items = match params {
            Value::Array(a) => a.as_slice(),
            _ => &[],
        };
        Params { method, items }
    }

    fn get(&self, i: usize) -> Option<&'a Value> {
        self.items.get(i).filter(|v| !v.is_null())
    }

    fn err(&self, field: &'static str, reason: impl Into<String>) -> Sv1Error {
        Sv1Error::field(self.method, field, reason)
    }

    fn string(&self, i: usize, field: &'static str) -> Result<String, Sv1Error> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(other) => Err(self.err(field, format!("expected a string, got {other}"))),
            None => Err(self.err(field, "missing")),
        }
    }

    fn opt_string(&self, i: usize) -> Option<String> {
        match self.get(i) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn hex(&self, i: usize, field: &'static str) -> Result<Vec<u8>, Sv1Error> {
        let s = self.string(i, field)?;
        parse_hex(&s).map_err(|r| self.err(field, r))
    }

    fn hex_u32(&self, i: usize, field: &'static str) -> Result<u32, Sv1Error> {
        let s = self.string(i, field)?;
        parse_hex_u32(&s).map_err(|r| self.err(field, r))
    }

    fn number(&self, i: usize, field: &'static str) -> Result<f64, Sv1Error> {
        match self.get(i) {
            Some(v) => as_f64_lenient(v)
                .ok_or_else(|| self.err(field, format!("expected a number, got {v}"))),
            None => Err(self.err(field, "missing")),
        }
    }
}

fn as_f64_lenient(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Hex of either case, with or without `0x`.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    hex::decode(t).map_err(|e| format!("invalid hex {s:?}: {e}"))
}

/// A 32-bit value written as (up to) 8 hex digits, most significant first, as every miner
/// writes ntime, nonce, version and masks.
pub fn parse_hex_u32(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return Err(format!("expected up to 8 hex digits, got {s:?}"));
    }
    u32::from_str_radix(t, 16).map_err(|e| format!("invalid hex {s:?}: {e}"))
}

fn hex32(v: u32) -> String {
    format!("{v:08x}")
}

// ------------------------------------------------------------------------------ client

/// `mining.subscribe`: `[user_agent, session_id, host, port]`, every entry optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Subscribe {
    pub user_agent: Option<String>,
    /// A previous subscription to resume (cgminer's second parameter).
    pub session_id: Option<String>,
}

/// `mining.authorize`: `[name, password]`; some firmware omits the password.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorize {
    pub name: String,
    pub password: Option<String>,
}

/// `mining.configure` (BIP310): extension names and their parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Configure {
    /// `version-rolling`: the mask the miner would like and the bits it needs.
    pub version_rolling: Option<VersionRollingRequest>,
    /// `minimum-difficulty.value`.
    pub minimum_difficulty: Option<f64>,
    /// `subscribe-extranonce`.
    pub subscribe_extranonce: bool,
    /// `info`: connection-url, hw-version, sw-version, hw-id.
    pub info: Option<Map<String, Value>>,
    /// Extensions we do not know (answered with false).
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VersionRollingRequest {
    pub mask: Option<u32>,
    pub min_bit_count: Option<u32>,
}

/// `mining.submit`: `[worker, job_id, extranonce2, ntime, nonce, version_bits?]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Submit {
    pub worker: String,
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    pub ntime: u32,
    pub nonce: u32,
    /// BIP310: the version bits the miner rolled (only with version rolling negotiated).
    pub version_bits: Option<u32>,
}

/// Everything a miner sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Subscribe(Subscribe),
    Authorize(Authorize),
    Configure(Configure),
    ExtranonceSubscribe,
    SuggestDifficulty(f64),
    Submit(Submit),
}

impl ClientMessage {
    pub fn method(&self) -> &'static str {
        match self {
            ClientMessage::Subscribe(_) => SUBSCRIBE,
            ClientMessage::Authorize(_) => AUTHORIZE,
            ClientMessage::Configure(_) => CONFIGURE,
            ClientMessage::ExtranonceSubscribe => EXTRANONCE_SUBSCRIBE,
            ClientMessage::SuggestDifficulty(_) => SUGGEST_DIFFICULTY,
            ClientMessage::Submit(_) => SUBMIT,
        }
    }

    /// Interpret a request. `Ok(None)` for a method this library does not know.
    pub fn from_request(method: &str, params: &Value) -> Result<Option<ClientMessage>, Sv1Error> {
        let p = Params::new(method, params);
        Ok(Some(match method {
            SUBSCRIBE => ClientMessage::Subscribe(Subscribe {
                user_agent: p.opt_string(0),
                session_id: p.opt_string(1),
            }),
            AUTHORIZE => ClientMessage::Authorize(Authorize {
                name: p.string(0, "name")?,
                password: p.opt_string(1),
            }),
            CONFIGURE => ClientMessage::Configure(parse_configure(&p)?),
            EXTRANONCE_SUBSCRIBE => ClientMessage::ExtranonceSubscribe,
            SUGGEST_DIFFICULTY => ClientMessage::SuggestDifficulty(positive(
                &p,
                p.number(0, "difficulty")?,
                "difficulty",
            )?),
            SUBMIT => ClientMessage::Submit(Submit {
                worker: p.string(0, "worker")?,
                job_id: p.string(1, "job_id")?,
                extranonce2: p.hex(2, "extranonce2")?,
                ntime: p.hex_u32(3, "ntime")?,
                nonce: p.hex_u32(4, "nonce")?,
                version_bits: match p.get(5) {
                    Some(_) => Some(p.hex_u32(5, "version_bits")?),
                    None => None,
                },
            }),
            _ => return Ok(None),
        }))
    }

    pub fn params(&self) -> Value {
        match self {
            ClientMessage::Subscribe(s) => {
                let mut v = vec![];
                // Positional, like client.reconnect: a session id without a user agent
                // needs a null in the agent's place.
                if s.user_agent.is_some() || s.session_id.is_some() {
                    v.push(json!(s.user_agent));
                }
                if let Some(sid) = &s.session_id {
                    v.push(json!(sid));
                }
                Value::Array(v)
            }
            ClientMessage::Authorize(a) => json!([a.name, a.password.clone().unwrap_or_default()]),
            ClientMessage::Configure(c) => {
                let mut names = vec![];
                let mut o = Map::new();
                if let Some(vr) = &c.version_rolling {
                    names.push(json!("version-rolling"));
                    if let Some(m) = vr.mask {
                        o.insert("version-rolling.mask".into(), json!(hex32(m)));
                    }
                    if let Some(b) = vr.min_bit_count {
                        o.insert("version-rolling.min-bit-count".into(), json!(b));
                    }
                }
                if let Some(d) = c.minimum_difficulty {
                    names.push(json!("minimum-difficulty"));
                    o.insert("minimum-difficulty.value".into(), json!(d));
                }
                if c.subscribe_extranonce {
                    names.push(json!("subscribe-extranonce"));
                }
                if let Some(info) = &c.info {
                    names.push(json!("info"));
                    for (k, v) in info {
                        o.insert(format!("info.{k}"), v.clone());
                    }
                }
                for u in &c.unknown {
                    names.push(json!(u));
                }
                json!([names, o])
            }
            ClientMessage::ExtranonceSubscribe => json!([]),
            ClientMessage::SuggestDifficulty(d) => json!([d]),
            ClientMessage::Submit(s) => {
                let mut v = vec![
                    json!(s.worker),
                    json!(s.job_id),
                    json!(hex::encode(&s.extranonce2)),
                    json!(hex32(s.ntime)),
                    json!(hex32(s.nonce)),
                ];
                if let Some(b) = s.version_bits {
                    v.push(json!(hex32(b)));
                }
                Value::Array(v)
            }
        }
    }

    pub fn to_message(&self, id: Id) -> Message {
        Message::Request {
            id,
            method: self.method().into(),
            params: self.params(),
        }
    }
}

fn positive(p: &Params<'_>, v: f64, field: &'static str) -> Result<f64, Sv1Error> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(p.err(field, format!("must be a positive number, got {v}")))
    }
}

fn parse_configure(p: &Params<'_>) -> Result<Configure, Sv1Error> {
    let names: Vec<String> = match p.get(0) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(other) => {
            return Err(p.err(
                "extensions",
                format!("expected an array of names, got {other}"),
            ))
        }
        None => vec![],
    };
    let empty = Map::new();
    let opts = match p.get(1) {
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(p.err(
                "extension-parameters",
                format!("expected an object, got {other}"),
            ))
        }
        None => &empty,
    };
    let mut c = Configure::default();
    for name in names {
        match name.as_str() {
            "version-rolling" => {
                let mask = match opts.get("version-rolling.mask") {
                    Some(Value::String(s)) => {
                        Some(parse_hex_u32(s).map_err(|r| p.err("version-rolling.mask", r))?)
                    }
                    Some(Value::Number(n)) => n.as_u64().map(|m| m as u32),
                    Some(other) => {
                        return Err(
                            p.err("version-rolling.mask", format!("expected hex, got {other}"))
                        )
                    }
                    None => None,
                };
                let min_bit_count = opts
                    .get("version-rolling.min-bit-count")
                    .and_then(as_i64_lenient)
                    .map(|b| b.clamp(0, 32) as u32);
                c.version_rolling = Some(VersionRollingRequest {
                    mask,
                    min_bit_count,
                });
            }
            "minimum-difficulty" => {
                let v = opts
                    .get("minimum-difficulty.value")
                    .and_then(as_f64_lenient)
                    .ok_or_else(|| p.err("minimum-difficulty.value", "missing or not a number"))?;
                c.minimum_difficulty = Some(positive(p, v, "minimum-difficulty.value")?);
            }
            "subscribe-extranonce" => c.subscribe_extranonce = true,
            "info" => {
                let info: Map<String, Value> = opts
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("info.").map(|k| (k.to_string(), v.clone()))
                    })
                    .collect();
                c.info = Some(info);
            }
            other => c.unknown.push(other.to_string()),
        }
    }
    Ok(c)
}

// ------------------------------------------------------------------------------ server

/// `mining.notify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub job_id: String,
    /// As sent: the previous block hash with each 4-byte word byte-swapped (Stratum's
    /// historical form). [`crate::share::header`] turns it back into header order.
    pub prev_hash: [u8; 32],
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    /// Merkle branch hashes, in header (internal) byte order.
    pub merkle_branch: Vec<[u8; 32]>,
    pub version: u32,
    pub nbits: u32,
    pub ntime: u32,
    pub clean_jobs: bool,
}

/// Everything a pool sends unprompted (notifications and its own requests).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    Notify(Notify),
    SetDifficulty(f64),
    SetExtranonce {
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    },
    SetVersionMask(u32),
    Reconnect {
        host: Option<String>,
        port: Option<u16>,
        wait_secs: Option<u64>,
    },
    ShowMessage(String),
    GetVersion,
}

fn hash32(p: &Params<'_>, v: &Value, field: &'static str) -> Result<[u8; 32], Sv1Error> {
    let s = v
        .as_str()
        .ok_or_else(|| p.err(field, format!("expected hex, got {v}")))?;
    let b = parse_hex(s).map_err(|r| p.err(field, r))?;
    b.try_into()
        .map_err(|b: Vec<u8>| p.err(field, format!("expected 32 bytes, got {}", b.len())))
}

impl ServerMessage {
    pub fn method(&self) -> &'static str {
        match self {
            ServerMessage::Notify(_) => NOTIFY,
            ServerMessage::SetDifficulty(_) => SET_DIFFICULTY,
            ServerMessage::SetExtranonce { .. } => SET_EXTRANONCE,
            ServerMessage::SetVersionMask(_) => SET_VERSION_MASK,
            ServerMessage::Reconnect { .. } => RECONNECT,
            ServerMessage::ShowMessage(_) => SHOW_MESSAGE,
            ServerMessage::GetVersion => GET_VERSION,
        }
    }

    /// Interpret a request from a pool. `Ok(None)` for an unknown method.
    pub fn from_request(method: &str, params: &Value) -> Result<Option<ServerMessage>, Sv1Error> {
        let p = Params::new(method, params);
        Ok(Some(match method {
            NOTIFY => {
                // Fields in wire order, so the first bad one is the one reported.
                let job_id = p.string(0, "job_id")?;
                let prev_hash = hash32(
                    &p,
                    p.get(1).ok_or_else(|| p.err("prev_hash", "missing"))?,
                    "prev_hash",
                )?;
                let coinb1 = p.hex(2, "coinb1")?;
                let coinb2 = p.hex(3, "coinb2")?;
                let merkle_branch = match p.get(4) {
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| hash32(&p, v, "merkle_branch"))
                        .collect::<Result<_, _>>()?,
                    Some(other) => {
                        return Err(
                            p.err("merkle_branch", format!("expected an array, got {other}"))
                        )
                    }
                    None => return Err(p.err("merkle_branch", "missing")),
                };
                ServerMessage::Notify(Notify {
                    job_id,
                    prev_hash,
                    coinb1,
                    coinb2,
                    merkle_branch,
                    version: p.hex_u32(5, "version")?,
                    nbits: p.hex_u32(6, "nbits")?,
                    ntime: p.hex_u32(7, "ntime")?,
                    clean_jobs: match p.get(8) {
                        Some(Value::Bool(b)) => *b,
                        Some(v) => as_i64_lenient(v).map(|i| i != 0).unwrap_or(false),
                        None => false,
                    },
                })
            }
            SET_DIFFICULTY => ServerMessage::SetDifficulty(positive(
                &p,
                p.number(0, "difficulty")?,
                "difficulty",
            )?),
            SET_EXTRANONCE => ServerMessage::SetExtranonce {
                extranonce1: p.hex(0, "extranonce1")?,
                extranonce2_size: p
                    .get(1)
                    .and_then(as_i64_lenient)
                    .filter(|s| (0..=32).contains(s))
                    .ok_or_else(|| p.err("extranonce2_size", "missing or not 0..32"))?
                    as usize,
            },
            SET_VERSION_MASK => ServerMessage::SetVersionMask(p.hex_u32(0, "mask")?),
            RECONNECT => ServerMessage::Reconnect {
                host: p.opt_string(0).filter(|h| !h.is_empty()),
                port: p
                    .get(1)
                    .and_then(as_i64_lenient)
                    .and_then(|v| u16::try_from(v).ok()),
                wait_secs: p
                    .get(2)
                    .and_then(as_i64_lenient)
                    .and_then(|v| u64::try_from(v).ok()),
            },
            SHOW_MESSAGE => ServerMessage::ShowMessage(p.opt_string(0).unwrap_or_default()),
            GET_VERSION => ServerMessage::GetVersion,
            _ => return Ok(None),
        }))
    }

    pub fn params(&self) -> Value {
        match self {
            ServerMessage::Notify(n) => json!([
                n.job_id,
                hex::encode(n.prev_hash),
                hex::encode(&n.coinb1),
                hex::encode(&n.coinb2),
                n.merkle_branch.iter().map(hex::encode).collect::<Vec<_>>(),
                hex32(n.version),
                hex32(n.nbits),
                hex32(n.ntime),
                n.clean_jobs
            ]),
            ServerMessage::SetDifficulty(d) => json!([d]),
            ServerMessage::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                json!([hex::encode(extranonce1), extranonce2_size])
            }
            ServerMessage::SetVersionMask(m) => json!([hex32(*m)]),
            ServerMessage::Reconnect {
                host,
                port,
                wait_secs,
            } => {
                let mut v = vec![json!(host.clone().unwrap_or_default())];
                // Positional: a wait without a port needs a null in the port's place, or
                // it would be dropped (found by the sv1_line fuzz target).
                if port.is_some() || wait_secs.is_some() {
                    v.push(json!(port));
                }
                if let Some(w) = wait_secs {
                    v.push(json!(w));
                }
                Value::Array(v)
            }
            ServerMessage::ShowMessage(m) => json!([m]),
            ServerMessage::GetVersion => json!([]),
        }
    }

    /// Notifications carry a null id; client.get_version is a request and needs one.
    pub fn to_message(&self, id: Id) -> Message {
        Message::Request {
            id,
            method: self.method().into(),
            params: self.params(),
        }
    }
}

/// The result of mining.subscribe: `[[subscriptions...], extranonce1, extranonce2_size]`.
pub fn subscribe_result(
    subscription_id: &str,
    extranonce1: &[u8],
    extranonce2_size: usize,
) -> Value {
    json!([
        [[SET_DIFFICULTY, subscription_id], [NOTIFY, subscription_id]],
        hex::encode(extranonce1),
        extranonce2_size
    ])
}

/// Read a mining.subscribe result: extranonce1 and extranonce2_size. The subscriptions entry
/// is ignored (pools send one pair, a list of pairs, or null).
pub fn parse_subscribe_result(result: &Value) -> Result<(Vec<u8>, usize), Sv1Error> {
    let p_items = match result {
        Value::Array(a) => a.as_slice(),
        other => {
            return Err(Sv1Error::field(
                SUBSCRIBE,
                "result",
                format!("expected an array, got {other}"),
            ))
        }
    };
    let p = Params {
        method: SUBSCRIBE,
        items: p_items,
    };
    let en1 = p.hex(1, "extranonce1")?;
    let size = p
        .get(2)
        .and_then(as_i64_lenient)
        .filter(|s| (0..=32).contains(s))
        .ok_or_else(|| p.err("extranonce2_size", "missing or not 0..32"))? as usize;
    Ok((en1, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_with_a_wait_but_no_port_keeps_the_wait() {
        let m = ServerMessage::Reconnect {
            host: Some("pool.example".into()),
            port: None,
            wait_secs: Some(0),
        };
        assert_eq!(m.params(), json!(["pool.example", null, 0]));
        assert_eq!(
            ServerMessage::from_request(RECONNECT, &m.params()).unwrap(),
            Some(m)
        );
        let bare = ServerMessage::Reconnect {
            host: None,
            port: None,
            wait_secs: None,
        };
        assert_eq!(bare.params(), json!([""]));
    }

    #[test]
    fn subscribe_with_a_session_id_but_no_user_agent_keeps_the_session_id() {
        let m = ClientMessage::Subscribe(Subscribe {
            user_agent: None,
            session_id: Some("ab".into()),
        });
        assert_eq!(m.params(), json!([null, "ab"]));
        assert_eq!(
            ClientMessage::from_request(SUBSCRIBE, &m.params()).unwrap(),
            Some(m)
        );
    }
}
