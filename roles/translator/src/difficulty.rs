//! Which Sv1 difficulty a miner gets: what vardiff (or the miner's suggestion, or its last
//! difficulty) wants, kept within the translator's bounds and the miner's own.
//!
//! * The floor is the difficulty of `min_individual_miner_hashrate`: the most shares a miner
//!   makes the translator check.
//! * The ceiling is the upstream channel's difficulty. A miner above it would skip shares the
//!   pool credits, so it wins over the floor when the two cross.
//! * With `difficulty_power_of_two`, the result is rounded *down* to a power of two (an easier
//!   target: every extra share is checked here and only those meeting the upstream target go
//!   on), or up to the first power of two at or above the floor when rounding down would go
//!   below it. When no power of two lies between floor and ceiling, neither bound is broken
//!   for rounding's sake and the difficulty stays as it is.
//! * The miner's BIP310 `minimum-difficulty` wins over everything: the difficulty never goes
//!   below what it asked as minimum (rounded up to a power of two when rounding is on).

/// The bounds for one miner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub floor: f64,
    pub ceiling: Option<f64>,
    pub power_of_two: bool,
    /// BIP310 minimum-difficulty, when the miner asked for one.
    pub miner_minimum: Option<f64>,
}

/// The largest power of two at or below `d` (`d` itself when it is not a positive normal
/// number).
pub fn power_of_two_at_most(d: f64) -> f64 {
    if !(d.is_normal() && d > 0.0) {
        return d;
    }
    // Keep the exponent, clear the mantissa.
    f64::from_bits(d.to_bits() & 0xfff0_0000_0000_0000)
}

/// The smallest power of two at or above `d`.
pub fn power_of_two_at_least(d: f64) -> f64 {
    let p = power_of_two_at_most(d);
    if p == d || !p.is_normal() || !(p * 2.0).is_finite() {
        // Above 2^1023 the next power of two is not a number: stay at the largest one.
        p
    } else {
        p * 2.0
    }
}

impl Policy {
    /// The difficulty to send for `wanted`.
    pub fn apply(&self, wanted: f64) -> f64 {
        let mut d = if wanted.is_finite() && wanted > 0.0 {
            wanted
        } else {
            self.floor
        };
        d = d.max(self.floor);
        if let Some(c) = self.ceiling {
            d = d.min(c);
        }
        if self.power_of_two {
            let down = power_of_two_at_most(d);
            let up = power_of_two_at_least(self.floor);
            d = if down >= self.floor {
                down
            } else if self.ceiling.is_none_or(|c| up <= c) {
                up
            } else if self.ceiling.is_some_and(|c| c < self.floor) {
                // The floor is out of reach anyway: keep under the ceiling.
                down
            } else {
                d
            };
        }
        if let Some(m) = self.miner_minimum {
            let m = if self.power_of_two {
                power_of_two_at_least(m)
            } else {
                m
            };
            d = d.max(m);
        }
        // A miner's minimum-difficulty may be any finite number; an infinite difficulty
        // would be sent as null and make every share meet the target.
        if d.is_finite() {
            d
        } else {
            f64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn a_huge_minimum_difficulty_stays_finite() {
        let mut p = policy(1.0, None, true);
        p.miner_minimum = Some(f64::MAX);
        let d = p.apply(1.0);
        assert!(d.is_finite() && d >= 2f64.powi(1023), "{d}");
        assert!(power_of_two_at_least(f64::MAX).is_finite());
        let mut p = policy(1.0, None, false);
        p.miner_minimum = Some(f64::MAX);
        assert_eq!(p.apply(1.0), f64::MAX);
    }

    fn policy(floor: f64, ceiling: Option<f64>, power_of_two: bool) -> Policy {
        Policy {
            floor,
            ceiling,
            power_of_two,
            miner_minimum: None,
        }
    }

    #[test]
    fn powers_of_two() {
        assert_eq!(power_of_two_at_most(1000.0), 512.0);
        assert_eq!(power_of_two_at_most(1024.0), 1024.0);
        assert_eq!(power_of_two_at_most(0.3), 0.25);
        assert_eq!(power_of_two_at_least(1000.0), 1024.0);
        assert_eq!(power_of_two_at_least(1024.0), 1024.0);
        assert_eq!(power_of_two_at_least(0.3), 0.5);
        assert_eq!(power_of_two_at_most(0.0), 0.0);
    }

    #[test]
    fn within_floor_and_ceiling() {
        let p = policy(100.0, Some(10_000.0), false);
        assert_eq!(p.apply(50.0), 100.0);
        assert_eq!(p.apply(5000.0), 5000.0);
        assert_eq!(p.apply(1e9), 10_000.0);
        assert_eq!(p.apply(f64::NAN), 100.0);
        // The ceiling wins when it is below the floor (the pool credits what it credits).
        assert_eq!(policy(100.0, Some(10.0), false).apply(50.0), 10.0);
    }

    #[test]
    fn power_of_two_rounds_down_but_not_below_the_floor() {
        let p = policy(100.0, Some(10_000.0), true);
        assert_eq!(p.apply(5000.0), 4096.0);
        assert_eq!(p.apply(1e9), 8192.0, "under the upstream's difficulty");
        assert_eq!(p.apply(150.0), 128.0);
        assert_eq!(p.apply(101.0), 128.0, "64 is below the floor: up to 128");
        assert_eq!(p.apply(1.0), 128.0);
        // No power of two between floor and ceiling: both bounds hold, rounding yields.
        assert_eq!(policy(130.0, Some(250.0), true).apply(200.0), 200.0);
        // Ceiling under the floor: a power of two under the ceiling.
        assert_eq!(policy(100.0, Some(50.0), true).apply(70.0), 32.0);
        assert_eq!(policy(0.001, None, true).apply(0.003), 0.001953125);
    }

    #[test]
    fn the_miners_minimum_wins() {
        let mut p = policy(100.0, Some(10_000.0), false);
        p.miner_minimum = Some(20_000.0);
        assert_eq!(
            p.apply(500.0),
            20_000.0,
            "above the ceiling: the miner asked"
        );
        p.miner_minimum = Some(300.0);
        assert_eq!(p.apply(200.0), 300.0);
        assert_eq!(p.apply(400.0), 400.0);
        p.power_of_two = true;
        assert_eq!(p.apply(200.0), 512.0);
        assert_eq!(p.apply(5000.0), 4096.0);
    }

    quickcheck! {
        fn bounds_hold(floor: u32, ceiling: u32, wanted: u32, pow2: bool) -> bool {
            let floor = 1.0 + floor as f64;
            let ceiling = 1.0 + ceiling as f64;
            let p = policy(floor, Some(ceiling), pow2);
            let d = p.apply(wanted as f64);
            let under_ceiling = d <= ceiling;
            let over_floor = d >= floor || ceiling < floor;
            let rounded = !pow2 || d == power_of_two_at_most(d)
                || power_of_two_at_least(floor) > ceiling;
            under_ceiling && over_floor && rounded
        }
    }
}
