//! One Sv1 miner: its [`sv1_api::server::Server`], its vardiff, and the road of its shares to
//! the upstream and back.

use crate::difficulty::Policy;
use crate::metrics::WorkerKey;
use crate::{Answer, MinerUpdate, Route, Shared};
use roles_logic_sv2::extranonce::ExtranonceRange;
use roles_logic_sv2::target;
use roles_logic_sv2::vardiff::Vardiff;
use roles_utils::downstream::{Admitted, SetupExpiry};
use roles_utils::upstream::{Submit, UpstreamCommand};
use roles_utils::{lock, monotonic_ms, now_ms};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::{codes, LineReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};

/// BIP320's version bits: what miners may roll when the upstream allows rolling.
const BIP320_MASK: u32 = 0x1fff_e000;

/// The version bits miners may roll on an upstream link.
pub(crate) fn version_mask(version_rolling: bool) -> u32 {
    if version_rolling {
        BIP320_MASK
    } else {
        0
    }
}

/// Longest line a miner may send (real ones are a few hundred bytes).
const MAX_LINE: usize = 16 * 1024;
/// Jobs a miner may still submit to: enough for the template refreshes between two blocks.
const MAX_JOBS: usize = 16;
const VARDIFF_TICK: Duration = Duration::from_secs(5);

/// Sv1 difficulty for a hashrate at `shares_per_minute`.
fn difficulty_for(hashrate: f64, shares_per_minute: f64) -> f64 {
    target::difficulty(&target::from_hashrate(hashrate, shares_per_minute))
}

/// The Sv1 error a pool's refusal becomes.
fn sv1_error(code: &str) -> (i64, &'static str) {
    match code {
        "stale-share" | "invalid-job-id" => (codes::JOB_NOT_FOUND, "Job not found (stale)"),
        "duplicate-share" => (codes::DUPLICATE_SHARE, "Duplicate share"),
        "difficulty-too-low" => (codes::LOW_DIFFICULTY, "Low difficulty share"),
        _ => (codes::UNKNOWN, "Refused by the pool"),
    }
}

/// A worker name authorized on this connection, and what the translator keeps for it.
struct HeldWorker {
    key: WorkerKey,
    /// Whether the metrics list it (false when the registry was full).
    listed: bool,
    /// Whether its last difficulty is remembered (false when that map was full).
    remembered: bool,
}

struct Miner<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    server: Server,
    vardiff: Vardiff,
    /// Floor, ceiling (the upstream's difficulty, so nothing the pool would credit is
    /// dropped here), power-of-two rounding and the miner's own minimum.
    policy: Policy,
    /// Whether the miner suggested a difficulty on this connection (it then starts there,
    /// not at the last difficulty of its name).
    suggested: bool,
    /// At most `max_workers_per_connection`: the Sv1 server refuses more names.
    workers: Vec<HeldWorker>,
    reply: mpsc::Sender<Answer>,
    out: String,
}

fn unix_secs() -> u32 {
    (now_ms() / 1000).min(u32::MAX as u64) as u32
}

pub(crate) async fn serve(stream: TcpStream, mut admitted: Admitted, shared: &Shared) {
    let peer = admitted.peer;
    let range = match lock(&shared.ids).allocate() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%peer, "no extranonce1 left: {e}");
            return;
        }
    };
    if !wait_for_upstream(shared, &mut admitted).await {
        let _ = lock(&shared.ids).release(&range);
        return;
    }
    admitted.restart_setup_deadline();
    let idle_timeout = admitted.limits().idle_timeout();
    let write_timeout = admitted.limits().write_timeout();
    let mut last_line = tokio::time::Instant::now();
    let mut updates = shared.updates.subscribe();
    let (reply, mut answers) = mpsc::channel(64);
    let mut m = Miner::new(shared, peer, &range, reply);
    let (mut rd, mut wr) = stream.into_split();
    let mut reader = LineReader::new(MAX_LINE);
    let mut buf = [0u8; 512];
    let mut tick = tokio::time::interval(VARDIFF_TICK);
    tick.tick().await;
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                reader.push(&buf[..n]);
                let mut closing = false;
                loop {
                    match reader.next_line() {
                        Ok(Some(line)) => {
                            last_line = tokio::time::Instant::now();
                            m.on_line(&line).await
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::info!(%peer, "closing: {e}");
                            closing = true;
                            break;
                        }
                    }
                }
                if admitted.in_setup() && m.server.is_subscribed() && m.server.authorized_workers().next().is_some() {
                    admitted.setup_done();
                }
                if !flush(&mut wr, &mut m.out, write_timeout).await || closing {
                    break;
                }
            }
            why = admitted.setup_expired() => {
                tracing::info!(%peer, "closing: {why} (subscribe and authorize)");
                break;
            }
            u = updates.recv() => {
                match u {
                    Ok(MinerUpdate::Notify(n)) => m.on_notify(&n),
                    Ok(MinerUpdate::UpstreamTarget(t)) => m.on_upstream_target(t),
                    Ok(MinerUpdate::VersionRolling(allowed)) => m.on_version_rolling(allowed),
                    Err(broadcast::error::RecvError::Lagged(_)) => m.catch_up(),
                    Err(broadcast::error::RecvError::Closed) => break,
                }
                if !flush(&mut wr, &mut m.out, write_timeout).await { break }
            }
            a = answers.recv() => {
                if let Some(a) = a { m.on_answer(a) }
                if !flush(&mut wr, &mut m.out, write_timeout).await { break }
            }
            _ = tick.tick() => {
                if idle_timeout.is_some_and(|t| last_line.elapsed() >= t) {
                    admitted.gate().stats().idle_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%peer, "closing: no line received for idle_timeout_sec");
                    break;
                }
                m.retarget();
                if !flush(&mut wr, &mut m.out, write_timeout).await { break }
            }
        }
    }
    m.release_workers();
    let _ = lock(&shared.ids).release(&range);
}

/// Nothing is read before an upstream channel is open: what the miner sent waits in the
/// socket and is answered in order once there is work (never answered with no channel).
/// False when the miner was evicted (or the translator stops) meanwhile.
async fn wait_for_upstream(shared: &Shared, admitted: &mut Admitted) -> bool {
    let mut up = shared.up.subscribe();
    tokio::select! {
        r = up.wait_for(|u| *u) => r.is_ok(),
        // While no upstream is open only eviction applies; the setup deadline starts after.
        _ = evicted(admitted) => false,
    }
}

impl<'a> Miner<'a> {
    /// A miner on extranonce range `range`, at the policy's first difficulty, with the
    /// current job and upstream target.
    fn new(
        shared: &'a Shared,
        peer: std::net::SocketAddr,
        range: &ExtranonceRange,
        reply: mpsc::Sender<Answer>,
    ) -> Miner<'a> {
        let (version_rolling, current, upstream_target) = {
            let st = lock(&shared.state);
            (
                st.link.as_ref().is_none_or(|l| l.version_rolling),
                st.current.clone(),
                st.upstream_target,
            )
        };
        let dc = &shared.cfg.downstream_difficulty_config;
        let policy = Policy {
            floor: difficulty_for(dc.min_individual_miner_hashrate, dc.shares_per_minute),
            ceiling: None,
            power_of_two: dc.difficulty_power_of_two,
            miner_minimum: None,
        };
        let mut server = Server::new(ServerConfig {
            extranonce1: range.prefix().to_vec(),
            extranonce2_size: range.rollable(),
            initial_difficulty: policy.apply(policy.floor),
            version_rolling_mask: version_mask(version_rolling),
            max_jobs: MAX_JOBS,
            max_workers: shared.cfg.max_workers_per_connection,
            ..ServerConfig::default()
        });
        if let Some(n) = current {
            // Kept for the subscribe answer, which sends it.
            server.notify((*n).clone());
        }
        let mut m = Miner {
            shared,
            peer,
            server,
            // Monotonic: a wall clock set back or forward must not make vardiff jump.
            vardiff: Vardiff::new(
                dc.shares_per_minute,
                dc.min_individual_miner_hashrate,
                monotonic_ms(),
            ),
            policy,
            suggested: false,
            workers: Vec::new(),
            reply,
            out: String::new(),
        };
        if let Some(t) = upstream_target {
            m.on_upstream_target(t);
            m.out.clear();
        }
        m
    }

    /// Updates were missed (the broadcast lagged): catch up with what they said.
    fn catch_up(&mut self) {
        let (cur, t, rolling) = {
            let st = lock(&self.shared.state);
            (
                st.current.clone(),
                st.upstream_target,
                st.link.as_ref().map(|l| l.version_rolling),
            )
        };
        if let Some(t) = t {
            self.on_upstream_target(t);
        }
        if let Some(r) = rolling {
            self.on_version_rolling(r);
        }
        if let Some(n) = cur {
            let mut n = (*n).clone();
            n.clean_jobs = true;
            self.on_notify(&n);
        }
    }

    /// The connection closed: its workers leave the metrics and their difficulty starts to
    /// expire.
    fn release_workers(&self) {
        let now = Instant::now();
        for w in &self.workers {
            if w.listed {
                self.shared.registry.worker_down(&w.key, now);
            }
            if w.remembered {
                lock(&self.shared.last_difficulty).release(&w.key.worker, now);
            }
        }
    }
}

/// Write what is queued; false when the miner is gone, or did not read it within
/// `write_timeout` (a miner that stops reading is closed, never waited on).
async fn flush(wr: &mut OwnedWriteHalf, out: &mut String, write_timeout: Duration) -> bool {
    if out.is_empty() {
        return true;
    }
    let ok = match tokio::time::timeout(write_timeout, wr.write_all(out.as_bytes())).await {
        Ok(r) => r.is_ok(),
        Err(_) => {
            tracing::info!("closing a miner that did not read for {write_timeout:?}");
            false
        }
    };
    out.clear();
    ok
}

/// Completes when the connection's setup slot went to a newer connection.
async fn evicted(admitted: &mut Admitted) {
    if admitted.setup_expired().await == SetupExpiry::Timeout {
        // The deadline is not in force yet (it restarts when an upstream is up).
        std::future::pending::<()>().await;
    }
}

impl Miner<'_> {
    fn key(&self, worker: &str) -> WorkerKey {
        WorkerKey {
            worker: worker.to_string(),
            address: self.peer,
        }
    }

    /// A worker name authorized (the Sv1 server caps how many per connection).
    fn on_authorized(&mut self, worker: String) {
        let key = self.key(&worker);
        if self.workers.iter().any(|w| w.key == key) {
            return; // authorized again: nothing new to keep
        }
        // A miner that comes back gets its last difficulty at once (unless it suggested one).
        let current = self.server.difficulty();
        let (remembered, last) = {
            let mut map = lock(&self.shared.last_difficulty);
            let mut fresh = false;
            let held = map.hold(worker.clone(), || {
                fresh = true;
                current
            });
            (held.is_some(), held.filter(|_| !fresh).map(|d| *d))
        };
        let listed = self
            .shared
            .registry
            .worker_up(key.clone(), current, Instant::now());
        self.workers.push(HeldWorker {
            key,
            listed,
            remembered,
        });
        if let Some(d) = last.filter(|_| !self.suggested) {
            self.restart_at(d);
        }
        self.record_difficulty(self.server.difficulty());
    }

    fn on_notify(&mut self, n: &sv1_api::Notify) {
        let line = self.server.notify(n.clone());
        if self.server.is_subscribed() {
            self.out.push_str(&line);
        }
    }

    fn on_upstream_target(&mut self, t: target::Target) {
        self.server.set_forward_target(Some(t));
        self.policy.ceiling = Some(target::difficulty(&t));
        let d = self.policy.apply(self.server.difficulty());
        if d < self.server.difficulty() {
            self.set_difficulty(d);
        }
    }

    /// A new upstream link allows version rolling, or not: miners that negotiated rolling are
    /// told their new mask with mining.set_version_mask.
    fn on_version_rolling(&mut self, allowed: bool) {
        if let Some(line) = self.server.set_version_rolling_mask(version_mask(allowed)) {
            tracing::debug!(peer = %self.peer, allowed, "new version-rolling mask");
            self.out.push_str(&line);
        }
    }

    fn set_difficulty(&mut self, d: f64) {
        let line = self.server.set_difficulty(d);
        if self.server.is_subscribed() {
            self.out.push_str(&line);
        }
        // The server keeps to the miner's BIP310 minimum: record what it sent.
        self.record_difficulty(self.server.difficulty());
    }

    /// The metrics and the last difficulty of every worker name of this connection.
    fn record_difficulty(&self, d: f64) {
        for w in self.workers.iter().filter(|w| w.listed) {
            self.shared.registry.set_difficulty(&w.key, d);
        }
        let mut last = lock(&self.shared.last_difficulty);
        for w in self.workers.iter().filter(|w| w.remembered) {
            if let Some(v) = last.get_mut(&w.key.worker) {
                *v = d;
            }
        }
    }

    /// Start again from `wanted` (within the policy): the difficulty, vardiff's estimate and,
    /// so that a higher difficulty applies at once, the current job re-sent as clean.
    fn restart_at(&mut self, wanted: f64) {
        let d = self.policy.apply(wanted);
        if (d - self.server.difficulty()).abs() <= f64::EPSILON * d {
            return;
        }
        self.set_difficulty(d);
        let d = self.server.difficulty();
        let spm = self
            .shared
            .cfg
            .downstream_difficulty_config
            .shares_per_minute;
        self.vardiff
            .reset(d * 4_294_967_296.0 * spm / 60.0, monotonic_ms());
        if let Some(mut n) = self.server.current_job().cloned() {
            n.clean_jobs = true;
            self.on_notify(&n);
        }
    }

    /// Vardiff: a new difficulty when the share rate is off, within the policy.
    fn retarget(&mut self) {
        let current = target::from_difficulty(self.server.difficulty());
        let Some(t) = self.vardiff.poll(monotonic_ms(), &current) else {
            return;
        };
        let d = self.policy.apply(target::difficulty(&t));
        // A lower difficulty applies at once, a higher one from the next job (Sv1 custom).
        if (d - self.server.difficulty()).abs() > f64::EPSILON * d {
            self.set_difficulty(d);
        }
    }

    async fn on_line(&mut self, line: &str) {
        // For the nTime bound of shares; the Sv1 server reads no clock itself.
        self.server.set_now(unix_secs());
        let out = self.server.handle_line(line);
        for l in out.lines {
            self.out.push_str(&l);
        }
        for e in out.events {
            self.on_event(e).await;
        }
    }

    async fn on_event(&mut self, e: ServerEvent) {
        let stats = &self.shared.stats;
        match e {
            ServerEvent::Authorized { worker, .. } => self.on_authorized(worker),
            ServerEvent::TooManyWorkers { max_workers } => tracing::warn!(
                peer = %self.peer,
                "refusing worker names past max_workers_per_connection ({max_workers}) on this connection (logged once)"
            ),
            ServerEvent::Configured {
                minimum_difficulty: Some(m),
                ..
            } => {
                // BIP310: never below what the miner asked as minimum (the server has raised
                // its difficulty already; this rounds it when the policy rounds).
                self.policy.miner_minimum = Some(m);
                let d = self.policy.apply(self.server.difficulty());
                if d != self.server.difficulty() {
                    self.set_difficulty(d);
                }
            }
            ServerEvent::SuggestedDifficulty(d) => {
                // The miner starts at its suggestion, kept within the floor and the upstream's
                // difficulty. Deployed pools do the same with a suggestion outside their
                // bounds: they clamp it to their least (or greatest) difficulty and still
                // answer true, rather than refuse it.
                self.suggested = true;
                self.restart_at(d);
            }
            ServerEvent::ShareAccepted {
                worker,
                job_id,
                extranonce2,
                header,
                job_difficulty,
                held,
                ..
            } => {
                stats.shares_accepted.fetch_add(1, Ordering::Relaxed);
                self.vardiff.on_share();
                let key = self.key(&worker);
                self.shared.registry.share_sent(&key, job_difficulty);
                let Some(id) = held else {
                    self.shared
                        .registry
                        .share_accepted(&key, job_difficulty, Instant::now());
                    return;
                };
                self.forward(id, worker, &job_id, &extranonce2, &header, job_difficulty)
                    .await;
            }
            ServerEvent::ShareRejected { worker, reason, .. } => {
                stats.shares_rejected.fetch_add(1, Ordering::Relaxed);
                let key = self.key(&worker);
                self.shared
                    .registry
                    .share_sent(&key, self.server.difficulty());
                tracing::debug!(peer = %self.peer, %worker, "share rejected: {reason}");
            }
            ServerEvent::BadLine(e) => tracing::debug!(peer = %self.peer, "bad line: {e}"),
            _ => {}
        }
    }

    /// Send a share upstream; its answer comes back through `self.reply`.
    async fn forward(
        &mut self,
        id: sv1_api::Id,
        worker: String,
        job_id: &str,
        extranonce2: &[u8],
        header: &[u8; 80],
        difficulty: f64,
    ) {
        let key = u64::from_str_radix(job_id, 16).unwrap_or(0);
        let generation = key >> 32;
        let mut ours = self.server.extranonce1().to_vec();
        ours.extend_from_slice(extranonce2);
        let extranonce = lock(&self.shared.state)
            .link
            .as_ref()
            .filter(|l| l.generation == generation)
            .map(|l| l.split.upstream_extranonce(&ours));
        let Some(extranonce) = extranonce else {
            // Its upstream is gone, so is the job: say so instead of pretending.
            let (code, msg) = sv1_error("stale-share");
            let line = self.server.answer_held(id, Err((code, msg)));
            self.out.push_str(&line);
            return;
        };
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let submit = Submit {
            generation,
            job_id: key as u32,
            version: word(0),
            ntime: word(68),
            nonce: word(76),
            extranonce,
            route: Route {
                reply: self.reply.clone(),
                id,
                worker,
                difficulty,
            },
        };
        self.shared
            .stats
            .shares_forwarded
            .fetch_add(1, Ordering::Relaxed);
        // Waits when the upstream is saturated: back-pressure on this miner only.
        if let Err(e) = self
            .shared
            .upstream
            .send(UpstreamCommand::Submit(submit))
            .await
        {
            if let UpstreamCommand::Submit(s) = e.0 {
                let (code, msg) = sv1_error("stale-share");
                let line = self.server.answer_held(s.route.id, Err((code, msg)));
                self.out.push_str(&line);
            }
        }
    }

    fn on_answer(&mut self, a: Answer) {
        let key = self.key(&a.worker);
        let line = match &a.result {
            Ok(()) => {
                self.shared
                    .registry
                    .share_accepted(&key, a.difficulty, Instant::now());
                self.server.answer_held(a.id, Ok(()))
            }
            Err(code) => {
                tracing::debug!(peer = %self.peer, worker = %a.worker, "pool refused a share: {code}");
                self.server.answer_held(a.id, Err(sv1_error(code)))
            }
        };
        self.out.push_str(&line);
    }
}
