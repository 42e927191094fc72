//! # template_provider
//!
//! A Stratum V2 Template Distribution Protocol server (07) that simulates a chain by itself,
//! for testing pools without a Bitcoin node. See [`chain`] for the simulation; this module is
//! the network shell: it accepts clients (plain, or noise with an authority key), answers
//! SetupConnection, waits for CoinbaseOutputConstraints, then sends NewTemplate and
//! SetNewPrevHash, honours RequestTransactionData, and checks every SubmitSolution as a whole
//! block before appending it.
//!
//! With [`Config::rpc_address`] it also answers the Bitcoin Core JSON-RPC calls a job
//! declaration server makes of its node (see the README), on the same chain: a
//! block submitted over RPC extends it exactly as a SubmitSolution does.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let tp = template_provider::TemplateProvider::start(template_provider::Config::default()).await?;
//! println!("templates on {}", tp.local_addr());
//! # Ok(()) }
//! ```

pub mod chain;
mod rpc;

use binary_sv2::{Seq0255, Seq064K, Str0255, B016M, B0255, B064K, U256};
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use chain::{AcceptedBlock, Chain, ChainOptions, Constraints, ReorgError, Template, BLOCK_VERSION};
use common_messages_sv2::{SetupConnectionError, SetupConnectionSuccess};
use const_sv2::{error_codes, PROTOCOL_TEMPLATE_DISTRIBUTION, SV2_PROTOCOL_VERSION};
use network_helpers_sv2::{
    unix_now, with_tokio, Connection, ConnectionConfig, ResponderConfig, Security,
};
use noise_sv2::{AuthoritySecretKey, HandshakeKey};
use roles_logic_sv2::handlers::{HandleTemplateDistributionFromClient, HandlerError};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, TemplateDistribution};
use roles_utils::downstream::{accept_loop, Admitted};
use roles_utils::limits::{Gate, Limits};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, RequestTransactionDataError,
    RequestTransactionDataSuccess, SetNewPrevHash, SubmitSolution,
};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

/// Largest frame payload a client may send.
const MAX_CLIENT_PAYLOAD: usize = 256 * 1024;

/// How the template provider runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_address: SocketAddr,
    /// Noise responder with this authority when set; plain TCP otherwise.
    pub authority_secret_key: Option<AuthoritySecretKey>,
    pub cert_validity_sec: u32,
    /// Difficulty of blocks (1 = 2^32 hashes on average).
    pub block_difficulty: f64,
    /// When set, the simulated network finds a block this often.
    pub block_interval: Option<Duration>,
    /// How often new transactions arrive (and templates are refreshed).
    pub template_interval: Duration,
    /// Transactions added each interval.
    pub transactions_per_interval: usize,
    /// Private transactions added each interval: the simulated miner's own, in the
    /// templates it sends, but not in what the RPC shows (`getrawmempool`,
    /// `getmempoolentry`, `getrawtransaction`) until a block contains them. A job
    /// declaration server must ask its clients for them.
    pub private_transactions_per_interval: usize,
    /// Most transactions (public and private) the mempool holds; raised to one interval's
    /// worth when lower. The wallet is funded with at least this many coins.
    pub max_mempool: usize,
    /// Bytes of OP_RETURN padding in each new transaction (0: none), to reach the block
    /// weight limit with fewer transactions.
    pub transaction_padding: usize,
    /// Serve the Bitcoin Core JSON-RPC subset here when set.
    pub rpc_address: Option<SocketAddr>,
    /// `"user:password"` the RPC requires (HTTP basic); `None`: no authentication.
    pub rpc_credentials: Option<String>,
    /// Clients at once.
    pub max_connections: usize,
    /// Limits on what clients may hold. A pool may send nothing for hours (it only submits
    /// blocks), so the idle timeout is off by default.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen_address: ([127, 0, 0, 1], 8442).into(),
            authority_secret_key: None,
            cert_validity_sec: 3600,
            block_difficulty: 0.001,
            block_interval: None,
            template_interval: Duration::from_secs(10),
            transactions_per_interval: 5,
            private_transactions_per_interval: 0,
            max_mempool: 500,
            transaction_padding: 0,
            rpc_address: None,
            rpc_credentials: None,
            max_connections: 1024,
            limits: Limits {
                max_connections_per_ip: 64,
                max_concurrent_handshakes: 64,
                idle_timeout_sec: 0,
                ..Limits::default()
            },
        }
    }
}

/// What happened on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpEvent {
    BlockAccepted(AcceptedBlock),
    SolutionRefused { template_id: u64, reason: String },
}

/// Counters of what changed, watched by every client's loop. Counters rather than the last
/// kind of change, so that new transactions right after a new tip cannot hide the tip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Changes {
    tips: u64,
    transactions: u64,
}

/// What the tasks of a template provider share.
#[derive(Clone)]
struct Shared {
    chain: Arc<Mutex<Chain>>,
    events: broadcast::Sender<TpEvent>,
    changes: Arc<watch::Sender<Changes>>,
}

impl Shared {
    /// Report blocks that became active and have every client move to the new tip.
    fn connected(&self, blocks: Vec<AcceptedBlock>) {
        if blocks.is_empty() {
            return;
        }
        for b in blocks {
            let _ = self.events.send(TpEvent::BlockAccepted(b));
        }
        self.changes.send_modify(|c| c.tips += 1);
    }

    /// One Bitcoin Core RPC call.
    fn rpc(
        &self,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, bitcoin_rpc::RpcFailure> {
        let out = rpc::dispatch(&mut lock(&self.chain), unix_now(), method, params)?;
        for b in &out.connected {
            tracing::info!(height = b.height, hash = %b.hash, transactions = b.transactions, submitted = b.submitted, method, "block connected over RPC");
        }
        self.connected(out.connected);
        Ok(out.result)
    }
}

/// A running template provider; dropping it (or [`TemplateProvider::shutdown`]) stops it and
/// closes every client connection.
pub struct TemplateProvider {
    local_addr: SocketAddr,
    rpc_address: Option<SocketAddr>,
    shared: Shared,
    tasks: JoinSet<()>,
}

/// The block target of a difficulty, as the bitcoin crate holds it.
pub fn target_of_difficulty(difficulty: f64) -> bitcoin::Target {
    bitcoin::Target::from_le_bytes(roles_logic_sv2::target::from_difficulty(difficulty))
}

impl TemplateProvider {
    /// Bind and start serving.
    pub async fn start(cfg: Config) -> std::io::Result<TemplateProvider> {
        let listener = roles_utils::bind(cfg.listen_address)?;
        let local_addr = listener.local_addr()?;
        let rpc_listener = match cfg.rpc_address {
            Some(a) => Some(roles_utils::bind(a)?),
            None => None,
        };
        let (public, private) = (
            cfg.transactions_per_interval,
            cfg.private_transactions_per_interval,
        );
        let options = ChainOptions {
            max_mempool: cfg.max_mempool.max(public + private),
            transaction_padding: cfg.transaction_padding,
        };
        let mut chain = Chain::with_options(
            target_of_difficulty(cfg.block_difficulty),
            unix_now(),
            local_addr.port() as u64 ^ unix_now() as u64,
            options,
        );
        chain.add_transactions(public, unix_now());
        chain.add_private_transactions(private, unix_now());
        let (events, _) = broadcast::channel(1024);
        let (changes, _) = watch::channel(Changes::default());
        let shared = Shared {
            chain: Arc::new(Mutex::new(chain)),
            events,
            changes: Arc::new(changes),
        };
        let security = match &cfg.authority_secret_key {
            Some(k) => Security::NoiseResponder(Arc::new(ResponderConfig {
                authority: k.keypair(),
                static_key: HandshakeKey::generate().map_err(std::io::Error::other)?,
                cert_validity_secs: cfg.cert_validity_sec,
            })),
            None => Security::Plain,
        };
        let mut tasks = JoinSet::new();
        spawn_timers(&mut tasks, &shared, &cfg);
        let rpc_address = match rpc_listener {
            Some(listener) => Some(spawn_rpc(&mut tasks, &shared, listener, &cfg)?),
            None => None,
        };
        {
            let shared = shared.clone();
            let limits = cfg.limits.clone();
            let gate = Gate::new(cfg.limits.clone(), cfg.max_connections);
            tasks.spawn(accept_loop(listener, gate, move |stream, mut admitted| {
                let conn_cfg = ConnectionConfig {
                    handshake_timeout: limits.setup_timeout(),
                    write_timeout: Some(limits.write_timeout()),
                    frame_timeout: Some(limits.frame_timeout()),
                    // Clients send small messages (a solution's coinbase is under 64 kB).
                    max_payload: MAX_CLIENT_PAYLOAD,
                    ..ConnectionConfig::default()
                };
                let (security, shared) = (security.clone(), shared.clone());
                async move {
                    let peer = admitted.peer;
                    let conn = tokio::select! {
                        r = with_tokio::connect(stream, security, conn_cfg) => match r {
                            Ok(conn) => conn,
                            Err(e) => {
                                tracing::warn!(%peer, "connection failed: {e}");
                                return;
                            }
                        },
                        why = admitted.setup_expired() => {
                            tracing::info!(%peer, "closing: {why}");
                            return;
                        }
                    };
                    tracing::info!(%peer, "client connected");
                    serve(conn, &mut admitted, shared).await;
                    tracing::info!(%peer, "client disconnected");
                }
            }));
        }
        tracing::info!(address = %local_addr, noise = cfg.authority_secret_key.is_some(), "template provider listening");
        Ok(TemplateProvider {
            local_addr,
            rpc_address,
            shared,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the Bitcoin Core RPC subset listens, when it does.
    pub fn rpc_address(&self) -> Option<SocketAddr> {
        self.rpc_address
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TpEvent> {
        self.shared.events.subscribe()
    }

    /// Height of the chain's tip.
    pub fn height(&self) -> u32 {
        lock(&self.shared.chain).height()
    }

    /// Hash of the chain's tip.
    pub fn tip(&self) -> bitcoin::BlockHash {
        lock(&self.shared.chain).tip()
    }

    /// Replace the last `depth` blocks with `depth + 1` new ones from the simulated network
    /// (see [`Chain::reorg`]); every client gets a template and SetNewPrevHash for the new
    /// tip, and a [`TpEvent::BlockAccepted`] is sent for each new block. Returns them, the new
    /// tip last.
    pub fn reorg(&self, depth: u32) -> Result<Vec<AcceptedBlock>, ReorgError> {
        let blocks = lock(&self.shared.chain).reorg(depth, unix_now())?;
        if let Some(tip) = blocks.last() {
            tracing::info!(depth, height = tip.height, hash = %tip.hash, "reorganised");
        }
        self.shared.connected(blocks.clone());
        Ok(blocks)
    }

    /// Stop serving and close all connections.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
    }
}

/// The simulated mempool's new transactions (so refreshed templates) every
/// `template_interval`, and the simulated network's blocks every `block_interval`.
fn spawn_timers(tasks: &mut JoinSet<()>, shared: &Shared, cfg: &Config) {
    let (public, private) = (
        cfg.transactions_per_interval,
        cfg.private_transactions_per_interval,
    );
    let (s, every) = (shared.clone(), cfg.template_interval);
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            tick.tick().await;
            {
                let mut chain = lock(&s.chain);
                chain.add_transactions(public, unix_now());
                chain.add_private_transactions(private, unix_now());
            }
            s.changes.send_modify(|c| c.transactions += 1);
        }
    });
    if let Some(every) = cfg.block_interval {
        let s = shared.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            tick.tick().await;
            loop {
                tick.tick().await;
                let b = lock(&s.chain).mine_external_block(unix_now());
                tracing::info!(height = b.height, hash = %b.hash, "the simulated network found a block");
                s.connected(vec![b]);
            }
        });
    }
}

/// Serve the node's RPC subset on `listener`; returns its address.
fn spawn_rpc(
    tasks: &mut JoinSet<()>,
    shared: &Shared,
    listener: tokio::net::TcpListener,
    cfg: &Config,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let s = shared.clone();
    let handler: bitcoin_rpc::Handler =
        Arc::new(move |method: &str, params: &serde_json::Value| s.rpc(method, params));
    tasks.spawn(bitcoin_rpc::serve(
        listener,
        cfg.rpc_credentials.clone(),
        handler,
    ));
    tracing::info!(address = %addr, authentication = cfg.rpc_credentials.is_some(), "Bitcoin Core RPC subset listening");
    Ok(addr)
}

fn lock(chain: &Mutex<Chain>) -> std::sync::MutexGuard<'_, Chain> {
    // A panic while holding the lock would be a bug in `Chain`; its data stays usable.
    chain.lock().unwrap_or_else(|e| e.into_inner())
}

/// One client, from SetupConnection to close.
struct Client {
    shared: Shared,
    constraints: Option<Constraints>,
    out: Vec<AnyMessage<'static>>,
}

#[derive(Debug)]
enum ClientError {
    Handler(HandlerError),
}

impl From<HandlerError> for ClientError {
    fn from(e: HandlerError) -> Self {
        ClientError::Handler(e)
    }
}

impl Client {
    fn push_template(&mut self, future: bool) {
        let Some(c) = self.constraints else { return };
        let mut chain = lock(&self.shared.chain);
        let t = chain.new_template(c);
        let Some(nt) = new_template(&t, future) else {
            tracing::error!(template_id = t.id, "template does not fit its message");
            return;
        };
        self.out.push(TemplateDistribution::NewTemplate(nt).into());
        if future {
            self.out.push(
                TemplateDistribution::SetNewPrevHash(SetNewPrevHash {
                    template_id: t.id,
                    prev_hash: U256(chain.tip().to_byte_array()),
                    header_timestamp: chain.block_time(unix_now()),
                    n_bits: chain.bits().to_consensus(),
                    target: U256(chain.target().to_le_bytes()),
                })
                .into(),
            );
        }
    }
}

fn new_template(t: &Template, future: bool) -> Option<NewTemplate<'static>> {
    let outputs: Vec<u8> = t.required_outputs.iter().flat_map(serialize).collect();
    Some(NewTemplate {
        template_id: t.id,
        future_template: future,
        version: BLOCK_VERSION,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(t.coinbase_prefix.clone()).ok()?,
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: t.value_remaining,
        coinbase_tx_outputs_count: t.required_outputs.len() as u32,
        coinbase_tx_outputs: B064K::new(outputs).ok()?,
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::from_items(t.merkle_path.iter().map(|h| U256(*h))).ok()?,
    })
}

impl HandleTemplateDistributionFromClient for Client {
    type Error = ClientError;

    fn handle_coinbase_output_constraints(
        &mut self,
        m: CoinbaseOutputConstraints,
    ) -> Result<(), ClientError> {
        let first = self.constraints.is_none();
        self.constraints = Some(Constraints {
            max_additional_size: m.coinbase_output_max_additional_size,
            max_additional_sigops: m.coinbase_output_max_additional_sigops,
        });
        // The first constraints start the flow of templates; later ones get a fresh template
        // on the current tip that honours them.
        self.push_template(first);
        Ok(())
    }

    fn handle_request_transaction_data(
        &mut self,
        m: RequestTransactionData,
    ) -> Result<(), ClientError> {
        let chain = lock(&self.shared.chain);
        let answer = match chain.template(m.template_id) {
            Some((t, true)) => {
                let list: Option<Vec<B016M<'static>>> = t
                    .txs
                    .iter()
                    .map(|tx| B016M::new(serialize(tx)).ok())
                    .collect();
                match list.and_then(|l| Seq064K::from_items(l).ok()) {
                    Some(transaction_list) => TemplateDistribution::RequestTransactionDataSuccess(
                        RequestTransactionDataSuccess {
                            template_id: m.template_id,
                            // The witness reserved value the coinbase must carry.
                            excess_data: B064K::new(vec![0u8; 32]).unwrap_or_default(),
                            transaction_list,
                        },
                    ),
                    None => error(m.template_id, error_codes::TEMPLATE_ID_NOT_FOUND),
                }
            }
            Some((_, false)) => error(m.template_id, error_codes::STALE_TEMPLATE_ID),
            None => error(m.template_id, error_codes::TEMPLATE_ID_NOT_FOUND),
        };
        drop(chain);
        self.out.push(answer.into());
        Ok(())
    }

    fn handle_submit_solution(&mut self, m: SubmitSolution<'_>) -> Result<(), ClientError> {
        let r = lock(&self.shared.chain).submit_solution(
            m.template_id,
            m.version,
            m.header_timestamp,
            m.header_nonce,
            m.coinbase_tx.as_bytes(),
            unix_now(),
        );
        match r {
            Ok(b) => {
                tracing::info!(height = b.height, hash = %b.hash, transactions = b.transactions, "block accepted");
                // Every connection's loop (this one too) sends the new tip's template.
                self.shared.connected(vec![b]);
            }
            Err(e) => {
                tracing::warn!(template_id = m.template_id, "solution refused: {e}");
                let _ = self.shared.events.send(TpEvent::SolutionRefused {
                    template_id: m.template_id,
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

fn error(template_id: u64, code: &str) -> TemplateDistribution<'static> {
    TemplateDistribution::RequestTransactionDataError(RequestTransactionDataError {
        template_id,
        error_code: Str0255::new(code.as_bytes().to_vec()).unwrap_or_default(),
    })
}

async fn send_all(conn: &Connection, out: &mut Vec<AnyMessage<'static>>) -> bool {
    for m in out.drain(..) {
        let Ok(frame) = m.to_frame() else {
            tracing::error!("cannot encode {}", m.name());
            return false;
        };
        if conn.sender.send(frame).await.is_err() {
            return false;
        }
    }
    true
}

/// Answer SetupConnection; true when the client may go on.
async fn setup(conn: &Connection) -> bool {
    let Ok(frame) = conn.receiver.recv().await else {
        return false;
    };
    let reply = match AnyMessage::parse_frame(&frame) {
        Ok(AnyMessage::Common(CommonMessages::SetupConnection(m))) => {
            if m.protocol != PROTOCOL_TEMPLATE_DISTRIBUTION {
                Err(error_codes::UNSUPPORTED_PROTOCOL)
            } else if m.min_version > SV2_PROTOCOL_VERSION || m.max_version < SV2_PROTOCOL_VERSION {
                Err(error_codes::PROTOCOL_VERSION_MISMATCH)
            } else {
                Ok(())
            }
        }
        Ok(other) => {
            tracing::warn!("{} before SetupConnection; closing", other.name());
            return false;
        }
        Err(e) => {
            tracing::warn!("bad first frame: {e}; closing");
            return false;
        }
    };
    let mut out = vec![match reply {
        Ok(()) => CommonMessages::SetupConnectionSuccess(SetupConnectionSuccess {
            used_version: SV2_PROTOCOL_VERSION,
            flags: 0,
        })
        .into(),
        Err(code) => CommonMessages::SetupConnectionError(SetupConnectionError {
            flags: 0,
            error_code: Str0255::new(code.as_bytes().to_vec()).unwrap_or_default(),
        })
        .into(),
    }];
    send_all(conn, &mut out).await && reply.is_ok()
}

async fn serve(conn: Connection, admitted: &mut Admitted, shared: Shared) {
    let mut changes = shared.changes.subscribe();
    let ok = tokio::select! {
        ok = setup(&conn) => ok,
        why = admitted.setup_expired() => {
            tracing::info!(peer = %admitted.peer, "closing: {why}");
            false
        }
    };
    if !ok {
        conn.close();
        return;
    }
    admitted.setup_done();
    let idle_timeout = admitted.limits().idle_timeout();
    // Without an idle timeout the sleep is a year: never, in practice.
    let idle_for = idle_timeout.unwrap_or(Duration::from_secs(365 * 86_400));
    let idle = tokio::time::sleep(idle_for);
    tokio::pin!(idle);
    let mut client = Client {
        shared,
        constraints: None,
        out: Vec::new(),
    };
    let mut seen = *changes.borrow_and_update();
    loop {
        tokio::select! {
            _ = &mut idle => {
                tracing::info!(peer = %admitted.peer, "closing: nothing received for idle_timeout_sec");
                break;
            }
            frame = conn.receiver.recv() => {
                let Ok(frame) = frame else { break };
                idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
                match AnyMessage::parse_frame(&frame) {
                    Ok(AnyMessage::TemplateDistribution(m)) => {
                        if let Err(ClientError::Handler(e)) = client.handle_message(m) {
                            tracing::warn!("{e}; closing");
                            break;
                        }
                    }
                    Ok(other) => {
                        tracing::warn!("unexpected {}; closing", other.name());
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("bad frame: {e}; closing");
                        break;
                    }
                }
            }
            changed = changes.changed() => {
                if changed.is_err() { break; }
                let now = *changes.borrow_and_update();
                if now.tips != seen.tips {
                    client.push_template(true);
                } else if now.transactions != seen.transactions {
                    client.push_template(false);
                }
                seen = now;
            }
        }
        if !send_all(&conn, &mut client.out).await {
            break;
        }
    }
    conn.close();
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
