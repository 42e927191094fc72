//! One Sv1 miner: its [`sv1_api::server::Server`], its vardiff, and the road of its shares to
//! the upstream and back.

use crate::metrics::WorkerKey;
use crate::{Answer, MinerUpdate, Route, Shared};
use roles_logic_sv2::target;
use roles_logic_sv2::vardiff::Vardiff;
use roles_utils::downstream::{Admitted, SetupExpiry};
use roles_utils::upstream::{Submit, UpstreamCommand};
use roles_utils::{lock, now_ms};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::{codes, LineReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};

/// BIP320's version bits: what miners may roll when the upstream allows rolling.
const BIP320_MASK: u32 = 0x1fff_e000;
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

struct Miner<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    server: Server,
    vardiff: Vardiff,
    /// Least difficulty (the configured minimum hashrate's).
    floor: f64,
    /// Most difficulty: the upstream's, so nothing the pool would credit is dropped here.
    ceiling: Option<f64>,
    workers: Vec<WorkerKey>,
    reply: mpsc::Sender<Answer>,
    out: String,
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
    // Nothing is read before an upstream channel is open: what the miner sent waits in the
    // socket and is answered in order once there is work (never answered with no channel).
    let mut up = shared.up.subscribe();
    tokio::select! {
        r = up.wait_for(|u| *u) => if r.is_err() { return },
        // While no upstream is open only eviction applies; the deadline starts below.
        _ = evicted(&mut admitted) => {
            let _ = lock(&shared.ids).release(&range);
            return;
        }
    }
    admitted.restart_setup_deadline();
    let idle_timeout = admitted.limits().idle_timeout();
    let write_timeout = admitted.limits().write_timeout();
    let mut last_line = tokio::time::Instant::now();
    let mut updates = shared.updates.subscribe();
    let (version_rolling, current, upstream_target) = {
        let st = lock(&shared.state);
        (
            st.link.as_ref().is_none_or(|l| l.version_rolling),
            st.current.clone(),
            st.upstream_target,
        )
    };
    let dc = &shared.cfg.downstream_difficulty_config;
    let floor = difficulty_for(dc.min_individual_miner_hashrate, dc.shares_per_minute);
    let mut server = Server::new(ServerConfig {
        extranonce1: range.prefix().to_vec(),
        extranonce2_size: range.rollable(),
        initial_difficulty: floor,
        version_rolling_mask: if version_rolling { BIP320_MASK } else { 0 },
        max_jobs: MAX_JOBS,
    });
    if let Some(n) = current {
        // Kept for the subscribe answer, which sends it.
        server.notify((*n).clone());
    }
    let (reply, mut answers) = mpsc::channel(64);
    let mut m = Miner {
        shared,
        peer,
        server,
        vardiff: Vardiff::new(
            dc.shares_per_minute,
            dc.min_individual_miner_hashrate,
            now_ms(),
        ),
        floor,
        ceiling: None,
        workers: Vec::new(),
        reply,
        out: String::new(),
    };
    if let Some(t) = upstream_target {
        m.on_upstream_target(t);
        m.out.clear();
    }
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
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let cur = lock(&shared.state).current.clone();
                        if let Some(n) = cur {
                            let mut n = (*n).clone();
                            n.clean_jobs = true;
                            m.on_notify(&n);
                        }
                    }
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
    for k in &m.workers {
        shared.registry.worker_down(k);
    }
    let _ = lock(&shared.ids).release(&range);
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

    fn on_notify(&mut self, n: &sv1_api::Notify) {
        let line = self.server.notify(n.clone());
        if self.server.is_subscribed() {
            self.out.push_str(&line);
        }
    }

    fn on_upstream_target(&mut self, t: target::Target) {
        self.server.set_forward_target(Some(t));
        let ceiling = target::difficulty(&t);
        self.ceiling = Some(ceiling);
        if self.server.difficulty() > ceiling {
            self.set_difficulty(ceiling);
        }
    }

    fn set_difficulty(&mut self, d: f64) {
        let line = self.server.set_difficulty(d);
        if self.server.is_subscribed() {
            self.out.push_str(&line);
        }
        for k in &self.workers {
            self.shared.registry.set_difficulty(k, d);
            lock(&self.shared.last_difficulty).insert(k.worker.clone(), d);
        }
    }

    /// Vardiff: a new difficulty when the share rate is off, between the floor and the
    /// upstream's difficulty.
    fn retarget(&mut self) {
        let current = target::from_difficulty(self.server.difficulty());
        let Some(t) = self.vardiff.poll(now_ms(), &current) else {
            return;
        };
        let mut d = target::difficulty(&t).max(self.floor);
        if let Some(c) = self.ceiling {
            d = d.min(c);
        }
        // A lower difficulty applies at once, a higher one from the next job (Sv1 custom).
        if (d - self.server.difficulty()).abs() > f64::EPSILON * d {
            self.set_difficulty(d);
        }
    }

    async fn on_line(&mut self, line: &str) {
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
            ServerEvent::Authorized { worker, .. } => {
                let key = self.key(&worker);
                if !self.workers.contains(&key) {
                    self.workers.push(key.clone());
                }
                // A miner that comes back gets its last difficulty at once.
                let last = lock(&self.shared.last_difficulty).get(&worker).copied();
                let d = match last {
                    Some(d) if (d - self.server.difficulty()).abs() > f64::EPSILON * d => {
                        let d = self.ceiling.map_or(d, |c| d.min(c));
                        self.set_difficulty(d);
                        let hashrate = d
                            * 4_294_967_296.0
                            * self
                                .shared
                                .cfg
                                .downstream_difficulty_config
                                .shares_per_minute
                            / 60.0;
                        self.vardiff.reset(hashrate, now_ms());
                        if let Some(n) = self.server.current_job().cloned() {
                            let mut n = n;
                            n.clean_jobs = true;
                            self.on_notify(&n);
                        }
                        d
                    }
                    _ => self.server.difficulty(),
                };
                self.shared.registry.worker_up(key, d);
                lock(&self.shared.last_difficulty).insert(worker, d);
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
                    self.shared.registry.share_accepted(&key, job_difficulty);
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
                self.shared.registry.share_accepted(&key, a.difficulty);
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
