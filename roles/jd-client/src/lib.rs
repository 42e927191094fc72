//! # jd_client_sv2
//!
//! The job declarator client (JDC): a miner's or farm's own templates, mined on a pool.
//!
//! * Templates come from a template provider (the simulator, or any Sv2 template provider,
//!   such as a Bitcoin Core node with Sv2 support).
//! * For each template the JDC builds its coinbase (the pool's payout output taking the
//!   reward, per the outputs the pool's JDS requires), declares the job to the JDS (full-template
//!   mode: every transaction, with any the JDS lacks provided; coinbase-only mode: just the
//!   token), and tells the pool with `SetCustomMiningJob`.
//! * Devices, mining proxies, translators and any Sv2 client connect downstream on channels of
//!   every kind; their shares are checked here and those that meet the pool's target go to the
//!   pool on the custom job (held until the pool acknowledges the job: optimistic mining).
//! * Every block found goes to the template provider and, in full-template mode, to the JDS.
//! * When the pool or its JDS refuses or drops, the next `[[upstreams]]` entry is used, then
//!   solo mining on `coinbase_reward_script`; a better one is used again when it returns.
//!   Downstreams stay connected throughout, and a share accepted from them is never silently
//!   lost: what an upstream does not confirm is answered as refused.
//!
//! The protocol logic is sans-IO (`roles_logic_sv2`: `mining_server::Session` downstream,
//! `mining_client::ClientSession` and `job_declaration::JdcSession` upstream); this crate is
//! the shell and the policy that ties them together ([`core`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let jdc = jd_client_sv2::JdClient::start(jd_client_sv2::config::JdClientConfig::default_config()).await?;
//! println!("devices connect to {}", jdc.local_addr());
//! # Ok(()) }
//! ```

pub mod config;
mod core;
mod tp;
mod upstream;

use config::JdClientConfig;
use network_helpers_sv2::{Connection, ResponderConfig};
use noise_sv2::HandshakeKey;
use roles_logic_sv2::extranonce::Extranonce;
use roles_logic_sv2::mining_server::{BlockSolution, ServerConfig, ServerEvent, Session};
use roles_logic_sv2::parsers::AnyMessage;
use roles_utils::downstream::{
    accept_loop, handshake, serve_session, Admitted, SessionCommand, SessionHooks,
};
use roles_utils::feed::JobFeed;
use roles_utils::limits::Gate;
use roles_utils::lock;
use roles_utils::upstream::Layout;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

pub use crate::core::Mining;

/// Counters for dashboards and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub channels: AtomicUsize,
    pub shares_accepted: AtomicU64,
    pub shares_rejected: AtomicU64,
    pub shares_forwarded: AtomicU64,
    pub upstream_accepted: AtomicU64,
    pub upstream_rejected: AtomicU64,
    pub templates: AtomicU64,
    pub jobs_declared: AtomicU64,
    pub custom_jobs_accepted: AtomicU64,
    pub blocks_found: AtomicU64,
    /// Blocks found on a job the pool's JDS had accepted in full (full-template mode).
    pub blocks_on_declared_jobs: AtomicU64,
    pub fallbacks: AtomicU64,
    /// Whether a pool (not solo) is used now.
    pub on_pool: AtomicBool,
}

/// What the JD client reports as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JdEvent {
    /// Mining now goes to this upstream, or solo.
    Mining(Mining),
    /// A block was found and sent to the template provider (and the JDS).
    BlockFound {
        /// Big-endian hex.
        hash: String,
        /// On a job the pool's JDS accepted as declared (full-template), as opposed to a
        /// coinbase-only or solo job.
        declared: bool,
        solo: bool,
        user_identity: Arc<str>,
    },
    CustomJobAccepted {
        endpoint: String,
        job_id: u32,
    },
}

/// Where a forwarded share's answer goes.
#[derive(Debug)]
pub struct Route {
    reply: mpsc::Sender<SessionCommand>,
    channel_id: u32,
    sequence_number: u32,
    difficulty: f64,
}

/// What the core task hears about.
#[derive(Debug)]
pub(crate) enum Event {
    Tp(tp::TpEvent),
    /// A downstream share that meets the upstream target.
    Forward {
        key: u64,
        nonce: u32,
        ntime: u32,
        version: u32,
        /// The part of the extranonce the JDC's layout covers.
        extranonce: Extranonce,
        route: Route,
    },
    Block {
        solution: BlockSolution,
        user_identity: Arc<str>,
    },
    /// The outcome of an upstream connection attempt.
    Linked {
        index: usize,
        result: Result<Box<upstream::Link>, String>,
    },
}

pub(crate) struct Shared {
    cfg: JdClientConfig,
    server: Arc<ServerConfig>,
    feed: JobFeed,
    layout: Mutex<Layout>,
    events_tx: mpsc::Sender<Event>,
    stats: Arc<Stats>,
    events: broadcast::Sender<JdEvent>,
}

/// A running JD client. Dropping it (or [`JdClient::shutdown`]) stops it.
pub struct JdClient {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

/// Send one message on `conn`.
pub(crate) async fn send_frame(
    conn: &Connection,
    m: impl Into<AnyMessage<'static>>,
) -> Result<(), String> {
    roles_utils::send(conn, m).await
}

pub use roles_utils::StartError;

impl JdClient {
    /// Bind and start: the template provider and upstream links open in the background.
    pub async fn start(cfg: JdClientConfig) -> Result<JdClient, StartError> {
        let authority = cfg.authority().map_err(StartError::Config)?;
        let (tp_address, tp_key) = cfg.template_provider().map_err(StartError::Config)?;
        for key in cfg.ignored.keys() {
            tracing::warn!(
                key,
                "config key of the reference JD client has no effect here"
            );
        }
        let address = cfg.listening_address;
        let bind_error = |source| StartError::Bind {
            address: address.to_string(),
            source,
        };
        let listener = roles_utils::bind(address).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let responder = Arc::new(ResponderConfig {
            authority: authority.keypair(),
            static_key: HandshakeKey::generate().map_err(StartError::Noise)?,
            cert_validity_secs: cfg.cert_validity_sec,
        });
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (tp_tx, tp_rx) = mpsc::channel(256);
        let layout = Layout::new(cfg.min_extranonce_size as usize).map_err(StartError::Config)?;
        let shared = Arc::new(Shared {
            server: Arc::new(ServerConfig {
                shares_per_minute: cfg.shares_per_minute,
                ..ServerConfig::default()
            }),
            feed: JobFeed::default(),
            layout: Mutex::new(layout),
            events_tx: events_tx.clone(),
            stats: Arc::new(Stats::default()),
            events: broadcast::channel(1024).0,
            cfg,
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(tp::run(tp_address, tp_key, events_tx, tp_rx));
        tasks.spawn(core::run(shared.clone(), events_rx, tp_tx));
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
        tracing::info!(address = %local_addr, "JD client listening");
        Ok(JdClient {
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
    pub fn subscribe(&self) -> broadcast::Receiver<JdEvent> {
        self.shared.events.subscribe()
    }

    /// Stop serving and close every connection.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
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
        let mut hooks = Hooks {
            shared,
            reply,
            users: HashMap::new(),
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
    }
    lock(&shared.layout).release(&range, epoch);
}

struct Hooks<'a> {
    shared: &'a Shared,
    reply: mpsc::Sender<SessionCommand>,
    users: HashMap<u32, Arc<str>>,
}

impl SessionHooks for Hooks<'_> {
    async fn on_event(&mut self, session: &mut Session, e: ServerEvent) {
        let stats = &self.shared.stats;
        match e {
            ServerEvent::ShareAccepted(s) => {
                stats.shares_accepted.fetch_add(1, Ordering::Relaxed);
                if !s.forward {
                    return;
                }
                stats.shares_forwarded.fetch_add(1, Ordering::Relaxed);
                let event = Event::Forward {
                    key: s.template_id,
                    nonce: s.nonce,
                    ntime: s.ntime,
                    version: s.version,
                    extranonce: s.extranonce,
                    route: Route {
                        reply: self.reply.clone(),
                        channel_id: s.channel_id,
                        sequence_number: s.sequence_number,
                        difficulty: s.difficulty,
                    },
                };
                // Waits when the core is saturated: back-pressure on this downstream only.
                if self.shared.events_tx.send(event).await.is_err() {
                    session.resolve_forwarded_share(
                        s.channel_id,
                        s.sequence_number,
                        s.difficulty,
                        Err(const_sv2::error_codes::STALE_SHARE),
                    );
                }
            }
            ServerEvent::ShareRejected { .. } => {
                stats.shares_rejected.fetch_add(1, Ordering::Relaxed);
            }
            ServerEvent::BlockFound(solution) => {
                let user_identity = self
                    .users
                    .get(&solution.channel_id)
                    .cloned()
                    .unwrap_or_default();
                let _ = self
                    .shared
                    .events_tx
                    .send(Event::Block {
                        solution,
                        user_identity,
                    })
                    .await;
            }
            ServerEvent::ChannelOpened {
                channel_id,
                user_identity,
                ..
            } => {
                stats.channels.fetch_add(1, Ordering::Relaxed);
                self.users.insert(channel_id, user_identity);
            }
            ServerEvent::ChannelClosed { channel_id } => {
                if self.users.remove(&channel_id).is_some() {
                    stats.channels.fetch_sub(1, Ordering::Relaxed);
                }
            }
            ServerEvent::SetupDone { .. } | ServerEvent::CustomJobRequested { .. } => {}
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
