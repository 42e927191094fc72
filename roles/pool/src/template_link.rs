//! The pool's link to its template provider: templates in, blocks out.
//!
//! One task owns the link and the [`BlockQueue`], so a found block is never dropped: it
//! reaches this task over an unbounded channel (blocks are rare: each needs proof of work at
//! the network target), is written to the link that issued its template, and is written again
//! after every reconnect until the template provider's tip becomes it.

use crate::blocks::{BlockQueue, Outcome};
use crate::{PoolEvent, Shared};
use binary_sv2::B064K;
use const_sv2::PROTOCOL_TEMPLATE_DISTRIBUTION;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use roles_logic_sv2::job::JobTemplate;
use roles_logic_sv2::mining_server::{BlockSolution, PrevHash};
use roles_logic_sv2::parsers::{AnyMessage, TemplateDistribution};
use roles_utils::{lock, monotonic_ms, send, setup_connection, sleep_until_monotonic};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, RequestTransactionData, SubmitSolution,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long a delivered block may wait for any new tip before the link is resynced.
const STALL_PATIENCE_MS: u64 = 10_000;

/// A block a session found, on its way to the template provider link.
#[derive(Debug)]
pub(crate) struct FoundBlock {
    pub solution: BlockSolution,
    pub user_identity: Arc<str>,
}

/// The pool's own keys for templates. A restarted template provider reuses its template
/// ids, so jobs are keyed by the pool: a solution goes to the template provider with the id
/// that provider gave it.
#[derive(Default)]
pub(crate) struct TemplateKeys {
    /// Height of each template, by key.
    pub heights: HashMap<u64, u32>,
    /// Key -> the template provider's template_id.
    to_tp: HashMap<u64, u64>,
    /// The current connection's template_id -> key.
    from_tp: HashMap<u64, u64>,
    next_key: u64,
    tp_connection: u64,
    /// Key of the template the current tip activated: templates of this tip and the one
    /// before stay known, so a block found just as the tip moved can still be submitted.
    tip_key: u64,
}

/// Connect, set up, take templates, deliver blocks; reconnect when the link drops. Blocks
/// that arrive while there is no link are kept (and logged whole) for the next one.
pub(crate) async fn run(shared: Arc<Shared>, mut found: mpsc::UnboundedReceiver<FoundBlock>) {
    let mut queue = BlockQueue::default();
    let mut backoff = Duration::from_millis(100);
    loop {
        match session(&shared, &mut queue, &mut found).await {
            Ok(()) => return,
            Err(reason) => {
                tracing::warn!(address = %shared.cfg.tp_address, "template provider: {reason}");
                let _ = shared
                    .events
                    .send(PoolEvent::TemplateProviderDown { reason });
            }
        }
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                b = found.recv() => match b {
                    Some(b) => on_found(&shared, &mut queue, b, None),
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One link, until it fails (`Err`) or the pool stops (`Ok`).
async fn session(
    shared: &Shared,
    queue: &mut BlockQueue,
    found: &mut mpsc::UnboundedReceiver<FoundBlock>,
) -> Result<(), String> {
    let conn = connect(shared).await?;
    let connection = {
        let mut keys = lock(&shared.keys);
        keys.tp_connection += 1;
        keys.from_tp.clear();
        keys.tp_connection
    };
    tracing::info!(address = %shared.cfg.tp_address, "template provider connected");
    let _ = shared.events.send(PoolEvent::TemplateProviderUp);
    deliver(shared, &conn, queue, connection).await?;
    loop {
        let stall = queue.stall_deadline(STALL_PATIENCE_MS);
        tokio::select! {
            _ = sleep_until_monotonic(stall) => {
                return Err(format!(
                    "a delivered block saw no new tip in {} s: the link may have lost a message; reconnecting to resync",
                    STALL_PATIENCE_MS / 1000
                ));
            }
            f = conn.receiver.recv() => {
                let f = f.map_err(|_| "connection closed".to_string())?;
                match AnyMessage::parse_frame(&f) {
                    Ok(AnyMessage::TemplateDistribution(m)) => {
                        on_message(shared, &conn, queue, m).await?;
                    }
                    Ok(other) => tracing::warn!("template provider sent {}; ignored", other.name()),
                    Err(e) => return Err(format!("bad frame: {e}")),
                }
            }
            b = found.recv() => {
                let Some(b) = b else { return Ok(()) };
                on_found(shared, queue, b, Some(connection));
                deliver(shared, &conn, queue, connection).await?;
            }
        }
    }
}

async fn connect(shared: &Shared) -> Result<Connection, String> {
    let addr = shared.cfg.tp_address;
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let security = match shared.cfg.tp_authority().map_err(|e| e.to_string())? {
        Some(k) => Security::NoiseInitiator { authority: k.0 },
        None => Security::Plain,
    };
    let conn = with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    setup_connection(&conn, PROTOCOL_TEMPLATE_DISTRIBUTION, 0, addr, "pool").await?;
    let (size, sigops) = shared.coinbase.output_constraints();
    send(
        &conn,
        TemplateDistribution::CoinbaseOutputConstraints(CoinbaseOutputConstraints {
            coinbase_output_max_additional_size: size,
            coinbase_output_max_additional_sigops: sigops,
        }),
    )
    .await?;
    Ok(conn)
}

/// A block from a session: queued, and logged whole when no link can take it now.
fn on_found(shared: &Shared, queue: &mut BlockQueue, b: FoundBlock, link: Option<u64>) {
    let (tp_id, height) = {
        let keys = lock(&shared.keys);
        let key = b.solution.template_id;
        (
            keys.to_tp.get(&key).copied(),
            keys.heights.get(&key).copied(),
        )
    };
    // Templates are forgotten two tips after theirs: a block so late has lost its race, but
    // it is still kept and logged, never dropped (its template id is then unknown: 0).
    let tp_template_id = tp_id.unwrap_or_else(|| {
        tracing::warn!("a block for a template two tips old; kept anyway");
        0
    });
    if let Some(gone) = queue.found(b.solution, tp_template_id, height, b.user_identity) {
        report(shared, gone);
    }
    if link.is_none() {
        if let Some(p) = queue.pending().last() {
            tracing::error!(
                hash = %p.hash_hex(),
                ?height,
                user = %p.user_identity,
                block_hex = p.block_hex().as_deref().unwrap_or("(transactions unknown)"),
                "block found while no template provider link is up; kept for the next link (submitblock the hex to submit it by hand)"
            );
        }
    }
}

/// Write every block this connection has not had yet.
async fn deliver(
    shared: &Shared,
    conn: &Connection,
    queue: &mut BlockQueue,
    connection: u64,
) -> Result<(), String> {
    for b in queue.take_undelivered(connection, monotonic_ms()) {
        let coinbase_tx = B064K::new(b.solution.coinbase_tx.clone()).map_err(|e| e.to_string())?;
        let m = TemplateDistribution::SubmitSolution(SubmitSolution {
            template_id: b.tp_template_id,
            version: b.solution.version,
            header_timestamp: b.solution.header_timestamp,
            header_nonce: b.solution.header_nonce,
            coinbase_tx,
        });
        send(conn, m).await?;
        shared
            .stats
            .blocks_submitted
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(hash = %b.hash_hex(), height = ?b.height, user = %b.user_identity, connection, "block submitted to the template provider");
    }
    Ok(())
}

fn report(shared: &Shared, o: Outcome) {
    match o {
        Outcome::Confirmed { hash, height } => {
            shared
                .stats
                .blocks_confirmed
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%hash, ?height, "block confirmed: the template provider's tip is now this block");
            let _ = shared
                .events
                .send(PoolEvent::BlockConfirmed { hash, height });
        }
        Outcome::Failed {
            hash,
            height,
            block_hex,
        } => {
            shared.stats.blocks_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                %hash,
                ?height,
                block_hex = block_hex.as_deref().unwrap_or("(transactions unknown)"),
                "block submission failed: the chain moved on without it (submitblock the hex to try by hand)"
            );
            let _ = shared.events.send(PoolEvent::BlockSubmissionFailed {
                hash,
                height,
                block_hex,
            });
        }
    }
}

async fn on_message(
    shared: &Shared,
    conn: &Connection,
    queue: &mut BlockQueue,
    m: TemplateDistribution<'_>,
) -> Result<(), String> {
    match m {
        TemplateDistribution::NewTemplate(t) => {
            if on_new_template(shared, &t).is_some() && shared.cfg.keep_block_transactions {
                let m = TemplateDistribution::RequestTransactionData(RequestTransactionData {
                    template_id: t.template_id,
                });
                send(conn, m).await?;
            }
        }
        TemplateDistribution::SetNewPrevHash(p) => {
            for o in queue.on_new_tip(&p.prev_hash.0) {
                report(shared, o);
            }
            // A tip we cannot follow means the link lost a message: every job would be
            // stale. A new connection starts again from the provider's current tip.
            let oldest = on_set_new_prev_hash(shared, &p)?;
            queue.prune_transactions(oldest);
        }
        TemplateDistribution::RequestTransactionDataSuccess(s) => {
            let key = lock(&shared.keys).from_tp.get(&s.template_id).copied();
            if let Some(key) = key {
                let txs = s
                    .transaction_list
                    .iter()
                    .map(|t| t.as_bytes().to_vec())
                    .collect();
                queue.set_transactions(key, txs);
            }
        }
        TemplateDistribution::RequestTransactionDataError(e) => {
            tracing::debug!(
                template_id = e.template_id,
                "no transaction data: {}",
                e.error_code.to_string_lossy()
            );
        }
        other => tracing::warn!("template provider sent {}; ignored", other.name()),
    }
    Ok(())
}

/// A new template becomes a job for every session; returns its key.
fn on_new_template(shared: &Shared, t: &template_distribution_sv2::NewTemplate<'_>) -> Option<u64> {
    let mut job = match JobTemplate::from_template(t, &shared.coinbase) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(template_id = t.template_id, "cannot build a job: {e}");
            return None;
        }
    };
    let key = {
        let mut keys = lock(&shared.keys);
        keys.next_key += 1;
        let key = keys.next_key;
        keys.to_tp.insert(key, t.template_id);
        keys.from_tp.insert(t.template_id, key);
        if let Some(h) = crate::bip34_height(t.coinbase_prefix.as_bytes()) {
            keys.heights.insert(key, h);
        }
        key
    };
    job.template_id = key;
    tracing::debug!(
        template_id = t.template_id,
        future = t.future_template,
        "new template"
    );
    shared.feed.new_template(Arc::new(job));
    Some(key)
}

/// The tip moved; returns the oldest template key still kept, or why the tip cannot be
/// followed.
fn on_set_new_prev_hash(
    shared: &Shared,
    p: &template_distribution_sv2::SetNewPrevHash,
) -> Result<u64, String> {
    let Some(key) = lock(&shared.keys).from_tp.get(&p.template_id).copied() else {
        return Err(format!(
            "SetNewPrevHash for template {}, which never arrived; reconnecting to resync",
            p.template_id
        ));
    };
    let prev = PrevHash {
        template_id: key,
        prev_hash: p.prev_hash.0,
        min_ntime: p.header_timestamp,
        nbits: p.n_bits,
    };
    if !shared.feed.set_new_prev_hash(prev) {
        return Err(format!(
            "SetNewPrevHash for template {}, which is not a future template; reconnecting to resync",
            p.template_id
        ));
    }
    if let Some(jds) = shared.jds.as_ref() {
        let height = lock(&shared.keys).heights.get(&key).copied();
        if let Some(height) = height {
            crate::jds::set_tip(jds, p.prev_hash.0, height, p.n_bits);
        }
    }
    // Templates older than the previous tip's can no longer win a block.
    let mut keys = lock(&shared.keys);
    let keep = std::mem::replace(&mut keys.tip_key, key);
    keys.heights.retain(|&k, _| k >= keep);
    keys.to_tp.retain(|&k, _| k >= keep);
    keys.from_tp.retain(|_, k| *k >= keep);
    Ok(keep)
}
