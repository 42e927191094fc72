//! The JSON-RPC envelope as Sv1 software actually writes it.
//!
//! Accepted: ids that are numbers, strings or null; `params` as an array, an object, null or
//! missing; `jsonrpc` present or not; fields in any order; errors as `[code, "message", data]`,
//! as `{"code": .., "message": ..}`, or as a bare string; ckpool's `"reject-reason"` beside a
//! `false` result.

use crate::error::Sv1Error;
use serde_json::{json, Value};

/// A request or response id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Number(i64),
    /// Very large or fractional numeric ids, kept as written.
    Other(String),
    String(String),
    Null,
}

impl Id {
    fn from_value(v: Option<&Value>) -> Result<Id, Sv1Error> {
        Ok(match v {
            None | Some(Value::Null) => Id::Null,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Id::Number(i),
                None => Id::Other(n.to_string()),
            },
            Some(Value::String(s)) => Id::String(s.clone()),
            Some(other) => {
                return Err(Sv1Error::line(format!(
                    "id must be a number, string or null, got {other}"
                )))
            }
        })
    }

    pub fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => json!(n),
            Id::Other(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            Id::String(s) => json!(s),
            Id::Null => Value::Null,
        }
    }
}

/// An error in a response.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn from_value(v: &Value) -> Option<RpcError> {
        match v {
            Value::Null => None,
            Value::Array(a) => Some(RpcError {
                code: a
                    .first()
                    .and_then(as_i64_lenient)
                    .unwrap_or(crate::codes::UNKNOWN),
                message: a.get(1).map(value_text).unwrap_or_default(),
                data: a.get(2).filter(|d| !d.is_null()).cloned(),
            }),
            Value::Object(o) => Some(RpcError {
                code: o
                    .get("code")
                    .and_then(as_i64_lenient)
                    .unwrap_or(crate::codes::UNKNOWN),
                message: o.get("message").map(value_text).unwrap_or_default(),
                data: o.get("data").filter(|d| !d.is_null()).cloned(),
            }),
            other => Some(RpcError {
                code: crate::codes::UNKNOWN,
                message: value_text(other),
                data: None,
            }),
        }
    }

    /// The common array form: `[code, "message", null]`.
    pub fn to_value(&self) -> Value {
        json!([
            self.code,
            self.message,
            self.data.clone().unwrap_or(Value::Null)
        ])
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn as_i64_lenient(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One line: a request (or notification, with a null id) or a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Value,
    },
    Response {
        id: Id,
        result: Value,
        error: Option<RpcError>,
    },
}

impl Message {
    /// Parse one line (without its line end).
    pub fn parse(line: &str) -> Result<Message, Sv1Error> {
        let v: Value = serde_json::from_str(line.trim())
            .map_err(|e| Sv1Error::line(format!("not JSON: {e}")))?;
        let Value::Object(mut o) = v else {
            return Err(Sv1Error::line("not a JSON object"));
        };
        let id = Id::from_value(o.get("id"))?;
        if let Some(m) = o.get("method") {
            let method = m
                .as_str()
                .ok_or_else(|| Sv1Error::line(format!("method must be a string, got {m}")))?
                .to_string();
            let params = o.remove("params").unwrap_or(Value::Null);
            return Ok(Message::Request { id, method, params });
        }
        if o.contains_key("result") || o.contains_key("error") {
            let result = o.remove("result").unwrap_or(Value::Null);
            let mut error = o.get("error").and_then(RpcError::from_value);
            // ckpool answers a rejected share with result false and a "reject-reason".
            if let (None, Some(reason)) = (&error, o.get("reject-reason")) {
                error = Some(RpcError::new(crate::codes::UNKNOWN, value_text(reason)));
            }
            return Ok(Message::Response { id, result, error });
        }
        Err(Sv1Error::line(
            "neither a request (method) nor a response (result or error)",
        ))
    }

    /// The line to send, with its `\n`. Keys come in the conventional order (id, then
    /// method and params, or result and error): JSON does not require it, but some firmware
    /// parsers expect it.
    pub fn to_line(&self) -> String {
        match self {
            Message::Request { id, method, params } => format!(
                "{{\"id\":{},\"method\":{},\"params\":{}}}\n",
                id.to_value(),
                Value::from(method.as_str()),
                params
            ),
            Message::Response { id, result, error } => format!(
                "{{\"id\":{},\"result\":{},\"error\":{}}}\n",
                id.to_value(),
                result,
                error
                    .as_ref()
                    .map(RpcError::to_value)
                    .unwrap_or(Value::Null)
            ),
        }
    }

    pub fn response(id: Id, result: Value) -> Message {
        Message::Response {
            id,
            result,
            error: None,
        }
    }

    pub fn error(id: Id, code: i64, message: impl Into<String>) -> Message {
        Message::Response {
            id,
            result: Value::Null,
            error: Some(RpcError::new(code, message)),
        }
    }
}
