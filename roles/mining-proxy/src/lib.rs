//! # mining_proxy_sv2
//!
//! The Stratum V2 mining proxy: devices connect to it (noise, with its own authority key) on
//! standard, grouped or extended channels; it keeps one extended channel to the best of its
//! configured pools and splits that channel's extranonce space among its downstreams.
//!
//! * Jobs: each upstream `NewExtendedMiningJob` becomes a [`JobTemplate`] whose coinbase
//!   prefix already holds the upstream's extranonce prefix, and feeds every downstream
//!   [`Session`] unchanged: standard channels get `NewMiningJob` with their own merkle root,
//!   extended and group channels get extended jobs. SetNewPrevHash follows; the upstream's
//!   SetTarget becomes the ceiling of every downstream target.
//! * Shares are checked here (channel, job, target, duplicates). Those that also meet the
//!   upstream target go upstream as `SubmitSharesExtended`, and the device gets the pool's
//!   answer for them; the others are answered here.
//! * Failover: when the active pool fails, the next one by priority gets a channel; devices
//!   keep their connections and channels and receive the new pool's jobs. A better pool that
//!   comes back is used again.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = mining_proxy_sv2::config::ProxyConfig::default_config();
//! let proxy = mining_proxy_sv2::MiningProxy::start(cfg).await?;
//! println!("devices connect to {}", proxy.local_addr());
//! # Ok(()) }
//! ```

pub mod config;

use config::{ProxyConfig, CONNECTION_ID_BYTES};
use const_sv2::mining_flags;
use network_helpers_sv2::{Connection, ResponderConfig};
use noise_sv2::HandshakeKey;
use roles_logic_sv2::job::JobTemplate;
use roles_logic_sv2::mining_server::{PrevHash, ServerConfig, ServerEvent, Session};
use roles_utils::downstream::{
    accept_loop, handshake, serve_session, Admitted, SessionCommand, SessionHooks,
};
use roles_utils::feed::JobFeed;
use roles_utils::limits::Gate;
use roles_utils::upstream::Layout;
use roles_utils::upstream::{
    self, ChannelInfo, ChannelRequest, ExtranonceSplit, Submit, UpstreamCommand, UpstreamEvent,
};
pub use roles_utils::StartError;
use roles_utils::{lock, send_without_waiting};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

const HASHRATE_REPORT: Duration = Duration::from_secs(60);

/// Counters for dashboards and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub channels: AtomicUsize,
    /// Shares that passed the proxy's checks (forwarded or not).
    pub shares_accepted: AtomicU64,
    /// Shares the proxy refused itself (never forwarded).
    pub shares_rejected: AtomicU64,
    pub shares_forwarded: AtomicU64,
    pub upstream_accepted: AtomicU64,
    pub upstream_rejected: AtomicU64,
    /// Shares that met the network target (the pool submits the block).
    pub blocks_found: AtomicU64,
    pub upstream_up: AtomicBool,
    /// Upstream channels opened so far.
    pub upstream_channels_opened: AtomicU64,
}

/// What the proxy reports as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyEvent {
    UpstreamUp {
        endpoint: String,
    },
    UpstreamDown {
        endpoint: String,
        reason: String,
    },
    /// A downstream share met the network target; it went upstream like any share.
    BlockFound {
        hash: String,
        user_identity: Arc<str>,
    },
}

/// The upstream link as the downstream side needs it.
#[derive(Debug, Clone)]
struct Link {
    generation: u64,
    split: ExtranonceSplit,
    /// Bytes of the upstream's extranonce the proxy splits ([`Layout::total`] when the link
    /// opened).
    ours: usize,
}

/// Where the upstream's answer to a forwarded share goes.
#[derive(Debug)]
struct Route {
    reply: mpsc::Sender<SessionCommand>,
    channel_id: u32,
    sequence_number: u32,
    difficulty: f64,
}

struct Shared {
    cfg: ProxyConfig,
    server: Arc<ServerConfig>,
    feed: JobFeed,
    link: Mutex<Option<Link>>,
    layout: Mutex<Layout>,
    upstream: mpsc::Sender<UpstreamCommand<Route>>,
    /// Sum of the downstream sessions' hashrate estimates (h/s).
    hashrate: AtomicU64,
    stats: Arc<Stats>,
    events: broadcast::Sender<ProxyEvent>,
}

/// A running proxy. Dropping it (or [`MiningProxy::shutdown`]) stops it.
pub struct MiningProxy {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

/// Template ids in the downstream sessions: the upstream link and its job id, so a share
/// always goes back to the link its job came from.
fn template_key(generation: u64, job_id: u32) -> u64 {
    (generation << 32) | job_id as u64
}

impl MiningProxy {
    /// Bind and start; the upstream channel opens in the background (and reopens, with
    /// failover, for as long as the proxy runs).
    pub async fn start(cfg: ProxyConfig) -> Result<MiningProxy, StartError> {
        let authority = cfg.authority().map_err(StartError::Config)?;
        let upstreams = upstream::ordered(&cfg.upstreams).map_err(StartError::Config)?;
        let bind_error = |source| StartError::Bind {
            address: cfg.listen_address.to_string(),
            source,
        };
        let listener = roles_utils::bind(cfg.listen_address).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let responder = Arc::new(ResponderConfig {
            authority: authority.keypair(),
            static_key: HandshakeKey::generate().map_err(StartError::Noise)?,
            cert_validity_secs: cfg.cert_validity_sec,
        });
        let (commands_tx, commands_rx) = mpsc::channel(4096);
        let (events_tx, events_rx) = mpsc::channel(4096);
        // Until an upstream says more, downstreams get what every accepted upstream grants.
        let layout = Layout::new(cfg.min_extranonce_size as usize).map_err(StartError::Config)?;
        let shared = Arc::new(Shared {
            server: Arc::new(ServerConfig {
                shares_per_minute: cfg.shares_per_minute,
                share_batch_size: cfg.share_batch_size,
                max_channels: cfg.max_channels_per_connection,
                min_share_difficulty: cfg.min_share_difficulty,
                ..ServerConfig::default()
            }),
            feed: JobFeed::default(),
            link: Mutex::new(None),
            layout: Mutex::new(layout),
            upstream: commands_tx,
            hashrate: AtomicU64::new(0),
            stats: Arc::new(Stats::default()),
            events: broadcast::channel(1024).0,
            cfg,
        });
        let request = ChannelRequest {
            user_identity: shared.cfg.user_identity.clone(),
            min_extranonce_size: shared.cfg.min_extranonce_size,
            flags: if shared.cfg.require_version_rolling {
                mining_flags::REQUIRES_VERSION_ROLLING
            } else {
                0
            },
            retry_primary: Duration::from_secs(shared.cfg.retry_primary_sec.max(1)),
            answer_timeout: Duration::from_secs(shared.cfg.upstream_answer_timeout_sec.max(1)),
            ..ChannelRequest::default()
        };
        let mut tasks = JoinSet::new();
        tasks.spawn(upstream::run_upstreams(
            upstreams,
            request,
            events_tx,
            commands_rx,
        ));
        tasks.spawn(upstream_events(shared.clone(), events_rx));
        tasks.spawn(report_hashrate(shared.clone()));
        let gate = Gate::new(shared.cfg.limits.clone(), shared.cfg.max_connections);
        let s = shared.clone();
        tasks.spawn(accept_loop(listener, gate, move |stream, mut admitted| {
            let (shared, responder) = (s.clone(), responder.clone());
            async move {
                let Some(conn) = handshake(stream, responder, &mut admitted).await else {
                    return;
                };
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                serve_downstream(&conn, &shared, &mut admitted).await;
                conn.close();
                shared.stats.connections.fetch_sub(1, Ordering::Relaxed);
            }
        }));
        tracing::info!(address = %local_addr, "mining proxy listening");
        Ok(MiningProxy {
            local_addr,
            shared,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ProxyEvent> {
        self.shared.events.subscribe()
    }

    /// Stop serving and close every connection.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
    }
}

/// Apply what happens upstream to the job feed, and route share answers back.
async fn upstream_events(shared: Arc<Shared>, mut rx: mpsc::Receiver<UpstreamEvent<Route>>) {
    let current = |g: u64| lock(&shared.link).as_ref().map(|l| l.generation) == Some(g);
    while let Some(e) = rx.recv().await {
        match e {
            UpstreamEvent::Up(info) => on_up(&shared, &info),
            UpstreamEvent::Down {
                generation,
                endpoint,
                reason,
            } => {
                let mut link = lock(&shared.link);
                if link.as_ref().map(|l| l.generation) == Some(generation) {
                    *link = None;
                    // New downstreams get no work until a pool gives some.
                    shared.feed.clear();
                    shared.stats.upstream_up.store(false, Ordering::Relaxed);
                }
                drop(link);
                let _ = shared
                    .events
                    .send(ProxyEvent::UpstreamDown { endpoint, reason });
            }
            UpstreamEvent::NewExtendedMiningJob { generation, job } => {
                let Some(link) = lock(&shared.link).clone() else {
                    continue;
                };
                if link.generation != generation {
                    continue;
                }
                match JobTemplate::from_extended_job(&job, &link.split.job_prefix, link.ours) {
                    Ok(mut t) => {
                        t.template_id = template_key(generation, job.job_id);
                        shared.feed.new_template(Arc::new(t));
                    }
                    Err(e) => tracing::error!(job_id = job.job_id, "upstream job refused: {e}"),
                }
            }
            UpstreamEvent::SetNewPrevHash { generation, prev } => {
                if !current(generation) {
                    continue;
                }
                let p = PrevHash {
                    template_id: template_key(generation, prev.job_id),
                    prev_hash: prev.prev_hash.0,
                    min_ntime: prev.min_ntime,
                    nbits: prev.nbits,
                };
                if !shared.feed.set_new_prev_hash(p) {
                    tracing::warn!(
                        job_id = prev.job_id,
                        "upstream SetNewPrevHash for a job that is not a future job"
                    );
                }
            }
            UpstreamEvent::SetTarget { generation, target } => {
                if current(generation) {
                    shared.feed.set_upstream_target(Some(target));
                }
            }
            UpstreamEvent::SetExtranoncePrefix { generation, prefix } => {
                let mut link = lock(&shared.link);
                if let Some(l) = link.as_mut().filter(|l| l.generation == generation) {
                    let ours = l.ours;
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
                let cmd = SessionCommand::ResolveForwarded {
                    channel_id: route.channel_id,
                    sequence_number: route.sequence_number,
                    difficulty: route.difficulty,
                    result,
                };
                // Never wait on one slow downstream here: everyone's answers pass here.
                send_without_waiting(&route.reply, cmd);
            }
        }
    }
}

fn on_up(shared: &Shared, info: &ChannelInfo) {
    let (ours, shrunk) = {
        let mut layout = lock(&shared.layout);
        let shrunk = layout.follow(info.extranonce_size);
        (layout.total(), shrunk)
    };
    if let Some(old) = shrunk {
        let reason = format!(
            "upstream {} grants {} extranonce bytes, fewer than the {old} connected downstreams were laid out in; they reconnect to get ranges that fit",
            info.endpoint, info.extranonce_size
        );
        tracing::warn!("{reason}");
        shared.feed.reconnect_all(&reason);
    }
    // run_upstreams refuses channels with fewer than min_extranonce_size bytes and the layout
    // is never larger than the grant, so this always splits.
    let Some(split) = ExtranonceSplit::of_channel(info, ours) else {
        tracing::error!(endpoint = %info.endpoint, "the upstream channel cannot be split");
        return;
    };
    tracing::info!(endpoint = %info.endpoint, granted = info.extranonce_size, ours, "extranonce layout: 2 bytes per downstream connection, 2 per channel, {} for devices", ours.saturating_sub(CONNECTION_ID_BYTES + roles_logic_sv2::mining_server::CHANNEL_ID_BYTES));
    *lock(&shared.link) = Some(Link {
        generation: info.generation,
        split,
        ours,
    });
    // The previous pool's jobs are worthless here; its tip is replaced by this one's first
    // SetNewPrevHash, which makes every old job stale in every session.
    shared.feed.clear();
    shared.feed.set_version_rolling(info.version_rolling());
    shared.feed.set_upstream_target(Some(info.target));
    shared.stats.upstream_up.store(true, Ordering::Relaxed);
    shared
        .stats
        .upstream_channels_opened
        .fetch_add(1, Ordering::Relaxed);
    let _ = shared.events.send(ProxyEvent::UpstreamUp {
        endpoint: info.endpoint.clone(),
    });
}

/// Tell the upstream what the devices behind us do, so its vardiff starts near the truth and a
/// new channel (after failover) opens with the right hashrate. Once a minute: the upstream's
/// own vardiff follows the shares in between.
async fn report_hashrate(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(HASHRATE_REPORT);
    tick.tick().await;
    loop {
        tick.tick().await;
        let h = shared.hashrate.load(Ordering::Relaxed) as f32;
        if shared
            .upstream
            .send(UpstreamCommand::Hashrate(h))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn serve_downstream(conn: &Connection, shared: &Shared, admitted: &mut Admitted) {
    let allocated = lock(&shared.layout).allocate();
    let (range, epoch) = match allocated {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(peer = %admitted.peer, "{e}");
            return;
        }
    };
    if let Ok(mut session) = Session::new(shared.server.clone(), &range) {
        let (reply, commands) = mpsc::channel(256);
        let mut hooks = ProxyHooks {
            shared,
            reply,
            users: HashMap::new(),
            hashrate: 0,
        };
        serve_session(
            conn,
            &mut session,
            &shared.feed,
            Some(commands),
            &mut hooks,
            admitted,
        )
        .await;
        shared
            .stats
            .channels
            .fetch_sub(hooks.users.len(), Ordering::Relaxed);
        shared.hashrate.fetch_sub(hooks.hashrate, Ordering::Relaxed);
    }
    lock(&shared.layout).release(&range, epoch);
}

struct ProxyHooks<'a> {
    shared: &'a Shared,
    reply: mpsc::Sender<SessionCommand>,
    users: HashMap<u32, Arc<str>>,
    /// This connection's part of `Shared::hashrate`.
    hashrate: u64,
}

impl SessionHooks for ProxyHooks<'_> {
    async fn on_event(&mut self, session: &mut Session, e: ServerEvent) {
        let stats = &self.shared.stats;
        match e {
            ServerEvent::ShareAccepted(s) => {
                stats.shares_accepted.fetch_add(1, Ordering::Relaxed);
                if !s.forward {
                    return;
                }
                let generation = s.template_id >> 32;
                let split = lock(&self.shared.link)
                    .as_ref()
                    .filter(|l| l.generation == generation)
                    .map(|l| l.split.upstream_extranonce(s.extranonce.as_bytes()));
                let Some(extranonce) = split else {
                    // Its pool is gone: the job is stale, say so instead of pretending.
                    session.resolve_forwarded_share(
                        s.channel_id,
                        s.sequence_number,
                        s.difficulty,
                        Err(const_sv2::error_codes::STALE_SHARE),
                    );
                    return;
                };
                let submit = Submit {
                    generation,
                    job_id: s.template_id as u32,
                    nonce: s.nonce,
                    ntime: s.ntime,
                    version: s.version,
                    extranonce,
                    route: Route {
                        reply: self.reply.clone(),
                        channel_id: s.channel_id,
                        sequence_number: s.sequence_number,
                        difficulty: s.difficulty,
                    },
                };
                stats.shares_forwarded.fetch_add(1, Ordering::Relaxed);
                // Waits when the upstream link is saturated: back-pressure on this device.
                if self
                    .shared
                    .upstream
                    .send(UpstreamCommand::Submit(submit))
                    .await
                    .is_err()
                {
                    session.resolve_forwarded_share(
                        s.channel_id,
                        s.sequence_number,
                        s.difficulty,
                        Err(const_sv2::error_codes::STALE_SHARE),
                    );
                }
            }
            ServerEvent::ShareRejected {
                channel_id, error, ..
            } => {
                // Refusals the upstream made are counted with the upstream's answers.
                if !matches!(
                    error,
                    roles_logic_sv2::mining_server::ShareError::RefusedUpstream
                ) {
                    stats.shares_rejected.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(channel_id, "share rejected: {error}");
            }
            ServerEvent::BlockFound(b) => {
                stats.blocks_found.fetch_add(1, Ordering::Relaxed);
                let mut be = b.block_hash;
                be.reverse();
                let hash: String = be.iter().map(|b| format!("{b:02x}")).collect();
                tracing::info!(%hash, "block found by a downstream; forwarded upstream");
                let user_identity = self
                    .users
                    .get(&b.channel_id)
                    .cloned()
                    .unwrap_or_else(|| Arc::from(""));
                let _ = self.shared.events.send(ProxyEvent::BlockFound {
                    hash,
                    user_identity,
                });
            }
            ServerEvent::ChannelOpened {
                channel_id,
                user_identity,
                extended,
                ..
            } => {
                stats.channels.fetch_add(1, Ordering::Relaxed);
                tracing::info!(channel_id, %user_identity, extended, "downstream channel opened");
                self.users.insert(channel_id, user_identity);
            }
            ServerEvent::ChannelClosed { channel_id } => {
                if self.users.remove(&channel_id).is_some() {
                    stats.channels.fetch_sub(1, Ordering::Relaxed);
                }
            }
            // The proxy does not set work_selection: custom jobs are refused by the session.
            ServerEvent::SetupDone { .. } | ServerEvent::CustomJobRequested { .. } => {}
        }
    }

    fn on_tick(&mut self, session: &mut Session) {
        let h = session.hashrate() as u64;
        if h != self.hashrate {
            self.shared.hashrate.fetch_add(h, Ordering::Relaxed);
            self.shared
                .hashrate
                .fetch_sub(self.hashrate, Ordering::Relaxed);
            self.hashrate = h;
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
