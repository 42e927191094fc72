//! A map of what the translator remembers about workers, bounded in size and in time.
//!
//! An entry is *held* while a connection uses it (a worker's metrics, the last difficulty of
//! a worker name) and *idle* once every holder let go. Idle entries are forgotten after a time
//! ([`ExpiringMap::expire`], which a timer task calls) and, when the map is full and a new
//! entry is needed, the longest-idle one goes first. A map full of held entries takes no new
//! one: the caller goes on without it. So a stream of miners that connect with fresh names and
//! go away cannot grow the map past its capacity, however fast they come.
//!
//! Time is passed in, so tests decide what "later" means.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Slot<V> {
    value: V,
    holders: u32,
    /// When the last holder let go, and its place in the idle order.
    idle: Option<(u64, Instant)>,
}

#[derive(Debug)]
pub struct ExpiringMap<K, V> {
    capacity: usize,
    entries: HashMap<K, Slot<V>>,
    /// Idle entries, longest idle first.
    idle: BTreeMap<u64, K>,
    next_idle: u64,
}

impl<K: Hash + Eq + Clone, V> ExpiringMap<K, V> {
    /// At most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        ExpiringMap {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            idle: BTreeMap::new(),
            next_idle: 0,
        }
    }

    /// Hold the entry of `key`, made by `init` if there is none. `None` when the map is full
    /// and every entry is held.
    pub fn hold(&mut self, key: K, init: impl FnOnce() -> V) -> Option<&mut V> {
        if !self.entries.contains_key(&key) {
            if self.entries.len() >= self.capacity {
                let (_, oldest) = self.idle.pop_first()?;
                self.entries.remove(&oldest);
            }
            self.entries.insert(
                key.clone(),
                Slot {
                    value: init(),
                    holders: 0,
                    idle: None,
                },
            );
        }
        let slot = self.entries.get_mut(&key)?;
        if let Some((seq, _)) = slot.idle.take() {
            self.idle.remove(&seq);
        }
        slot.holders += 1;
        Some(&mut slot.value)
    }

    /// One holder of `key` lets go; at the last, the entry becomes idle from `now`.
    pub fn release(&mut self, key: &K, now: Instant) {
        let Some(slot) = self.entries.get_mut(key) else {
            return;
        };
        if slot.holders == 0 {
            return;
        }
        slot.holders -= 1;
        if slot.holders == 0 {
            let seq = self.next_idle;
            self.next_idle += 1;
            slot.idle = Some((seq, now));
            self.idle.insert(seq, key.clone());
        }
    }

    /// Forget the entries idle for `after` or longer at `now`; how many went.
    pub fn expire(&mut self, now: Instant, after: Duration) -> usize {
        let mut gone = 0;
        while let Some((&seq, key)) = self.idle.first_key_value() {
            let since = self
                .entries
                .get(key)
                .and_then(|s| s.idle)
                .filter(|(s, _)| *s == seq)
                .map(|(_, t)| t);
            match since {
                Some(t) if now.saturating_duration_since(t) < after => break,
                _ => {
                    if let Some(key) = self.idle.remove(&seq) {
                        self.entries.remove(&key);
                        gone += 1;
                    }
                }
            }
        }
        gone
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|s| &s.value)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|s| &mut s.value)
    }

    /// Whether some connection holds `key`.
    pub fn is_held(&self, key: &K) -> bool {
        self.entries.get(key).is_some_and(|s| s.holders > 0)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries that no connection holds.
    pub fn idle_len(&self) -> usize {
        self.idle.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, s)| (k, &s.value))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, s)| (k, &mut s.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn held_entries_stay_and_idle_ones_expire_after_the_time() {
        let t0 = Instant::now();
        let mut m = ExpiringMap::new(10);
        *m.hold("a", || 0).unwrap() = 1;
        m.hold("b", || 2);
        m.hold("b", || 99); // two connections with one name
        m.release(&"a", t0);
        m.release(&"b", t0);
        assert!(m.is_held(&"b"));
        assert_eq!(m.expire(t0 + 10 * MINUTE, MINUTE), 1, "only a was idle");
        assert_eq!(m.get(&"a"), None);
        assert_eq!(m.get(&"b"), Some(&2));
        m.release(&"b", t0 + MINUTE);
        assert_eq!(m.expire(t0 + MINUTE + MINUTE / 2, MINUTE), 0, "not yet");
        assert_eq!(m.expire(t0 + 2 * MINUTE, MINUTE), 1);
        assert!(m.is_empty());
        // Releasing what is not held changes nothing.
        m.release(&"zz", t0);
        assert_eq!((m.len(), m.idle_len()), (0, 0));
    }

    #[test]
    fn a_returning_holder_keeps_its_entry_from_expiring() {
        let t0 = Instant::now();
        let mut m = ExpiringMap::new(10);
        m.hold("w", || 5.0);
        m.release(&"w", t0);
        assert_eq!(m.hold("w", || 0.0), Some(&mut 5.0), "remembered while idle");
        assert_eq!(m.expire(t0 + 60 * MINUTE, MINUTE), 0);
        assert_eq!(m.idle_len(), 0);
        m.release(&"w", t0 + 60 * MINUTE);
        assert_eq!(m.expire(t0 + 60 * MINUTE, MINUTE), 0);
        assert_eq!(m.expire(t0 + 61 * MINUTE, MINUTE), 1);
    }

    /// A stream of fresh names that come and go: the map never holds more than its capacity,
    /// the longest idle go first, and held entries are never pushed out.
    #[test]
    fn fresh_names_cannot_grow_it_past_capacity() {
        let t0 = Instant::now();
        let mut m = ExpiringMap::new(1000);
        for i in 0..10u32 {
            m.hold(format!("held{i}"), || i);
        }
        for i in 0..100_000u32 {
            let k = format!("fresh{i}");
            assert!(m.hold(k.clone(), || i).is_some());
            m.release(&k, t0 + Duration::from_millis(i as u64));
            assert!(m.len() <= 1000);
        }
        assert_eq!(m.len(), 1000);
        assert!((0..10).all(|i| m.is_held(&format!("held{i}"))));
        assert!(m.get(&"fresh99999".to_string()).is_some());
        assert!(
            m.get(&"fresh98000".to_string()).is_none(),
            "the oldest went first"
        );
        // Full of held entries: no room, and the caller is told.
        let mut m = ExpiringMap::new(2);
        m.hold(1, || ());
        m.hold(2, || ());
        assert!(m.hold(3, || ()).is_none());
        assert_eq!(m.len(), 2);
        m.release(&1, t0);
        assert!(m.hold(3, || ()).is_some(), "an idle entry makes room");
        assert_eq!(m.get(&1), None);
    }
}
