//! # mining_device
//!
//! A CPU miner that speaks Stratum V2: it connects to a pool or proxy (noise, with the
//! authority key checked), opens a standard or an extended channel, mines on N threads,
//! follows NewMiningJob, NewExtendedMiningJob, SetNewPrevHash and SetTarget, submits shares,
//! counts accepted and rejected ones, and reconnects when its upstream goes away.
//!
//! The channel logic is `roles_logic_sv2::mining_client::ClientChannel`; this crate adds the
//! socket, the hashing threads and counters.
//!
//! ```no_run
//! # async fn example(key: noise_sv2::AuthorityPublicKey) {
//! use mining_device::{ChannelKind, Device, DeviceConfig};
//! let d = Device::start(DeviceConfig::new("127.0.0.1:34254".parse().unwrap(), Some(key), ChannelKind::Extended));
//! tokio::time::sleep(std::time::Duration::from_secs(10)).await;
//! println!("{} shares accepted", d.stats().accepted.load(std::sync::atomic::Ordering::Relaxed));
//! # }
//! ```

pub mod sv1;

use binary_sv2::U256;
use const_sv2::{mining_flags, PROTOCOL_MINING};
use mining_sv2::{OpenExtendedMiningChannel, OpenStandardMiningChannel};
use network_helpers_sv2::{unix_now, with_tokio, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::mining_client::{ClientChannel, Work};
use roles_logic_sv2::parsers::{AnyMessage, Mining};
use roles_logic_sv2::target;
use roles_utils::{recv, send, setup_connection};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Which channel to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// Standard channel with `REQUIRES_STANDARD_JOBS`: NewMiningJob with its merkle root.
    Standard,
    /// Standard channel in the upstream's group: extended jobs to the group, the merkle root
    /// computed here from the channel's extranonce prefix.
    Grouped,
    Extended,
}

/// How the device runs.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    pub upstream: SocketAddr,
    /// Noise with this authority when set; plain TCP otherwise.
    pub authority_public_key: Option<AuthorityPublicKey>,
    pub channel: ChannelKind,
    pub threads: usize,
    pub user_identity: String,
    /// Declared hashrate; measured at start when `None`.
    pub nominal_hashrate: Option<f32>,
    /// Extra SetupConnection flags (REQUIRES_STANDARD_JOBS is set for standard channels).
    pub extra_flags: u32,
}

impl DeviceConfig {
    pub fn new(
        upstream: SocketAddr,
        key: Option<AuthorityPublicKey>,
        channel: ChannelKind,
    ) -> Self {
        DeviceConfig {
            upstream,
            authority_public_key: key,
            channel,
            threads: 1,
            user_identity: "device".into(),
            nominal_hashrate: None,
            extra_flags: 0,
        }
    }
}

/// Counters, updated as the device runs.
#[derive(Debug, Default)]
pub struct DeviceStats {
    pub hashes: AtomicU64,
    pub submitted: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub connections: AtomicU64,
    pub connected: AtomicBool,
    /// Error codes of rejected shares, most recent last (bounded).
    pub last_errors: Mutex<Vec<String>>,
}

/// The job being mined, shared with the hashing threads.
struct WorkSlot {
    generation: AtomicU64,
    work: Mutex<Option<Work>>,
}

/// A share found by a hashing thread.
#[derive(Debug)]
struct Found {
    generation: u64,
    work: Work,
    nonce: u32,
    ntime: u32,
    version: u32,
    extranonce: Vec<u8>,
}

/// A running device; dropping it stops the threads and the connection.
pub struct Device {
    stats: Arc<DeviceStats>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

impl Device {
    /// Start mining (on the current tokio runtime for the connection, on OS threads for
    /// hashing).
    pub fn start(cfg: DeviceConfig) -> Device {
        let stats = Arc::new(DeviceStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(WorkSlot {
            generation: AtomicU64::new(0),
            work: Mutex::new(None),
        });
        let (found_tx, found_rx) = mpsc::channel(1024);
        for i in 0..cfg.threads.max(1) {
            let (slot, stats, stop, tx) =
                (slot.clone(), stats.clone(), stop.clone(), found_tx.clone());
            let n = cfg.threads.max(1);
            std::thread::spawn(move || hash_thread(i, n, &slot, &stats, &stop, &tx));
        }
        let task = tokio::spawn(connection_loop(cfg, stats.clone(), slot, found_rx));
        Device { stats, stop, task }
    }

    pub fn stats(&self) -> Arc<DeviceStats> {
        self.stats.clone()
    }
}

/// Hashes per second of one thread, measured briefly.
pub fn measure_hashrate() -> f64 {
    let start = Instant::now();
    let header = [7u8; 80];
    let mut n = 0u64;
    let mut sink = 0u8;
    while start.elapsed() < Duration::from_millis(100) {
        for nonce in 0..1024u32 {
            let mut h = header;
            h[76..].copy_from_slice(&nonce.to_le_bytes());
            sink ^= Sha256::digest(Sha256::digest(h))[0];
        }
        n += 1024;
    }
    std::hint::black_box(sink);
    n as f64 / start.elapsed().as_secs_f64()
}

fn hash_thread(
    index: usize,
    threads: usize,
    slot: &WorkSlot,
    stats: &DeviceStats,
    stop: &AtomicBool,
    found: &mpsc::Sender<Found>,
) {
    let mut seen = u64::MAX;
    let mut work: Option<Work> = None;
    // Each thread rolls its own extranonce (its index in the last bytes), so threads never
    // search the same space; a counter in front of it moves on when nonces run out.
    let mut roll: u64 = 0;
    let mut nonce: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let g = slot.generation.load(Ordering::Acquire);
        if g != seen {
            seen = g;
            work = slot.work.lock().map(|w| w.clone()).unwrap_or(None);
            roll = 0;
            nonce = 0;
        }
        let Some(w) = &work else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let mut extranonce = vec![0u8; w.extranonce_size];
        let tail = (index as u64) | (roll << 16);
        for (i, b) in tail.to_le_bytes().iter().enumerate() {
            if let Some(x) = extranonce
                .len()
                .checked_sub(1 + i)
                .and_then(|p| extranonce.get_mut(p))
            {
                *x = *b;
            }
        }
        let Ok(root) = w.merkle_root(&extranonce) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        // Standard channels cannot roll the extranonce: threads split the nonce space and
        // move nTime forward when it runs out.
        // (Saturating: min_ntime comes from the upstream.)
        let now = w
            .min_ntime
            .max(unix_now().min(w.min_ntime.saturating_add(60)));
        let ntime = if w.extranonce_size == 0 {
            now.saturating_add(roll as u32)
        } else {
            now
        };
        let header = w.header(&root, ntime, 0, w.version);
        let mut mid = Sha256::new();
        mid.update(&header[..64]);
        let mut tail16 = [0u8; 16];
        tail16.copy_from_slice(&header[64..80]);
        const BATCH: u32 = 16_384;
        let (start, end) = if w.extranonce_size == 0 {
            // Nonce space split evenly between threads.
            let span = u32::MAX / threads as u32;
            let base = span * index as u32;
            (
                base.wrapping_add(nonce),
                base.wrapping_add(nonce.saturating_add(BATCH).min(span)),
            )
        } else {
            (nonce, nonce.saturating_add(BATCH))
        };
        let mut n = start;
        while n != end {
            tail16[12..].copy_from_slice(&n.to_le_bytes());
            let mut h = mid.clone();
            h.update(tail16);
            let hash: [u8; 32] = Sha256::digest(h.finalize()).into();
            if target::hash_meets_target(&hash, &w.target) {
                let _ = found.try_send(Found {
                    generation: seen,
                    work: w.clone(),
                    nonce: n,
                    ntime,
                    version: w.version,
                    extranonce: extranonce.clone(),
                });
            }
            n = n.wrapping_add(1);
        }
        stats
            .hashes
            .fetch_add(end.wrapping_sub(start) as u64, Ordering::Relaxed);
        let span = if w.extranonce_size == 0 {
            u32::MAX / threads as u32
        } else {
            u32::MAX
        };
        match nonce.checked_add(BATCH).filter(|&x| x < span) {
            Some(x) => nonce = x,
            None => {
                nonce = 0;
                roll += 1;
            }
        }
    }
}

async fn connection_loop(
    cfg: DeviceConfig,
    stats: Arc<DeviceStats>,
    slot: Arc<WorkSlot>,
    mut found: mpsc::Receiver<Found>,
) {
    let hashrate = match cfg.nominal_hashrate {
        Some(h) => h,
        None => {
            let per_thread = tokio::task::spawn_blocking(measure_hashrate)
                .await
                .unwrap_or(1e6);
            (per_thread * cfg.threads.max(1) as f64) as f32
        }
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let r = session(&cfg, hashrate, &stats, &slot, &mut found).await;
        stats.connected.store(false, Ordering::Relaxed);
        // Stop hashing on a job nobody will take.
        *slot.work.lock().unwrap_or_else(|e| e.into_inner()) = None;
        slot.generation.fetch_add(1, Ordering::Release);
        if let Err(e) = r {
            tracing::warn!(upstream = %cfg.upstream, "{e}; reconnecting");
        }
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

fn publish(slot: &WorkSlot, w: Option<Work>) {
    if let Some(w) = w {
        *slot.work.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
        slot.generation.fetch_add(1, Ordering::Release);
    }
}

async fn session(
    cfg: &DeviceConfig,
    hashrate: f32,
    stats: &DeviceStats,
    slot: &WorkSlot,
    found: &mut mpsc::Receiver<Found>,
) -> Result<(), String> {
    let stream = TcpStream::connect(cfg.upstream)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let security = match &cfg.authority_public_key {
        Some(k) => Security::NoiseInitiator { authority: k.0 },
        None => Security::Plain,
    };
    let conn = with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let s = roles_utils::str0255;
    let mut flags = cfg.extra_flags;
    if cfg.channel == ChannelKind::Standard {
        flags |= mining_flags::REQUIRES_STANDARD_JOBS;
    }
    setup_connection(
        &conn,
        PROTOCOL_MINING,
        flags,
        cfg.upstream,
        &cfg.user_identity,
    )
    .await?;
    let open: Mining = match cfg.channel {
        ChannelKind::Standard | ChannelKind::Grouped => {
            Mining::OpenStandardMiningChannel(OpenStandardMiningChannel {
                request_id: 1,
                user_identity: s(&cfg.user_identity),
                nominal_hash_rate: hashrate,
                max_target: U256([0xff; 32]),
            })
        }
        ChannelKind::Extended => Mining::OpenExtendedMiningChannel(OpenExtendedMiningChannel {
            request_id: 1,
            user_identity: s(&cfg.user_identity),
            nominal_hash_rate: hashrate,
            max_target: U256([0xff; 32]),
            min_extranonce_size: 4,
        }),
    };
    send(&conn, open).await?;
    let mut ch = match recv(&conn).await? {
        AnyMessage::Mining(Mining::OpenStandardMiningChannelSuccess(m)) => ClientChannel::standard(
            m.channel_id,
            m.group_channel_id,
            m.target.0,
            m.extranonce_prefix.as_bytes(),
        ),
        AnyMessage::Mining(Mining::OpenExtendedMiningChannelSuccess(m)) => ClientChannel::extended(
            m.channel_id,
            m.group_channel_id,
            m.target.0,
            m.extranonce_prefix.as_bytes(),
            m.extranonce_size as usize,
        ),
        AnyMessage::Mining(Mining::OpenMiningChannelError(e)) => {
            return Err(format!(
                "channel refused: {}",
                e.error_code.to_string_lossy()
            ))
        }
        other => return Err(format!("unexpected {} opening the channel", other.name())),
    };
    stats.connected.store(true, Ordering::Relaxed);
    stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(upstream = %cfg.upstream, channel_id = ch.channel_id, "channel open");
    // Shares found for an earlier connection are worthless now.
    while found.try_recv().is_ok() {}
    loop {
        tokio::select! {
            m = recv(&conn) => {
                let AnyMessage::Mining(m) = m? else { continue };
                let w = match &m {
                    Mining::NewMiningJob(j) if ch.addressed(j.channel_id) => ch.on_new_mining_job(j),
                    Mining::NewExtendedMiningJob(j) if ch.addressed(j.channel_id) => {
                        ch.on_new_extended_mining_job(j).map_err(|e| format!("bad job: {e}"))?
                    }
                    Mining::SetNewPrevHash(p) if ch.addressed(p.channel_id) => ch.on_set_new_prev_hash(p),
                    Mining::SetTarget(t) if ch.addressed(t.channel_id) => ch.on_set_target(t),
                    Mining::SetExtranoncePrefix(p) if p.channel_id == ch.channel_id => {
                        ch.on_set_extranonce_prefix(p.extranonce_prefix.as_bytes());
                        None
                    }
                    Mining::SubmitSharesSuccess(s) => {
                        stats.accepted.fetch_add(s.new_submits_accepted_count as u64, Ordering::Relaxed);
                        None
                    }
                    Mining::SubmitSharesError(e) => {
                        stats.rejected.fetch_add(1, Ordering::Relaxed);
                        let code = e.error_code.to_string_lossy().into_owned();
                        tracing::debug!(sequence_number = e.sequence_number, "share rejected: {code}");
                        let mut l = stats.last_errors.lock().unwrap_or_else(|e| e.into_inner());
                        if l.len() >= 32 { l.remove(0); }
                        l.push(code);
                        None
                    }
                    Mining::CloseChannel(c) if ch.addressed(c.channel_id) => {
                        return Err(format!("upstream closed the channel: {}", c.reason_code.to_string_lossy()));
                    }
                    _ => None,
                };
                publish(slot, w);
            }
            f = found.recv() => {
                let Some(f) = f else { return Ok(()) };
                if f.generation != slot.generation.load(Ordering::Acquire) && f.work.job_id != ch.current_work().map_or(0, |w| w.job_id) {
                    continue;
                }
                let m = if ch.extended {
                    match ch.submit_extended(&f.work, f.nonce, f.ntime, f.version, &f.extranonce) {
                        Some(m) => Mining::SubmitSharesExtended(m),
                        None => continue,
                    }
                } else {
                    Mining::SubmitSharesStandard(ch.submit_standard(&f.work, f.nonce, f.ntime, f.version))
                };
                stats.submitted.fetch_add(1, Ordering::Relaxed);
                send(&conn, m).await?;
            }
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
