//! The miner side of one Sv1 connection (the IsClient role), sans-IO.
//!
//! Build requests with [`Client::configure`], [`Client::subscribe`], [`Client::authorize`],
//! [`Client::submit`] (each returns the line to write and remembers the id); feed every line
//! from the pool to [`Client::handle_line`], which updates the state (extranonces, difficulty
//! and target, version mask, current job) and reports events.

use crate::error::Sv1Error;
use crate::json_rpc::{Id, Message, RpcError};
use crate::methods::*;
use crate::share;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Subscribed {
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    },
    Authorized {
        worker: String,
        ok: bool,
    },
    Configured {
        version_mask: Option<u32>,
    },
    NewJob(Notify),
    DifficultyChanged(f64),
    ExtranonceChanged {
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    },
    VersionMaskChanged(u32),
    ShareResult {
        submit: Submit,
        accepted: bool,
        error: Option<RpcError>,
    },
    Reconnect {
        host: Option<String>,
        port: Option<u16>,
        wait_secs: Option<u64>,
    },
    ShowMessage(String),
    /// A request failed (subscribe, configure...).
    RequestFailed {
        method: &'static str,
        error: RpcError,
    },
    BadLine(Sv1Error),
}

#[derive(Debug, Clone)]
enum Pending {
    Subscribe,
    Authorize(String),
    Configure,
    Submit(Submit),
    Other(&'static str),
}

#[derive(Debug)]
pub struct Client {
    user_agent: String,
    next_id: i64,
    pending: HashMap<Id, Pending>,
    extranonce: Option<(Vec<u8>, usize)>,
    authorized: HashSet<String>,
    version_mask: Option<u32>,
    difficulty: f64,
    job: Option<Notify>,
}

impl Client {
    pub fn new(user_agent: impl Into<String>) -> Self {
        Client {
            user_agent: user_agent.into(),
            next_id: 1,
            pending: HashMap::new(),
            extranonce: None,
            authorized: HashSet::new(),
            version_mask: None,
            difficulty: 1.0,
            job: None,
        }
    }

    fn request(&mut self, msg: ClientMessage, pending: Pending) -> String {
        let id = Id::Number(self.next_id);
        self.next_id += 1;
        self.pending.insert(id.clone(), pending);
        msg.to_message(id).to_line()
    }

    pub fn configure(&mut self, version_mask: Option<u32>, min_bit_count: Option<u32>) -> String {
        let c = Configure {
            version_rolling: Some(VersionRollingRequest {
                mask: version_mask,
                min_bit_count,
            }),
            ..Default::default()
        };
        self.request(ClientMessage::Configure(c), Pending::Configure)
    }

    pub fn subscribe(&mut self) -> String {
        let s = Subscribe {
            user_agent: Some(self.user_agent.clone()),
            session_id: None,
        };
        self.request(ClientMessage::Subscribe(s), Pending::Subscribe)
    }

    pub fn authorize(&mut self, worker: &str, password: &str) -> String {
        let a = Authorize {
            name: worker.into(),
            password: Some(password.into()),
        };
        self.request(
            ClientMessage::Authorize(a),
            Pending::Authorize(worker.into()),
        )
    }

    pub fn suggest_difficulty(&mut self, d: f64) -> String {
        self.request(
            ClientMessage::SuggestDifficulty(d),
            Pending::Other(SUGGEST_DIFFICULTY),
        )
    }

    pub fn submit(&mut self, submit: Submit) -> String {
        self.request(
            ClientMessage::Submit(submit.clone()),
            Pending::Submit(submit),
        )
    }

    pub fn extranonce(&self) -> Option<(&[u8], usize)> {
        self.extranonce.as_ref().map(|(e, s)| (e.as_slice(), *s))
    }
    pub fn version_mask(&self) -> Option<u32> {
        self.version_mask
    }
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }
    pub fn target(&self) -> [u8; 32] {
        share::target_from_difficulty(self.difficulty)
    }
    pub fn current_job(&self) -> Option<&Notify> {
        self.job.as_ref()
    }
    pub fn is_authorized(&self, worker: &str) -> bool {
        self.authorized.contains(worker)
    }

    /// Handle one line from the pool; returns events and lines to write back (the answer to
    /// client.get_version).
    pub fn handle_line(&mut self, line: &str) -> (Vec<ClientEvent>, Vec<String>) {
        let mut events = vec![];
        let mut replies = vec![];
        match Message::parse(line) {
            Err(e) => events.push(ClientEvent::BadLine(e)),
            Ok(Message::Response { id, result, error }) => {
                self.response(id, result, error, &mut events)
            }
            Ok(Message::Request { id, method, params }) => {
                match ServerMessage::from_request(&method, &params) {
                    Err(e) => events.push(ClientEvent::BadLine(e)),
                    Ok(None) => {
                        if id != Id::Null {
                            replies.push(
                                Message::error(
                                    id,
                                    crate::codes::UNKNOWN,
                                    format!("unknown method {method}"),
                                )
                                .to_line(),
                            );
                        }
                    }
                    Ok(Some(m)) => match m {
                        ServerMessage::Notify(n) => {
                            self.job = Some(n.clone());
                            events.push(ClientEvent::NewJob(n));
                        }
                        ServerMessage::SetDifficulty(d) => {
                            self.difficulty = d;
                            events.push(ClientEvent::DifficultyChanged(d));
                        }
                        ServerMessage::SetExtranonce {
                            extranonce1,
                            extranonce2_size,
                        } => {
                            self.extranonce = Some((extranonce1.clone(), extranonce2_size));
                            events.push(ClientEvent::ExtranonceChanged {
                                extranonce1,
                                extranonce2_size,
                            });
                        }
                        ServerMessage::SetVersionMask(m) => {
                            self.version_mask = Some(m);
                            events.push(ClientEvent::VersionMaskChanged(m));
                        }
                        ServerMessage::Reconnect {
                            host,
                            port,
                            wait_secs,
                        } => events.push(ClientEvent::Reconnect {
                            host,
                            port,
                            wait_secs,
                        }),
                        ServerMessage::ShowMessage(m) => events.push(ClientEvent::ShowMessage(m)),
                        ServerMessage::GetVersion => {
                            replies.push(Message::response(id, json!(self.user_agent)).to_line())
                        }
                    },
                }
            }
        }
        (events, replies)
    }

    fn response(
        &mut self,
        id: Id,
        result: Value,
        error: Option<RpcError>,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(pending) = self.pending.remove(&id) else {
            return; // an answer to nothing we asked: ignore
        };
        let fail = |method: &'static str, error: Option<RpcError>, result: &Value| RpcError {
            code: error
                .as_ref()
                .map(|e| e.code)
                .unwrap_or(crate::codes::UNKNOWN),
            message: error
                .map(|e| e.message)
                .unwrap_or_else(|| format!("{method} answered {result}")),
            data: None,
        };
        match pending {
            Pending::Subscribe => match (error, parse_subscribe_result(&result)) {
                (None, Ok((en1, size))) => {
                    self.extranonce = Some((en1.clone(), size));
                    events.push(ClientEvent::Subscribed {
                        extranonce1: en1,
                        extranonce2_size: size,
                    });
                }
                (None, Err(e)) => events.push(ClientEvent::BadLine(e)),
                (Some(e), _) => events.push(ClientEvent::RequestFailed {
                    method: SUBSCRIBE,
                    error: e,
                }),
            },
            Pending::Authorize(worker) => {
                let ok = error.is_none() && result == json!(true);
                if ok {
                    self.authorized.insert(worker.clone());
                }
                events.push(ClientEvent::Authorized { worker, ok });
            }
            Pending::Configure => {
                if let Some(e) = error {
                    events.push(ClientEvent::RequestFailed {
                        method: CONFIGURE,
                        error: e,
                    });
                    return;
                }
                if result.get("version-rolling") == Some(&json!(true)) {
                    self.version_mask = result
                        .get("version-rolling.mask")
                        .and_then(Value::as_str)
                        .and_then(|m| parse_hex_u32(m).ok());
                }
                events.push(ClientEvent::Configured {
                    version_mask: self.version_mask,
                });
            }
            Pending::Submit(submit) => {
                let accepted = error.is_none() && result == json!(true);
                let error = if accepted {
                    None
                } else {
                    Some(fail(SUBMIT, error, &result))
                };
                events.push(ClientEvent::ShareResult {
                    submit,
                    accepted,
                    error,
                });
            }
            Pending::Other(method) => {
                if let Some(e) = error {
                    events.push(ClientEvent::RequestFailed { method, error: e });
                }
            }
        }
    }
}
