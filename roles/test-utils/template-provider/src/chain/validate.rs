//! Whole-block checks in the order Bitcoin Core makes them, refusing with its reject reasons
//! (the strings `submitblock` returns).

use super::bip34_prefix;
use bitcoin::block::Header;
use bitcoin::hashes::{hash160, sha256d, Hash};
use bitcoin::secp256k1::{ecdsa, All, Message, PublicKey, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Block, CompactTarget, Target, Transaction, TxOut, WitnessMerkleNode};
use std::collections::HashSet;

pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
const MAX_MONEY: u64 = 21_000_000 * 100_000_000;
const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;
const LOCKTIME_THRESHOLD: u32 = 500_000_000;

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub reason: String,
    /// The block hash does not commit to what failed (Core's BLOCK_MUTATED), so the same
    /// header may still come with a valid body: the failure is not remembered.
    pub mutated: bool,
}

fn fail(reason: &str) -> Fail {
    Fail {
        reason: reason.into(),
        mutated: false,
    }
}

fn mutated(reason: &str) -> Fail {
    Fail {
        reason: reason.into(),
        mutated: true,
    }
}

/// Core's CheckBlock: what needs no chain. Proof of work against the header's own bits,
/// merkle root, size, coinbase placement, each transaction on its own.
pub(crate) fn check_block(block: &Block) -> Result<(), Fail> {
    let meets = target_of(block.header.bits).is_some_and(|t| t.is_met_by(block.block_hash()));
    if !meets {
        return Err(fail("high-hash"));
    }
    let txids = block
        .txdata
        .iter()
        .map(|t| t.compute_txid().to_byte_array())
        .collect();
    let (root, dup) = merkle_root(txids);
    if root != block.header.merkle_root.to_byte_array() {
        return Err(mutated("bad-txnmrklroot"));
    }
    if dup {
        return Err(mutated("bad-txns-duplicate"));
    }
    let base_size: usize = 80 + 9 + block.txdata.iter().map(|t| t.base_size()).sum::<usize>();
    if block.txdata.is_empty()
        || block.txdata.len() as u64 * 4 > MAX_BLOCK_WEIGHT
        || base_size as u64 * 4 > MAX_BLOCK_WEIGHT
    {
        return Err(fail("bad-blk-length"));
    }
    if !block.txdata[0].is_coinbase() {
        return Err(fail("bad-cb-missing"));
    }
    if block.txdata[1..].iter().any(|t| t.is_coinbase()) {
        return Err(fail("bad-cb-multiple"));
    }
    for tx in &block.txdata {
        check_transaction(tx).map_err(fail)?;
    }
    Ok(())
}

/// The target `bits` encode, or `None` when Core finds it negative, zero or overflowing.
fn target_of(bits: CompactTarget) -> Option<Target> {
    let c = bits.to_consensus();
    let (size, word) = (c >> 24, c & 0x007f_ffff);
    let negative = word != 0 && c & 0x0080_0000 != 0;
    let overflow =
        word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
    let target = Target::from_compact(bits);
    (!negative && !overflow && target != Target::ZERO).then_some(target)
}

/// Core's CheckTransaction.
fn check_transaction(tx: &Transaction) -> Result<(), &'static str> {
    if tx.input.is_empty() {
        return Err("bad-txns-vin-empty");
    }
    if tx.output.is_empty() {
        return Err("bad-txns-vout-empty");
    }
    if tx.base_size() as u64 * 4 > MAX_BLOCK_WEIGHT {
        return Err("bad-txns-oversize");
    }
    let mut total = 0u64;
    for o in &tx.output {
        let v = o.value.to_sat();
        // Core reads values as signed.
        if v > i64::MAX as u64 {
            return Err("bad-txns-vout-negative");
        }
        if v > MAX_MONEY {
            return Err("bad-txns-vout-toolarge");
        }
        total += v;
        if total > MAX_MONEY {
            return Err("bad-txns-txouttotal-toolarge");
        }
    }
    let mut seen = HashSet::new();
    if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
        return Err("bad-txns-inputs-duplicate");
    }
    if tx.is_coinbase() {
        if !(2..=100).contains(&tx.input[0].script_sig.len()) {
            return Err("bad-cb-length");
        }
    } else if tx.input.iter().any(|i| i.previous_output.is_null()) {
        return Err("bad-txns-prevout-null");
    }
    Ok(())
}

/// Core's ContextualCheckBlockHeader, given the chain's bits and the median time past of the
/// parent.
pub(crate) fn check_header(
    header: &Header,
    bits: CompactTarget,
    parent_mtp: u32,
    now: u32,
) -> Result<(), Fail> {
    if header.bits != bits {
        return Err(fail("bad-diffbits"));
    }
    if header.time <= parent_mtp {
        return Err(fail("time-too-old"));
    }
    if header.time > now.saturating_add(MAX_FUTURE_BLOCK_TIME) {
        return Err(fail("time-too-new"));
    }
    // BIP34, BIP66 and BIP65 are active from the first block.
    if header.version.to_consensus() < 4 {
        return Err(fail(&format!(
            "bad-version(0x{:08x})",
            header.version.to_consensus()
        )));
    }
    Ok(())
}

/// Core's ContextualCheckBlock: lock times, BIP34 height, witness commitment, weight.
pub(crate) fn check_contextual(block: &Block, height: u32, parent_mtp: u32) -> Result<(), Fail> {
    if !block.txdata.iter().all(|t| is_final(t, height, parent_mtp)) {
        return Err(fail("bad-txns-nonfinal"));
    }
    let coinbase = &block.txdata[0];
    if !coinbase.input[0]
        .script_sig
        .as_bytes()
        .starts_with(&bip34_prefix(height))
    {
        return Err(fail("bad-cb-height"));
    }
    let mut has_witness = false;
    if let Some(pos) = witness_commitment_index(coinbase) {
        let w = &coinbase.input[0].witness;
        if w.len() != 1 || w.nth(0).map(<[u8]>::len) != Some(32) {
            return Err(mutated("bad-witness-nonce-size"));
        }
        let wtxids = std::iter::once([0u8; 32])
            .chain(
                block.txdata[1..]
                    .iter()
                    .map(|t| t.compute_wtxid().to_byte_array()),
            )
            .collect();
        let (root, _) = merkle_root(wtxids);
        let reserved = w.nth(0).unwrap_or_default();
        let commitment =
            Block::compute_witness_commitment(&WitnessMerkleNode::from_byte_array(root), reserved);
        if coinbase.output[pos].script_pubkey.as_bytes()[6..38] != commitment[..] {
            return Err(mutated("bad-witness-merkle-match"));
        }
        has_witness = true;
    }
    if !has_witness
        && block
            .txdata
            .iter()
            .any(|t| t.input.iter().any(|i| !i.witness.is_empty()))
    {
        return Err(mutated("unexpected-witness"));
    }
    if block.weight().to_wu() > MAX_BLOCK_WEIGHT {
        return Err(fail("bad-blk-weight"));
    }
    Ok(())
}

/// The last coinbase output that is a witness commitment.
pub(crate) fn witness_commitment_index(coinbase: &Transaction) -> Option<usize> {
    coinbase.output.iter().rposition(|o| {
        let s = o.script_pubkey.as_bytes();
        s.len() >= 38 && s[..6] == [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]
    })
}

/// Core's IsFinalTx, with BIP113's median time past as the time.
fn is_final(tx: &Transaction, height: u32, mtp: u32) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let limit = if lock < LOCKTIME_THRESHOLD {
        height
    } else {
        mtp
    };
    lock < limit || tx.input.iter().all(|i| i.sequence.0 == 0xffff_ffff)
}

/// The merkle root of `hashes` (internal byte order) and whether the tree was mutated
/// (two equal siblings, CVE-2012-2459), as Core computes them. Empty: zero.
pub(crate) fn merkle_root(mut hashes: Vec<[u8; 32]>) -> ([u8; 32], bool) {
    if hashes.is_empty() {
        return ([0; 32], false);
    }
    let mut dup = false;
    while hashes.len() > 1 {
        dup |= hashes.chunks_exact(2).any(|p| p[0] == p[1]);
        if hashes.len() % 2 == 1 {
            hashes.push(hashes[hashes.len() - 1]);
        }
        hashes = hashes
            .chunks_exact(2)
            .map(|p| {
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&p[0]);
                buf[32..].copy_from_slice(&p[1]);
                sha256d::Hash::hash(&buf).to_byte_array()
            })
            .collect();
    }
    (hashes[0], dup)
}

/// Check the witness of input `index` when it spends a P2WPKH output, under the consensus
/// rules a block is checked with (DER signatures, high S allowed). Other scripts are not
/// evaluated. The error is Core's script error text.
pub(crate) fn verify_input(
    secp: &Secp256k1<All>,
    tx: &Transaction,
    cache: &mut SighashCache<&Transaction>,
    index: usize,
    spent: &TxOut,
) -> Result<(), &'static str> {
    const EVAL_FALSE: &str =
        "Script evaluated without error but finished with a false/empty top stack element";
    let script = &spent.script_pubkey;
    if !script.is_p2wpkh() {
        return Ok(());
    }
    let input = &tx.input[index];
    if !input.script_sig.is_empty() {
        return Err("Witness requires empty scriptSig");
    }
    let w = &input.witness;
    let (Some(sig), Some(key), 2) = (w.nth(0), w.nth(1), w.len()) else {
        return Err("Witness program hash mismatch");
    };
    if sig.len() > 520 || key.len() > 520 {
        return Err("Push value size limit exceeded");
    }
    if hash160::Hash::hash(key).to_byte_array()[..] != script.as_bytes()[2..22] {
        return Err("Script failed an OP_EQUALVERIFY operation");
    }
    let Some((&hash_type, der)) = sig.split_last() else {
        return Err(EVAL_FALSE);
    };
    let Ok(mut signature) = ecdsa::Signature::from_der(der) else {
        return Err("Non-canonical DER signature");
    };
    signature.normalize_s();
    let Ok(key) = PublicKey::from_slice(key) else {
        return Err(EVAL_FALSE);
    };
    let sighash_type = EcdsaSighashType::from_consensus(hash_type as u32);
    let Ok(sighash) = cache.p2wpkh_signature_hash(index, script, spent.value, sighash_type) else {
        return Err(EVAL_FALSE);
    };
    secp.verify_ecdsa(
        &Message::from_digest(sighash.to_byte_array()),
        &signature,
        &key,
    )
    .map_err(|_| EVAL_FALSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_and_overflowing_bits_are_no_target() {
        let t = |c: u32| target_of(CompactTarget::from_consensus(c));
        assert!(t(0x207f_ffff).is_some());
        assert!(t(0x1d00_ffff).is_some());
        assert!(
            t(0x2100_ffff).is_some(),
            "the easiest target the simulator uses"
        );
        assert!(t(0).is_none());
        assert!(t(0x0480_0001).is_none(), "negative");
        assert!(t(0xff12_3456).is_none(), "overflow");
        assert!(t(0x2301_0000).is_none(), "overflow");
    }

    #[test]
    fn merkle_roots_match_the_bitcoin_crate_and_mutation_is_seen() {
        let h = |b: u8| [b; 32];
        for n in 1..9u8 {
            let leaves: Vec<[u8; 32]> = (0..n).map(h).collect();
            let ours = merkle_root(leaves.clone()).0;
            let theirs = bitcoin::merkle_tree::calculate_root(
                leaves
                    .iter()
                    .map(|l| bitcoin::TxMerkleNode::from_byte_array(*l)),
            )
            .unwrap();
            assert_eq!(ours, theirs.to_byte_array(), "{n} leaves");
        }
        // [a, b, c] and [a, b, c, c] have the same root; the second is the mutated one.
        let three = merkle_root(vec![h(1), h(2), h(3)]);
        let four = merkle_root(vec![h(1), h(2), h(3), h(3)]);
        assert_eq!(three.0, four.0);
        assert!(!three.1 && four.1);
    }
}
