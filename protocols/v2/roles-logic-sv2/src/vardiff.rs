//! Variable difficulty: keep a channel near a configured number of shares per minute.
//!
//! The channel's hashrate is estimated from the work its accepted shares represent
//! (`shares * work(target) / elapsed`), which needs no trust in the hashrate the device
//! declares. The target changes only when the observed rate is off by more than a factor of
//! two, and at most once per window, so a channel is not flooded with SetTarget.

use crate::target::{self, Target};

/// Vardiff state of one channel. Times are milliseconds on any monotonic clock.
#[derive(Debug, Clone)]
pub struct Vardiff {
    shares_per_minute: f64,
    window_start_ms: u64,
    shares: u32,
    /// Hashrate estimate (h/s), starting from the declared one.
    hashrate: f64,
}

/// Shortest window before a retarget, unless shares arrive far too fast.
const MIN_WINDOW_MS: u64 = 60_000;
/// With this many times the expected shares, retarget after only this long.
const FAST_WINDOW_MS: u64 = 5_000;
const FAST_FACTOR: f64 = 4.0;

impl Vardiff {
    pub fn new(shares_per_minute: f64, declared_hashrate: f64, now_ms: u64) -> Self {
        Vardiff {
            shares_per_minute,
            window_start_ms: now_ms,
            shares: 0,
            hashrate: declared_hashrate.max(0.0),
        }
    }

    /// The target that matches the current hashrate estimate.
    pub fn target(&self) -> Target {
        target::from_hashrate(self.hashrate, self.shares_per_minute)
    }

    /// Current hashrate estimate (h/s).
    pub fn hashrate(&self) -> f64 {
        self.hashrate
    }

    /// Count one accepted share.
    pub fn on_share(&mut self) {
        self.shares = self.shares.saturating_add(1);
    }

    /// Restart from a new declared hashrate (UpdateChannel).
    pub fn reset(&mut self, declared_hashrate: f64, now_ms: u64) {
        self.hashrate = declared_hashrate.max(0.0);
        self.window_start_ms = now_ms;
        self.shares = 0;
    }

    /// A new target when the share rate under `current` is off by more than 2x.
    pub fn poll(&mut self, now_ms: u64, current: &Target) -> Option<Target> {
        let elapsed_ms = now_ms.saturating_sub(self.window_start_ms);
        let expected = self.shares_per_minute * elapsed_ms as f64 / 60_000.0;
        let shares = self.shares as f64;
        let fast = elapsed_ms >= FAST_WINDOW_MS && shares > FAST_FACTOR * expected.max(1.0);
        if elapsed_ms < MIN_WINDOW_MS && !fast {
            return None;
        }
        let observed = if self.shares == 0 {
            // No share at all: the device is at most half as fast as the target assumes.
            target::work(current) / (elapsed_ms as f64 / 1000.0) / 2.0
        } else {
            shares * target::work(current) / (elapsed_ms as f64 / 1000.0)
        };
        self.window_start_ms = now_ms;
        self.shares = 0;
        let ratio = shares / expected.max(f64::MIN_POSITIVE);
        if (0.5..=2.0).contains(&ratio) {
            self.hashrate = observed;
            return None;
        }
        self.hashrate = observed;
        Some(self.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_shares_make_it_harder_quickly() {
        let mut v = Vardiff::new(6.0, 1e6, 0);
        let t0 = v.target();
        for _ in 0..100 {
            v.on_share();
        }
        assert_eq!(v.poll(1_000, &t0), None, "too early even when fast");
        let t1 = v.poll(10_000, &t0).expect("retarget after the fast window");
        assert!(target::to_f64(&t1) < target::to_f64(&t0));
        // 100 shares in 10 s at 6/min expected: rate is 100x; the new target is ~100x harder.
        let r = target::to_f64(&t0) / target::to_f64(&t1);
        assert!((50.0..200.0).contains(&r), "{r}");
    }

    #[test]
    fn no_shares_make_it_easier_after_a_window() {
        let mut v = Vardiff::new(6.0, 1e9, 0);
        let t0 = v.target();
        assert_eq!(v.poll(30_000, &t0), None);
        let t1 = v.poll(60_000, &t0).expect("retarget");
        assert!(target::to_f64(&t1) > target::to_f64(&t0));
    }

    #[test]
    fn on_rate_keeps_the_target() {
        let mut v = Vardiff::new(6.0, 1e6, 0);
        let t0 = v.target();
        for _ in 0..6 {
            v.on_share();
        }
        assert_eq!(v.poll(60_000, &t0), None);
    }
}
