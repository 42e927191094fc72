//! The tokens a job declarator server gave out, the jobs declared with them, and the check of
//! a `SetCustomMiningJob` against them.

use super::{bip34_height, block_subsidy, DeclaredCoinbase, DeclaredJob, Refusal};
use crate::job::JobTemplate;
use bitcoin::consensus::deserialize;
use bitcoin::{ScriptBuf, TxOut};
use mining_sv2::SetCustomMiningJob;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A pool's job declaration policy.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The pool payout output's script: the first of the outputs a JDS requires.
    pub pool_payout: ScriptBuf,
    /// More 0-value outputs the pool requires after it.
    pub extra_outputs: Vec<ScriptBuf>,
    /// Share of the block reward it can verify (subsidy, and in full-template mode the fees
    /// of the transactions it knows) that must go to the pool payout output.
    pub min_pool_payout_fraction: f64,
    /// Tokens held at once, in all (the oldest go first).
    pub max_tokens: usize,
    /// Unused tokens one connection may hold (its oldest go first).
    pub max_tokens_per_connection: usize,
    /// An allocated token not used within this is forgotten.
    pub token_ttl_ms: u64,
    /// Accept `SetCustomMiningJob` with a token from `AllocateMiningJobToken` directly
    /// (coinbase-only mode), checking only its coinbase.
    pub coinbase_only: bool,
}

/// The chain tip jobs must build on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Header byte order.
    pub prev_hash: [u8; 32],
    /// Height of the block being mined.
    pub height: u32,
    pub nbits: u32,
}

#[derive(Debug, Clone)]
enum Entry {
    Allocated {
        connection: u64,
        user: Arc<str>,
        at_ms: u64,
    },
    Declared(Arc<DeclaredJob>),
}

/// A custom job that may be mined, with what the pool needs to keep of it.
#[derive(Debug, Clone)]
pub enum CustomJobCheck {
    Accepted {
        /// The job for the channel (its whole extranonce still to be inserted).
        job: JobTemplate,
        /// The declared job (full-template mode): the pool can build its blocks.
        declared: Option<Arc<DeclaredJob>>,
        user_identifier: Arc<str>,
    },
    /// It builds on a tip this pool has not seen yet: ask again when the tip moves, and
    /// refuse it if it never does.
    WaitForTip,
}

/// Tips remembered to tell a stale prev hash from one not seen yet.
const RECENT_TIPS: usize = 8;

/// Tokens and declared jobs, shared by a pool's JDS connections and its mining sessions.
#[derive(Debug)]
pub struct JobRegistry {
    cfg: RegistryConfig,
    salt: [u8; 32],
    counter: u64,
    tokens: HashMap<Vec<u8>, Entry>,
    /// Tokens in the order they were made, for eviction.
    order: VecDeque<Vec<u8>>,
    tips: VecDeque<Tip>,
}

impl JobRegistry {
    /// `salt` makes tokens unguessable (give it 32 random bytes).
    pub fn new(cfg: RegistryConfig, salt: [u8; 32]) -> Self {
        JobRegistry {
            cfg,
            salt,
            counter: 0,
            tokens: HashMap::new(),
            order: VecDeque::new(),
            tips: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.cfg
    }

    /// Tokens held now.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The outputs every custom job's coinbase must carry (pool payout first, at 0).
    pub fn required_outputs(&self) -> Vec<TxOut> {
        super::required_outputs(&self.cfg.pool_payout, &self.cfg.extra_outputs)
    }

    pub fn tip(&self) -> Option<Tip> {
        self.tips.back().copied()
    }

    /// The chain moved. Jobs declared below the new height can no longer be mined.
    pub fn set_tip(&mut self, tip: Tip) {
        if self.tips.back() == Some(&tip) {
            return;
        }
        self.tips.retain(|t| t.prev_hash != tip.prev_hash);
        self.tips.push_back(tip);
        while self.tips.len() > RECENT_TIPS {
            self.tips.pop_front();
        }
        self.tokens.retain(|_, e| match e {
            Entry::Declared(j) => j.height >= tip.height,
            Entry::Allocated { .. } => true,
        });
        self.order.retain(|t| self.tokens.contains_key(t));
    }

    fn new_token(&mut self) -> Vec<u8> {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(self.counter.to_le_bytes());
        h.finalize()[..16].to_vec()
    }

    fn insert(&mut self, token: Vec<u8>, e: Entry) {
        while self.tokens.len() >= self.cfg.max_tokens.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.tokens.remove(&old);
        }
        self.order.push_back(token.clone());
        self.tokens.insert(token, e);
    }

    /// AllocateMiningJobToken: a new token for `connection`'s `user`.
    pub fn allocate(&mut self, connection: u64, user: &str, now_ms: u64) -> Vec<u8> {
        self.expire(now_ms);
        // A connection that asks for more tokens than it uses loses its oldest.
        let mine: Vec<Vec<u8>> = self
            .order
            .iter()
            .filter(|t| matches!(self.tokens.get(*t), Some(Entry::Allocated { connection: c, .. }) if *c == connection))
            .cloned()
            .collect();
        let excess = (mine.len() + 1).saturating_sub(self.cfg.max_tokens_per_connection.max(1));
        for t in mine.into_iter().take(excess) {
            self.tokens.remove(&t);
        }
        self.order.retain(|t| self.tokens.contains_key(t));
        let token = self.new_token();
        self.insert(
            token.clone(),
            Entry::Allocated {
                connection,
                user: Arc::from(user),
                at_ms: now_ms,
            },
        );
        token
    }

    fn expire(&mut self, now_ms: u64) {
        let ttl = self.cfg.token_ttl_ms;
        self.tokens.retain(|_, e| match e {
            Entry::Allocated { at_ms, .. } => now_ms.saturating_sub(*at_ms) < ttl,
            Entry::Declared(_) => true,
        });
        self.order.retain(|t| self.tokens.contains_key(t));
    }

    /// DeclareMiningJob: use an allocated token of `connection`; returns its user.
    pub fn take_allocated(&mut self, token: &[u8], connection: u64) -> Result<Arc<str>, Refusal> {
        match self.tokens.get(token) {
            Some(Entry::Allocated {
                connection: c,
                user,
                ..
            }) if *c == connection => {
                let user = user.clone();
                self.tokens.remove(token);
                self.order.retain(|t| t.as_slice() != token);
                Ok(user)
            }
            _ => Err(Refusal::InvalidToken),
        }
    }

    /// DeclareMiningJob.Success: the new token that names `job`.
    pub fn declare(&mut self, job: DeclaredJob) -> Vec<u8> {
        let token = self.new_token();
        self.insert(token.clone(), Entry::Declared(Arc::new(job)));
        token
    }

    /// Forget a closed connection's unused tokens (declared jobs stay: their token is the
    /// miner's to use on its mining connection).
    pub fn release_connection(&mut self, connection: u64) {
        self.tokens.retain(
            |_, e| !matches!(e, Entry::Allocated { connection: c, .. } if *c == connection),
        );
        self.order.retain(|t| self.tokens.contains_key(t));
    }

    /// Check a `SetCustomMiningJob` for a channel whose whole extranonce is
    /// `extranonce_len` bytes. Accepted jobs consume their token. `Err` holds the error code
    /// for `SetCustomMiningJob.Error`.
    pub fn check_custom_job(
        &mut self,
        m: &SetCustomMiningJob<'_>,
        extranonce_len: usize,
    ) -> Result<CustomJobCheck, Refusal> {
        let token = m.mining_job_token.as_bytes();
        let entry = self
            .tokens
            .get(token)
            .cloned()
            .ok_or(Refusal::InvalidToken)?;
        let Some(tip) = self.tip() else {
            return Ok(CustomJobCheck::WaitForTip);
        };
        if m.prev_hash.0 != tip.prev_hash {
            if self.tips.iter().any(|t| t.prev_hash == m.prev_hash.0) {
                return Err(Refusal::InvalidParam("prev_hash"));
            }
            return Ok(CustomJobCheck::WaitForTip);
        }
        if m.nbits != tip.nbits {
            return Err(Refusal::InvalidParam("nbits"));
        }
        let job = JobTemplate::from_custom_job(m, extranonce_len)
            .map_err(|_| Refusal::InvalidParam("coinbase_tx_outputs"))?;
        let height = bip34_height(m.coinbase_prefix.as_bytes());
        if height != Some(tip.height) {
            return Err(Refusal::InvalidParam("coinbase_prefix"));
        }
        let (declared, user) = match entry {
            Entry::Declared(d) => {
                check_against_declared(&job, m, &d, extranonce_len)?;
                let user = d.user_identifier.clone();
                (Some(d), user)
            }
            Entry::Allocated { user, .. } if self.cfg.coinbase_only => {
                self.check_coinbase_only(m, tip.height)?;
                (None, user)
            }
            Entry::Allocated { .. } => return Err(Refusal::InvalidToken),
        };
        self.tokens.remove(token);
        self.order.retain(|t| t.as_slice() != token);
        Ok(CustomJobCheck::Accepted {
            job,
            declared,
            user_identifier: user,
        })
    }

    /// Coinbase-only mode: the pool payout output gets its share of what the pool can
    /// verify, the subsidy.
    fn check_coinbase_only(&self, m: &SetCustomMiningJob<'_>, height: u32) -> Result<(), Refusal> {
        let outputs: Vec<TxOut> = deserialize(m.coinbase_tx_outputs.as_bytes())
            .map_err(|_| Refusal::InvalidParam("coinbase_tx_outputs"))?;
        let paid: u64 = outputs
            .iter()
            .filter(|o| o.script_pubkey == self.cfg.pool_payout)
            .map(|o| o.value.to_sat())
            .sum();
        if (paid as f64) < self.cfg.min_pool_payout_fraction * block_subsidy(height) as f64 {
            return Err(Refusal::InvalidParam("coinbase_tx_outputs"));
        }
        Ok(())
    }

    /// The pool payout a declared coinbase must carry, for the reward it can verify.
    pub fn required_payout(&self, verified_reward: u64) -> u64 {
        (self.cfg.min_pool_payout_fraction.clamp(0.0, 1.0) * verified_reward as f64) as u64
    }
}

/// A full-template custom job must be the very job declared: same coinbase around the same
/// extranonce length, same transactions (merkle path), same version but for BIP320 bits.
fn check_against_declared(
    job: &JobTemplate,
    m: &SetCustomMiningJob<'_>,
    d: &DeclaredJob,
    extranonce_len: usize,
) -> Result<(), Refusal> {
    if d.coinbase.extranonce_len != extranonce_len {
        return Err(Refusal::InvalidParam("coinbase_prefix"));
    }
    let ours = job
        .coinbase(&vec![0; extranonce_len])
        .map_err(|_| Refusal::InvalidParam("coinbase_prefix"))?;
    if ours != d.coinbase.legacy_bytes() {
        return Err(Refusal::InvalidParam("coinbase_tx_outputs"));
    }
    if job.merkle_path != d.merkle_path {
        return Err(Refusal::InvalidParam("merkle_path"));
    }
    if (m.version ^ d.version) & !crate::job::BIP320_VERSION_MASK != 0 {
        return Err(Refusal::InvalidParam("version"));
    }
    Ok(())
}

/// Check a declared coinbase against the pool's policy (used by the JDS).
pub(super) fn check_declared_coinbase(
    cfg: &RegistryConfig,
    coinbase: &DeclaredCoinbase,
    height: u32,
    known_fees: u64,
) -> Result<(), Refusal> {
    if coinbase.height() != Some(height) {
        return Err(Refusal::InvalidParam("coinbase_tx_prefix"));
    }
    let paid = coinbase.paid_to(&cfg.pool_payout);
    let required = cfg.min_pool_payout_fraction.clamp(0.0, 1.0)
        * (block_subsidy(height).saturating_add(known_fees)) as f64;
    if (paid as f64) < required || paid == 0 {
        return Err(Refusal::InvalidParam("coinbase_tx_suffix"));
    }
    for extra in &cfg.extra_outputs {
        if !coinbase.tx.output.iter().any(|o| &o.script_pubkey == extra) {
            return Err(Refusal::InvalidParam("coinbase_tx_suffix"));
        }
    }
    Ok(())
}
