//! 256-bit targets as Sv2 carries them: little-endian `U256`, where a hash (the `sha256d` of a
//! header, in the byte order it is computed) meets a target when, read as a little-endian
//! integer, it is not above it. Difficulty is `diff1 / target`, diff1 being
//! `0xffff * 2^208` (the Bitcoin convention deployed pools report).

/// A little-endian 256-bit target.
pub type Target = [u8; 32];

/// The easiest target: every hash meets it.
pub const MAX_TARGET: Target = [0xff; 32];

/// The difficulty-1 target, `0x00000000ffff0000...`.
pub const DIFF1_TARGET: Target = {
    let mut t = [0u8; 32];
    t[26] = 0xff;
    t[27] = 0xff;
    t
};

/// Whether `hash` (little-endian) is at or below `target` (little-endian).
#[inline]
pub fn hash_meets_target(hash: &[u8; 32], target: &Target) -> bool {
    // Compare as two big u128 halves: high first.
    let h_hi = u128::from_le_bytes(hash[16..].try_into().unwrap_or([0; 16]));
    let t_hi = u128::from_le_bytes(target[16..].try_into().unwrap_or([0; 16]));
    if h_hi != t_hi {
        return h_hi < t_hi;
    }
    let h_lo = u128::from_le_bytes(hash[..16].try_into().unwrap_or([0; 16]));
    let t_lo = u128::from_le_bytes(target[..16].try_into().unwrap_or([0; 16]));
    h_lo <= t_lo
}

/// The harder (smaller) of two targets.
pub fn harder(a: Target, b: Target) -> Target {
    if hash_meets_target(&a, &b) {
        a
    } else {
        b
    }
}

/// The easier (larger) of two targets.
pub fn easier(a: Target, b: Target) -> Target {
    if hash_meets_target(&a, &b) {
        b
    } else {
        a
    }
}

/// The value of a target as a float (precision of 53 bits is plenty for difficulty maths).
pub fn to_f64(t: &Target) -> f64 {
    t.iter().rev().fold(0.0, |acc, &b| acc * 256.0 + b as f64)
}

/// The target nearest to a float value; values at or above 2^256 give [`MAX_TARGET`], values
/// below 1 (and NaN) give the zero target.
pub fn from_f64(v: f64) -> Target {
    if v.is_nan() || v < 1.0 {
        return [0; 32];
    }
    if v >= 2f64.powi(256) {
        return MAX_TARGET;
    }
    // v = mantissa * 2^exp with a 53-bit integer mantissa.
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut out = [0u8; 32];
    for bit in 0..53i32 {
        if mantissa >> bit & 1 == 1 {
            let pos = bit + exp;
            if (0..256).contains(&pos) {
                out[pos as usize / 8] |= 1 << (pos % 8);
            }
        }
    }
    out
}

/// `diff1 / target`.
pub fn difficulty(t: &Target) -> f64 {
    let v = to_f64(t);
    if v == 0.0 {
        return f64::MAX;
    }
    to_f64(&DIFF1_TARGET) / v
}

/// The target of a difficulty (`diff1 / difficulty`).
pub fn from_difficulty(difficulty: f64) -> Target {
    if !(difficulty.is_finite() && difficulty > 0.0) {
        return MAX_TARGET;
    }
    from_f64(to_f64(&DIFF1_TARGET) / difficulty)
}

/// The target at which a device of `hashrate` (h/s) finds on average `shares_per_minute`
/// shares: each hash meets target `t` with probability `(t + 1) / 2^256`.
pub fn from_hashrate(hashrate: f64, shares_per_minute: f64) -> Target {
    if !(hashrate.is_finite() && hashrate > 0.0 && shares_per_minute > 0.0) {
        return MAX_TARGET;
    }
    let hashes_per_share = hashrate * 60.0 / shares_per_minute;
    from_f64(2f64.powi(256) / hashes_per_share)
}

/// Expected hashes to find one hash meeting `t`.
pub fn work(t: &Target) -> f64 {
    2f64.powi(256) / (to_f64(t) + 1.0)
}

/// The target that compact `nbits` encodes (as in the block header).
pub fn from_nbits(nbits: u32) -> Target {
    bitcoin::Target::from_compact(bitcoin::CompactTarget::from_consensus(nbits)).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_compares_as_little_endian_integers() {
        let mut t = [0u8; 32];
        t[31] = 0x01;
        let mut h = [0xffu8; 32];
        h[31] = 0x00;
        assert!(hash_meets_target(&h, &t));
        h[31] = 0x01;
        assert!(!hash_meets_target(&h, &t));
        assert!(hash_meets_target(&t, &t), "equal meets");
        assert!(hash_meets_target(&[0; 32], &[0; 32]));
    }

    #[test]
    fn difficulty_one_round_trips() {
        assert_eq!(difficulty(&DIFF1_TARGET), 1.0);
        assert_eq!(from_difficulty(1.0), DIFF1_TARGET);
        assert_eq!(from_difficulty(0.0), MAX_TARGET);
        let t = from_difficulty(1024.0);
        assert!((difficulty(&t) - 1024.0).abs() < 1e-9);
    }

    #[test]
    fn hashrate_target_gives_the_asked_rate() {
        // 1 Gh/s at 6 shares/min: 1e10 hashes per share.
        let t = from_hashrate(1e9, 6.0);
        assert!((work(&t) / 1e10 - 1.0).abs() < 1e-6);
        assert_eq!(from_hashrate(0.0, 6.0), MAX_TARGET);
        assert_eq!(from_hashrate(f64::NAN, 6.0), MAX_TARGET);
    }

    #[test]
    fn nbits_of_genesis() {
        let t = from_nbits(0x1d00ffff);
        assert_eq!(t, DIFF1_TARGET);
    }

    #[test]
    fn harder_picks_the_smaller() {
        assert_eq!(harder(DIFF1_TARGET, MAX_TARGET), DIFF1_TARGET);
        assert_eq!(harder(MAX_TARGET, DIFF1_TARGET), DIFF1_TARGET);
    }

    #[test]
    fn f64_round_trip_keeps_53_bits() {
        for v in [1.0, 255.0, 65536.5, 1e30, 2f64.powi(200) * 3.0] {
            let back = to_f64(&from_f64(v));
            assert!((back - v.floor()).abs() <= v * 1e-15, "{v} -> {back}");
        }
    }
}
