//! # buffer_sv2
//!
//! A pool of reusable byte buffers for frames. Taking a buffer reuses one that an earlier
//! frame gave back; when every pooled buffer is out (or the request is larger than the pool's
//! buffer size) the pool falls back to the heap, so a burst never fails, it only allocates.
//!
//! Each [`PooledBuffer`] owns its memory outright (a `Vec<u8>` moved in and out of the pool),
//! so two buffers can never overlap: the type system, not an index calculation, guarantees it.
//! The pool is `Send + Sync` and can be shared between connections; the lock is held only to
//! push or pop one vector.
//!
//! ```
//! use buffer_sv2::BufferPool;
//! let pool = BufferPool::new(4, 1024);
//! let mut a = pool.get(100);
//! a[0] = 1;
//! assert_eq!(a.len(), 100);
//! drop(a); // back to the pool
//! let b = pool.get(50);
//! assert_eq!(b.len(), 50);
//! assert_eq!(pool.stats().reused, 1);
//! ```

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

/// Counters of what the pool did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers taken from the free list.
    pub reused: u64,
    /// Buffers newly allocated for the pool (up to its size).
    pub allocated: u64,
    /// Requests served from the heap because the pool was exhausted or the size too large.
    pub heap_fallbacks: u64,
    /// Pooled buffers currently handed out.
    pub outstanding: usize,
}

#[derive(Debug)]
struct Inner {
    free: Vec<Vec<u8>>,
    stats: PoolStats,
}

/// A shared pool of up to `capacity` buffers of `buffer_size` bytes each.
#[derive(Debug, Clone)]
pub struct BufferPool {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    buffer_size: usize,
}

impl BufferPool {
    /// A pool that keeps at most `capacity` buffers of `buffer_size` bytes.
    pub fn new(capacity: usize, buffer_size: usize) -> Self {
        BufferPool {
            inner: Arc::new(Mutex::new(Inner {
                free: Vec::with_capacity(capacity),
                stats: PoolStats::default(),
            })),
            capacity,
            buffer_size,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the free list inconsistent (push and
        // pop are atomic with respect to it), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A zero-filled buffer of `len` bytes, from the pool if one is free and `len` fits.
    pub fn get(&self, len: usize) -> PooledBuffer {
        if len <= self.buffer_size {
            let mut inner = self.lock();
            if let Some(mut v) = inner.free.pop() {
                inner.stats.reused += 1;
                inner.stats.outstanding += 1;
                drop(inner);
                v.clear();
                v.resize(len, 0);
                return PooledBuffer {
                    data: v,
                    home: Some(self.clone()),
                };
            }
            if inner.stats.outstanding < self.capacity {
                inner.stats.allocated += 1;
                inner.stats.outstanding += 1;
                drop(inner);
                let mut v = Vec::with_capacity(self.buffer_size);
                v.resize(len, 0);
                return PooledBuffer {
                    data: v,
                    home: Some(self.clone()),
                };
            }
            inner.stats.heap_fallbacks += 1;
        } else {
            self.lock().stats.heap_fallbacks += 1;
        }
        PooledBuffer {
            data: vec![0; len],
            home: None,
        }
    }

    /// A buffer holding a copy of `bytes`.
    pub fn copy_from(&self, bytes: &[u8]) -> PooledBuffer {
        let mut b = self.get(bytes.len());
        b.copy_from_slice(bytes);
        b
    }

    pub fn stats(&self) -> PoolStats {
        self.lock().stats
    }

    /// Maximum number of pooled buffers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Size of each pooled buffer; larger requests go to the heap.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    fn give_back(&self, v: Vec<u8>) {
        let mut inner = self.lock();
        inner.stats.outstanding -= 1;
        if inner.free.len() < self.capacity {
            inner.free.push(v);
        }
    }
}

/// A buffer from a [`BufferPool`] (or from the heap when the pool was exhausted). It derefs to
/// `[u8]` and returns to its pool when dropped.
#[derive(Debug)]
pub struct PooledBuffer {
    data: Vec<u8>,
    home: Option<BufferPool>,
}

impl PooledBuffer {
    /// Whether this buffer came from the pool (false: heap fallback).
    pub fn is_pooled(&self) -> bool {
        self.home.is_some()
    }

    /// Take the bytes out as a vector (the pool gets a replacement slot back, not this memory).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }
}

impl Deref for PooledBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl AsMut<[u8]> for PooledBuffer {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(pool) = self.home.take() {
            pool.give_back(std::mem::take(&mut self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{quickcheck, TestResult};

    #[test]
    fn exhausted_pool_falls_back_to_heap() {
        let pool = BufferPool::new(2, 64);
        let a = pool.get(10);
        let b = pool.get(10);
        let c = pool.get(10);
        assert!(a.is_pooled() && b.is_pooled());
        assert!(!c.is_pooled());
        let big = pool.get(65);
        assert!(!big.is_pooled());
        assert_eq!(pool.stats().heap_fallbacks, 2);
        drop((a, b, c, big));
        assert_eq!(pool.stats().outstanding, 0);
        let d = pool.get(64);
        assert!(d.is_pooled());
        assert_eq!(pool.stats().reused, 1);
    }

    #[test]
    fn reused_buffers_are_zeroed() {
        let pool = BufferPool::new(1, 16);
        let mut a = pool.get(16);
        a.fill(0xff);
        drop(a);
        assert!(pool.get(16).iter().all(|&b| b == 0));
    }

    #[test]
    fn buffers_move_between_threads() {
        let pool = BufferPool::new(8, 32);
        let handles: Vec<_> = (0..4u8)
            .map(|i| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let mut b = pool.get(32);
                        b.fill(i);
                        assert!(b.iter().all(|&x| x == i));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(pool.stats().outstanding, 0);
    }

    // Random interleavings of get / write / drop: every live buffer must keep exactly what was
    // written to it (no two buffers share memory) and the pool's bookkeeping must stay exact.
    quickcheck! {
        fn live_buffers_never_overlap(ops: Vec<(u8, u16)>, capacity: u8) -> TestResult {
            let capacity = (capacity % 8) as usize;
            let pool = BufferPool::new(capacity, 256);
            let mut live: Vec<(PooledBuffer, u8)> = Vec::new();
            let mut tag = 0u8;
            for (op, size) in ops {
                if op % 3 == 0 && !live.is_empty() {
                    let i = size as usize % live.len();
                    live.swap_remove(i);
                } else {
                    tag = tag.wrapping_add(1);
                    let mut b = pool.get(size as usize % 300);
                    b.fill(tag);
                    live.push((b, tag));
                }
                for (b, t) in &live {
                    if !b.iter().all(|x| x == t) {
                        return TestResult::failed();
                    }
                }
                let pooled = live.iter().filter(|(b, _)| b.is_pooled()).count();
                if pool.stats().outstanding != pooled || pooled > capacity {
                    return TestResult::failed();
                }
            }
            TestResult::passed()
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
