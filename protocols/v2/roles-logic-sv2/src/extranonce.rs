//! Extranonce space and how it is shared out.
//!
//! The extranonce is a fixed-length run of bytes in the coinbase's scriptSig. Whoever owns a
//! range of it fixes its first bytes (the *prefix*) and hands the rest out, either to a miner
//! to roll or, split again, to its own downstreams. Two channels never search the same space
//! because every prefix handed out extends the owner's prefix by an id no live channel holds:
//! no live prefix is a prefix of another. A proxy does the same with the range its pool gave
//! it ([`ExtranonceRange::sub_allocator`]).

use std::collections::HashSet;
use std::fmt;

/// Part of the extranonce space: `prefix` is fixed, the `rollable()` bytes after it are free.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtranonceRange {
    prefix: Vec<u8>,
    total_len: usize,
}

impl ExtranonceRange {
    /// A range of `total_len` bytes of which `prefix` is fixed.
    pub fn new(prefix: Vec<u8>, total_len: usize) -> Result<Self, ExtranonceError> {
        if prefix.len() > total_len || total_len > crate::MAX_EXTRANONCE_LEN {
            return Err(ExtranonceError::TooLarge {
                requested: prefix.len(),
                available: total_len.min(crate::MAX_EXTRANONCE_LEN),
            });
        }
        Ok(ExtranonceRange { prefix, total_len })
    }

    /// The fixed bytes (OpenExtendedMiningChannel.Success.extranonce_prefix).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Length of the whole extranonce in the coinbase.
    pub fn total_len(&self) -> usize {
        self.total_len
    }

    /// Bytes the holder may roll (OpenExtendedMiningChannel.Success.extranonce_size).
    pub fn rollable(&self) -> usize {
        self.total_len - self.prefix.len()
    }

    /// The prefix padded with zeros to the whole length: the one extranonce of a standard
    /// channel, which does not roll.
    pub fn padded(&self) -> Vec<u8> {
        let mut v = self.prefix.clone();
        v.resize(self.total_len, 0);
        v
    }

    /// An allocator that splits this range with `id_len` more fixed bytes per allocation.
    pub fn sub_allocator(&self, id_len: usize) -> Result<ExtranonceAllocator, ExtranonceError> {
        ExtranonceAllocator::new(self.prefix.clone(), self.total_len, id_len)
    }
}

/// A whole extranonce (a channel's prefix and what its miner rolled), kept inline so that
/// accepting a share allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extranonce {
    len: u8,
    bytes: [u8; crate::MAX_EXTRANONCE_LEN],
}

impl Extranonce {
    /// `prefix` followed by `rest`; `None` when longer than 32 bytes.
    pub fn from_parts(prefix: &[u8], rest: &[u8]) -> Option<Self> {
        let len = prefix.len() + rest.len();
        if len > crate::MAX_EXTRANONCE_LEN {
            return None;
        }
        let mut bytes = [0u8; crate::MAX_EXTRANONCE_LEN];
        bytes[..prefix.len()].copy_from_slice(prefix);
        bytes[prefix.len()..len].copy_from_slice(rest);
        Some(Extranonce {
            len: len as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for Extranonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extranonce(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Why space could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtranonceError {
    /// Every id is in use.
    Exhausted { capacity: u64 },
    /// More bytes were asked for than the range has.
    TooLarge { requested: usize, available: usize },
    /// `release` of a range this allocator did not give out (or gave and took back).
    NotAllocated,
}

impl fmt::Display for ExtranonceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtranonceError::Exhausted { capacity } => {
                write!(f, "all {capacity} extranonce prefixes are in use")
            }
            ExtranonceError::TooLarge {
                requested,
                available,
            } => write!(
                f,
                "{requested} extranonce bytes requested, only {available} available"
            ),
            ExtranonceError::NotAllocated => f.write_str("extranonce range was not allocated here"),
        }
    }
}

impl std::error::Error for ExtranonceError {}

/// Hands out disjoint [`ExtranonceRange`]s: `base ++ id` with `id` of `id_len` bytes, each id
/// given to one holder at a time. Ids are handed out in order, wrapping, so a released id is
/// reused only after every other id had its turn: a late share for a closed channel does not
/// land on a new one soon after. Memory follows the live ranges only, however many are opened
/// and closed.
#[derive(Debug, Clone)]
pub struct ExtranonceAllocator {
    base: Vec<u8>,
    total_len: usize,
    id_len: usize,
    capacity: u64,
    /// The next id to try.
    next: u64,
    in_use: HashSet<u64>,
}

impl ExtranonceAllocator {
    /// Split the range `base` (fixed) of `total_len` bytes with `id_len`-byte ids.
    pub fn new(base: Vec<u8>, total_len: usize, id_len: usize) -> Result<Self, ExtranonceError> {
        let available = total_len.saturating_sub(base.len());
        if id_len == 0 || id_len > 8 || id_len > available || total_len > crate::MAX_EXTRANONCE_LEN
        {
            return Err(ExtranonceError::TooLarge {
                requested: id_len,
                available: available.min(8),
            });
        }
        let capacity = if id_len == 8 {
            u64::MAX
        } else {
            1u64 << (8 * id_len)
        };
        Ok(ExtranonceAllocator {
            base,
            total_len,
            id_len,
            capacity,
            next: 0,
            in_use: HashSet::new(),
        })
    }

    /// Bytes a holder of an allocated range may roll.
    pub fn rollable(&self) -> usize {
        self.total_len - self.base.len() - self.id_len
    }

    /// Ranges currently given out.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }

    /// A fresh range, disjoint from every live one.
    pub fn allocate(&mut self) -> Result<ExtranonceRange, ExtranonceError> {
        if self.in_use.len() as u64 >= self.capacity {
            return Err(ExtranonceError::Exhausted {
                capacity: self.capacity,
            });
        }
        // The cursor walks the ids in order and wraps, skipping live ones: a released id comes
        // back only after every other id had its turn, and nothing grows with churn.
        let id = loop {
            let id = self.next;
            self.next = if self.next + 1 >= self.capacity {
                0
            } else {
                self.next + 1
            };
            if self.in_use.insert(id) {
                break id;
            }
        };
        let mut prefix = self.base.clone();
        prefix.extend_from_slice(&id.to_be_bytes()[8 - self.id_len..]);
        Ok(ExtranonceRange {
            prefix,
            total_len: self.total_len,
        })
    }

    /// A fresh range with at least `min_rollable` bytes to roll.
    pub fn allocate_with_min(
        &mut self,
        min_rollable: usize,
    ) -> Result<ExtranonceRange, ExtranonceError> {
        if min_rollable > self.rollable() {
            return Err(ExtranonceError::TooLarge {
                requested: min_rollable,
                available: self.rollable(),
            });
        }
        self.allocate()
    }

    /// Give a range back.
    pub fn release(&mut self, range: &ExtranonceRange) -> Result<(), ExtranonceError> {
        let p = &range.prefix;
        if range.total_len != self.total_len
            || p.len() != self.base.len() + self.id_len
            || !p.starts_with(&self.base)
        {
            return Err(ExtranonceError::NotAllocated);
        }
        let mut id = [0u8; 8];
        id[8 - self.id_len..].copy_from_slice(&p[self.base.len()..]);
        let id = u64::from_be_bytes(id);
        if !self.in_use.remove(&id) {
            return Err(ExtranonceError::NotAllocated);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn overlap(a: &ExtranonceRange, b: &ExtranonceRange) -> bool {
        a.prefix().starts_with(b.prefix()) || b.prefix().starts_with(a.prefix())
    }

    #[test]
    fn extranonce_joins_its_parts_up_to_32_bytes() {
        let e = Extranonce::from_parts(&[1, 2], &[3]).unwrap();
        assert_eq!(e.as_bytes(), &[1, 2, 3]);
        assert!(Extranonce::from_parts(&[0; 30], &[0; 3]).is_none());
        assert_eq!(format!("{e:?}"), "Extranonce(010203)");
    }

    #[test]
    fn ranges_are_disjoint_and_sized() {
        let mut a = ExtranonceAllocator::new(vec![], 16, 4).unwrap();
        let r1 = a.allocate().unwrap();
        let r2 = a.allocate().unwrap();
        assert_eq!(r1.prefix(), &[0, 0, 0, 0]);
        assert_eq!(r2.prefix(), &[0, 0, 0, 1]);
        assert_eq!(r1.rollable(), 12);
        assert!(!overlap(&r1, &r2));
        assert_eq!(r1.padded().len(), 16);
    }

    #[test]
    fn exhaustion_and_reuse_after_release() {
        let mut a = ExtranonceAllocator::new(vec![7], 4, 1).unwrap();
        let all: Vec<_> = (0..256).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(
            a.allocate(),
            Err(ExtranonceError::Exhausted { capacity: 256 })
        );
        a.release(&all[42]).unwrap();
        assert_eq!(a.allocate().unwrap(), all[42]);
        assert_eq!(a.release(&all[42]), Ok(()));
        assert_eq!(a.release(&all[42]), Err(ExtranonceError::NotAllocated));
    }

    #[test]
    fn churn_keeps_only_live_ids_and_reuses_released_ones_last() {
        // A peer that opens and closes channels in a loop: nothing accumulates.
        let mut a = ExtranonceAllocator::new(vec![], 8, 2).unwrap();
        let keep = a.allocate().unwrap();
        for _ in 0..300_000 {
            let r = a.allocate().unwrap();
            assert_ne!(r, keep, "a live id is never handed out again");
            a.release(&r).unwrap();
        }
        assert_eq!(a.in_use(), 1);
        assert!(a.in_use.capacity() < 64, "{}", a.in_use.capacity());
        // Ids come in order: the one just released is not the next one.
        let x = a.allocate().unwrap();
        a.release(&x).unwrap();
        assert_ne!(a.allocate().unwrap(), x);
        // 8-byte ids (capacity u64::MAX) wrap the same way, without overflow.
        let mut big = ExtranonceAllocator::new(vec![], 8, 8).unwrap();
        for _ in 0..1000 {
            let r = big.allocate().unwrap();
            big.release(&r).unwrap();
        }
        assert_eq!(big.in_use(), 0);
    }

    #[test]
    fn too_large_requests_are_refused() {
        assert!(ExtranonceAllocator::new(vec![0; 10], 12, 4).is_err());
        assert!(ExtranonceAllocator::new(vec![], 33, 4).is_err());
        let mut a = ExtranonceAllocator::new(vec![], 8, 2).unwrap();
        assert_eq!(
            a.allocate_with_min(7),
            Err(ExtranonceError::TooLarge {
                requested: 7,
                available: 6
            })
        );
        assert!(a.allocate_with_min(6).is_ok());
    }

    #[test]
    fn foreign_ranges_cannot_be_released() {
        let mut a = ExtranonceAllocator::new(vec![1], 8, 2).unwrap();
        let mut b = ExtranonceAllocator::new(vec![2], 8, 2).unwrap();
        let r = b.allocate().unwrap();
        assert_eq!(a.release(&r), Err(ExtranonceError::NotAllocated));
    }

    quickcheck! {
        /// A pool allocator, proxies splitting what they got, random releases: no two live
        /// ranges ever overlap.
        fn live_ranges_never_overlap(ops: Vec<(u8, u8)>) -> bool {
            let mut pool = ExtranonceAllocator::new(vec![], 12, 2).unwrap();
            let mut proxies: Vec<(ExtranonceRange, ExtranonceAllocator)> = Vec::new();
            let mut live: Vec<(Option<usize>, ExtranonceRange)> = Vec::new();
            for (op, arg) in ops {
                match op % 4 {
                    0 => live.push((None, pool.allocate().unwrap())),
                    1 => {
                        let r = pool.allocate().unwrap();
                        let sub = r.sub_allocator(1 + arg as usize % 3).unwrap();
                        proxies.push((r, sub));
                    }
                    2 if !proxies.is_empty() => {
                        let i = arg as usize % proxies.len();
                        if let Ok(r) = proxies[i].1.allocate() {
                            live.push((Some(i), r));
                        }
                    }
                    _ if !live.is_empty() => {
                        let (owner, r) = live.remove(arg as usize % live.len());
                        match owner {
                            None => pool.release(&r).unwrap(),
                            Some(i) => proxies[i].1.release(&r).unwrap(),
                        }
                    }
                    _ => {}
                }
            }
            // Proxies' own ranges are live too (their holders are their downstreams).
            let mut all: Vec<&ExtranonceRange> = live.iter().map(|(_, r)| r).collect();
            let direct: Vec<&ExtranonceRange> = live.iter().filter(|(o, _)| o.is_none()).map(|(_, r)| r).collect();
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    if overlap(a, b) {
                        return false;
                    }
                }
            }
            for (r, _) in &proxies {
                if direct.iter().any(|d| overlap(d, r)) {
                    return false;
                }
            }
            all.clear();
            true
        }
    }
}
