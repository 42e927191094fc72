//! Jobs: the coinbase a pool builds from a template, split around the extranonce, and the
//! merkle maths both ends of a channel need.
//!
//! A [`JobTemplate`] is one coinbase (without the extranonce) plus the merkle path. The same
//! value serves every channel, because channels differ only in the extranonce inserted
//! between `coinbase_tx_prefix` and `coinbase_tx_suffix`. A pool makes it from a
//! `NewTemplate` ([`JobTemplate::from_template`]); a device or a proxy makes it from a
//! `NewExtendedMiningJob` ([`JobTemplate::from_extended_job`]).
//!
//! The coinbase's scriptSig is `coinbase_prefix` (from the template: the BIP34 height), a push
//! of the pool's tag, then a push of the extranonce, which is last so that the split is a
//! plain cut. The outputs are the pool's payout outputs, which share
//! `coinbase_tx_value_remaining`, then the template's outputs (the witness commitment among
//! them). Prefix and suffix are the legacy serialization (no BIP141 fields), as 05 requires,
//! because the merkle root is built from the txid; [`JobTemplate::full_coinbase`] adds the
//! witness reserved value back for the block.

use crate::sha256d;
use bitcoin::consensus::{deserialize, deserialize_partial, serialize};
use bitcoin::script::PushBytesBuf;
use bitcoin::{absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn};
use bitcoin::{TxOut, Witness};
use mining_sv2::NewExtendedMiningJob;
use std::fmt;
use template_distribution_sv2::NewTemplate;

/// The BIP320 general-purpose version bits a miner may roll.
pub const BIP320_VERSION_MASK: u32 = 0x1fff_e000;

/// Largest scriptSig of a coinbase (consensus).
pub const MAX_COINBASE_SCRIPT_SIG: usize = 100;

/// Start of a BIP141 witness commitment output script: OP_RETURN, push 36, 0xaa21a9ed.
const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/// One payout output of the pool: `weight` shares of what the template leaves for the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutOutput {
    pub script_pubkey: ScriptBuf,
    pub weight: u32,
}

/// What a pool puts in every coinbase.
#[derive(Debug, Clone)]
pub struct CoinbaseConfig {
    /// At least one output; the value is split by weight, the rounding remainder to the first.
    pub payout_outputs: Vec<PayoutOutput>,
    /// Bytes identifying the pool in the scriptSig (`pool_signature`).
    pub pool_tag: Vec<u8>,
    /// Length of the whole extranonce (every channel's prefix plus what it rolls).
    pub extranonce_len: usize,
}

impl CoinbaseConfig {
    /// What to announce in CoinbaseOutputConstraints: the bytes and sigops the payout
    /// outputs add to the coinbase.
    pub fn output_constraints(&self) -> (u32, u16) {
        let size: usize = self
            .payout_outputs
            .iter()
            .map(|o| {
                serialize(&TxOut {
                    value: Amount::ZERO,
                    script_pubkey: o.script_pubkey.clone(),
                })
                .len()
            })
            .sum();
        let sigops: usize = self
            .payout_outputs
            .iter()
            .map(|o| o.script_pubkey.count_sigops_legacy())
            .sum();
        (size as u32, sigops.min(u16::MAX as usize) as u16)
    }
}

/// Why a job could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// `coinbase_tx_outputs` does not hold `coinbase_tx_outputs_count` outputs.
    BadTemplateOutputs(String),
    /// The scriptSig would exceed 100 bytes.
    ScriptSigTooLong { len: usize },
    /// The payout list is empty or its weights sum to zero.
    NoPayout,
    /// The coinbase prefix/suffix of an extended job do not form a transaction.
    BadCoinbase(String),
    /// An extranonce of the wrong length.
    ExtranonceLength { expected: usize, got: usize },
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::BadTemplateOutputs(e) => {
                write!(f, "NewTemplate.coinbase_tx_outputs does not decode: {e}")
            }
            JobError::ScriptSigTooLong { len } => write!(
                f,
                "coinbase scriptSig would be {len} bytes, over the limit of {MAX_COINBASE_SCRIPT_SIG}"
            ),
            JobError::NoPayout => f.write_str("no payout output with a non-zero weight"),
            JobError::BadCoinbase(e) => write!(f, "coinbase does not decode: {e}"),
            JobError::ExtranonceLength { expected, got } => {
                write!(f, "extranonce of {got} bytes, the job needs {expected}")
            }
        }
    }
}

impl std::error::Error for JobError {}

/// A coinbase split around its extranonce, and the merkle path from it to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTemplate {
    /// The template this job mines (0 when made from an extended job: the upstream knows).
    pub template_id: u64,
    /// Whether it waits for a SetNewPrevHash.
    pub future: bool,
    pub version: u32,
    /// Whether miners may roll the BIP320 version bits (an upstream may forbid it per job).
    pub version_rolling_allowed: bool,
    pub coinbase_tx_prefix: Vec<u8>,
    pub coinbase_tx_suffix: Vec<u8>,
    /// Little-endian hashes, deepest first.
    pub merkle_path: Vec<[u8; 32]>,
    /// Extranonce bytes that go between prefix and suffix.
    pub extranonce_len: usize,
}

impl JobTemplate {
    /// Build the pool's coinbase for `t`.
    pub fn from_template(t: &NewTemplate<'_>, cfg: &CoinbaseConfig) -> Result<Self, JobError> {
        Self::from_template_with_outputs(t, cfg, &[])
    }

    /// Like [`JobTemplate::from_template`], with `extra_outputs` (their own values, usually
    /// 0: a job declarator server's additional outputs) after the payout outputs.
    pub fn from_template_with_outputs(
        t: &NewTemplate<'_>,
        cfg: &CoinbaseConfig,
        extra_outputs: &[TxOut],
    ) -> Result<Self, JobError> {
        let total_weight: u64 = cfg.payout_outputs.iter().map(|o| o.weight as u64).sum();
        if total_weight == 0 {
            return Err(JobError::NoPayout);
        }
        // scriptSig: coinbase_prefix | push(pool_tag) | push(extranonce)
        let mut script_sig = t.coinbase_prefix.as_bytes().to_vec();
        if !cfg.pool_tag.is_empty() {
            let tag = PushBytesBuf::try_from(cfg.pool_tag.clone())
                .map_err(|_| JobError::ScriptSigTooLong { len: usize::MAX })?;
            let mut s = ScriptBuf::new();
            s.push_slice(tag);
            script_sig.extend_from_slice(s.as_bytes());
        }
        let en = PushBytesBuf::try_from(vec![0u8; cfg.extranonce_len])
            .map_err(|_| JobError::ScriptSigTooLong { len: usize::MAX })?;
        let mut s = ScriptBuf::new();
        s.push_slice(en);
        script_sig.extend_from_slice(s.as_bytes());

        let remaining = t.coinbase_tx_value_remaining;
        let mut output = Vec::new();
        let mut given = 0u64;
        for o in &cfg.payout_outputs {
            let v = (remaining as u128 * o.weight as u128 / total_weight as u128) as u64;
            given += v;
            output.push(TxOut {
                value: Amount::from_sat(v),
                script_pubkey: o.script_pubkey.clone(),
            });
        }
        output[0].value += Amount::from_sat(remaining - given);
        output.extend_from_slice(extra_outputs);
        output.extend(decode_outputs(
            t.coinbase_tx_outputs.as_bytes(),
            t.coinbase_tx_outputs_count,
        )?);
        let tx = coinbase_tx(
            t.coinbase_tx_version,
            script_sig,
            t.coinbase_tx_input_sequence,
            output,
            t.coinbase_tx_locktime,
        );
        let mut job = Self::from_coinbase(&tx, cfg.extranonce_len, t.version)?;
        job.template_id = t.template_id;
        job.future = t.future_template;
        job.merkle_path = t.merkle_path.iter().map(|h| h.0).collect();
        Ok(job)
    }

    /// The job of a `SetCustomMiningJob` (a job declarator client's own coinbase) for a channel
    /// whose whole extranonce (prefix and rolled part) is `extranonce_len` bytes: the scriptSig
    /// is `coinbase_prefix` followed by the extranonce, as deployed pools build it.
    pub fn from_custom_job(
        m: &mining_sv2::SetCustomMiningJob<'_>,
        extranonce_len: usize,
    ) -> Result<Self, JobError> {
        let mut script_sig = m.coinbase_prefix.as_bytes().to_vec();
        script_sig.extend(std::iter::repeat_n(0u8, extranonce_len));
        let output: Vec<TxOut> = deserialize(m.coinbase_tx_outputs.as_bytes())
            .map_err(|e| JobError::BadTemplateOutputs(e.to_string()))?;
        let tx = coinbase_tx(
            m.coinbase_tx_version,
            script_sig,
            m.coinbase_tx_input_n_sequence,
            output,
            m.coinbase_tx_locktime,
        );
        let mut job = Self::from_coinbase(&tx, extranonce_len, m.version)?;
        job.merkle_path = m.merkle_path.iter().map(|h| h.0).collect();
        Ok(job)
    }

    /// Split a coinbase whose scriptSig ends with `extranonce_len` bytes of extranonce.
    /// The merkle path is left empty and the template id 0.
    pub fn from_coinbase(
        tx: &Transaction,
        extranonce_len: usize,
        version: u32,
    ) -> Result<Self, JobError> {
        let script_len = tx.input.first().map_or(0, |i| i.script_sig.len());
        if script_len > MAX_COINBASE_SCRIPT_SIG {
            return Err(JobError::ScriptSigTooLong { len: script_len });
        }
        if extranonce_len > script_len || tx.input.len() != 1 {
            return Err(JobError::BadCoinbase(
                "the scriptSig does not end with the extranonce".into(),
            ));
        }
        let mut legacy = tx.clone();
        legacy.input[0].witness = Witness::new();
        let bytes = serialize(&legacy);
        // version | input count | outpoint | scriptSig length | scriptSig
        let script_start = 4 + 1 + 36 + varint_len(script_len);
        let en_start = script_start + script_len - extranonce_len;
        Ok(JobTemplate {
            template_id: 0,
            future: false,
            version,
            version_rolling_allowed: true,
            coinbase_tx_prefix: bytes[..en_start].to_vec(),
            coinbase_tx_suffix: bytes[en_start + extranonce_len..].to_vec(),
            merkle_path: Vec::new(),
            extranonce_len,
        })
    }

    /// The scriptSig bytes before the extranonce (`SetCustomMiningJob.coinbase_prefix`).
    pub fn script_sig_prefix(&self) -> &[u8] {
        let p = &self.coinbase_tx_prefix;
        let start = 4 + 1 + 36;
        let Some(&first) = p.get(start) else {
            return &[];
        };
        let skip = match first {
            0xfd => 3,
            0xfe => 5,
            0xff => 9,
            _ => 1,
        };
        p.get(start + skip..).unwrap_or(&[])
    }

    /// The coinbase's other fields, as `SetCustomMiningJob` carries them: (version,
    /// nSequence, outputs as a CompactSize-prefixed array, locktime).
    pub fn coinbase_fields(&self) -> Result<(u32, u32, Vec<u8>, u32), JobError> {
        let tx: Transaction = deserialize(&self.coinbase(&vec![0; self.extranonce_len])?)
            .map_err(|e| JobError::BadCoinbase(e.to_string()))?;
        Ok((
            tx.version.0 as u32,
            tx.input[0].sequence.0,
            serialize(&tx.output),
            tx.lock_time.to_consensus_u32(),
        ))
    }

    /// The coinbase split around the extranonce in its full serialization (with the BIP141
    /// marker, flag and witness reserved value when it commits to witnesses), as
    /// `DeclareMiningJob` carries it.
    pub fn full_coinbase_parts(&self) -> Result<(Vec<u8>, Vec<u8>), JobError> {
        let full = self.full_coinbase(&vec![0; self.extranonce_len])?;
        let legacy_len =
            self.coinbase_tx_prefix.len() + self.extranonce_len + self.coinbase_tx_suffix.len();
        // With a witness: version, then 00 01, then the rest as in the legacy form.
        let shift = if full.len() == legacy_len { 0 } else { 2 };
        let cut = self.coinbase_tx_prefix.len() + shift;
        Ok((
            full[..cut].to_vec(),
            full[cut + self.extranonce_len..].to_vec(),
        ))
    }

    /// This job for whoever rolls only the last `extranonce_len - fixed.len()` bytes: `fixed`
    /// (an upstream's extranonce prefix, or a proxy's own part) moves into the coinbase prefix.
    pub fn with_fixed_extranonce(&self, fixed: &[u8]) -> Result<Self, JobError> {
        let rest =
            self.extranonce_len
                .checked_sub(fixed.len())
                .ok_or(JobError::ExtranonceLength {
                    expected: self.extranonce_len,
                    got: fixed.len(),
                })?;
        let mut t = self.clone();
        t.coinbase_tx_prefix.extend_from_slice(fixed);
        t.extranonce_len = rest;
        Ok(t)
    }

    /// The job as a device or proxy sees it: `extranonce_prefix` (its channel's) is moved into
    /// the coinbase prefix, so the extranonce left is what the channel rolls.
    pub fn from_extended_job(
        job: &NewExtendedMiningJob<'_>,
        extranonce_prefix: &[u8],
        extranonce_size: usize,
    ) -> Result<Self, JobError> {
        let mut prefix = job.coinbase_tx_prefix.as_bytes().to_vec();
        prefix.extend_from_slice(extranonce_prefix);
        let t = JobTemplate {
            template_id: 0,
            future: job.min_ntime.is_none(),
            version: job.version,
            version_rolling_allowed: job.version_rolling_allowed,
            coinbase_tx_prefix: prefix,
            coinbase_tx_suffix: job.coinbase_tx_suffix.as_bytes().to_vec(),
            merkle_path: job.merkle_path.iter().map(|h| h.0).collect(),
            extranonce_len: extranonce_size,
        };
        // Check once that the pieces form a transaction, so a bad job is refused here
        // rather than producing shares nobody can use.
        deserialize::<Transaction>(&t.coinbase(&vec![0; extranonce_size])?)
            .map_err(|e| JobError::BadCoinbase(e.to_string()))?;
        Ok(t)
    }

    /// The coinbase with `extranonce`, legacy serialization (what the txid hashes).
    pub fn coinbase(&self, extranonce: &[u8]) -> Result<Vec<u8>, JobError> {
        if extranonce.len() != self.extranonce_len {
            return Err(JobError::ExtranonceLength {
                expected: self.extranonce_len,
                got: extranonce.len(),
            });
        }
        let mut v = Vec::with_capacity(
            self.coinbase_tx_prefix.len() + extranonce.len() + self.coinbase_tx_suffix.len(),
        );
        v.extend_from_slice(&self.coinbase_tx_prefix);
        v.extend_from_slice(extranonce);
        v.extend_from_slice(&self.coinbase_tx_suffix);
        Ok(v)
    }

    /// The coinbase's txid for `extranonce`, hashed in place (no coinbase is assembled:
    /// this runs for every share of an extended channel).
    pub fn coinbase_txid(&self, extranonce: &[u8]) -> Result<[u8; 32], JobError> {
        use sha2::{Digest, Sha256};
        if extranonce.len() != self.extranonce_len {
            return Err(JobError::ExtranonceLength {
                expected: self.extranonce_len,
                got: extranonce.len(),
            });
        }
        let mut h = Sha256::new();
        h.update(&self.coinbase_tx_prefix);
        h.update(extranonce);
        h.update(&self.coinbase_tx_suffix);
        Ok(Sha256::digest(h.finalize()).into())
    }

    /// The merkle root (little-endian, as in the header) for `extranonce`.
    pub fn merkle_root(&self, extranonce: &[u8]) -> Result<[u8; 32], JobError> {
        Ok(merkle_root_from_path(
            self.coinbase_txid(extranonce)?,
            &self.merkle_path,
        ))
    }

    /// The coinbase for the block: with the witness reserved value (32 zero bytes) when the
    /// coinbase carries a witness commitment, as BIP141 requires.
    pub fn full_coinbase(&self, extranonce: &[u8]) -> Result<Vec<u8>, JobError> {
        let bytes = self.coinbase(extranonce)?;
        let mut tx: Transaction =
            deserialize(&bytes).map_err(|e| JobError::BadCoinbase(e.to_string()))?;
        let committed = tx.output.iter().any(|o| {
            o.script_pubkey
                .as_bytes()
                .starts_with(&WITNESS_COMMITMENT_HEADER)
        });
        if !committed {
            return Ok(bytes);
        }
        if let Some(input) = tx.input.first_mut() {
            input.witness = Witness::from_slice(&[[0u8; 32]]);
        }
        Ok(serialize(&tx))
    }
}

/// A coinbase transaction (null outpoint, one input, no witness).
fn coinbase_tx(
    version: u32,
    script_sig: Vec<u8>,
    sequence: u32,
    output: Vec<TxOut>,
    locktime: u32,
) -> Transaction {
    Transaction {
        version: transaction::Version(version as i32),
        lock_time: absolute::LockTime::from_consensus(locktime),
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence(sequence),
            witness: Witness::new(),
        }],
        output,
    }
}

/// The 80-byte block header; `prev_hash` and `merkle_root` in header byte order.
pub fn block_header(
    version: u32,
    prev_hash: &[u8; 32],
    merkle_root: &[u8; 32],
    ntime: u32,
    nbits: u32,
    nonce: u32,
) -> [u8; 80] {
    let mut h = [0u8; 80];
    h[..4].copy_from_slice(&version.to_le_bytes());
    h[4..36].copy_from_slice(prev_hash);
    h[36..68].copy_from_slice(merkle_root);
    h[68..72].copy_from_slice(&ntime.to_le_bytes());
    h[72..76].copy_from_slice(&nbits.to_le_bytes());
    h[76..80].copy_from_slice(&nonce.to_le_bytes());
    h
}

/// A whole serialized block: `header`, the transaction count, the coinbase (full
/// serialization) and the template's other transactions (serialized, in block order), as
/// `submitblock` takes it in hex.
pub fn block_bytes(header: &[u8; 80], coinbase_tx: &[u8], transactions: &[Vec<u8>]) -> Vec<u8> {
    let len = transactions.iter().map(Vec::len).sum::<usize>() + coinbase_tx.len() + 89;
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(header);
    // The transaction count as a CompactSize.
    match 1 + transactions.len() as u64 {
        n @ 0..=0xfc => b.push(n as u8),
        n @ 0xfd..=0xffff => {
            b.push(0xfd);
            b.extend_from_slice(&(n as u16).to_le_bytes());
        }
        n @ 0x1_0000..=0xffff_ffff => {
            b.push(0xfe);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        n => {
            b.push(0xff);
            b.extend_from_slice(&n.to_le_bytes());
        }
    }
    b.extend_from_slice(coinbase_tx);
    for tx in transactions {
        b.extend_from_slice(tx);
    }
    b
}

/// Fold a merkle path (deepest first) over the coinbase txid.
pub fn merkle_root_from_path(coinbase_txid: [u8; 32], path: &[[u8; 32]]) -> [u8; 32] {
    let mut acc = coinbase_txid;
    let mut buf = [0u8; 64];
    for h in path {
        buf[..32].copy_from_slice(&acc);
        buf[32..].copy_from_slice(h);
        acc = sha256d(&buf);
    }
    acc
}

/// The merkle path of the coinbase (index 0) given the txids of the other transactions in
/// block order: the sibling at each level, deepest first.
pub fn coinbase_merkle_path(txids: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut path = Vec::new();
    // Level 0 is [coinbase, txids...]; the coinbase's branch is always index 0, so only the
    // rest of each level needs computing.
    let mut level: Vec<[u8; 32]> = txids.to_vec();
    while !level.is_empty() {
        path.push(level[0]);
        // Next level, excluding the pair that holds the coinbase (index 0 and level[0]).
        let rest = &level[1..];
        let mut next = Vec::with_capacity(rest.len().div_ceil(2));
        for pair in rest.chunks(2) {
            let (a, b) = (pair[0], *pair.get(1).unwrap_or(&pair[0]));
            let mut buf = [0u8; 64];
            buf[..32].copy_from_slice(&a);
            buf[32..].copy_from_slice(&b);
            next.push(sha256d(&buf));
        }
        level = next;
    }
    path
}

fn decode_outputs(mut bytes: &[u8], count: u32) -> Result<Vec<TxOut>, JobError> {
    let mut out = Vec::new();
    for i in 0..count {
        let (o, used): (TxOut, usize) = deserialize_partial(bytes)
            .map_err(|e| JobError::BadTemplateOutputs(format!("output {i}: {e}")))?;
        out.push(o);
        bytes = &bytes[used..];
    }
    if !bytes.is_empty() {
        return Err(JobError::BadTemplateOutputs(format!(
            "{} bytes after {count} outputs",
            bytes.len()
        )));
    }
    Ok(out)
}

fn varint_len(n: usize) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_sv2::{Seq0255, B0255, B064K, U256};

    #[test]
    fn block_bytes_deserialize_as_the_block_they_describe() {
        use bitcoin::blockdata::block::Block;
        let coinbase = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn::default()],
            output: vec![TxOut {
                value: Amount::from_sat(50),
                script_pubkey: ScriptBuf::new(),
            }],
        };
        let mut other = coinbase.clone();
        other.lock_time = absolute::LockTime::from_consensus(7);
        let txs: Vec<Vec<u8>> = std::iter::repeat_n(serialize(&other), 300).collect();
        let header = [3u8; 80];
        let b = block_bytes(&header, &serialize(&coinbase), &txs);
        let block: Block = deserialize(&b).unwrap();
        assert_eq!(
            block.txdata.len(),
            301,
            "a count over 252 takes the 0xfd form"
        );
        assert_eq!(block.txdata[0], coinbase);
        assert_eq!(&serialize(&block.header)[..], &header[..]);
    }
    use bitcoin::hashes::Hash;

    fn template(outputs: &[TxOut], path: Vec<[u8; 32]>) -> NewTemplate<'static> {
        let bytes: Vec<u8> = outputs.iter().flat_map(serialize).collect();
        NewTemplate {
            template_id: 7,
            future_template: true,
            version: 0x2000_0000,
            coinbase_tx_version: 2,
            coinbase_prefix: B0255::new(vec![0x03, 0x40, 0x0d, 0x03]).unwrap(),
            coinbase_tx_input_sequence: 0xffff_ffff,
            coinbase_tx_value_remaining: 625_000_000,
            coinbase_tx_outputs_count: outputs.len() as u32,
            coinbase_tx_outputs: B064K::new(bytes).unwrap(),
            coinbase_tx_locktime: 0,
            merkle_path: Seq0255::from_items(path.into_iter().map(U256)).unwrap(),
        }
    }

    fn commitment() -> TxOut {
        let mut script = WITNESS_COMMITMENT_HEADER.to_vec();
        script.extend_from_slice(&[0x11; 32]);
        TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(script),
        }
    }

    fn config() -> CoinbaseConfig {
        CoinbaseConfig {
            payout_outputs: vec![
                PayoutOutput {
                    script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
                    weight: 2,
                },
                PayoutOutput {
                    script_pubkey: ScriptBuf::from_bytes(vec![0x52]),
                    weight: 1,
                },
            ],
            pool_tag: b"our-pool".to_vec(),
            extranonce_len: 16,
        }
    }

    #[test]
    fn coinbase_has_height_tag_payouts_and_template_outputs() {
        let job =
            JobTemplate::from_template(&template(&[commitment()], vec![]), &config()).unwrap();
        let en: Vec<u8> = (1..=16).collect();
        let tx: Transaction = deserialize(&job.coinbase(&en).unwrap()).unwrap();
        assert!(tx.is_coinbase());
        let sig = tx.input[0].script_sig.as_bytes();
        assert!(
            sig.starts_with(&[0x03, 0x40, 0x0d, 0x03]),
            "BIP34 height first"
        );
        assert!(sig.windows(8).any(|w| w == b"our-pool"));
        assert!(sig.ends_with(&en), "extranonce last");
        assert_eq!(tx.output.len(), 3);
        // 2:1 split; the remainder goes to the first output.
        assert_eq!(tx.output[0].value.to_sat(), 416_666_667);
        assert_eq!(tx.output[1].value.to_sat(), 208_333_333);
        assert_eq!(tx.output[2], commitment());
        // merkle root of a lone coinbase is its txid.
        assert_eq!(
            job.merkle_root(&en).unwrap(),
            tx.compute_txid().to_byte_array()
        );
    }

    #[test]
    fn full_coinbase_adds_witness_only_with_a_commitment() {
        let en = [0u8; 16];
        let job =
            JobTemplate::from_template(&template(&[commitment()], vec![]), &config()).unwrap();
        let full: Transaction = deserialize(&job.full_coinbase(&en).unwrap()).unwrap();
        assert_eq!(full.input[0].witness.len(), 1);
        assert_eq!(
            full.compute_txid().to_byte_array(),
            job.merkle_root(&en).unwrap()
        );
        let plain = JobTemplate::from_template(&template(&[], vec![]), &config()).unwrap();
        assert_eq!(
            plain.full_coinbase(&en).unwrap(),
            plain.coinbase(&en).unwrap()
        );
    }

    #[test]
    fn merkle_path_matches_the_bitcoin_crate() {
        for n in 1..12usize {
            let txids: Vec<[u8; 32]> = (0..n).map(|i| sha256d(&[i as u8])).collect();
            let coinbase = sha256d(b"coinbase");
            let mut all = vec![coinbase];
            all.extend_from_slice(&txids);
            let expected = bitcoin::merkle_tree::calculate_root(
                all.iter().map(|h| bitcoin::Txid::from_byte_array(*h)),
            )
            .unwrap()
            .to_byte_array();
            let path = coinbase_merkle_path(&txids);
            assert_eq!(merkle_root_from_path(coinbase, &path), expected, "{n} txs");
        }
        assert!(coinbase_merkle_path(&[]).is_empty());
    }

    #[test]
    fn extended_job_round_trip_gives_the_same_root() {
        let job = JobTemplate::from_template(
            &template(&[commitment()], vec![[3; 32], [4; 32]]),
            &config(),
        )
        .unwrap();
        let ext = NewExtendedMiningJob {
            channel_id: 1,
            job_id: 1,
            min_ntime: None,
            version: job.version,
            version_rolling_allowed: true,
            merkle_path: Seq0255::from_items(job.merkle_path.iter().map(|h| U256(*h))).unwrap(),
            coinbase_tx_prefix: B064K::new(job.coinbase_tx_prefix.clone()).unwrap(),
            coinbase_tx_suffix: B064K::new(job.coinbase_tx_suffix.clone()).unwrap(),
        };
        let prefix = [9u8; 6];
        let device = JobTemplate::from_extended_job(&ext, &prefix, 10).unwrap();
        let rolled = [5u8; 10];
        let mut whole = prefix.to_vec();
        whole.extend_from_slice(&rolled);
        assert_eq!(
            device.merkle_root(&rolled).unwrap(),
            job.merkle_root(&whole).unwrap()
        );
        assert!(device.future);
        assert_eq!(
            device.merkle_root(&[0; 3]),
            Err(JobError::ExtranonceLength {
                expected: 10,
                got: 3
            })
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        let mut t = template(&[commitment()], vec![]);
        t.coinbase_tx_outputs_count = 2;
        assert!(matches!(
            JobTemplate::from_template(&t, &config()),
            Err(JobError::BadTemplateOutputs(_))
        ));
        t.coinbase_tx_outputs_count = 0;
        assert!(matches!(
            JobTemplate::from_template(&t, &config()),
            Err(JobError::BadTemplateOutputs(_))
        ));
        let mut c = config();
        c.pool_tag = vec![b'x'; 80];
        assert!(matches!(
            JobTemplate::from_template(&template(&[], vec![]), &c),
            Err(JobError::ScriptSigTooLong { .. })
        ));
        c.payout_outputs.clear();
        assert_eq!(
            JobTemplate::from_template(&template(&[], vec![]), &c),
            Err(JobError::NoPayout)
        );
    }

    #[test]
    fn garbage_extended_jobs_are_refused() {
        let ext = NewExtendedMiningJob {
            channel_id: 1,
            job_id: 1,
            min_ntime: Some(1),
            version: 1,
            version_rolling_allowed: false,
            merkle_path: Seq0255::new(),
            coinbase_tx_prefix: B064K::new(vec![1, 2, 3]).unwrap(),
            coinbase_tx_suffix: B064K::new(vec![4]).unwrap(),
        };
        assert!(JobTemplate::from_extended_job(&ext, &[], 4).is_err());
    }
}
