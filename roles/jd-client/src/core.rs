//! The JD client's core: one task that owns the templates, the upstream link (pool channel
//! and JDS), the jobs it declared, the shares waiting for a job's acknowledgement, and the
//! fallback policy. Everything arrives as an [`Event`] or a frame; the sans-IO sessions do
//! the protocol work.

use crate::tp::{TpCommand, TpEvent};
use crate::upstream::{establish, Link, LinkRequest};
use crate::{Event, JdEvent, Route, Shared};
use binary_sv2::{Seq0255, B0255, B032, B064K, U256};
use job_declaration_sv2::PushSolution;
use mining_sv2::SetCustomMiningJob;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::job_declaration::JdcEvent;
use roles_logic_sv2::mining_client::{ClientEvent, Share, ShareRefusal};
use roles_logic_sv2::mining_server::PrevHash;
use roles_utils::downstream::SessionCommand;
use roles_utils::upstream::ExtranonceSplit;
use roles_utils::{lock, now, send_without_waiting, sleep_until_monotonic};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use template_distribution_sv2::{NewTemplate, SetNewPrevHash, SubmitSolution};
use tokio::sync::mpsc;

/// Where mining goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mining {
    /// On upstream number `index` of `[[upstreams]]`.
    Pool { index: usize, endpoint: String },
    /// Solo, on `coinbase_reward_script`.
    Solo,
}

/// Shares held per job until the pool acknowledges it, at most.
const MAX_CACHED_SHARES: usize = 1024;
/// Templates kept (the tip's and those after it), at most.
const MAX_TEMPLATES: usize = 64;

#[derive(Debug)]
enum JobState {
    /// Waiting for the tip, a token or the transaction data.
    Waiting,
    Declaring,
    /// SetCustomMiningJob sent.
    Setting,
    /// The pool's job id for it.
    Accepted(u32),
    /// Stale or refused: shares on it are refused.
    Dead,
    /// Mined solo: nothing upstream.
    Solo,
}

#[derive(Debug)]
struct CachedShare {
    nonce: u32,
    ntime: u32,
    version: u32,
    extranonce: Vec<u8>,
    route: Route,
}

struct Job {
    tp_id: u64,
    /// The job with the whole extranonce (the pool's prefix included).
    base: JobTemplate,
    state: JobState,
    declared: bool,
    cached: Vec<CachedShare>,
}

/// The template provider's current tip.
#[derive(Debug, Clone, Copy)]
struct Tip {
    template_id: u64,
    /// Header byte order.
    prev_hash: [u8; 32],
    min_ntime: u32,
    nbits: u32,
}

/// A template's transactions (serialized, in block order) and its excess data.
type TxData = (Arc<Vec<Vec<u8>>>, Vec<u8>);

struct Template {
    nt: NewTemplate<'static>,
    txs: Option<TxData>,
}

/// The core's state.
struct Core {
    shared: Arc<Shared>,
    full_template: bool,
    request: LinkRequest,
    link: Option<Link>,
    /// Upstream attempts go from this index; after the last, solo until a retry.
    next_index: usize,
    connecting: bool,
    retry_at: tokio::time::Instant,
    templates: BTreeMap<u64, Template>,
    tip: Option<Tip>,
    jobs: HashMap<u64, Job>,
    by_tp: HashMap<u64, u64>,
    next_key: u64,
    declarations: HashMap<u32, u64>,
    custom_requests: HashMap<u32, u64>,
    solo_script: bitcoin::ScriptBuf,
    tp: mpsc::Sender<TpCommand>,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut events: mpsc::Receiver<Event>,
    tp: mpsc::Sender<TpCommand>,
) {
    let cfg = &shared.cfg;
    let (Ok(solo_script), Ok(mode)) = (cfg.reward_script(), cfg.mode()) else {
        return; // checked when the config was read
    };
    let mut core = Core {
        full_template: mode == crate::config::Mode::FullTemplate,
        request: LinkRequest {
            full_template: mode == crate::config::Mode::FullTemplate,
            min_extranonce_size: cfg.min_extranonce_size,
            connect_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(30),
        },
        link: None,
        next_index: 0,
        connecting: false,
        retry_at: tokio::time::Instant::now(),
        templates: BTreeMap::new(),
        tip: None,
        jobs: HashMap::new(),
        by_tp: HashMap::new(),
        next_key: 1,
        declarations: HashMap::new(),
        custom_requests: HashMap::new(),
        solo_script,
        tp,
        shared: shared.clone(),
    };
    core.announce();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let timer =
            core.link
                .as_ref()
                .and_then(|l| match (l.pool.poll_timeout(), l.jds.poll_timeout()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
        let r = tokio::select! {
            e = events.recv() => match e {
                None => return,
                Some(e) => core.on_event(e).await,
            },
            f = recv(core.link.as_ref().map(|l| &l.pool_conn)) => core.on_pool_frame(f),
            f = recv(core.link.as_ref().map(|l| &l.jds_conn)) => core.on_jds_frame(f),
            _ = sleep_until_monotonic(timer) => {
                if let Some(l) = core.link.as_mut() {
                    l.pool.handle_timeout(now());
                    l.jds.handle_timeout(now());
                }
                Ok(())
            }
            _ = tick.tick() => {
                core.maybe_connect();
                Ok(())
            }
        };
        let r = match r {
            Ok(()) => core.drain().await,
            Err(e) => Err(e),
        };
        if let Err(reason) = r {
            core.fall_back(&reason);
        }
    }
}

/// The next frame of `conn`, or never when there is none.
async fn recv(
    conn: Option<&network_helpers_sv2::Connection>,
) -> Option<network_helpers_sv2::OwnedFrame> {
    match conn {
        Some(c) => c.receiver.recv().await.ok(),
        None => std::future::pending().await,
    }
}

impl Core {
    fn mining(&self) -> Mining {
        match &self.link {
            Some(l) => Mining::Pool {
                index: l.index,
                endpoint: l.endpoint.clone(),
            },
            None => Mining::Solo,
        }
    }

    fn announce(&self) {
        let m = self.mining();
        tracing::info!(?m, "mining");
        self.shared
            .stats
            .on_pool
            .store(self.link.is_some(), Ordering::Relaxed);
        let _ = self.shared.events.send(JdEvent::Mining(m));
    }

    async fn on_event(&mut self, e: Event) -> Result<(), String> {
        match e {
            Event::Tp(TpEvent::Template(t)) => self.on_template(t).await?,
            Event::Tp(TpEvent::Tip(p)) => self.on_tip(p)?,
            Event::Tp(TpEvent::TxData {
                template_id,
                transactions,
                excess,
            }) => {
                if let Some(t) = self.templates.get_mut(&template_id) {
                    t.txs = Some((transactions, excess));
                }
                if let Some(&key) = self.by_tp.get(&template_id) {
                    self.declare(key)?;
                }
            }
            // A new link, maybe to a restarted provider whose template ids start again: its
            // old templates and the jobs made of them go (their held shares are answered
            // stale); the provider sends its current template and tip at once.
            Event::Tp(TpEvent::Up) => {
                self.templates.clear();
                self.tip = None;
                self.rebuild();
            }
            Event::Tp(TpEvent::Down(reason)) => {
                tracing::warn!("template provider down: {reason}; mining the last templates")
            }
            Event::Forward {
                key,
                nonce,
                ntime,
                version,
                extranonce,
                route,
            } => self.forward(
                key,
                CachedShare {
                    nonce,
                    ntime,
                    version,
                    extranonce: extranonce.as_bytes().to_vec(),
                    route,
                },
            ),
            Event::Block {
                solution,
                user_identity,
            } => self.on_block(solution, user_identity),
            Event::Linked { index, result } => {
                self.connecting = false;
                match result {
                    Ok(link) => self.on_linked(*link),
                    Err(e) => {
                        tracing::warn!(index, "upstream: {e}");
                        if self.link.is_none() {
                            self.next_index = index + 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Start a connection attempt when one is due: the next upstream when there is no link,
    /// or the better ones every `retry_primary_sec` while on a fallback.
    fn maybe_connect(&mut self) {
        let n = self.shared.cfg.upstreams.len();
        if self.connecting || n == 0 || tokio::time::Instant::now() < self.retry_at {
            return;
        }
        let index = match &self.link {
            None if self.next_index < n => self.next_index,
            None => {
                // Every upstream failed: solo until the retry, then from the best again.
                self.next_index = 0;
                self.retry_at = tokio::time::Instant::now()
                    + Duration::from_secs(self.shared.cfg.retry_primary_sec.max(1));
                return;
            }
            Some(l) if l.index > 0 => {
                self.retry_at = tokio::time::Instant::now()
                    + Duration::from_secs(self.shared.cfg.retry_primary_sec.max(1));
                0
            }
            Some(_) => return,
        };
        self.connecting = true;
        let u = self.shared.cfg.upstreams[index].clone();
        let (tx, req) = (self.shared.events_tx.clone(), self.request.clone());
        tokio::spawn(async move {
            let result = establish(&u, index, &req).await.map(Box::new);
            let _ = tx.send(Event::Linked { index, result }).await;
        });
    }

    fn on_linked(&mut self, link: Link) {
        if self.link.as_ref().is_some_and(|l| l.index <= link.index) {
            return; // already on as good a link
        }
        if let Some(old) = self.link.take() {
            self.close_link(old, "a preferred upstream is back");
        }
        tracing::info!(endpoint = %link.endpoint, extranonce_size = link.extranonce_size, "upstream up: pool channel and job declaration server");
        let shrunk = lock(&self.shared.layout).follow(link.extranonce_size);
        if let Some(old) = shrunk {
            let reason = format!(
                "upstream {} grants {} extranonce bytes, fewer than the {old} downstreams were laid out in; they reconnect",
                link.endpoint, link.extranonce_size
            );
            tracing::warn!("{reason}");
            self.shared.feed.reconnect_all(&reason);
        }
        self.link = Some(link);
        self.next_index = 0;
        self.rebuild();
    }

    /// Drop the link: its unanswered shares and held shares are answered as refused.
    fn close_link(&mut self, mut l: Link, reason: &str) {
        tracing::warn!(endpoint = %l.endpoint, "leaving upstream: {reason}");
        l.pool.fail_all(ShareRefusal::Closed);
        while let Some(e) = l.pool.poll_event() {
            if let ClientEvent::ShareResult { route, result, .. } = e {
                self.answer(route, result.map_err(|r| r.error_code().to_string()));
            }
        }
        l.pool_conn.close();
        l.jds_conn.close();
    }

    /// The pool or the JDS failed us: use the next upstream, and solo meanwhile.
    fn fall_back(&mut self, reason: &str) {
        let Some(l) = self.link.take() else {
            return;
        };
        self.shared.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.next_index = l.index + 1;
        self.close_link(l, reason);
        self.rebuild();
    }

    /// Everything from the current templates again, for the current link (or solo): the
    /// old jobs' shares are refused, new jobs go to every downstream.
    fn rebuild(&mut self) {
        for (_, job) in self.jobs.drain() {
            for s in job.cached {
                let code = const_sv2::error_codes::STALE_SHARE.to_string();
                send_without_waiting(&s.route.reply.clone(), resolve(&s.route, Err(code)));
            }
        }
        self.by_tp.clear();
        self.declarations.clear();
        self.custom_requests.clear();
        self.shared.feed.clear();
        let feed = &self.shared.feed;
        match &self.link {
            Some(l) => {
                feed.set_version_rolling(l.version_rolling);
                feed.set_upstream_target(Some(l.target));
            }
            None => {
                feed.set_version_rolling(true);
                feed.set_upstream_target(None);
            }
        }
        self.announce();
        let Some(tip) = self.tip else { return };
        let ids: Vec<u64> = self
            .templates
            .range(tip.template_id..)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            // The tip's template goes out as a future job activated at once.
            let key = self.make_job(id, id == tip.template_id);
            if id == tip.template_id {
                if let Some(key) = key {
                    self.activate(key, &tip);
                }
            }
        }
        if self.full_template && self.link.is_some() {
            self.request_missing_transaction_data(tip.template_id);
        }
        let keys: Vec<u64> = self.jobs.keys().copied().collect();
        for key in keys {
            let _ = self.declare(key);
        }
    }

    /// Templates from `from` on that came while there was no link have no transaction data
    /// yet (it is asked for only with a link): ask now, or their jobs are never declared.
    fn request_missing_transaction_data(&mut self, from: u64) {
        for (&id, t) in self.templates.range(from..) {
            if t.txs.is_none()
                && self
                    .tp
                    .try_send(TpCommand::RequestTransactionData(id))
                    .is_err()
            {
                tracing::warn!(
                    template_id = id,
                    "template provider link busy: transaction data not asked for"
                );
            }
        }
    }

    async fn on_template(&mut self, nt: NewTemplate<'static>) -> Result<(), String> {
        self.shared.stats.templates.fetch_add(1, Ordering::Relaxed);
        let id = nt.template_id;
        let future = nt.future_template;
        if self.full_template && self.link.is_some() {
            let _ = self.tp.send(TpCommand::RequestTransactionData(id)).await;
        }
        self.templates.insert(id, Template { nt, txs: None });
        while self.templates.len() > MAX_TEMPLATES {
            self.templates.pop_first();
        }
        let key = self.make_job(id, future);
        if let Some(key) = key {
            if !future {
                self.declare(key)?;
            }
        }
        Ok(())
    }

    fn on_tip(&mut self, p: SetNewPrevHash) -> Result<(), String> {
        let p = Tip {
            template_id: p.template_id,
            prev_hash: p.prev_hash.0,
            min_ntime: p.header_timestamp,
            nbits: p.n_bits,
        };
        self.tip = Some(p);
        // Templates before the tip's can no longer be mined.
        self.templates.retain(|&id, _| id >= p.template_id);
        let gone: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.tp_id < p.template_id)
            .map(|(&k, _)| k)
            .collect();
        for k in gone {
            if let Some(job) = self.jobs.remove(&k) {
                self.by_tp.remove(&job.tp_id);
                for s in job.cached {
                    let code = const_sv2::error_codes::STALE_SHARE.to_string();
                    self.answer(s.route, Err(code));
                }
            }
        }
        let key = match self.by_tp.get(&p.template_id) {
            Some(&k) => Some(k),
            None => self.make_job(p.template_id, true),
        };
        let Some(key) = key else {
            tracing::warn!(
                template_id = p.template_id,
                "a tip for a template never seen"
            );
            return Ok(());
        };
        self.activate(key, &p);
        self.declare(key)
    }

    fn activate(&mut self, key: u64, p: &Tip) {
        let prev = PrevHash {
            template_id: key,
            prev_hash: p.prev_hash,
            min_ntime: p.min_ntime,
            nbits: p.nbits,
        };
        if !self.shared.feed.set_new_prev_hash(prev) {
            tracing::warn!(key, "the tip's job is not a future job");
        }
    }

    /// Build the job of template `id` for the current link (or solo) and give it to the
    /// downstreams. `future`: it waits for a tip.
    fn make_job(&mut self, id: u64, future: bool) -> Option<u64> {
        let t = self.templates.get(&id)?;
        let ours = lock(&self.shared.layout).total();
        let tag = self.shared.cfg.jdc_signature.as_bytes().to_vec();
        let (script, extra, full_len, fixed) = match &self.link {
            Some(l) => {
                let full = l.extranonce_prefix.len() + l.extranonce_size;
                let split = ExtranonceSplit::new(&l.extranonce_prefix, full, ours)?;
                (
                    l.outputs[0].script_pubkey.clone(),
                    l.outputs[1..].to_vec(),
                    full,
                    split.job_prefix,
                )
            }
            None => (self.solo_script.clone(), vec![], ours, vec![]),
        };
        let cfg = CoinbaseConfig {
            payout_outputs: vec![PayoutOutput {
                script_pubkey: script,
                weight: 1,
            }],
            pool_tag: tag,
            extranonce_len: full_len,
        };
        let mut nt = t.nt.clone();
        nt.future_template = future;
        let base = match JobTemplate::from_template_with_outputs(&nt, &cfg, &extra) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(template_id = id, "cannot build a job: {e}");
                return None;
            }
        };
        let key = self.next_key;
        self.next_key += 1;
        let mut downstream = match base.with_fixed_extranonce(&fixed) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("{e}");
                return None;
            }
        };
        downstream.template_id = key;
        downstream.future = future;
        self.shared.feed.new_template(Arc::new(downstream));
        let state = if self.link.is_some() {
            JobState::Waiting
        } else {
            JobState::Solo
        };
        self.jobs.insert(
            key,
            Job {
                tp_id: id,
                base,
                state,
                declared: false,
                cached: Vec::new(),
            },
        );
        self.by_tp.insert(id, key);
        Some(key)
    }

    /// Move job `key` towards the pool as far as it can go now.
    fn declare(&mut self, key: u64) -> Result<(), String> {
        let (Some(link), Some(tip)) = (self.link.as_mut(), self.tip) else {
            return Ok(());
        };
        let Some(job) = self.jobs.get_mut(&key) else {
            return Ok(());
        };
        // Only jobs on the tip: the tip's own, or later templates on it.
        if !matches!(job.state, JobState::Waiting) || job.tp_id < tip.template_id {
            return Ok(());
        }
        if !self.full_template {
            let Some(token) = link.jds.take_token() else {
                return Ok(()); // declared when a token arrives
            };
            return self.set_custom(key, token.token);
        }
        let Some((txs, excess)) = self.templates.get(&job.tp_id).and_then(|t| t.txs.clone()) else {
            return Ok(()); // declared when the transaction data arrives
        };
        let Some(token) = link.jds.take_token() else {
            return Ok(());
        };
        let (prefix, suffix) = job.base.full_coinbase_parts().map_err(|e| e.to_string())?;
        let id = link
            .jds
            .declare(
                token.token,
                key,
                job.base.version,
                prefix,
                suffix,
                txs,
                excess,
            )
            .map_err(|e| format!("cannot declare: {e}"))?;
        job.state = JobState::Declaring;
        self.declarations.insert(id, key);
        self.shared
            .stats
            .jobs_declared
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Tell the pool about job `key` with `token`.
    fn set_custom(&mut self, key: u64, token: Vec<u8>) -> Result<(), String> {
        let (Some(link), Some(tip)) = (self.link.as_mut(), self.tip) else {
            return Ok(());
        };
        let Some(job) = self.jobs.get_mut(&key) else {
            return Ok(());
        };
        let (v, seq, outputs, lock) = job.base.coinbase_fields().map_err(|e| e.to_string())?;
        let err = |e: binary_sv2::EncodeError| e.to_string();
        let m = SetCustomMiningJob {
            channel_id: link.channel_id,
            request_id: 0,
            mining_job_token: B0255::new(token).map_err(err)?,
            version: job.base.version,
            prev_hash: U256(tip.prev_hash),
            min_ntime: tip.min_ntime,
            nbits: tip.nbits,
            coinbase_tx_version: v,
            coinbase_prefix: B0255::new(job.base.script_sig_prefix().to_vec()).map_err(err)?,
            coinbase_tx_input_n_sequence: seq,
            coinbase_tx_outputs: B064K::new(outputs).map_err(err)?,
            coinbase_tx_locktime: lock,
            merkle_path: Seq0255::from_items(job.base.merkle_path.iter().map(|h| U256(*h)))
                .map_err(err)?,
        };
        let id = link
            .pool
            .set_custom_mining_job(m)
            .map_err(|e| format!("SetCustomMiningJob: {e}"))?;
        job.state = JobState::Setting;
        self.custom_requests.insert(id, key);
        Ok(())
    }

    /// A downstream share for the pool: sent on the job's custom job, or held until the pool
    /// acknowledges it, or refused when the job cannot reach the pool.
    fn forward(&mut self, key: u64, s: CachedShare) {
        let Some(job) = self.jobs.get_mut(&key) else {
            return self.answer(s.route, Err(const_sv2::error_codes::STALE_SHARE.into()));
        };
        match job.state {
            JobState::Accepted(job_id) => self.submit(job_id, s),
            JobState::Waiting | JobState::Declaring | JobState::Setting
                if job.cached.len() < MAX_CACHED_SHARES =>
            {
                job.cached.push(s)
            }
            _ => self.answer(s.route, Err(const_sv2::error_codes::STALE_SHARE.into())),
        }
    }

    fn submit(&mut self, job_id: u32, s: CachedShare) {
        let ours = lock(&self.shared.layout).total();
        let Some(l) = self.link.as_mut() else {
            return self.answer(s.route, Err(const_sv2::error_codes::STALE_SHARE.into()));
        };
        let full = l.extranonce_prefix.len() + l.extranonce_size;
        let extranonce = match ExtranonceSplit::new(&l.extranonce_prefix, full, ours) {
            Some(split) => split.upstream_extranonce(&s.extranonce),
            None => return self.answer(s.route, Err(const_sv2::error_codes::STALE_SHARE.into())),
        };
        let share = Share {
            channel_id: l.channel_id,
            job_id,
            nonce: s.nonce,
            ntime: s.ntime,
            version: s.version,
            extranonce: Some(&extranonce),
        };
        // Its answer comes back as a ShareResult event (also when refused here).
        l.pool.submit(share, s.route);
    }

    fn answer(&self, route: Route, result: Result<(), String>) {
        let counter = if result.is_ok() {
            &self.shared.stats.upstream_accepted
        } else {
            &self.shared.stats.upstream_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
        send_without_waiting(&route.reply.clone(), resolve(&route, result));
    }

    fn on_block(&mut self, b: roles_logic_sv2::mining_server::BlockSolution, user: Arc<str>) {
        self.shared
            .stats
            .blocks_found
            .fetch_add(1, Ordering::Relaxed);
        // Displayed big-endian, as nodes and explorers show it.
        let hash = <bitcoin::BlockHash as bitcoin::hashes::Hash>::from_byte_array(b.block_hash)
            .to_string();
        let Some(job) = self.jobs.get(&b.template_id) else {
            tracing::error!(%hash, "a block on a job no longer held");
            return;
        };
        let declared = job.declared;
        let solo = matches!(job.state, JobState::Solo);
        if declared {
            self.shared
                .stats
                .blocks_on_declared_jobs
                .fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(%hash, declared, solo, "block found");
        let Ok(coinbase_tx) = B064K::new(b.coinbase_tx.clone()) else {
            return;
        };
        let _ = self.tp.try_send(TpCommand::SubmitSolution(SubmitSolution {
            template_id: job.tp_id,
            version: b.version,
            header_timestamp: b.header_timestamp,
            header_nonce: b.header_nonce,
            coinbase_tx,
        }));
        // Full-template: the JDS has the transactions and propagates the block too.
        if let (Some(l), true, Some(tip)) = (self.link.as_mut(), declared, self.tip) {
            let ours = lock(&self.shared.layout).total();
            let full = l.extranonce_prefix.len() + l.extranonce_size;
            if let Some(split) = ExtranonceSplit::new(&l.extranonce_prefix, full, ours) {
                let mut extranonce = split.job_prefix.clone();
                extranonce.extend_from_slice(b.extranonce.as_bytes());
                if let Ok(extranonce) = B032::new(extranonce) {
                    l.jds.push_solution(PushSolution {
                        extranonce,
                        prev_hash: U256(tip.prev_hash),
                        nonce: b.header_nonce,
                        ntime: b.header_timestamp,
                        nbits: tip.nbits,
                        version: b.version,
                    });
                }
            }
        }
        let _ = self.shared.events.send(JdEvent::BlockFound {
            hash,
            declared,
            solo,
            user_identity: user,
        });
    }

    fn on_pool_frame(&mut self, f: Option<network_helpers_sv2::OwnedFrame>) -> Result<(), String> {
        let Some(l) = self.link.as_mut() else {
            return Ok(());
        };
        let f = f.ok_or("the pool closed the connection")?;
        let h = f.header();
        l.pool
            .handle_frame(h.extension_type(), h.msg_type(), f.payload(), now())
            .map_err(|e| format!("pool: {e}"))
    }

    fn on_jds_frame(&mut self, f: Option<network_helpers_sv2::OwnedFrame>) -> Result<(), String> {
        let Some(l) = self.link.as_mut() else {
            return Ok(());
        };
        let f = f.ok_or("the job declaration server closed the connection")?;
        let h = f.header();
        l.jds
            .handle_frame(h.extension_type(), h.msg_type(), f.payload(), now())
            .map_err(|e| format!("JDS: {e}"))
    }

    /// Act on the sessions' events, then send what they queued. `Err` means fall back.
    async fn drain(&mut self) -> Result<(), String> {
        loop {
            let Some(l) = self.link.as_mut() else {
                return Ok(());
            };
            let pool_event = l.pool.poll_event();
            let jds_event = if pool_event.is_none() {
                l.jds.poll_event()
            } else {
                None
            };
            match (pool_event, jds_event) {
                (Some(e), _) => self.on_pool_event(e)?,
                (None, Some(e)) => self.on_jds_event(e)?,
                (None, None) => break,
            }
        }
        let Some(l) = self.link.as_mut() else {
            return Ok(());
        };
        while let Some(m) = l.pool.poll_message() {
            crate::send_frame(&l.pool_conn, m).await?;
        }
        while let Some(m) = l.jds.poll_message() {
            crate::send_frame(&l.jds_conn, m).await?;
        }
        Ok(())
    }

    fn on_pool_event(&mut self, e: ClientEvent<Route>) -> Result<(), String> {
        match e {
            ClientEvent::ShareResult { route, result, .. } => {
                self.answer(route, result.map_err(|r| r.error_code().to_string()));
            }
            ClientEvent::CustomJobAccepted {
                request_id, job_id, ..
            } => {
                let Some(key) = self.custom_requests.remove(&request_id) else {
                    return Ok(());
                };
                self.shared
                    .stats
                    .custom_jobs_accepted
                    .fetch_add(1, Ordering::Relaxed);
                let endpoint = self
                    .link
                    .as_ref()
                    .map(|l| l.endpoint.clone())
                    .unwrap_or_default();
                let _ = self
                    .shared
                    .events
                    .send(JdEvent::CustomJobAccepted { endpoint, job_id });
                let full = self.full_template;
                let cached = match self.jobs.get_mut(&key) {
                    Some(job) => {
                        job.state = JobState::Accepted(job_id);
                        job.declared = full;
                        std::mem::take(&mut job.cached)
                    }
                    None => Vec::new(),
                };
                for s in cached {
                    self.submit(job_id, s);
                }
            }
            ClientEvent::CustomJobRefused {
                request_id,
                error_code,
                ..
            } => {
                let key = self.custom_requests.remove(&request_id);
                self.kill(key);
                // A job on a tip that moved is only stale; anything else is the pool
                // refusing our work.
                if !error_code.ends_with("prev_hash") {
                    return Err(format!("the pool refused a custom job: {error_code}"));
                }
            }
            ClientEvent::ChannelClosed { reason_code, .. } => {
                return Err(format!("the pool closed the channel: {reason_code}"));
            }
            ClientEvent::Reconnect { new_host, new_port } => {
                return Err(format!(
                    "the pool asked to reconnect to {new_host}:{new_port}"
                ));
            }
            ClientEvent::SetTarget { target, .. } => {
                if let Some(l) = self.link.as_mut() {
                    l.target = target;
                }
                self.shared.feed.set_upstream_target(Some(target));
            }
            _ => {}
        }
        Ok(())
    }

    fn on_jds_event(&mut self, e: JdcEvent) -> Result<(), String> {
        match e {
            JdcEvent::Declared {
                request_id, token, ..
            } => {
                if let Some(key) = self.declarations.remove(&request_id) {
                    self.set_custom(key, token)?;
                }
            }
            JdcEvent::DeclareRefused {
                request_id,
                error_code,
                ..
            } => {
                let key = self.declarations.remove(&request_id);
                self.kill(key);
                // A declaration for a height the JDS has passed is stale, not refused work.
                if !error_code.ends_with("coinbase_tx_prefix") {
                    return Err(format!("the JDS refused a declaration: {error_code}"));
                }
            }
            JdcEvent::Timeout { what } => {
                return Err(format!("the JDS did not answer {what}"));
            }
            JdcEvent::TokenReady => {
                let waiting: Vec<u64> = self
                    .jobs
                    .iter()
                    .filter(|(_, j)| matches!(j.state, JobState::Waiting))
                    .map(|(&k, _)| k)
                    .collect();
                for k in waiting {
                    self.declare(k)?;
                }
            }
            JdcEvent::ProvidedTransactions { count, .. } => {
                tracing::debug!(count, "provided missing transactions to the JDS");
            }
            JdcEvent::SetupDone => {}
        }
        Ok(())
    }

    /// A job that will not reach the pool: its held shares are refused.
    fn kill(&mut self, key: Option<u64>) {
        let Some(job) = key.and_then(|k| self.jobs.get_mut(&k)) else {
            return;
        };
        job.state = JobState::Dead;
        for s in std::mem::take(&mut job.cached) {
            self.answer(s.route, Err(const_sv2::error_codes::STALE_SHARE.into()));
        }
    }
}

fn resolve(route: &Route, result: Result<(), String>) -> SessionCommand {
    SessionCommand::ResolveForwarded {
        channel_id: route.channel_id,
        sequence_number: route.sequence_number,
        difficulty: route.difficulty,
        result,
    }
}
