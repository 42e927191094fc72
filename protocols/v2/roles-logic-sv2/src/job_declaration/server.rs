//! The job declarator server's end of one connection, sans-IO, in the shape of
//! [`crate::mining_server::Session`]: `handle_frame` and `handle_timeout`, commands, and
//! `poll_message` / `poll_event`.
//!
//! The node (mempool and block submission) is the caller's: a declared job's transactions
//! are asked for with [`JdsEvent::LookupTransactions`] and answered with
//! [`JdsSession::mempool_answer`]; what the node lacks is asked of the client with
//! `ProvideMissingTransactions`; a `PushSolution` becomes [`JdsEvent::SubmitBlock`], a whole
//! block for `submitblock`.

use super::registry::{check_declared_coinbase, JobRegistry};
use super::{
    measure, DeclaredCoinbase, DeclaredJob, Refusal, MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT,
};
use crate::handlers::{
    HandleCommonMessagesFromDownstream, HandleJobDeclarationFromClient, HandlerError,
};
use crate::job::{block_bytes, block_header, coinbase_merkle_path, merkle_root_from_path};
use crate::parsers::{AnyMessage, CommonMessages, JobDeclaration, ParserError};
use crate::{sha256d, target, Now};
use binary_sv2::{Seq064K, Str0255, B0255, B064K};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::Transaction;
use common_messages_sv2::{SetupConnection, SetupConnectionError, SetupConnectionSuccess};
use const_sv2::error_codes;
use const_sv2::{job_declaration_flags, PROTOCOL_JOB_DECLARATION, SV2_PROTOCOL_VERSION};
use job_declaration_sv2::*;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

/// A mempool transaction the node has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTransaction {
    /// Serialized with its witness.
    pub tx: Arc<Vec<u8>>,
    /// Its fee, when the node reports it.
    pub fee: Option<u64>,
}

/// What the caller must do or know.
#[derive(Debug, Clone, PartialEq)]
pub enum JdsEvent {
    SetupDone {
        full_template: bool,
    },
    /// Find these (by wtxid) in the node's mempool, then call
    /// [`JdsSession::mempool_answer`] with what was found, in the same order.
    LookupTransactions {
        request_id: u32,
        wtxids: Vec<[u8; 32]>,
    },
    Declared {
        request_id: u32,
        user_identifier: Arc<str>,
        transactions: usize,
        provided: usize,
    },
    Refused {
        request_id: u32,
        refusal: Refusal,
    },
    /// A `PushSolution` made into a whole block: submit it to the node.
    SubmitBlock {
        block: Vec<u8>,
        /// Little-endian (reverse for display).
        hash: [u8; 32],
        height: u32,
    },
    /// A `PushSolution` that could not be made into a block.
    SolutionRefused {
        reason: String,
    },
}

/// Why the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JdsError {
    Parser(ParserError),
    Handler(HandlerError),
    NotSetUp {
        name: &'static str,
    },
    SetupRefused {
        error_code: &'static str,
    },
    /// More token requests than the rate limit allows.
    TokenFlood,
}

impl fmt::Display for JdsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JdsError::Parser(e) => write!(f, "{e}"),
            JdsError::Handler(e) => write!(f, "{e}"),
            JdsError::NotSetUp { name } => write!(f, "{name} before SetupConnection"),
            JdsError::SetupRefused { error_code } => write!(f, "setup refused: {error_code}"),
            JdsError::TokenFlood => f.write_str("AllocateMiningJobToken faster than allowed"),
        }
    }
}

impl std::error::Error for JdsError {}

impl From<HandlerError> for JdsError {
    fn from(e: HandlerError) -> Self {
        JdsError::Handler(e)
    }
}

/// Declarations waiting for the node or the client, per connection at most.
const MAX_PENDING: usize = 16;
/// How long a declaration may wait (for transactions, or for a tip the pool has not seen).
const PENDING_TIMEOUT_MS: u64 = 30_000;
/// Token requests: a burst of this many, then this many per second.
const TOKEN_BURST: f64 = 32.0;
const TOKENS_PER_SECOND: f64 = 2.0;

#[derive(Debug)]
struct Pending {
    user: Arc<str>,
    version: u32,
    coinbase: DeclaredCoinbase,
    wtxids: Vec<[u8; 32]>,
    found: Vec<Option<KnownTransaction>>,
    /// Positions asked of the client and not yet answered, in the order asked.
    asked: Vec<u16>,
    /// Transactions the client provided.
    provided: usize,
    looked_up: bool,
    deadline_ms: u64,
}

/// One job declaration connection, from SetupConnection to close.
#[derive(Debug)]
pub struct JdsSession {
    connection: u64,
    full_template: Option<bool>,
    pending: HashMap<u32, Pending>,
    last_declared: Option<Arc<DeclaredJob>>,
    bucket: f64,
    bucket_at_ms: u64,
    now: Now,
    out: VecDeque<AnyMessage<'static>>,
    events: VecDeque<JdsEvent>,
}

impl JdsSession {
    /// A session for connection number `connection` (tokens are bound to it).
    pub fn new(connection: u64, now: Now) -> Self {
        JdsSession {
            connection,
            full_template: None,
            pending: HashMap::new(),
            last_declared: None,
            bucket: TOKEN_BURST,
            bucket_at_ms: now.monotonic_ms,
            now,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Whether the client negotiated full-template mode (`None` before setup).
    pub fn full_template(&self) -> Option<bool> {
        self.full_template
    }

    /// Declarations waiting for transactions or a tip.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Handle one frame's payload; an error means the connection must be closed.
    pub fn handle_frame(
        &mut self,
        extension_type: u16,
        msg_type: u8,
        payload: &[u8],
        now: Now,
        registry: &mut JobRegistry,
    ) -> Result<(), JdsError> {
        self.now = now;
        match AnyMessage::parse(extension_type, msg_type, payload).map_err(JdsError::Parser)? {
            AnyMessage::Common(m) => HandleCommonMessagesFromDownstream::handle_message(self, m),
            AnyMessage::JobDeclaration(m) => {
                if self.full_template.is_none() {
                    return Err(JdsError::NotSetUp { name: m.name() });
                }
                let mut h = WithRegistry { s: self, registry };
                HandleJobDeclarationFromClient::handle_message(&mut h, m)
            }
            other => Err(HandlerError::UnexpectedMessage { name: other.name() }.into()),
        }
    }

    /// The clock: declarations that waited too long are refused, and those that waited for a
    /// new tip are tried again.
    pub fn handle_timeout(&mut self, now: Now, registry: &mut JobRegistry) {
        self.now = now;
        let late: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now.monotonic_ms)
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            self.pending.remove(&id);
            self.refuse(id, Refusal::InvalidParam("prev_hash"));
        }
        let ready: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                p.looked_up && p.asked.is_empty() && p.found.iter().all(Option::is_some)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in ready {
            self.finish(id, registry);
        }
    }

    /// The node's answer to [`JdsEvent::LookupTransactions`]: each wtxid's transaction, or
    /// `None` when the mempool does not have it (the client is asked for those).
    pub fn mempool_answer(
        &mut self,
        request_id: u32,
        found: Vec<Option<KnownTransaction>>,
        registry: &mut JobRegistry,
    ) {
        let Some(p) = self.pending.get_mut(&request_id) else {
            return;
        };
        if found.len() != p.wtxids.len() {
            return;
        }
        p.found = found;
        p.looked_up = true;
        let missing: Vec<u16> = p
            .found
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_none())
            .map(|(i, _)| i as u16)
            .collect();
        if missing.is_empty() {
            return self.finish(request_id, registry);
        }
        p.asked = missing.clone();
        let Ok(list) = Seq064K::from_items(missing) else {
            return;
        };
        self.send(JobDeclaration::ProvideMissingTransactions(
            ProvideMissingTransactions {
                request_id,
                unknown_tx_position_list: list,
            },
        ));
    }

    /// The next message to send.
    pub fn poll_message(&mut self) -> Option<AnyMessage<'static>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<JdsEvent> {
        self.events.pop_front()
    }

    /// When to call [`JdsSession::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.pending.values().map(|p| p.deadline_ms).min()
    }

    fn send(&mut self, m: impl Into<AnyMessage<'static>>) {
        self.out.push_back(m.into());
    }

    fn refuse(&mut self, request_id: u32, refusal: Refusal) {
        if let Ok(error_code) = Str0255::new(refusal.code().into_bytes()) {
            self.send(JobDeclaration::DeclareMiningJobError(
                DeclareMiningJobError {
                    request_id,
                    error_code,
                    error_details: B064K::default(),
                },
            ));
        }
        self.events.push_back(JdsEvent::Refused {
            request_id,
            refusal,
        });
    }

    /// Every transaction is known: check the whole job.
    fn finish(&mut self, request_id: u32, registry: &mut JobRegistry) {
        let Some(p) = self.pending.remove(&request_id) else {
            return;
        };
        match self.check(&p, registry) {
            Ok(Some(job)) => {
                let provided = p.provided;
                let n = job.transactions.len();
                let job = Arc::new(job);
                let token = registry.declare((*job).clone());
                self.last_declared = Some(job);
                if let Ok(new_mining_job_token) = B0255::new(token) {
                    self.send(JobDeclaration::DeclareMiningJobSuccess(
                        DeclareMiningJobSuccess {
                            request_id,
                            new_mining_job_token,
                        },
                    ));
                }
                self.events.push_back(JdsEvent::Declared {
                    request_id,
                    user_identifier: p.user,
                    transactions: n,
                    provided,
                });
            }
            // Built on a tip not seen yet: wait for it (handle_timeout tries again).
            Ok(None) => {
                self.pending.insert(request_id, p);
            }
            Err(code) => self.refuse(request_id, code),
        }
    }

    /// `Ok(None)` while the job builds on a tip the pool has not seen yet.
    fn check(&self, p: &Pending, registry: &JobRegistry) -> Result<Option<DeclaredJob>, Refusal> {
        let height = p
            .coinbase
            .height()
            .ok_or(Refusal::InvalidParam("coinbase_tx_prefix"))?;
        let Some(tip) = registry.tip() else {
            return Ok(None);
        };
        if height > tip.height {
            return Ok(None);
        }
        if height < tip.height {
            return Err(Refusal::InvalidParam("coinbase_tx_prefix"));
        }
        let mut txs = Vec::with_capacity(p.found.len());
        let mut raw = Vec::with_capacity(p.found.len());
        let mut fees = 0u64;
        for k in p.found.iter().flatten() {
            let t: Transaction =
                deserialize(&k.tx).map_err(|_| Refusal::InvalidParam("wtxid_list"))?;
            fees = fees.saturating_add(k.fee.unwrap_or(0));
            txs.push(t);
            raw.push((*k.tx).clone());
        }
        let (txids, weight, sigops) = measure(&txs);
        let coinbase_weight = p.coinbase.tx.weight().to_wu();
        // Header, the transaction count (at most 3 bytes for a block's worth), coinbase.
        let total = 4 * (80 + 3) + coinbase_weight + weight;
        if total > MAX_BLOCK_WEIGHT {
            return Err(Refusal::InvalidParam("wtxid_list"));
        }
        if sigops > MAX_BLOCK_SIGOPS_COST {
            return Err(Refusal::InvalidParam("wtxid_list"));
        }
        check_declared_coinbase(registry.config(), &p.coinbase, height, fees)?;
        Ok(Some(DeclaredJob {
            user_identifier: p.user.clone(),
            version: p.version,
            coinbase: p.coinbase.clone(),
            transactions: Arc::new(raw),
            merkle_path: coinbase_merkle_path(&txids),
            height,
        }))
    }
}

/// A session and the registry, for the handler trait.
struct WithRegistry<'a> {
    s: &'a mut JdsSession,
    registry: &'a mut JobRegistry,
}

impl HandleCommonMessagesFromDownstream for JdsSession {
    type Error = JdsError;

    fn handle_setup_connection(&mut self, m: SetupConnection<'_>) -> Result<(), JdsError> {
        if self.full_template.is_some() {
            return Err(HandlerError::UnexpectedMessage {
                name: "SetupConnection",
            }
            .into());
        }
        let refuse = |s: &mut Self, code: &'static str| {
            if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
                s.send(CommonMessages::SetupConnectionError(SetupConnectionError {
                    flags: 0,
                    error_code,
                }));
            }
            Err(JdsError::SetupRefused { error_code: code })
        };
        if m.protocol != PROTOCOL_JOB_DECLARATION {
            return refuse(self, error_codes::UNSUPPORTED_PROTOCOL);
        }
        if m.min_version > SV2_PROTOCOL_VERSION || m.max_version < SV2_PROTOCOL_VERSION {
            return refuse(self, error_codes::PROTOCOL_VERSION_MISMATCH);
        }
        let full = m.flags & job_declaration_flags::DECLARE_TX_DATA != 0;
        self.full_template = Some(full);
        self.send(CommonMessages::SetupConnectionSuccess(
            SetupConnectionSuccess {
                used_version: SV2_PROTOCOL_VERSION,
                flags: 0,
            },
        ));
        self.events.push_back(JdsEvent::SetupDone {
            full_template: full,
        });
        Ok(())
    }
}

impl HandleJobDeclarationFromClient for WithRegistry<'_> {
    type Error = JdsError;

    fn handle_allocate_mining_job_token(
        &mut self,
        m: AllocateMiningJobToken<'_>,
    ) -> Result<(), JdsError> {
        let s = &mut *self.s;
        let now = s.now.monotonic_ms;
        let elapsed = now.saturating_sub(s.bucket_at_ms) as f64 / 1000.0;
        s.bucket = (s.bucket + elapsed * TOKENS_PER_SECOND).min(TOKEN_BURST);
        s.bucket_at_ms = now;
        if s.bucket < 1.0 {
            return Err(JdsError::TokenFlood);
        }
        s.bucket -= 1.0;
        let token = self
            .registry
            .allocate(s.connection, &m.user_identifier.to_string_lossy(), now);
        let outputs = serialize(&self.registry.required_outputs());
        if let (Ok(mining_job_token), Ok(coinbase_tx_outputs)) =
            (B0255::new(token), B064K::new(outputs))
        {
            s.send(JobDeclaration::AllocateMiningJobTokenSuccess(
                AllocateMiningJobTokenSuccess {
                    request_id: m.request_id,
                    mining_job_token,
                    coinbase_tx_outputs,
                },
            ));
        }
        Ok(())
    }

    fn handle_declare_mining_job(&mut self, m: DeclareMiningJob<'_>) -> Result<(), JdsError> {
        let s = &mut *self.s;
        let request_id = m.request_id;
        if s.full_template != Some(true) {
            // Coinbase-only connections use their tokens in SetCustomMiningJob directly.
            s.refuse(request_id, Refusal::TxDataNotNegotiated);
            return Ok(());
        }
        if s.pending.len() >= MAX_PENDING || s.pending.contains_key(&request_id) {
            s.refuse(request_id, Refusal::TooManyPending);
            return Ok(());
        }
        let user = match self
            .registry
            .take_allocated(m.mining_job_token.as_bytes(), s.connection)
        {
            Ok(u) => u,
            Err(code) => {
                s.refuse(request_id, code);
                return Ok(());
            }
        };
        let coinbase = match DeclaredCoinbase::parse(
            m.coinbase_tx_prefix.as_bytes(),
            m.coinbase_tx_suffix.as_bytes(),
        ) {
            Ok(c) => c,
            Err(_) => {
                s.refuse(request_id, Refusal::InvalidParam("coinbase_tx_prefix"));
                return Ok(());
            }
        };
        let wtxids: Vec<[u8; 32]> = m.wtxid_list.iter().map(|h| h.0).collect();
        let n = wtxids.len();
        s.pending.insert(
            request_id,
            Pending {
                user,
                version: m.version,
                coinbase,
                wtxids: wtxids.clone(),
                found: vec![None; n],
                asked: Vec::new(),
                provided: 0,
                looked_up: false,
                deadline_ms: s.now.monotonic_ms + PENDING_TIMEOUT_MS,
            },
        );
        if n == 0 {
            if let Some(p) = s.pending.get_mut(&request_id) {
                p.looked_up = true;
            }
            s.finish(request_id, self.registry);
        } else {
            s.events
                .push_back(JdsEvent::LookupTransactions { request_id, wtxids });
        }
        Ok(())
    }

    fn handle_provide_missing_transactions_success(
        &mut self,
        m: ProvideMissingTransactionsSuccess<'_>,
    ) -> Result<(), JdsError> {
        let s = &mut *self.s;
        let request_id = m.request_id;
        let Some(p) = s.pending.get_mut(&request_id) else {
            return Ok(()); // answered or expired meanwhile
        };
        let asked = std::mem::take(&mut p.asked);
        let list: Vec<Vec<u8>> = m
            .transaction_list
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect();
        let mut fits = list.len() == asked.len();
        for (pos, bytes) in asked.iter().zip(&list) {
            let tx: Result<Transaction, _> = deserialize(bytes);
            let wtxid = tx.map(|t| t.compute_wtxid().to_byte_array());
            if wtxid.ok().as_ref() != p.wtxids.get(*pos as usize) {
                fits = false;
                break;
            }
            p.found[*pos as usize] = Some(KnownTransaction {
                tx: Arc::new(bytes.to_vec()),
                fee: None,
            });
        }
        if !fits {
            s.pending.remove(&request_id);
            s.refuse(request_id, Refusal::InvalidParam("transaction_list"));
            return Ok(());
        }
        p.provided = asked.len();
        s.finish(request_id, self.registry);
        Ok(())
    }

    fn handle_push_solution(&mut self, m: PushSolution<'_>) -> Result<(), JdsError> {
        let s = &mut *self.s;
        let event = match push_solution(s.last_declared.as_deref(), &m) {
            Ok(e) => e,
            Err(reason) => JdsEvent::SolutionRefused { reason },
        };
        s.events.push_back(event);
        Ok(())
    }
}

/// Build the block a `PushSolution` names, on the last job declared on this connection.
fn push_solution(job: Option<&DeclaredJob>, m: &PushSolution<'_>) -> Result<JdsEvent, String> {
    let job = job.ok_or("no job was declared on this connection")?;
    let coinbase = job
        .coinbase
        .with_extranonce(m.extranonce.as_bytes())
        .map_err(|e| e.to_string())?;
    let tx: Transaction = deserialize(&coinbase).map_err(|e| e.to_string())?;
    let root = merkle_root_from_path(tx.compute_txid().to_byte_array(), &job.merkle_path);
    let header = block_header(m.version, &m.prev_hash.0, &root, m.ntime, m.nbits, m.nonce);
    let hash = sha256d(&header);
    if !target::hash_meets_target(&hash, &target::from_nbits(m.nbits)) {
        return Err("the header does not meet its own nbits".into());
    }
    Ok(JdsEvent::SubmitBlock {
        block: block_bytes(&header, &coinbase, &job.transactions),
        hash,
        height: job.height,
    })
}
