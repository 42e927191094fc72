//! The share math a Sv1 server (and a CPU miner) needs.
//!
//! Conventions, as every Sv1 implementation uses them: `ntime`, `nonce`, `version` and `nbits`
//! are written as big-endian hex of the 32-bit value and go into the header little-endian;
//! the notify `prev_hash` has each 4-byte word byte-swapped relative to header order; merkle
//! branches and the coinbase hash are in header (internal) order; hashes and targets compare
//! as 256-bit little-endian integers.

use crate::methods::{Notify, Submit};
use sha2::{Digest, Sha256};

pub fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

/// The coinbase: coinb1, extranonce1, extranonce2, coinb2.
pub fn coinbase(notify: &Notify, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(
        notify.coinb1.len() + extranonce1.len() + extranonce2.len() + notify.coinb2.len(),
    );
    c.extend_from_slice(&notify.coinb1);
    c.extend_from_slice(extranonce1);
    c.extend_from_slice(extranonce2);
    c.extend_from_slice(&notify.coinb2);
    c
}

/// Merkle root from the coinbase hash and the branch (header order).
pub fn merkle_root(coinbase_hash: [u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    let mut root = coinbase_hash;
    let mut buf = [0u8; 64];
    for b in branch {
        buf[..32].copy_from_slice(&root);
        buf[32..].copy_from_slice(b);
        root = sha256d(&buf);
    }
    root
}

/// The notify prev hash in header order (undo the per-word byte swap).
pub fn prev_hash_header_order(stratum: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(stratum.chunks_exact(4)) {
        o.copy_from_slice(&[w[3], w[2], w[1], w[0]]);
    }
    out
}

/// The inverse of [`prev_hash_header_order`] (for servers building a notify).
pub fn prev_hash_stratum_order(header: &[u8; 32]) -> [u8; 32] {
    prev_hash_header_order(header)
}

/// The version of the header: the job's, with the bits under `mask` taken from the miner.
pub fn rolled_version(job_version: u32, version_bits: Option<u32>, mask: u32) -> u32 {
    match version_bits {
        Some(bits) => (job_version & !mask) | (bits & mask),
        None => job_version,
    }
}

/// The 80-byte block header of a submitted share.
pub fn header(notify: &Notify, extranonce1: &[u8], submit: &Submit, version_mask: u32) -> [u8; 80] {
    let cb = coinbase(notify, extranonce1, &submit.extranonce2);
    let root = merkle_root(sha256d(&cb), &notify.merkle_branch);
    header_from_parts(
        rolled_version(notify.version, submit.version_bits, version_mask),
        &prev_hash_header_order(&notify.prev_hash),
        &root,
        submit.ntime,
        notify.nbits,
        submit.nonce,
    )
}

pub fn header_from_parts(
    version: u32,
    prev_hash: &[u8; 32],
    merkle_root: &[u8; 32],
    ntime: u32,
    nbits: u32,
    nonce: u32,
) -> [u8; 80] {
    let mut h = [0u8; 80];
    h[0..4].copy_from_slice(&version.to_le_bytes());
    h[4..36].copy_from_slice(prev_hash);
    h[36..68].copy_from_slice(merkle_root);
    h[68..72].copy_from_slice(&ntime.to_le_bytes());
    h[72..76].copy_from_slice(&nbits.to_le_bytes());
    h[76..80].copy_from_slice(&nonce.to_le_bytes());
    h
}

/// Whether `hash` (little-endian 256-bit) is at or below `target` (little-endian).
pub fn meets_target(hash: &[u8; 32], target: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if hash[i] != target[i] {
            return hash[i] < target[i];
        }
    }
    true
}

/// Difficulty 1: 0x00000000ffff0000... (0xffff * 2^208).
pub const DIFF1_TARGET: [u8; 32] = {
    let mut t = [0u8; 32];
    t[26] = 0xff;
    t[27] = 0xff;
    t
};

/// The share target of a difficulty: floor(diff1 / difficulty), as a little-endian 256-bit
/// integer. Difficulties below 2^-32 (targets above 2^256) are clamped to the maximum.
pub fn target_from_difficulty(difficulty: f64) -> [u8; 32] {
    if !(difficulty.is_finite() && difficulty > 0.0) {
        return [0xff; 32];
    }
    // target = (65535 / d) * 2^208, computed from the float's mantissa and exponent.
    let v = 65535.0 / difficulty;
    if v >= 2f64.powi(48) {
        return [0xff; 32];
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = if exp == 0 {
        (bits & ((1 << 52) - 1)) << 1
    } else {
        (bits & ((1 << 52) - 1)) | (1 << 52)
    };
    // v = mantissa * 2^(exp - 1075)
    let shift = exp - 1075 + 208;
    let mut out = [0u8; 32];
    if shift >= 0 {
        let shift = shift as usize;
        for bit in 0..64 {
            if mantissa >> bit & 1 == 1 && bit + shift < 256 {
                let pos = bit + shift;
                out[pos / 8] |= 1 << (pos % 8);
            }
        }
    } else if -shift < 64 {
        let m = mantissa >> (-shift) as u32;
        out[..8].copy_from_slice(&m.to_le_bytes());
    }
    out
}

/// The difficulty a hash reaches (diff1 / hash), for accounting; saturates for a zero hash.
pub fn difficulty_of_hash(hash: &[u8; 32]) -> f64 {
    let mut v = 0f64;
    for i in (0..32).rev() {
        v = v * 256.0 + hash[i] as f64;
    }
    if v == 0.0 {
        return f64::MAX;
    }
    65535.0 * 2f64.powi(208) / v
}

/// The network target of compact `nbits`, little-endian.
pub fn target_from_nbits(nbits: u32) -> [u8; 32] {
    let exp = (nbits >> 24) as usize;
    let mant = nbits & 0x007f_ffff;
    let mut out = [0u8; 32];
    // Byte i of the 3-byte mantissa lands at position exp - 3 + i.
    for (i, b) in mant.to_le_bytes().iter().take(3).enumerate() {
        if let Some(pos) = (exp + i).checked_sub(3).filter(|&p| p < 32) {
            out[pos] = *b;
        }
    }
    out
}
