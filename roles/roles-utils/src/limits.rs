//! Limits on what connecting peers may hold, shared by every role that accepts connections.
//!
//! A [`Gate`] admits each accepted socket before anything else is done with it:
//! * the whole number of connections and the number per IP address are counted at accept
//!   time ([`Gate::admit`]), so a peer cannot hold sockets by never finishing its handshake;
//! * connections that have not finished their setup (noise handshake plus SetupConnection, or
//!   for Stratum V1 subscribe plus authorize) hold a [`SetupSlot`]. There are at most
//!   [`Limits::max_concurrent_handshakes`] of them; when a new one arrives and all are taken, the
//!   *oldest* unfinished one is evicted. An honest peer finishes in a few round trips, so it is
//!   never the oldest: a flood of sockets that never finish cannot lock miners out;
//! * every refusal is logged once per address per minute, not once per socket.
//!
//! The timeouts ([`Limits::setup_timeout`], [`Limits::idle_timeout`],
//! [`Limits::write_timeout`]) are applied by the connection loops that use the gate.

use crate::lock;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The `[limits]` table of a role's config. Every key has a default, so the table and each
/// key may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connections from one IP address at once (0: no limit). Farms behind one NAT address
    /// need room here; a proxy in front of them needs one connection.
    pub max_connections_per_ip: usize,
    /// Connections that have not finished their setup, at once. When all are taken the oldest
    /// such connection is closed to make room.
    pub max_concurrent_handshakes: usize,
    /// Seconds from accept to the end of the setup (handshake and SetupConnection, or Sv1
    /// subscribe and authorize).
    pub setup_timeout_sec: u64,
    /// Seconds without a complete message from the peer before it is closed (0: never).
    pub idle_timeout_sec: u64,
    /// Seconds a write may wait for a peer that does not read before it is closed.
    pub write_timeout_sec: u64,
    /// Seconds a message may take to arrive whole once it started (a peer that trickles a
    /// large frame, or a Stratum V1 line, is closed).
    pub frame_timeout_sec: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections_per_ip: 1024,
            max_concurrent_handshakes: 512,
            setup_timeout_sec: 10,
            idle_timeout_sec: 1800,
            write_timeout_sec: 20,
            frame_timeout_sec: 30,
        }
    }
}

/// The commented `[limits]` table as a string literal, so that roles' default configs can
/// `concat!` it (see [`DEFAULT_LIMITS_TOML`]).
#[macro_export]
macro_rules! default_limits_toml {
    () => {
        r#"# Limits on what peers may hold. Each key may be left out (the default is shown).
[limits]
# Connections from one IP address at once (0: no limit).
max_connections_per_ip = 1024
# Connections still in their setup (noise handshake and SetupConnection) at once; when full,
# the oldest unfinished one is closed, so a flood of idle sockets cannot lock miners out.
max_concurrent_handshakes = 512
# Seconds from accept to the end of the setup.
setup_timeout_sec = 10
# Seconds without a message from the peer before it is closed (0: never).
idle_timeout_sec = 1800
# Seconds a write may wait on a peer that does not read before it is closed.
write_timeout_sec = 20
# Seconds a message may take to arrive whole once it started (trickled frames are closed).
frame_timeout_sec = 30
"#
    };
}

/// The commented `[limits]` table, for the roles' default configs.
pub const DEFAULT_LIMITS_TOML: &str = default_limits_toml!();

impl Limits {
    pub fn setup_timeout(&self) -> Duration {
        Duration::from_secs(self.setup_timeout_sec.max(1))
    }

    /// `None` when idle peers are never closed.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_sec > 0).then(|| Duration::from_secs(self.idle_timeout_sec))
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_sec.max(1))
    }

    pub fn frame_timeout(&self) -> Duration {
        Duration::from_secs(self.frame_timeout_sec.max(1))
    }

    /// Check the values; the error names the key.
    pub fn check(&self) -> Result<(), String> {
        if self.max_concurrent_handshakes == 0 {
            return Err("limits.max_concurrent_handshakes must be at least 1".into());
        }
        if self.setup_timeout_sec == 0 || self.write_timeout_sec == 0 {
            return Err(
                "limits.setup_timeout_sec and limits.write_timeout_sec must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// Why a socket was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MaxConnections { limit: usize },
    MaxConnectionsPerIp { limit: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::MaxConnections { limit } => write!(f, "max_connections ({limit}) reached"),
            Refusal::MaxConnectionsPerIp { limit } => {
                write!(f, "max_connections_per_ip ({limit}) reached")
            }
        }
    }
}

/// Counters of what the gate did, for metrics and tests.
#[derive(Debug, Default)]
pub struct GateStats {
    /// Sockets open now (admitted, not yet closed).
    pub open: AtomicUsize,
    /// Connections still in their setup now.
    pub in_setup: AtomicUsize,
    pub refused_total: AtomicU64,
    pub refused_per_ip: AtomicU64,
    /// Unfinished setups closed to make room for newer ones.
    pub evicted: AtomicU64,
    /// Connections closed for not finishing their setup in time.
    pub setup_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub write_timeouts: AtomicU64,
}

#[derive(Debug, Default)]
struct Slots {
    next: u64,
    /// Unfinished setups, oldest first, each with the sender that evicts it.
    pending: BTreeMap<u64, oneshot::Sender<()>>,
}

/// Admission control for one listener (see the module docs).
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    max_connections: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    slots: Mutex<Slots>,
    log: RefusalLog,
    stats: GateStats,
}

impl Gate {
    pub fn new(limits: Limits, max_connections: usize) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            max_connections,
            per_ip: Mutex::new(HashMap::new()),
            slots: Mutex::new(Slots::default()),
            log: RefusalLog::default(),
            stats: GateStats::default(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn stats(&self) -> &GateStats {
        &self.stats
    }

    /// Sockets admitted and still open.
    pub fn open(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    /// Count a new socket from `peer`, or refuse it (the refusal is logged, at most once per
    /// address per minute). The returned [`Permit`] releases the counts when dropped.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Permit, Refusal> {
        let r = self.try_admit(peer.ip());
        if let Err(refusal) = &r {
            let counter = match refusal {
                Refusal::MaxConnections { .. } => &self.stats.refused_total,
                Refusal::MaxConnectionsPerIp { .. } => &self.stats.refused_per_ip,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(since) = self.log.should_log(peer.ip(), Instant::now()) {
                tracing::warn!(%peer, refused_since_last_log = since, "refusing connection: {refusal}");
            }
        }
        r
    }

    fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut per_ip = lock(&self.per_ip);
        if self.open() >= self.max_connections {
            return Err(Refusal::MaxConnections {
                limit: self.max_connections,
            });
        }
        let n = per_ip.entry(ip).or_insert(0);
        let limit = self.limits.max_connections_per_ip;
        if limit > 0 && *n >= limit {
            return Err(Refusal::MaxConnectionsPerIp { limit });
        }
        *n += 1;
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            gate: self.clone(),
            ip,
        })
    }

    /// A slot for a connection that starts its setup; hold it until the setup is done. When
    /// every slot is taken the oldest holder is evicted ([`SetupSlot::evicted`] completes).
    pub fn setup_slot(self: &Arc<Self>) -> SetupSlot {
        let (tx, rx) = oneshot::channel();
        let mut slots = lock(&self.slots);
        while slots.pending.len() >= self.limits.max_concurrent_handshakes.max(1) {
            let Some((_, evict)) = slots.pending.pop_first() else {
                break;
            };
            self.stats.evicted.fetch_add(1, Ordering::Relaxed);
            let _ = evict.send(());
        }
        let id = slots.next;
        slots.next += 1;
        slots.pending.insert(id, tx);
        self.stats
            .in_setup
            .store(slots.pending.len(), Ordering::Relaxed);
        SetupSlot {
            gate: self.clone(),
            id,
            evicted: Some(rx),
        }
    }
}

/// One admitted socket; dropping it gives its counts back.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Permit {
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut per_ip = lock(&self.gate.per_ip);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.gate.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection in its setup. Drop it (or call [`SetupSlot::done`]) when the setup is done.
#[derive(Debug)]
pub struct SetupSlot {
    gate: Arc<Gate>,
    id: u64,
    evicted: Option<oneshot::Receiver<()>>,
}

impl SetupSlot {
    /// Completes when a newer connection took this slot: close the connection.
    pub async fn evicted(&mut self) {
        match self.evicted.as_mut() {
            // The sender is sent to on eviction, and dropped only with the slot map entry,
            // which happens on eviction too.
            Some(rx) => {
                let _ = rx.await;
                self.evicted = None;
            }
            None => std::future::pending().await,
        }
    }

    /// The setup finished: free the slot.
    pub fn done(self) {}
}

impl Drop for SetupSlot {
    fn drop(&mut self) {
        let mut slots = lock(&self.gate.slots);
        slots.pending.remove(&self.id);
        self.gate
            .stats
            .in_setup
            .store(slots.pending.len(), Ordering::Relaxed);
    }
}

/// Logs a refusal once per address per minute (with how many were refused silently since),
/// in a map of bounded size.
#[derive(Debug, Default)]
pub struct RefusalLog {
    seen: Mutex<HashMap<IpAddr, (Instant, u64)>>,
}

const LOG_EVERY: Duration = Duration::from_secs(60);
const MAX_LOGGED_ADDRESSES: usize = 4096;

impl RefusalLog {
    /// `Some(refused since the last log line)` when this refusal should be logged.
    pub fn should_log(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut seen = lock(&self.seen);
        if seen.len() >= MAX_LOGGED_ADDRESSES && !seen.contains_key(&ip) {
            seen.retain(|_, (at, _)| now.duration_since(*at) < LOG_EVERY);
            if seen.len() >= MAX_LOGGED_ADDRESSES {
                // A flood from very many addresses: log one line in a minute for all of them.
                seen.clear();
            }
        }
        match seen.get_mut(&ip) {
            Some((at, silent)) if now.duration_since(*at) < LOG_EVERY => {
                *silent += 1;
                None
            }
            Some((at, silent)) => {
                let n = std::mem::take(silent);
                *at = now;
                Some(n)
            }
            None => {
                seen.insert(ip, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(last: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], port))
    }

    #[test]
    fn sockets_are_counted_at_accept_in_total_and_per_ip() {
        let gate = Gate::new(
            Limits {
                max_connections_per_ip: 2,
                ..Limits::default()
            },
            3,
        );
        let a = gate.admit(peer(1, 1)).unwrap();
        let _b = gate.admit(peer(1, 2)).unwrap();
        assert_eq!(
            gate.admit(peer(1, 3)).unwrap_err(),
            Refusal::MaxConnectionsPerIp { limit: 2 }
        );
        let _c = gate.admit(peer(2, 1)).unwrap();
        assert_eq!(
            gate.admit(peer(3, 1)).unwrap_err(),
            Refusal::MaxConnections { limit: 3 }
        );
        drop(a);
        assert_eq!(gate.open(), 2);
        gate.admit(peer(1, 4)).expect("room again after a close");
        assert_eq!(gate.stats().refused_per_ip.load(Ordering::Relaxed), 1);
        assert_eq!(gate.stats().refused_total.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn per_ip_zero_means_no_limit_and_the_map_forgets_closed_addresses() {
        let gate = Gate::new(
            Limits {
                max_connections_per_ip: 0,
                ..Limits::default()
            },
            10_000,
        );
        let permits: Vec<_> = (0..5000).map(|i| gate.admit(peer(1, i)).unwrap()).collect();
        drop(permits);
        assert!(lock(&gate.per_ip).is_empty());
        assert_eq!(gate.open(), 0);
    }

    #[tokio::test]
    async fn the_oldest_unfinished_setup_is_evicted_when_the_slots_are_full() {
        let gate = Gate::new(
            Limits {
                max_concurrent_handshakes: 2,
                ..Limits::default()
            },
            100,
        );
        let mut first = gate.setup_slot();
        let mut second = gate.setup_slot();
        let third = gate.setup_slot();
        tokio::time::timeout(Duration::from_secs(1), first.evicted())
            .await
            .expect("the oldest is evicted");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), second.evicted())
                .await
                .is_err(),
            "the others keep their slots"
        );
        third.done();
        let _fourth = gate.setup_slot();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), second.evicted())
                .await
                .is_err(),
            "a freed slot is reused without evicting"
        );
        assert_eq!(gate.stats().evicted.load(Ordering::Relaxed), 1);
        assert_eq!(gate.stats().in_setup.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn refusals_are_logged_once_per_address_per_minute() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert_eq!(log.should_log(ip, t0), Some(0));
        for i in 0..1000 {
            assert_eq!(log.should_log(ip, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(log.should_log(ip, t0 + LOG_EVERY), Some(1000));
        // Many addresses: the map stays bounded.
        for i in 0..20_000u32 {
            log.should_log(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(lock(&log.seen).len() <= MAX_LOGGED_ADDRESSES);
    }

    #[test]
    fn limits_parse_with_defaults_and_refuse_zeroes() {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(default)]
            limits: Limits,
        }
        let d: Doc = toml::from_str("[limits]\nidle_timeout_sec = 0").unwrap();
        assert_eq!(d.limits.idle_timeout(), None);
        assert_eq!(d.limits.max_concurrent_handshakes, 512);
        let d: Doc = toml::from_str(DEFAULT_LIMITS_TOML).unwrap();
        assert_eq!(d.limits, Limits::default());
        let bad = Limits {
            max_concurrent_handshakes: 0,
            ..Limits::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .contains("max_concurrent_handshakes"));
        assert!(toml::from_str::<Doc>("[limits]\nmax_conections = 1").is_err());
    }
}
