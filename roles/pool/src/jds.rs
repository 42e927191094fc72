//! The job declarator server inside the pool (`[jds]`): miners' job declarator clients
//! allocate tokens and declare the jobs they built from their own templates; the pool then
//! accepts `SetCustomMiningJob` only for those jobs (or, in coinbase-only mode, for tokens it
//! issued and coinbases that pay it).
//!
//! The protocol is [`JdsSession`] and [`JobRegistry`] (sans-IO, roles_logic_sv2); this module
//! moves their bytes, asks the Bitcoin node (JSON-RPC) for mempool transactions, and submits
//! the blocks found on declared jobs.

use crate::config::JdsConfig;
use crate::{PoolEvent, Shared};
use bitcoin_rpc::{Auth, RpcClient};
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, ResponderConfig, Security};
use roles_logic_sv2::job::JobTemplate;
use roles_logic_sv2::job_declaration::{
    CustomJobCheck, DeclaredJob, JdsEvent, JdsSession, JobRegistry, KnownTransaction, Refusal,
    RegistryConfig,
};
use roles_logic_sv2::mining_server::{BlockSolution, PrevHash, Session};
use roles_utils::downstream::{accept_loop, Admitted};
use roles_utils::limits::Gate;
use roles_utils::{lock, now, sleep_until_monotonic};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Template keys of custom jobs have this bit set, so a block found on one goes to the JDS
/// path (the template provider never saw its template).
pub(crate) const CUSTOM_KEY: u64 = 1 << 63;
/// Custom jobs remembered (for their blocks), at most.
const MAX_CUSTOM_JOBS: usize = 4096;
/// How long a custom job on a tip the pool has not seen yet waits for it.
pub(crate) const WAIT_FOR_TIP: Duration = Duration::from_secs(10);
/// Largest frame a job declarator client may send: a declaration of a full block's
/// transactions (`ProvideMissingTransactions.Success`) is about 4 MB.
const MAX_JDC_PAYLOAD: usize = 8 * 1024 * 1024;
/// Raw transactions kept from the node, at most (a few blocks' worth).
const MAX_CACHED_TRANSACTIONS: usize = 50_000;

/// A custom job the pool accepted.
#[derive(Debug, Clone)]
pub(crate) struct CustomJob {
    pub declared: Option<Arc<DeclaredJob>>,
    pub height: u32,
}

/// What the JDS shares with the pool's mining sessions.
pub(crate) struct JdsState {
    pub registry: Mutex<JobRegistry>,
    pub rpc: RpcClient,
    mempool: Mutex<MempoolCache>,
    custom: Mutex<HashMap<u64, CustomJob>>,
    next_key: AtomicU64,
    next_connection: AtomicU64,
}

impl JdsState {
    pub fn new(cfg: &JdsConfig, pool_payout: bitcoin::ScriptBuf) -> Result<JdsState, String> {
        let auth = match (&cfg.rpc_user, &cfg.rpc_password, &cfg.rpc_cookie_file) {
            (Some(user), Some(password), _) => Auth::UserPass {
                user: user.clone(),
                password: password.clone(),
            },
            (_, _, Some(path)) => Auth::CookieFile(path.clone()),
            _ => Auth::None,
        };
        let rpc = RpcClient::new(&cfg.rpc_url, auth).map_err(|e| format!("jds.rpc_url: {e}"))?;
        let mut salt = [0u8; 32];
        getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness for tokens: {e}"))?;
        let registry = JobRegistry::new(
            RegistryConfig {
                pool_payout,
                extra_outputs: vec![],
                min_pool_payout_fraction: cfg.min_pool_payout_fraction,
                max_tokens: cfg.max_tokens,
                max_tokens_per_connection: 64,
                token_ttl_ms: cfg.token_ttl_sec * 1000,
                coinbase_only: cfg.coinbase_only,
            },
            salt,
        );
        Ok(JdsState {
            registry: Mutex::new(registry),
            rpc,
            mempool: Mutex::new(MempoolCache::default()),
            custom: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(1),
            next_connection: AtomicU64::new(1),
        })
    }

    /// The custom job behind a template key.
    pub fn custom_job(&self, key: u64) -> Option<CustomJob> {
        lock(&self.custom).get(&key).cloned()
    }

    /// Forget custom jobs below `height` (the tip moved past them).
    pub fn prune(&self, height: u32) {
        lock(&self.custom).retain(|_, j| j.height >= height);
    }
}

/// A custom job request a session reported, waiting for the pool's tip.
#[derive(Debug)]
pub(crate) struct Parked {
    pub channel_id: u32,
    pub request_id: u32,
    pub job: mining_sv2::SetCustomMiningJob<'static>,
    pub extranonce_len: usize,
    pub until: tokio::time::Instant,
}

/// Decide a custom job request: accepted (the session is told), refused, or parked (returned
/// to be tried again when the tip moves, until its deadline).
pub(crate) fn on_custom_job(
    jds: &JdsState,
    session: &mut Session,
    p: Parked,
    user: &str,
) -> Option<Parked> {
    let check = lock(&jds.registry).check_custom_job(&p.job, p.extranonce_len);
    match check {
        Ok(CustomJobCheck::Accepted {
            job,
            declared,
            user_identifier,
        }) => {
            let key = CUSTOM_KEY | jds.next_key.fetch_add(1, Ordering::Relaxed);
            let height = declared.as_ref().map_or(0, |d| d.height);
            let prev = PrevHash {
                template_id: key,
                prev_hash: p.job.prev_hash.0,
                min_ntime: p.job.min_ntime,
                nbits: p.job.nbits,
            };
            let template = JobTemplate {
                template_id: key,
                ..job
            };
            let accepted = session
                .accept_custom_job(p.channel_id, p.request_id, Arc::new(template), prev)
                .is_some();
            if accepted {
                let mut custom = lock(&jds.custom);
                if custom.len() >= MAX_CUSTOM_JOBS {
                    if let Some(&oldest) = custom.keys().min() {
                        custom.remove(&oldest);
                    }
                }
                custom.insert(key, CustomJob { declared, height });
                tracing::info!(channel_id = p.channel_id, %user, declarator = %user_identifier, "custom job accepted");
            }
            None
        }
        Ok(CustomJobCheck::WaitForTip) if tokio::time::Instant::now() < p.until => Some(p),
        Ok(CustomJobCheck::WaitForTip) => {
            let code = Refusal::InvalidParam("prev_hash").code();
            session.refuse_custom_job(p.channel_id, p.request_id, &code);
            None
        }
        Err(refusal) => {
            tracing::info!(channel_id = p.channel_id, %user, "custom job refused: {refusal}");
            session.refuse_custom_job(p.channel_id, p.request_id, &refusal.code());
            None
        }
    }
}

/// Accept job declarator clients on `listener` until dropped.
pub(crate) async fn run(
    shared: Arc<Shared>,
    listener: TcpListener,
    responder: Arc<ResponderConfig>,
) {
    let gate = Gate::new(shared.cfg.limits.clone(), shared.cfg.max_connections);
    accept_loop(listener, gate, move |stream, mut admitted| {
        let (shared, responder) = (shared.clone(), responder.clone());
        async move {
            let limits = admitted.limits().clone();
            let cfg = ConnectionConfig {
                handshake_timeout: limits.setup_timeout(),
                write_timeout: Some(limits.write_timeout()),
                frame_timeout: Some(limits.frame_timeout()),
                max_payload: MAX_JDC_PAYLOAD,
                ..ConnectionConfig::default()
            };
            let peer = admitted.peer;
            let conn = tokio::select! {
                r = with_tokio::connect(stream, Security::NoiseResponder(responder), cfg) => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(%peer, "JDS handshake failed: {e}");
                        return;
                    }
                },
                why = admitted.setup_expired() => {
                    tracing::debug!(%peer, "JDS: {why}");
                    return;
                }
            };
            serve(&conn, &shared, &mut admitted).await;
            conn.close();
        }
    })
    .await;
}

/// One job declarator client.
async fn serve(conn: &Connection, shared: &Shared, admitted: &mut Admitted) {
    let Some(jds) = shared.jds.as_ref() else {
        return;
    };
    let peer = admitted.peer;
    let connection = jds.next_connection.fetch_add(1, Ordering::Relaxed);
    let mut session = JdsSession::new(connection, now());
    let idle_timeout = admitted.limits().idle_timeout();
    let mut last = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            f = conn.receiver.recv() => {
                let Ok(f) = f else { break };
                last = tokio::time::Instant::now();
                let h = f.header();
                let r = session.handle_frame(h.extension_type(), h.msg_type(), f.payload(), now(), &mut lock(&jds.registry));
                if let Err(e) = r {
                    tracing::info!(%peer, "JDS closing: {e}");
                    flush(conn, &mut session).await;
                    break;
                }
                if admitted.in_setup() && session.full_template().is_some() {
                    admitted.setup_done();
                }
            }
            why = admitted.setup_expired() => {
                tracing::info!(%peer, "JDS closing: {why}");
                break;
            }
            _ = sleep_until_monotonic(session.poll_timeout()) => {
                session.handle_timeout(now(), &mut lock(&jds.registry));
            }
            _ = tick.tick() => {
                session.handle_timeout(now(), &mut lock(&jds.registry));
                if idle_timeout.is_some_and(|t| last.elapsed() >= t) {
                    tracing::info!(%peer, "JDS closing: nothing received for idle_timeout_sec");
                    break;
                }
            }
        }
        if !handle_events(shared, jds, &mut session).await || !flush(conn, &mut session).await {
            break;
        }
    }
    lock(&jds.registry).release_connection(connection);
}

/// Carry out the session's events; false when the connection must close.
async fn handle_events(shared: &Shared, jds: &JdsState, session: &mut JdsSession) -> bool {
    while let Some(e) = session.poll_event() {
        match e {
            JdsEvent::LookupTransactions { request_id, wtxids } => {
                let found = lookup(&jds.mempool, &jds.rpc, &wtxids).await;
                session.mempool_answer(request_id, found, &mut lock(&jds.registry));
            }
            JdsEvent::SubmitBlock {
                block,
                hash,
                height,
            } => submit(shared, jds, &block, hash, Some(height), "PushSolution").await,
            JdsEvent::Declared {
                user_identifier,
                transactions,
                provided,
                ..
            } => {
                tracing::info!(%user_identifier, transactions, provided, "job declared");
            }
            JdsEvent::Refused {
                request_id,
                refusal,
            } => tracing::info!(request_id, "declaration refused: {refusal}"),
            JdsEvent::SolutionRefused { reason } => {
                tracing::warn!("PushSolution not usable: {reason}")
            }
            JdsEvent::SetupDone { full_template } => {
                tracing::info!(full_template, "job declarator client set up")
            }
        }
    }
    true
}

async fn flush(conn: &Connection, session: &mut JdsSession) -> bool {
    while let Some(m) = session.poll_message() {
        if roles_utils::send(conn, m).await.is_err() {
            return false;
        }
    }
    true
}

/// Submit a whole block to the node; logged, counted and reported either way.
pub(crate) async fn submit(
    shared: &Shared,
    jds: &JdsState,
    block: &[u8],
    hash: [u8; 32],
    height: Option<u32>,
    via: &str,
) {
    let mut be = hash;
    be.reverse();
    let hash = hex::encode(be);
    match jds.rpc.submit_block(block).await {
        Ok(None) => {
            shared
                .stats
                .blocks_confirmed
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%hash, ?height, via, "block submitted to the node and accepted");
            let _ = shared
                .events
                .send(PoolEvent::BlockConfirmed { hash, height });
        }
        // Submitted twice (the miner's own node was first): it is in the chain.
        Ok(Some(reason)) if reason == "duplicate" => {
            tracing::info!(%hash, via, "block already known to the node");
        }
        Ok(Some(reason)) => {
            shared.stats.blocks_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%hash, ?height, via, block_hex = %hex::encode(block), "the node refused the block: {reason}");
            let _ = shared.events.send(PoolEvent::BlockSubmissionFailed {
                hash,
                height,
                block_hex: Some(hex::encode(block)),
            });
        }
        Err(e) => {
            shared.stats.blocks_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%hash, ?height, via, block_hex = %hex::encode(block), "block not submitted: {e} (submitblock the hex by hand)");
            let _ = shared.events.send(PoolEvent::BlockSubmissionFailed {
                hash,
                height,
                block_hex: Some(hex::encode(block)),
            });
        }
    }
}

/// A block found on a custom job: whole from its declared transactions (full-template
/// mode), or left to the miner's job declarator client, which has them (coinbase-only).
pub(crate) async fn on_custom_block(shared: &Shared, solution: BlockSolution) {
    let Some(jds) = shared.jds.as_ref() else {
        return;
    };
    let Some(job) = jds.custom_job(solution.template_id) else {
        tracing::error!("block found on a custom job the pool no longer holds");
        return;
    };
    let Some(declared) = job.declared else {
        tracing::info!("block found on a coinbase-only custom job: the miner's job declarator client submits it");
        return;
    };
    let block = roles_logic_sv2::job::block_bytes(
        &solution.header,
        &solution.coinbase_tx,
        &declared.transactions,
    );
    submit(
        shared,
        jds,
        &block,
        solution.block_hash,
        Some(declared.height),
        "custom job",
    )
    .await;
}

/// What the node's mempool holds, as the JDS asks for it: wtxid -> (txid, fee), refreshed
/// from `getrawmempool true` at most once a second, and raw transactions fetched in batches.
/// The lock is never held across a call to the node: a lookup that finds a refresh under way
/// answers from what is cached, and what it lacks is asked of the client
/// (ProvideMissingTransactions), so one client's unknown wtxids cannot stall the others.
#[derive(Default)]
struct MempoolCache {
    entries: HashMap<[u8; 32], (String, u64)>,
    raw: HashMap<[u8; 32], Arc<Vec<u8>>>,
    /// When the last refresh started.
    refreshed: Option<tokio::time::Instant>,
}

/// Each wtxid's transaction and fee, when the node has it.
async fn lookup(
    cache: &Mutex<MempoolCache>,
    rpc: &RpcClient,
    wtxids: &[[u8; 32]],
) -> Vec<Option<KnownTransaction>> {
    if lock(cache).claim_refresh(wtxids) {
        match rpc.get_raw_mempool_verbose().await {
            Ok(m) => lock(cache).set_entries(m),
            Err(e) => tracing::warn!("getrawmempool: {e}"),
        }
    }
    let need = lock(cache).uncached(wtxids);
    if !need.is_empty() {
        let txids: Vec<String> = need.iter().map(|(_, txid)| txid.clone()).collect();
        match rpc.get_raw_transactions(&txids).await {
            Ok(answers) => lock(cache).store(&need, answers),
            Err(e) => tracing::warn!("getrawtransaction: {e}"),
        }
    }
    lock(cache).answer(wtxids)
}

impl MempoolCache {
    /// Whether this lookup should refresh the entries: some wtxid is unknown and no refresh
    /// started in the last second (this one then counts as started).
    fn claim_refresh(&mut self, wtxids: &[[u8; 32]]) -> bool {
        let due = self
            .refreshed
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due && wtxids.iter().any(|w| !self.entries.contains_key(w)) {
            self.refreshed = Some(tokio::time::Instant::now());
            return true;
        }
        false
    }

    fn set_entries(&mut self, m: HashMap<String, bitcoin_rpc::MempoolEntry>) {
        self.entries = m
            .into_iter()
            .filter_map(|(txid, e)| {
                let mut w: [u8; 32] = hex::decode(&e.wtxid).ok()?.try_into().ok()?;
                w.reverse(); // display order to internal
                Some((w, (txid, e.fees.base_sat())))
            })
            .collect();
        self.raw.retain(|w, _| self.entries.contains_key(w));
    }

    /// The wtxids in the mempool whose raw transaction is not cached, with their txids.
    fn uncached(&self, wtxids: &[[u8; 32]]) -> Vec<([u8; 32], String)> {
        wtxids
            .iter()
            .filter(|w| !self.raw.contains_key(*w))
            .filter_map(|w| Some((*w, self.entries.get(w)?.0.clone())))
            .collect()
    }

    fn store(
        &mut self,
        need: &[([u8; 32], String)],
        answers: Vec<Result<Vec<u8>, bitcoin_rpc::RpcError>>,
    ) {
        if self.raw.len() + need.len() > MAX_CACHED_TRANSACTIONS {
            self.raw.clear();
        }
        for ((w, _), a) in need.iter().zip(answers) {
            if let Ok(tx) = a {
                self.raw.insert(*w, Arc::new(tx));
            }
        }
    }

    fn answer(&self, wtxids: &[[u8; 32]]) -> Vec<Option<KnownTransaction>> {
        wtxids
            .iter()
            .map(|w| {
                let tx = self.raw.get(w)?.clone();
                let fee = self.entries.get(w).map(|e| e.1);
                Some(KnownTransaction { tx, fee })
            })
            .collect()
    }
}

/// The registry's tip from a template provider SetNewPrevHash.
pub(crate) fn set_tip(jds: &JdsState, prev_hash: [u8; 32], height: u32, nbits: u32) {
    lock(&jds.registry).set_tip(roles_logic_sv2::job_declaration::Tip {
        prev_hash,
        height,
        nbits,
    });
    jds.prune(height);
}

#[cfg(test)]
mod mempool_cache_tests {
    use super::*;

    #[tokio::test]
    async fn one_refresh_a_second_and_only_for_unknown_wtxids() {
        let mut c = MempoolCache::default();
        let (known, unknown) = ([1u8; 32], [2u8; 32]);
        assert!(c.claim_refresh(&[unknown]), "nothing cached: refresh");
        assert!(
            !c.claim_refresh(&[unknown]),
            "a refresh already started this second"
        );
        c.entries.insert(known, ("11".repeat(32), 500));
        c.refreshed = None;
        assert!(!c.claim_refresh(&[known]), "every wtxid known: no refresh");
        assert_eq!(
            c.uncached(&[known, unknown]),
            vec![(known, "11".repeat(32))]
        );
        c.store(&[(known, "11".repeat(32))], vec![Ok(vec![0xaa])]);
        assert!(c.uncached(&[known]).is_empty());
        let answer = c.answer(&[known, unknown]);
        assert_eq!(
            answer[0].as_ref().map(|k| (k.tx.to_vec(), k.fee)),
            Some((vec![0xaa], Some(500)))
        );
        assert!(answer[1].is_none());
    }
}
