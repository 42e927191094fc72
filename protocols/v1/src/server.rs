//! The pool side of one Sv1 connection (the IsServer role), sans-IO.
//!
//! Feed it each line a miner sends ([`Server::handle_line`]); it answers what the protocol
//! itself decides (subscribe, configure, authorize, and every share: job known, extranonce2
//! size, version bits under the negotiated mask, duplicate, difficulty) and reports events for
//! the application. The application sends jobs and difficulty through [`Server::notify`] and
//! [`Server::set_difficulty`], which return the lines to write.
//!
//! What one peer can make it hold is bounded: at most [`ServerConfig::max_workers`] worker
//! names of at most [`ServerConfig::max_worker_name_len`] bytes, [`ServerConfig::max_jobs`]
//! jobs, and per job the 8-byte keys of the shares it accepted.
//!
//! The server reads no clock: the application passes the time in with [`Server::set_now`]
//! (Unix seconds), which bounds how far in the future a share's nTime may be.

use crate::error::{codes, Sv1Error};
use crate::json_rpc::{Id, Message};
use crate::methods::*;
use crate::share;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};

/// Per-connection settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    /// Difficulty of the first jobs.
    pub initial_difficulty: f64,
    /// Version bits this server lets miners roll (BIP320 is 0x1fffe000).
    pub version_rolling_mask: u32,
    /// Past jobs kept so that a share for a job sent shortly before a new one is still
    /// judged, not answered "job not found".
    pub max_jobs: usize,
    /// Distinct worker names one connection may authorize; an authorize for one more name is
    /// refused (result false, error 24). A farm behind one connection uses one name per rig,
    /// rarely more than a few dozen.
    pub max_workers: usize,
    /// Longest worker name accepted, in bytes (payout address, a dot and a rig name fit).
    pub max_worker_name_len: usize,
    /// How far past the current time a share's nTime may be, in seconds: Bitcoin refuses a
    /// block whose time is more than 2 hours ahead of the network's.
    pub max_ntime_ahead_secs: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            extranonce1: vec![0, 0, 0, 1],
            extranonce2_size: 4,
            initial_difficulty: 1.0,
            version_rolling_mask: 0x1fff_e000,
            max_jobs: 8,
            max_workers: 64,
            max_worker_name_len: 256,
            max_ntime_ahead_secs: 7200,
        }
    }
}

/// What the application should know about.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    Subscribed {
        user_agent: Option<String>,
    },
    Authorized {
        worker: String,
        password: Option<String>,
    },
    Configured {
        version_rolling_mask: Option<u32>,
        minimum_difficulty: Option<f64>,
    },
    SuggestedDifficulty(f64),
    /// An authorize for a new name was refused because the connection already has
    /// [`ServerConfig::max_workers`] names. Reported once per connection (the refusals go on),
    /// so that an application logs it once, not once per line.
    TooManyWorkers {
        max_workers: usize,
    },
    ShareAccepted {
        worker: String,
        job_id: String,
        extranonce2: Vec<u8>,
        header: [u8; 80],
        hash: [u8; 32],
        difficulty: f64,
        job_difficulty: f64,
        /// Set when the share met the forward target ([`Server::set_forward_target`]): it
        /// has not been answered; [`Server::answer_held`] answers it with this id.
        held: Option<Id>,
    },
    ShareRejected {
        worker: String,
        job_id: String,
        code: i64,
        reason: String,
    },
    /// A line that could not be understood; it was answered with an error if it had an id.
    BadLine(Sv1Error),
}

/// The reason given for a share whose nTime is before its job's or too far ahead.
pub const NTIME_OUT_OF_RANGE: &str = "ntime out of range";

/// A refused request answered as deployed pools do: `false`, with the error beside it (miners
/// read one or the other).
fn refusal(id: Id, code: i64, reason: &str) -> String {
    Message::Response {
        id,
        result: json!(false),
        error: Some(crate::json_rpc::RpcError::new(code, reason)),
    }
    .to_line()
}

/// Lines to write and events to handle.
#[derive(Debug, Default)]
pub struct Output {
    pub lines: Vec<String>,
    pub events: Vec<ServerEvent>,
}

#[derive(Debug, Clone)]
struct Job {
    notify: Notify,
    difficulty: f64,
}

#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    subscribed: bool,
    authorized: HashSet<String>,
    /// Whether [`ServerEvent::TooManyWorkers`] was reported.
    too_many_workers_reported: bool,
    /// The mask the miner asked for in mining.configure (all bits when it named none).
    version_mask_requested: Option<u32>,
    version_mask: Option<u32>,
    /// BIP310 minimum-difficulty: the difficulty never goes below it.
    minimum_difficulty: Option<f64>,
    difficulty: f64,
    /// Unix seconds, as the application last said ([`Server::set_now`]).
    now: Option<u32>,
    jobs: VecDeque<Job>,
    /// Shares seen, by job: 8 bytes of each header hash (the same header is the same work),
    /// so a miner's duplicate set stays small however many shares it sends.
    seen: HashMap<String, HashSet<u64>>,
    extranonce_subscribed: bool,
    subscription_id: String,
    forward_target: Option<[u8; 32]>,
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Self {
        let subscription_id = hex::encode(&cfg.extranonce1);
        Server {
            difficulty: cfg.initial_difficulty,
            cfg,
            subscribed: false,
            authorized: HashSet::new(),
            too_many_workers_reported: false,
            version_mask_requested: None,
            version_mask: None,
            minimum_difficulty: None,
            now: None,
            jobs: VecDeque::new(),
            seen: HashMap::new(),
            extranonce_subscribed: false,
            subscription_id,
            forward_target: None,
        }
    }

    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }
    pub fn is_authorized(&self, worker: &str) -> bool {
        self.authorized.contains(worker)
    }
    pub fn authorized_workers(&self) -> impl Iterator<Item = &String> {
        self.authorized.iter()
    }
    pub fn extranonce1(&self) -> &[u8] {
        &self.cfg.extranonce1
    }
    pub fn extranonce2_size(&self) -> usize {
        self.cfg.extranonce2_size
    }
    /// The negotiated version-rolling mask (None without mining.configure).
    pub fn version_mask(&self) -> Option<u32> {
        self.version_mask
    }
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }
    /// The least difficulty the miner asked for (BIP310 minimum-difficulty), if it did.
    pub fn minimum_difficulty(&self) -> Option<f64> {
        self.minimum_difficulty
    }

    /// The current time in Unix seconds. The server never reads a clock; call this before
    /// [`Server::handle_line`] (once a second is enough). Shares whose nTime is more than
    /// [`ServerConfig::max_ntime_ahead_secs`] past it are refused. Until it is called, and
    /// whenever it is behind, the newest job's nTime stands in for it: a clock that lags the
    /// upstream's must not make every honest share look as if it came from the future.
    pub fn set_now(&mut self, unix_secs: u32) {
        self.now = Some(unix_secs);
    }

    /// Change the version bits miners may roll (after a failover to an upstream with other
    /// rules, for instance). A miner that negotiated version rolling gets the part of the mask
    /// it asked for that is still allowed, announced by the returned `mining.set_version_mask`
    /// line (`None` when its mask does not change, or when it never negotiated rolling: BIP310
    /// lets the server send the message only after a successful negotiation). Shares from now
    /// on are judged under the new mask, even for jobs sent before.
    pub fn set_version_rolling_mask(&mut self, allowed: u32) -> Option<String> {
        self.cfg.version_rolling_mask = allowed;
        let (Some(old), Some(requested)) = (self.version_mask, self.version_mask_requested) else {
            return None;
        };
        let mask = requested & allowed;
        if mask == old {
            return None;
        }
        self.version_mask = Some(mask);
        Some(
            ServerMessage::SetVersionMask(mask)
                .to_message(Id::Null)
                .to_line(),
        )
    }
    pub fn target(&self) -> [u8; 32] {
        share::target_from_difficulty(self.difficulty)
    }
    pub fn current_job(&self) -> Option<&Notify> {
        self.jobs.back().map(|j| &j.notify)
    }

    /// For a translator or proxy: shares whose hash meets `target` (little-endian) are not
    /// answered at once; they are reported with `held` set and answered by
    /// [`Server::answer_held`] when the upstream has judged them, so the miner hears the truth.
    pub fn set_forward_target(&mut self, target: Option<[u8; 32]>) {
        self.forward_target = target;
    }

    /// The answer to a held share: `true`, or the error (code and message) to report.
    pub fn answer_held(&mut self, id: Id, result: Result<(), (i64, &str)>) -> String {
        match result {
            Ok(()) => Message::response(id, json!(true)).to_line(),
            Err((code, reason)) => Message::error(id, code, reason).to_line(),
        }
    }

    /// Revoke a worker (e.g. when the application's own check fails).
    pub fn deauthorize(&mut self, worker: &str) {
        self.authorized.remove(worker);
    }

    /// Send a job; with `clean_jobs` every older job becomes stale.
    pub fn notify(&mut self, notify: Notify) -> String {
        if notify.clean_jobs {
            self.jobs.clear();
            // The same job sent again (to apply a new difficulty at once) is the same work:
            // its shares stay duplicates.
            self.seen.retain(|job_id, _| *job_id == notify.job_id);
        }
        while self.jobs.len() >= self.cfg.max_jobs.max(1) {
            if let Some(old) = self.jobs.pop_front() {
                self.seen.remove(&old.notify.job_id);
            }
        }
        let line = ServerMessage::Notify(notify.clone())
            .to_message(Id::Null)
            .to_line();
        self.jobs.push_back(Job {
            notify,
            difficulty: self.difficulty,
        });
        line
    }

    /// Change the difficulty; it applies to shares of jobs sent from now on, and also to older
    /// jobs when it is lower (a miner may switch at once). It never goes below the minimum the
    /// miner asked for with BIP310 minimum-difficulty ([`Server::minimum_difficulty`]).
    pub fn set_difficulty(&mut self, difficulty: f64) -> String {
        let difficulty = match self.minimum_difficulty {
            Some(m) if m > difficulty => m,
            _ => difficulty,
        };
        self.difficulty = difficulty;
        ServerMessage::SetDifficulty(difficulty)
            .to_message(Id::Null)
            .to_line()
    }

    /// Change extranonce1 (only sent if the miner subscribed to it; otherwise reconnect it).
    pub fn set_extranonce(
        &mut self,
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    ) -> Option<String> {
        self.cfg.extranonce1 = extranonce1.clone();
        self.cfg.extranonce2_size = extranonce2_size;
        self.extranonce_subscribed.then(|| {
            ServerMessage::SetExtranonce {
                extranonce1,
                extranonce2_size,
            }
            .to_message(Id::Null)
            .to_line()
        })
    }

    /// Handle one line from the miner.
    pub fn handle_line(&mut self, line: &str) -> Output {
        let mut out = Output::default();
        let msg = match Message::parse(line) {
            Ok(m) => m,
            Err(e) => {
                out.events.push(ServerEvent::BadLine(e));
                return out;
            }
        };
        let Message::Request { id, method, params } = msg else {
            // Miners answer client.get_version; nothing to do.
            return out;
        };
        match ClientMessage::from_request(&method, &params) {
            Ok(Some(m)) => self.handle(id, m, &mut out),
            Ok(None) => {
                out.lines.push(
                    Message::error(id, codes::UNKNOWN, format!("unknown method {method}"))
                        .to_line(),
                );
            }
            Err(e) => {
                if id != Id::Null {
                    out.lines
                        .push(Message::error(id, codes::UNKNOWN, e.to_string()).to_line());
                }
                out.events.push(ServerEvent::BadLine(e));
            }
        }
        out
    }

    fn respond(out: &mut Output, id: Id, result: Value) {
        out.lines.push(Message::response(id, result).to_line());
    }

    fn handle(&mut self, id: Id, msg: ClientMessage, out: &mut Output) {
        match msg {
            ClientMessage::Subscribe(s) => self.handle_subscribe(id, s, out),
            ClientMessage::Authorize(a) => self.handle_authorize(id, a, out),
            ClientMessage::Configure(c) => self.handle_configure(id, c, out),
            ClientMessage::ExtranonceSubscribe => {
                self.extranonce_subscribed = true;
                Self::respond(out, id, json!(true));
            }
            ClientMessage::SuggestDifficulty(d) => {
                Self::respond(out, id, json!(true));
                out.events.push(ServerEvent::SuggestedDifficulty(d));
            }
            ClientMessage::Submit(s) => self.submit(id, s, out),
        }
    }

    fn handle_subscribe(&mut self, id: Id, s: Subscribe, out: &mut Output) {
        // A second subscribe gets the same answer (some firmware re-subscribes).
        self.subscribed = true;
        Self::respond(
            out,
            id,
            subscribe_result(
                &self.subscription_id,
                &self.cfg.extranonce1,
                self.cfg.extranonce2_size,
            ),
        );
        out.events.push(ServerEvent::Subscribed {
            user_agent: s.user_agent,
        });
        // Work follows as soon as there is a job, even before authorize.
        out.lines.push(
            ServerMessage::SetDifficulty(self.difficulty)
                .to_message(Id::Null)
                .to_line(),
        );
        if let Some(job) = self.jobs.back() {
            let mut n = job.notify.clone();
            n.clean_jobs = true;
            out.lines
                .push(ServerMessage::Notify(n).to_message(Id::Null).to_line());
        }
    }

    fn handle_authorize(&mut self, id: Id, a: Authorize, out: &mut Output) {
        if a.name.trim().is_empty() {
            out.lines
                .push(Message::error(id, codes::UNAUTHORIZED, "empty worker name").to_line());
            return;
        }
        if a.name.len() > self.cfg.max_worker_name_len {
            let reason = format!(
                "worker name longer than {} bytes",
                self.cfg.max_worker_name_len
            );
            out.lines.push(refusal(id, codes::UNAUTHORIZED, &reason));
            return;
        }
        if !self.authorized.contains(&a.name)
            && self.authorized.len() >= self.cfg.max_workers.max(1)
        {
            let reason = format!(
                "too many workers on this connection (at most {})",
                self.cfg.max_workers.max(1)
            );
            out.lines.push(refusal(id, codes::UNAUTHORIZED, &reason));
            if !self.too_many_workers_reported {
                self.too_many_workers_reported = true;
                out.events.push(ServerEvent::TooManyWorkers {
                    max_workers: self.cfg.max_workers.max(1),
                });
            }
            return;
        }
        self.authorized.insert(a.name.clone());
        Self::respond(out, id, json!(true));
        out.events.push(ServerEvent::Authorized {
            worker: a.name,
            password: a.password,
        });
    }

    fn handle_configure(&mut self, id: Id, c: Configure, out: &mut Output) {
        let mut result = serde_json::Map::new();
        if let Some(vr) = c.version_rolling {
            let requested = vr.mask.unwrap_or(u32::MAX);
            let mask = requested & self.cfg.version_rolling_mask;
            let ok = mask.count_ones() >= vr.min_bit_count.unwrap_or(0);
            result.insert("version-rolling".into(), json!(ok));
            if ok {
                result.insert("version-rolling.mask".into(), json!(format!("{mask:08x}")));
                self.version_mask = Some(mask);
                self.version_mask_requested = Some(requested);
            }
        }
        // Sent after the answer, when the miner already mines at a lower difficulty.
        let mut raised = None;
        if let Some(d) = c.minimum_difficulty {
            result.insert("minimum-difficulty".into(), json!(true));
            self.minimum_difficulty = Some(d);
            if d > self.difficulty {
                self.difficulty = d;
                if self.subscribed {
                    raised = Some(
                        ServerMessage::SetDifficulty(d)
                            .to_message(Id::Null)
                            .to_line(),
                    );
                }
            }
        }
        if c.subscribe_extranonce {
            self.extranonce_subscribed = true;
            result.insert("subscribe-extranonce".into(), json!(true));
        }
        if c.info.is_some() {
            result.insert("info".into(), json!(true));
        }
        for u in &c.unknown {
            result.insert(u.clone(), json!(false));
        }
        Self::respond(out, id, Value::Object(result));
        out.lines.extend(raised);
        out.events.push(ServerEvent::Configured {
            version_rolling_mask: self.version_mask,
            minimum_difficulty: c.minimum_difficulty,
        });
    }

    fn reject(out: &mut Output, id: Id, s: &Submit, code: i64, reason: &str) {
        out.lines.push(Message::error(id, code, reason).to_line());
        out.events.push(ServerEvent::ShareRejected {
            worker: s.worker.clone(),
            job_id: s.job_id.clone(),
            code,
            reason: reason.to_string(),
        });
    }

    fn submit(&mut self, id: Id, s: Submit, out: &mut Output) {
        if !self.subscribed {
            return Self::reject(out, id, &s, codes::NOT_SUBSCRIBED, "Not subscribed");
        }
        if !self.authorized.contains(&s.worker) {
            return Self::reject(out, id, &s, codes::UNAUTHORIZED, "Unauthorized worker");
        }
        let Some(job) = self
            .jobs
            .iter()
            .find(|j| j.notify.job_id == s.job_id)
            .cloned()
        else {
            return Self::reject(out, id, &s, codes::JOB_NOT_FOUND, "Job not found");
        };
        if s.extranonce2.len() != self.cfg.extranonce2_size {
            let reason = format!(
                "extranonce2 must be {} bytes, got {}",
                self.cfg.extranonce2_size,
                s.extranonce2.len()
            );
            return Self::reject(out, id, &s, codes::UNKNOWN, &reason);
        }
        // nTime: not before the job's (the upstream's least), and not further ahead of now
        // than Bitcoin accepts. Deployed pools answer both with code 20, "ntime out of range".
        let newest = self
            .jobs
            .back()
            .map_or(job.notify.ntime, |j| j.notify.ntime);
        let now = self.now.map_or(newest, |n| n.max(newest));
        if s.ntime < job.notify.ntime
            || u64::from(s.ntime) > u64::from(now) + u64::from(self.cfg.max_ntime_ahead_secs)
        {
            return Self::reject(out, id, &s, codes::UNKNOWN, NTIME_OUT_OF_RANGE);
        }
        let mask = self.version_mask.unwrap_or(0);
        if let Some(bits) = s.version_bits {
            if bits & !mask != 0 {
                let reason =
                    format!("version bits {bits:08x} outside the negotiated mask {mask:08x}");
                return Self::reject(out, id, &s, codes::UNKNOWN, &reason);
            }
        }
        let header = share::header(&job.notify, &self.cfg.extranonce1, &s, mask);
        let hash = share::sha256d(&header);
        let key = u64::from_le_bytes([
            hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
        ]);
        if self
            .seen
            .get(&s.job_id)
            .is_some_and(|set| set.contains(&key))
        {
            return Self::reject(out, id, &s, codes::DUPLICATE_SHARE, "Duplicate share");
        }
        let difficulty = job.difficulty.min(self.difficulty);
        if !share::meets_target(&hash, &share::target_from_difficulty(difficulty)) {
            return Self::reject(out, id, &s, codes::LOW_DIFFICULTY, "Low difficulty share");
        }
        self.seen.entry(s.job_id.clone()).or_default().insert(key);
        let held = match &self.forward_target {
            Some(t) if share::meets_target(&hash, t) => Some(id),
            _ => {
                Self::respond(out, id, json!(true));
                None
            }
        };
        let share_difficulty = share::difficulty_of_hash(&hash);
        out.events.push(ServerEvent::ShareAccepted {
            worker: s.worker,
            job_id: s.job_id,
            extranonce2: s.extranonce2,
            header,
            hash,
            difficulty: share_difficulty,
            job_difficulty: difficulty,
            held,
        });
    }
}
