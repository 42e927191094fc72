//! Job declaration (06-Job-Declaration-Protocol.md), sans-IO: a miner's job declarator client
//! builds jobs from its own templates and declares them to the pool's job declarator server.
//!
//! * [`JobRegistry`]: the tokens a JDS gave out and the jobs declared with them, which the
//!   pool consults when a `SetCustomMiningJob` arrives on a mining connection;
//! * [`JdsSession`]: the server end of one job declaration connection (tokens, declared jobs
//!   and their checks, missing transactions, `PushSolution`);
//! * [`JdcSession`]: the client end (tokens, declarations, answering for missing
//!   transactions, `PushSolution`).
//!
//! Both modes of the spec are served. Full-template (the client sets `DECLARE_TX_DATA`):
//! the coinbase and every transaction are checked and the JDS can build and submit a block.
//! Coinbase-only: a token is used directly in `SetCustomMiningJob`, and only the coinbase is
//! checked, there.

mod client;
mod registry;
mod server;

pub use client::{DeclareError, JdcConfig, JdcError, JdcEvent, JdcSession, Token};
pub use registry::{CustomJobCheck, JobRegistry, RegistryConfig, Tip};
pub use server::{JdsError, JdsEvent, JdsSession, KnownTransaction};

use crate::job::JobError;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Amount, ScriptBuf, Transaction, TxOut};
use const_sv2::error_codes::{INVALID_JOB_PARAM_VALUE_PREFIX, INVALID_MINING_JOB_TOKEN};
use std::fmt;
use std::sync::Arc;

/// Why a job declaration server or a pool refuses a declaration or a custom job.
/// [`Refusal::code`] is the error code the client is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// `invalid-mining-job-token`: unknown, expired, already used, or another connection's.
    InvalidToken,
    /// `invalid-job-param-value-{field}`: the named field of the message is wrong.
    InvalidParam(&'static str),
    /// `too-many-pending-declarations`: the connection already has as many declarations
    /// waiting (for the node, the client or a tip) as it may.
    TooManyPending,
    /// `declare-tx-data-not-negotiated`: DeclareMiningJob on a coinbase-only connection.
    TxDataNotNegotiated,
}

impl Refusal {
    /// The error code sent in DeclareMiningJob.Error or SetCustomMiningJob.Error.
    pub fn code(&self) -> String {
        match self {
            Refusal::InvalidToken => INVALID_MINING_JOB_TOKEN.into(),
            Refusal::InvalidParam(field) => format!("{INVALID_JOB_PARAM_VALUE_PREFIX}{field}"),
            Refusal::TooManyPending => "too-many-pending-declarations".into(),
            Refusal::TxDataNotNegotiated => "declare-tx-data-not-negotiated".into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

impl std::error::Error for Refusal {}

/// Consensus limit on a block's weight.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Consensus limit on a block's signature operations cost.
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;

/// The block subsidy at `height` (mainnet schedule: halving every 210,000 blocks).
pub fn block_subsidy(height: u32) -> u64 {
    let halvings = height / 210_000;
    if halvings >= 64 {
        0
    } else {
        5_000_000_000u64 >> halvings
    }
}

/// The height a BIP34 scriptSig starts with (`OP_1..OP_16` or a little-endian push).
pub fn bip34_height(script_sig: &[u8]) -> Option<u32> {
    match *script_sig.first()? {
        op @ 0x51..=0x60 => Some((op - 0x50) as u32),
        n @ 1..=4 => {
            let bytes = script_sig.get(1..1 + n as usize)?;
            let mut v = [0u8; 4];
            v[..bytes.len()].copy_from_slice(bytes);
            Some(u32::from_le_bytes(v))
        }
        _ => None,
    }
}

/// A coinbase as `DeclareMiningJob` carries it: prefix and suffix around the extranonce, in
/// its full serialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredCoinbase {
    /// With an all-zero extranonce.
    pub tx: Transaction,
    pub extranonce_len: usize,
}

impl DeclaredCoinbase {
    /// Parse `prefix ++ extranonce ++ suffix`; the extranonce's length is what the scriptSig
    /// length in `prefix` leaves after the scriptSig bytes the prefix already holds.
    pub fn parse(prefix: &[u8], suffix: &[u8]) -> Result<DeclaredCoinbase, JobError> {
        let bad = |why: &str| JobError::BadCoinbase(why.to_string());
        let mut at = 4;
        if prefix.get(4..6) == Some(&[0, 1]) {
            at += 2; // BIP141 marker and flag
        }
        if prefix.get(at) != Some(&1) {
            return Err(bad("a coinbase has exactly one input"));
        }
        at += 1 + 36;
        let (script_len, n) = read_compact(prefix.get(at..).unwrap_or(&[]))
            .ok_or_else(|| bad("no scriptSig length"))?;
        at += n;
        let present = prefix
            .len()
            .checked_sub(at)
            .ok_or_else(|| bad("prefix ends before the scriptSig"))?;
        let extranonce_len = (script_len as usize)
            .checked_sub(present)
            .filter(|&l| l <= crate::MAX_EXTRANONCE_LEN)
            .ok_or_else(|| bad("the scriptSig length does not leave room for an extranonce"))?;
        let mut bytes = prefix.to_vec();
        bytes.extend(std::iter::repeat_n(0u8, extranonce_len));
        bytes.extend_from_slice(suffix);
        let tx: Transaction = deserialize(&bytes).map_err(|e| bad(&e.to_string()))?;
        if !tx.is_coinbase() {
            return Err(bad("the input is not the null outpoint"));
        }
        Ok(DeclaredCoinbase { tx, extranonce_len })
    }

    /// The legacy serialization (txid form) with the all-zero extranonce.
    pub fn legacy_bytes(&self) -> Vec<u8> {
        let mut tx = self.tx.clone();
        tx.input[0].witness = bitcoin::Witness::new();
        serialize(&tx)
    }

    /// The BIP34 height of its scriptSig.
    pub fn height(&self) -> Option<u32> {
        bip34_height(self.tx.input[0].script_sig.as_bytes())
    }

    /// The value paid to `script` (summed over every output that pays it).
    pub fn paid_to(&self, script: &ScriptBuf) -> u64 {
        self.tx
            .output
            .iter()
            .filter(|o| &o.script_pubkey == script)
            .map(|o| o.value.to_sat())
            .sum()
    }

    /// The coinbase with `extranonce` in place of the zeros, full serialization.
    pub fn with_extranonce(&self, extranonce: &[u8]) -> Result<Vec<u8>, JobError> {
        if extranonce.len() != self.extranonce_len {
            return Err(JobError::ExtranonceLength {
                expected: self.extranonce_len,
                got: extranonce.len(),
            });
        }
        let mut tx = self.tx.clone();
        let mut script = tx.input[0].script_sig.to_bytes();
        let start = script.len() - self.extranonce_len;
        script[start..].copy_from_slice(extranonce);
        tx.input[0].script_sig = ScriptBuf::from_bytes(script);
        Ok(serialize(&tx))
    }
}

/// A CompactSize at the start of `b`: (value, bytes used).
fn read_compact(b: &[u8]) -> Option<(u64, usize)> {
    match *b.first()? {
        n @ 0..=0xfc => Some((n as u64, 1)),
        0xfd => Some((u16::from_le_bytes(b.get(1..3)?.try_into().ok()?) as u64, 3)),
        0xfe => Some((u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as u64, 5)),
        _ => Some((u64::from_le_bytes(b.get(1..9)?.try_into().ok()?), 9)),
    }
}

/// A job the JDS accepted in full-template mode: what the pool checks a `SetCustomMiningJob`
/// against, and what a block is built from.
#[derive(Debug, Clone)]
pub struct DeclaredJob {
    pub user_identifier: Arc<str>,
    pub version: u32,
    pub coinbase: DeclaredCoinbase,
    /// Serialized transactions after the coinbase, in block order.
    pub transactions: Arc<Vec<Vec<u8>>>,
    /// The coinbase's merkle path (little-endian, deepest first).
    pub merkle_path: Vec<[u8; 32]>,
    pub height: u32,
}

/// The outputs a JDS requires (AllocateMiningJobToken.Success.coinbase_tx_outputs): the pool
/// payout output first, at 0 sats, then any others.
pub fn required_outputs(pool_payout: &ScriptBuf, others: &[ScriptBuf]) -> Vec<TxOut> {
    std::iter::once(pool_payout)
        .chain(others)
        .map(|s| TxOut {
            value: Amount::ZERO,
            script_pubkey: s.clone(),
        })
        .collect()
}

/// Serialized txids of `txs` (little-endian) and the total weight and legacy sigops cost.
fn measure(txs: &[Transaction]) -> (Vec<[u8; 32]>, u64, u64) {
    let mut weight = 0;
    let mut sigops = 0;
    let txids = txs
        .iter()
        .map(|t| {
            weight += t.weight().to_wu();
            sigops += legacy_sigops(t) * 4;
            t.compute_txid().to_byte_array()
        })
        .collect();
    (txids, weight, sigops)
}

/// Legacy signature operations of a transaction's scripts (scriptSigs and outputs). Witness
/// and P2SH operations need the spent outputs, which a declaration does not carry; they are
/// left out, so this is a lower bound of the block's sigops cost.
fn legacy_sigops(t: &Transaction) -> u64 {
    let ins: usize = t
        .input
        .iter()
        .map(|i| i.script_sig.count_sigops_legacy())
        .sum();
    let outs: usize = t
        .output
        .iter()
        .map(|o| o.script_pubkey.count_sigops_legacy())
        .sum();
    (ins + outs) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
    use binary_sv2::{Seq0255, B0255, B064K, U256};

    fn template() -> template_distribution_sv2::NewTemplate<'static> {
        let commitment = TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(
                [vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed], vec![7; 32]].concat(),
            ),
        };
        template_distribution_sv2::NewTemplate {
            template_id: 9,
            future_template: false,
            version: 0x2000_0000,
            coinbase_tx_version: 2,
            coinbase_prefix: B0255::new(vec![0x03, 0x40, 0x0d, 0x03]).unwrap(),
            coinbase_tx_input_sequence: 0xffff_fffe,
            coinbase_tx_value_remaining: 312_500_000,
            coinbase_tx_outputs_count: 1,
            coinbase_tx_outputs: B064K::new(serialize(&commitment)).unwrap(),
            coinbase_tx_locktime: 7,
            merkle_path: Seq0255::from_items([U256([5; 32])]).unwrap(),
        }
    }

    #[test]
    fn a_declared_coinbase_parses_back_to_the_job_it_came_from() {
        let cfg = CoinbaseConfig {
            payout_outputs: vec![PayoutOutput {
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
                weight: 1,
            }],
            pool_tag: b"jdc".to_vec(),
            extranonce_len: 20,
        };
        let extra = required_outputs(&ScriptBuf::from_bytes(vec![0x52]), &[]);
        let job = JobTemplate::from_template_with_outputs(&template(), &cfg, &extra).unwrap();
        let (prefix, suffix) = job.full_coinbase_parts().unwrap();
        assert_eq!(&prefix[4..6], &[0, 1], "BIP141 fields kept");
        let d = DeclaredCoinbase::parse(&prefix, &suffix).unwrap();
        assert_eq!(d.extranonce_len, 20);
        assert_eq!(d.height(), Some(200_000));
        assert_eq!(d.paid_to(&ScriptBuf::from_bytes(vec![0x51])), 312_500_000);
        assert_eq!(d.legacy_bytes(), job.coinbase(&[0; 20]).unwrap());
        // The same job as SetCustomMiningJob fields rebuilds the same coinbase.
        let (v, seq, outputs, lock) = job.coinbase_fields().unwrap();
        let m = mining_sv2::SetCustomMiningJob {
            channel_id: 1,
            request_id: 1,
            mining_job_token: B0255::new(vec![1]).unwrap(),
            version: job.version,
            prev_hash: U256([0; 32]),
            min_ntime: 0,
            nbits: 0,
            coinbase_tx_version: v,
            coinbase_prefix: B0255::new(job.script_sig_prefix().to_vec()).unwrap(),
            coinbase_tx_input_n_sequence: seq,
            coinbase_tx_outputs: B064K::new(outputs).unwrap(),
            coinbase_tx_locktime: lock,
            merkle_path: Seq0255::from_items(job.merkle_path.iter().map(|h| U256(*h))).unwrap(),
        };
        let custom = JobTemplate::from_custom_job(&m, 20).unwrap();
        assert_eq!(
            custom.coinbase(&[1; 20]).unwrap(),
            job.coinbase(&[1; 20]).unwrap()
        );
        assert_eq!(custom.merkle_path, job.merkle_path);
        // Fixing part of the extranonce moves it into the prefix.
        let fixed = job.with_fixed_extranonce(&[9; 6]).unwrap();
        let whole: Vec<u8> = [[9u8; 6].as_slice(), &[1; 14]].concat();
        assert_eq!(
            fixed.coinbase(&[1; 14]).unwrap(),
            job.coinbase(&whole).unwrap()
        );
    }

    #[test]
    fn declared_coinbases_that_do_not_parse_are_errors() {
        assert!(DeclaredCoinbase::parse(&[], &[]).is_err());
        assert!(
            DeclaredCoinbase::parse(&[2, 0, 0, 0, 2], &[]).is_err(),
            "two inputs"
        );
        let mut p = vec![2, 0, 0, 0, 1];
        p.extend([0; 32]);
        p.extend([0xff; 4]);
        p.push(3);
        p.extend([1, 2, 3, 4]);
        assert!(
            DeclaredCoinbase::parse(&p, &[]).is_err(),
            "more scriptSig than its length"
        );
        assert_eq!(bip34_height(&[0x51]), Some(1));
        assert_eq!(bip34_height(&[]), None);
        assert_eq!(block_subsidy(0), 5_000_000_000);
        assert_eq!(block_subsidy(840_000), 312_500_000);
        assert_eq!(block_subsidy(64 * 210_000), 0);
    }
}
