//! # translator_sv2
//!
//! The translator: Stratum V1 miners connect to it; it keeps one encrypted extended channel
//! to the best of its Sv2 upstreams (pools or proxies) and turns that channel's jobs into
//! `mining.notify`.
//!
//! * Extranonces: the upstream's extranonce prefix goes into `coinb1`, and each miner gets a
//!   3-byte extranonce1 of its own and `downstream_extranonce2_size` bytes to roll. A new
//!   upstream after failover therefore changes nothing the miner was told.
//! * Shares are checked here against each miner's difficulty (vardiff). Those that also meet
//!   the upstream target go upstream as `SubmitSharesExtended`, and the miner's answer waits
//!   for the pool's: a share the pool refuses (a job it has retired) is never reported
//!   accepted.
//! * Lines a miner sends before the first upstream channel opens stay unread in its socket and
//!   are answered as soon as it opens.
//! * Per-worker metrics in the Prometheus text format ([`metrics`]).
//! * Bounded per peer: a cap on worker names per connection (in the Sv1 server), fixed-size
//!   per-worker state, and what is kept about disconnected workers expires on a timer and is
//!   capped as a whole ([`expiring`]).
//! * Difficulty policy ([`difficulty`]): vardiff between a floor and the upstream's
//!   difficulty, optional powers of two, the miner's suggestion as a start and its BIP310
//!   minimum as a floor. After a failover to an upstream with other version-rolling rules,
//!   miners that negotiated rolling get `mining.set_version_mask`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = translator_sv2::config::TranslatorConfig::default_config();
//! let t = translator_sv2::Translator::start(cfg).await?;
//! println!("Sv1 miners connect to {}", t.local_addr());
//! # Ok(()) }
//! ```

pub mod config;
pub mod difficulty;
pub mod expiring;
pub mod metrics;
mod miner;

use config::{TranslatorConfig, MINER_ID_BYTES};
use expiring::ExpiringMap;
use metrics::Registry;
use mining_sv2::{NewExtendedMiningJob, SetNewPrevHash};
use roles_logic_sv2::extranonce::ExtranonceAllocator;
use roles_logic_sv2::target::Target;
use roles_utils::downstream::accept_loop;
use roles_utils::limits::Gate;
use roles_utils::upstream::{
    self, ChannelRequest, ExtranonceSplit, UpstreamCommand, UpstreamEvent,
};
pub use roles_utils::StartError;
use roles_utils::{lock, send_without_waiting};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sv1_api::Notify;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

/// Counters for tests and logs.
#[derive(Debug, Default)]
pub struct Stats {
    pub miners: AtomicUsize,
    /// Shares that passed the translator's checks.
    pub shares_accepted: AtomicU64,
    /// Shares the translator refused itself (never forwarded).
    pub shares_rejected: AtomicU64,
    pub shares_forwarded: AtomicU64,
    pub upstream_accepted: AtomicU64,
    pub upstream_rejected: AtomicU64,
    pub upstream_channels_opened: AtomicU64,
    pub upstream_up: AtomicBool,
}

/// The upstream channel as the miners' side needs it.
#[derive(Debug, Clone)]
struct Link {
    generation: u64,
    /// Its `job_prefix` ends every `coinb1`.
    split: ExtranonceSplit,
    version_rolling: bool,
}

#[derive(Debug, Default)]
struct JobState {
    link: Option<Link>,
    /// The current link's jobs, by upstream job id.
    jobs: BTreeMap<u32, NewExtendedMiningJob<'static>>,
    prev: Option<SetNewPrevHash>,
    /// The job miners mine now.
    current: Option<Arc<Notify>>,
    upstream_target: Option<Target>,
}

/// What every miner task hears about.
#[derive(Debug, Clone)]
enum MinerUpdate {
    Notify(Arc<Notify>),
    UpstreamTarget(Target),
    /// A new upstream link: whether it lets miners roll version bits.
    VersionRolling(bool),
}

/// Where the pool's answer to a forwarded share goes.
#[derive(Debug)]
struct Route {
    reply: mpsc::Sender<Answer>,
    id: sv1_api::Id,
    worker: String,
    difficulty: f64,
}

/// The pool's answer, for one miner task.
#[derive(Debug)]
struct Answer {
    id: sv1_api::Id,
    worker: String,
    difficulty: f64,
    result: Result<(), String>,
}

struct Shared {
    cfg: TranslatorConfig,
    state: Mutex<JobState>,
    updates: broadcast::Sender<MinerUpdate>,
    upstream: mpsc::Sender<UpstreamCommand<Route>>,
    /// Whether an upstream channel is open.
    up: watch::Sender<bool>,
    ids: Mutex<ExtranonceAllocator>,
    registry: Arc<Registry>,
    /// Last difficulty of each worker name, for miners that reconnect: held while a
    /// connection uses the name, expired `worker_expiry_sec` after, capped in number.
    last_difficulty: Mutex<ExpiringMap<String, f64>>,
    stats: Arc<Stats>,
}

/// A running translator; dropping it (or [`Translator::shutdown`]) stops it.
pub struct Translator {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

/// Sv1 job ids: the upstream link and its job id, so a share goes back to the right link.
fn job_key(generation: u64, job_id: u32) -> u64 {
    (generation << 32) | job_id as u64
}

impl Translator {
    /// Bind the Sv1 listener (and metrics endpoint) and start; the upstream channel opens in
    /// the background and reopens, with failover, for as long as the translator runs.
    pub async fn start(cfg: TranslatorConfig) -> Result<Translator, StartError> {
        cfg.check().map_err(StartError::Config)?;
        let upstreams = upstream::ordered(&cfg.upstreams).map_err(StartError::Config)?;
        let listen = format!("{}:{}", cfg.downstream_address, cfg.downstream_port);
        let addr = tokio::net::lookup_host(&listen)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| StartError::Config(format!("{listen}: not an address")))?;
        let bind_error = |address: String| move |source| StartError::Bind { address, source };
        let listener = roles_utils::bind(addr).map_err(bind_error(listen.clone()))?;
        let local_addr = listener.local_addr().map_err(bind_error(listen))?;
        let en2 = cfg.downstream_extranonce2_size as usize;
        let registry = Arc::new(Registry::new(
            &upstreams.iter().map(|u| u.endpoint()).collect::<Vec<_>>(),
            cfg.max_tracked_workers,
        ));
        let mut tasks = JoinSet::new();
        let metrics_addr = match cfg.metrics_address {
            Some(a) => {
                let l = TcpListener::bind(a)
                    .await
                    .map_err(bind_error(format!("metrics_address {a}")))?;
                let addr = l.local_addr().map_err(bind_error(a.to_string()))?;
                tasks.spawn(metrics::serve(l, registry.clone()));
                Some(addr)
            }
            None => None,
        };
        let (commands_tx, commands_rx) = mpsc::channel(4096);
        let (events_tx, events_rx) = mpsc::channel(4096);
        let request = ChannelRequest {
            user_identity: cfg.user_identity.clone(),
            min_extranonce_size: (MINER_ID_BYTES + en2) as u16,
            // Sv1 miners may or may not roll versions; both work on any upstream.
            flags: 0,
            retry_primary: Duration::from_secs(cfg.retry_primary_sec.max(1)),
            answer_timeout: Duration::from_secs(cfg.upstream_answer_timeout_sec.max(1)),
            ..ChannelRequest::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(JobState::default()),
            updates: broadcast::channel(64).0,
            upstream: commands_tx,
            up: watch::channel(false).0,
            ids: Mutex::new(
                ExtranonceAllocator::new(vec![], MINER_ID_BYTES + en2, MINER_ID_BYTES)
                    .map_err(|e| StartError::Config(format!("downstream_extranonce2_size: {e}")))?,
            ),
            registry,
            last_difficulty: Mutex::new(ExpiringMap::new(cfg.max_tracked_workers)),
            stats: Arc::new(Stats::default()),
            cfg,
        });
        tasks.spawn(upstream::run_upstreams(
            upstreams,
            request,
            events_tx,
            commands_rx,
        ));
        tasks.spawn(upstream_events(shared.clone(), events_rx));
        tasks.spawn(expire_workers(shared.clone()));
        let gate = Gate::new(shared.cfg.limits.clone(), shared.cfg.max_connections);
        let s = shared.clone();
        tasks.spawn(accept_loop(listener, gate, move |stream, admitted| {
            let shared = s.clone();
            async move {
                shared.stats.miners.fetch_add(1, Ordering::Relaxed);
                miner::serve(stream, admitted, &shared).await;
                shared.stats.miners.fetch_sub(1, Ordering::Relaxed);
            }
        }));
        tracing::info!(address = %local_addr, ?metrics_addr, "translator listening for Sv1 miners");
        Ok(Translator {
            local_addr,
            metrics_addr,
            shared,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where GET /metrics is served, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.shared.registry.clone()
    }

    /// Worker names whose last difficulty is remembered (connected or not yet expired).
    pub fn remembered_worker_names(&self) -> usize {
        lock(&self.shared.last_difficulty).len()
    }

    /// Stop serving and close every connection.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
    }
}

/// Forget disconnected workers (metrics and last difficulty) `worker_expiry_sec` after they
/// left, on a timer: not when /metrics happens to be scraped.
async fn expire_workers(shared: Arc<Shared>) {
    let after = shared.cfg.worker_expiry();
    let every = (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let series = shared.registry.expire(now, after);
        let names = lock(&shared.last_difficulty).expire(now, after);
        if series + names > 0 {
            tracing::debug!(series, names, "forgot disconnected workers");
        }
    }
}

/// The `mining.notify` for `job` on tip `prev`.
fn notify(
    job: &NewExtendedMiningJob<'_>,
    link: &Link,
    prev: &SetNewPrevHash,
    ntime: u32,
    clean_jobs: bool,
) -> Notify {
    let mut coinb1 = job.coinbase_tx_prefix.as_bytes().to_vec();
    coinb1.extend_from_slice(&link.split.job_prefix);
    Notify {
        job_id: format!("{:x}", job_key(link.generation, job.job_id)),
        prev_hash: sv1_api::share::prev_hash_stratum_order(&prev.prev_hash.0),
        coinb1,
        coinb2: job.coinbase_tx_suffix.as_bytes().to_vec(),
        merkle_branch: job.merkle_path.iter().map(|h| h.0).collect(),
        version: job.version,
        nbits: prev.nbits,
        ntime,
        clean_jobs,
    }
}

/// Apply what happens upstream: jobs become notifications for every miner.
async fn upstream_events(shared: Arc<Shared>, mut rx: mpsc::Receiver<UpstreamEvent<Route>>) {
    let ours = MINER_ID_BYTES + shared.cfg.downstream_extranonce2_size as usize;
    while let Some(e) = rx.recv().await {
        match e {
            UpstreamEvent::Up(info) => on_up(&shared, info, ours),
            UpstreamEvent::Down {
                generation,
                endpoint,
                ..
            } => {
                let mut st = lock(&shared.state);
                if st.link.as_ref().map(|l| l.generation) == Some(generation) {
                    st.link = None;
                    st.jobs.clear();
                    st.prev = None;
                    shared.stats.upstream_up.store(false, Ordering::Relaxed);
                }
                drop(st);
                shared.registry.set_upstream_up(&endpoint, false);
                // Miners stay connected on their last job until the next channel's first.
            }
            UpstreamEvent::NewExtendedMiningJob { generation, job } => {
                on_new_job(&shared, generation, job)
            }
            UpstreamEvent::SetNewPrevHash { generation, prev } => {
                on_prev_hash(&shared, generation, prev)
            }
            UpstreamEvent::SetTarget { generation, target } => {
                let mut st = lock(&shared.state);
                if st.link.as_ref().map(|l| l.generation) != Some(generation) {
                    continue;
                }
                st.upstream_target = Some(target);
                drop(st);
                let _ = shared.updates.send(MinerUpdate::UpstreamTarget(target));
            }
            UpstreamEvent::SetExtranoncePrefix { generation, prefix } => {
                let mut st = lock(&shared.state);
                if let Some(l) = st.link.as_mut().filter(|l| l.generation == generation) {
                    l.split.apply_prefix(&prefix, ours);
                }
            }
            UpstreamEvent::ShareResult { route, result } => {
                let counter = if result.is_ok() {
                    &shared.stats.upstream_accepted
                } else {
                    &shared.stats.upstream_rejected
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let a = Answer {
                    id: route.id,
                    worker: route.worker,
                    difficulty: route.difficulty,
                    result,
                };
                // Never wait on one slow miner here: every answer passes here.
                send_without_waiting(&route.reply, a);
            }
        }
    }
}

/// A channel is open on a new upstream link: its split, target and version rolling.
fn on_up(shared: &Shared, info: roles_utils::upstream::ChannelInfo, ours: usize) {
    // run_upstreams refuses channels with fewer than `ours` bytes.
    let Some(split) = ExtranonceSplit::of_channel(&info, ours) else {
        return;
    };
    {
        let mut st = lock(&shared.state);
        st.link = Some(Link {
            generation: info.generation,
            split,
            version_rolling: info.version_rolling(),
        });
        st.jobs.clear();
        st.prev = None;
        st.upstream_target = Some(info.target);
    }
    let _ = shared
        .updates
        .send(MinerUpdate::UpstreamTarget(info.target));
    // Before the link's first job: miners that negotiated version rolling learn
    // the new link's mask (each miner's server sends it only if theirs changes).
    let _ = shared
        .updates
        .send(MinerUpdate::VersionRolling(info.version_rolling()));
    shared.registry.set_upstream_up(&info.endpoint, true);
    shared
        .stats
        .upstream_channels_opened
        .fetch_add(1, Ordering::Relaxed);
    shared.stats.upstream_up.store(true, Ordering::Relaxed);
    shared.up.send_replace(true);
}

/// A job of the current link: kept, and sent to miners at once when it is active.
fn on_new_job(shared: &Shared, generation: u64, job: NewExtendedMiningJob<'static>) {
    let mut st = lock(&shared.state);
    let Some(link) = st.link.clone().filter(|l| l.generation == generation) else {
        return;
    };
    let active = match (job.min_ntime, &st.prev) {
        (Some(t), Some(p)) => Some(notify(&job, &link, p, t, false)),
        _ => None,
    };
    st.jobs.insert(job.job_id, job);
    while st.jobs.len() > 32 {
        st.jobs.pop_first();
    }
    if let Some(n) = active {
        let n = Arc::new(n);
        st.current = Some(n.clone());
        drop(st);
        let _ = shared.updates.send(MinerUpdate::Notify(n));
    }
}

/// The current link's new prev hash: its job becomes every miner's clean job.
fn on_prev_hash(shared: &Shared, generation: u64, prev: SetNewPrevHash) {
    let mut st = lock(&shared.state);
    let Some(link) = st.link.clone().filter(|l| l.generation == generation) else {
        return;
    };
    let Some(job) = st.jobs.get(&prev.job_id) else {
        tracing::warn!(job_id = prev.job_id, "SetNewPrevHash for an unknown job");
        return;
    };
    let n = Arc::new(notify(job, &link, &prev, prev.min_ntime, true));
    st.jobs.retain(|&id, _| id >= prev.job_id);
    st.prev = Some(prev);
    st.current = Some(n.clone());
    drop(st);
    let _ = shared.updates.send(MinerUpdate::Notify(n));
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
