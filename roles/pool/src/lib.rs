//! # pool_sv2
//!
//! The Stratum V2 pool: it takes templates from a template provider, serves mining devices
//! and proxies over noise-encrypted connections (standard, extended and group channels),
//! validates every share, and submits blocks back to the template provider.
//!
//! The protocol work is `roles_logic_sv2`'s ([`mining_server::Session`] per connection,
//! [`JobTemplate`] per template); this crate is the shell: sockets, tasks, config and logs.
//! One task per connection validates that connection's shares, so work spreads over all
//! cores; what connections share (the current jobs, the extranonce allocator, counters) is
//! read or touched only when jobs change or channels open.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = pool_sv2::Pool::start(pool_sv2::config::PoolConfig::default_config()).await?;
//! println!("miners connect to {}", pool.local_addr());
//! # Ok(()) }
//! ```

mod blocks;
pub mod config;
mod jds;
mod template_link;

use config::{ConfigError, PoolConfig};
use network_helpers_sv2::{Connection, ResponderConfig};
use noise_sv2::HandshakeKey;
use roles_logic_sv2::extranonce::{ExtranonceAllocator, ExtranonceRange};
use roles_logic_sv2::job::{CoinbaseConfig, PayoutOutput};
use roles_logic_sv2::mining_server::{ServerConfig, ServerEvent, Session};
use roles_utils::downstream::{accept_loop, handshake, serve_session, Admitted, SessionHooks};
use roles_utils::feed::JobFeed;
use roles_utils::limits::Gate;
use roles_utils::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use template_link::{FoundBlock, TemplateKeys};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

/// Whole extranonce length in the pool's coinbases (the most B0_32 carries): 4 bytes per
/// connection, 2 per channel, 26 for the miner to roll, or for a proxy to split again: a
/// proxy keeps 4 for its own connections and channels and still gives its devices and
/// translators 22.
pub const EXTRANONCE_LEN: usize = 32;
const CONNECTION_ID_BYTES: usize = 4;

/// Counters for dashboards and the local stack's summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub channels: AtomicUsize,
    pub shares_accepted: AtomicU64,
    pub shares_rejected: AtomicU64,
    /// Blocks found by miners (each share that met the network target).
    pub blocks_found: AtomicU64,
    /// Blocks written to a template provider link (a block is written again on each new
    /// link until it is confirmed).
    pub blocks_submitted: AtomicU64,
    /// Blocks the template provider's tip became.
    pub blocks_confirmed: AtomicU64,
    /// Blocks given up: the chain moved on without them (logged whole, in hex).
    pub blocks_failed: AtomicU64,
    /// Sum of accepted shares' difficulty, in millionths (hashrate = this * 2^32 / 1e6 / s).
    pub difficulty_sum_micro: AtomicU64,
}

/// What the pool reports as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolEvent {
    TemplateProviderUp,
    TemplateProviderDown {
        reason: String,
    },
    /// A share met the network target; the solution went to the template provider.
    BlockFound {
        height: Option<u32>,
        /// Block hash as block explorers show it (big-endian hex).
        hash: String,
        user_identity: Arc<str>,
    },
    ShareRejected {
        user_identity: Arc<str>,
        error_code: &'static str,
    },
    /// The template provider's tip became a block found here.
    BlockConfirmed {
        hash: String,
        height: Option<u32>,
    },
    /// A block found here was given up: the chain moved on without it.
    BlockSubmissionFailed {
        hash: String,
        height: Option<u32>,
        /// The whole block, for a manual `submitblock`, when its transactions were known.
        block_hex: Option<String>,
    },
}

struct Shared {
    cfg: PoolConfig,
    server: Arc<ServerConfig>,
    coinbase: CoinbaseConfig,
    feed: JobFeed,
    keys: Mutex<TemplateKeys>,
    extranonce: Mutex<ExtranonceAllocator>,
    /// Unbounded: a block is never dropped, and each needs proof of work at the network
    /// target, so they cannot flood it.
    blocks: mpsc::UnboundedSender<FoundBlock>,
    stats: Arc<Stats>,
    events: broadcast::Sender<PoolEvent>,
    /// The job declaration server, when `[jds]` is configured.
    jds: Option<jds::JdsState>,
}

/// A running pool. Dropping it (or [`Pool::shutdown`]) stops it and closes every connection.
pub struct Pool {
    local_addr: SocketAddr,
    jds_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

/// Why the pool could not start.
#[derive(Debug)]
pub enum StartError {
    Config(ConfigError),
    Io(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "config: {e}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl Pool {
    /// Bind, connect to the template provider (retrying while it is away) and serve.
    pub async fn start(cfg: PoolConfig) -> Result<Pool, StartError> {
        let authority = cfg.authority().map_err(StartError::Config)?;
        let script = cfg.reward_script().map_err(StartError::Config)?;
        let listener = roles_utils::bind(cfg.listen_address).map_err(StartError::Io)?;
        let local_addr = listener.local_addr().map_err(StartError::Io)?;
        let (blocks_tx, blocks_rx) = mpsc::unbounded_channel();
        let jds = match &cfg.jds {
            Some(j) => Some(
                jds::JdsState::new(j, script.clone())
                    .map_err(|e| StartError::Config(ConfigError(e)))?,
            ),
            None => None,
        };
        let jds_listener = match &cfg.jds {
            Some(j) => Some(roles_utils::bind(j.listen_address).map_err(StartError::Io)?),
            None => None,
        };
        let jds_addr = jds_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(StartError::Io)?;
        let responder = Arc::new(ResponderConfig {
            authority: authority.keypair(),
            static_key: HandshakeKey::generate()
                .map_err(|e| StartError::Io(std::io::Error::other(e)))?,
            cert_validity_secs: cfg.cert_validity_sec,
        });
        let shared = Arc::new(Shared {
            server: Arc::new(ServerConfig {
                shares_per_minute: cfg.shares_per_minute,
                share_batch_size: cfg.share_batch_size,
                max_channels: cfg.max_channels_per_connection,
                min_share_difficulty: cfg.min_share_difficulty,
                work_selection: jds.is_some(),
                ..ServerConfig::default()
            }),
            coinbase: CoinbaseConfig {
                payout_outputs: vec![PayoutOutput {
                    script_pubkey: script,
                    weight: 1,
                }],
                pool_tag: cfg.pool_signature.as_bytes().to_vec(),
                extranonce_len: EXTRANONCE_LEN,
            },
            feed: JobFeed::default(),
            keys: Mutex::new(TemplateKeys::default()),
            extranonce: Mutex::new(
                ExtranonceAllocator::new(vec![], EXTRANONCE_LEN, CONNECTION_ID_BYTES)
                    .expect("4 of 32 bytes fit"),
            ),
            blocks: blocks_tx,
            stats: Arc::new(Stats::default()),
            events: broadcast::channel(1024).0,
            jds,
            cfg,
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(template_link::run(shared.clone(), blocks_rx));
        if let Some(l) = jds_listener {
            tasks.spawn(jds::run(shared.clone(), l, responder.clone()));
            tracing::info!(address = ?jds_addr, "job declaration server listening");
        }
        let gate = Gate::new(shared.cfg.limits.clone(), shared.cfg.max_connections);
        let s = shared.clone();
        tasks.spawn(accept_loop(listener, gate, move |stream, mut admitted| {
            let (shared, responder) = (s.clone(), responder.clone());
            async move {
                let Some(conn) = handshake(stream, responder, &mut admitted).await else {
                    return;
                };
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                serve_downstream(conn, &shared, &mut admitted).await;
                shared.stats.connections.fetch_sub(1, Ordering::Relaxed);
            }
        }));
        tracing::info!(address = %local_addr, "pool listening");
        Ok(Pool {
            local_addr,
            jds_addr,
            shared,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where job declarator clients connect, when `[jds]` is configured.
    pub fn jds_addr(&self) -> Option<SocketAddr> {
        self.jds_addr
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PoolEvent> {
        self.shared.events.subscribe()
    }

    /// Stop serving and close every connection.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
    }
}

async fn serve_downstream(conn: Connection, shared: &Shared, admitted: &mut Admitted) {
    let range = match lock(&shared.extranonce).allocate() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(peer = %admitted.peer, "{e}");
            return;
        }
    };
    run_session(&conn, shared, admitted, &range).await;
    conn.close();
    let _ = lock(&shared.extranonce).release(&range);
}

async fn run_session(
    conn: &Connection,
    shared: &Shared,
    admitted: &mut Admitted,
    range: &ExtranonceRange,
) {
    let Ok(mut session) = Session::new(shared.server.clone(), range) else {
        return;
    };
    let mut hooks = PoolHooks {
        shared,
        users: HashMap::new(),
        parked: Vec::new(),
    };
    serve_session(conn, &mut session, &shared.feed, None, &mut hooks, admitted).await;
    shared
        .stats
        .channels
        .fetch_sub(hooks.users.len(), Ordering::Relaxed);
}

struct PoolHooks<'a> {
    shared: &'a Shared,
    /// Open channels and their users, for events and the channel counter.
    users: HashMap<u32, Arc<str>>,
    /// Custom job requests on a tip the pool has not seen yet (bounded by the session's
    /// `max_pending_custom_jobs`).
    parked: Vec<jds::Parked>,
}

impl SessionHooks for PoolHooks<'_> {
    async fn on_event(&mut self, session: &mut Session, e: ServerEvent) {
        match e {
            ServerEvent::CustomJobRequested {
                channel_id,
                request_id,
                job,
                extranonce_len,
            } => {
                let Some(jds) = self.shared.jds.as_ref() else {
                    return;
                };
                let user = self.users.get(&channel_id).cloned().unwrap_or_default();
                let p = jds::Parked {
                    channel_id,
                    request_id,
                    job,
                    extranonce_len,
                    until: tokio::time::Instant::now() + jds::WAIT_FOR_TIP,
                };
                if let Some(p) = jds::on_custom_job(jds, session, p, &user) {
                    self.parked.push(p);
                }
            }
            ServerEvent::BlockFound(b) if b.template_id & jds::CUSTOM_KEY != 0 => {
                self.shared
                    .stats
                    .blocks_found
                    .fetch_add(1, Ordering::Relaxed);
                let mut be = b.block_hash;
                be.reverse();
                let user_identity = self.users.get(&b.channel_id).cloned().unwrap_or_default();
                let _ = self.shared.events.send(PoolEvent::BlockFound {
                    height: None,
                    hash: hex::encode(be),
                    user_identity,
                });
                jds::on_custom_block(self.shared, b).await;
            }
            e => handle_event(self.shared, e, &mut self.users),
        }
    }

    fn on_tick(&mut self, session: &mut Session) {
        let Some(jds) = self.shared.jds.as_ref() else {
            return;
        };
        for p in std::mem::take(&mut self.parked) {
            let user = self.users.get(&p.channel_id).cloned().unwrap_or_default();
            if let Some(p) = jds::on_custom_job(jds, session, p, &user) {
                self.parked.push(p);
            }
        }
    }
}

fn handle_event(shared: &Shared, e: ServerEvent, users: &mut HashMap<u32, Arc<str>>) {
    let stats = &shared.stats;
    match e {
        ServerEvent::ShareAccepted(s) => {
            stats.shares_accepted.fetch_add(1, Ordering::Relaxed);
            stats
                .difficulty_sum_micro
                .fetch_add((s.difficulty * 1e6) as u64, Ordering::Relaxed);
        }
        ServerEvent::ShareRejected {
            error, channel_id, ..
        } => {
            stats.shares_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(channel_id, "share rejected: {error}");
            let _ = shared.events.send(PoolEvent::ShareRejected {
                user_identity: users
                    .get(&channel_id)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("")),
                error_code: error.error_code(),
            });
        }
        ServerEvent::BlockFound(b) => {
            stats.blocks_found.fetch_add(1, Ordering::Relaxed);
            let mut be = b.block_hash;
            be.reverse();
            let hash = hex::encode(be);
            let height = lock(&shared.keys).heights.get(&b.template_id).copied();
            tracing::info!(?height, %hash, "block found");
            let _ = shared.events.send(PoolEvent::BlockFound {
                height,
                hash,
                user_identity: users
                    .get(&b.channel_id)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("")),
            });
            let user_identity = users
                .get(&b.channel_id)
                .cloned()
                .unwrap_or_else(|| Arc::from(""));
            // Only fails when the pool is stopping.
            let _ = shared.blocks.send(FoundBlock {
                solution: b,
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
            tracing::info!(channel_id, %user_identity, extended, "channel opened");
            users.insert(channel_id, user_identity);
        }
        ServerEvent::ChannelClosed { channel_id } => {
            if users.remove(&channel_id).is_some() {
                stats.channels.fetch_sub(1, Ordering::Relaxed);
            }
        }
        ServerEvent::SetupDone { .. } | ServerEvent::CustomJobRequested { .. } => {}
    }
}

/// The height a BIP34 coinbase prefix pushes (`OP_1..OP_16` or a little-endian push).
pub fn bip34_height(prefix: &[u8]) -> Option<u32> {
    match *prefix.first()? {
        op @ 0x51..=0x60 => Some((op - 0x50) as u32),
        n @ 1..=4 => {
            let bytes = prefix.get(1..1 + n as usize)?;
            let mut v = [0u8; 4];
            v[..bytes.len()].copy_from_slice(bytes);
            Some(u32::from_le_bytes(v))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip34_heights() {
        assert_eq!(bip34_height(&[0x51]), Some(1));
        assert_eq!(bip34_height(&[0x60, 0x00]), Some(16));
        assert_eq!(bip34_height(&[0x01, 0x11]), Some(17));
        assert_eq!(bip34_height(&[0x03, 0x40, 0x0d, 0x03]), Some(200_000));
        assert_eq!(bip34_height(&[0x03, 0x40]), None);
        assert_eq!(bip34_height(&[]), None);
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
