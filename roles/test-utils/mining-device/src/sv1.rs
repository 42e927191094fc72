//! A CPU miner that speaks Stratum V1, for the translator: configure (version rolling),
//! subscribe, authorize, then mine each `mining.notify` at the current difficulty on one
//! thread and submit what it finds. Reconnects when the connection drops.

use crate::DeviceStats;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sv1_api::client::{Client, ClientEvent};
use sv1_api::{share, LineReader, Notify, Submit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// What the hashing thread needs.
#[derive(Clone)]
struct Job {
    notify: Notify,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    target: [u8; 32],
    mask: Option<u32>,
}

struct Slot {
    generation: AtomicU64,
    job: Mutex<Option<Job>>,
}

/// A running Sv1 device; dropping it stops it.
pub struct Sv1Device {
    stats: Arc<DeviceStats>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sv1Device {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

impl Sv1Device {
    /// Mine on `upstream` as `worker`, rolling versions when `version_rolling`.
    pub fn start(upstream: SocketAddr, worker: String, version_rolling: bool) -> Sv1Device {
        let stats = Arc::new(DeviceStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Slot {
            generation: AtomicU64::new(0),
            job: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel(256);
        {
            let (slot, stats, stop) = (slot.clone(), stats.clone(), stop.clone());
            std::thread::spawn(move || hash(&slot, &stats, &stop, &tx));
        }
        let task = tokio::spawn(run(
            upstream,
            worker,
            version_rolling,
            stats.clone(),
            slot,
            rx,
        ));
        Sv1Device { stats, stop, task }
    }

    pub fn stats(&self) -> Arc<DeviceStats> {
        self.stats.clone()
    }
}

fn hash(slot: &Slot, stats: &DeviceStats, stop: &AtomicBool, found: &mpsc::Sender<(u64, Submit)>) {
    let mut seen = u64::MAX;
    let mut job: Option<Job> = None;
    let mut en2: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let g = slot.generation.load(Ordering::Acquire);
        if g != seen {
            seen = g;
            job = slot.job.lock().map(|j| j.clone()).unwrap_or(None);
        }
        let Some(j) = &job else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        en2 += 1;
        let mut extranonce2 = en2.to_le_bytes().to_vec();
        extranonce2.resize(j.extranonce2_size, 0);
        let mut s = Submit {
            worker: String::new(),
            job_id: j.notify.job_id.clone(),
            extranonce2,
            ntime: j.notify.ntime,
            nonce: 0,
            version_bits: j.mask.map(|m| (en2 as u32) << 13 & m),
        };
        let mut h = share::header(&j.notify, &j.extranonce1, &s, j.mask.unwrap_or(0));
        // One extranonce2 per 2^20 nonces, so a new job is picked up quickly.
        for nonce in 0..1u32 << 20 {
            h[76..80].copy_from_slice(&nonce.to_le_bytes());
            if share::meets_target(&share::sha256d(&h), &j.target) {
                s.nonce = nonce;
                let _ = found.try_send((seen, s.clone()));
            }
        }
        stats.hashes.fetch_add(1 << 20, Ordering::Relaxed);
    }
}

async fn run(
    upstream: SocketAddr,
    worker: String,
    version_rolling: bool,
    stats: Arc<DeviceStats>,
    slot: Arc<Slot>,
    mut found: mpsc::Receiver<(u64, Submit)>,
) {
    loop {
        if let Err(e) = session(
            upstream,
            &worker,
            version_rolling,
            &stats,
            &slot,
            &mut found,
        )
        .await
        {
            tracing::warn!(%upstream, "sv1 device: {e}; reconnecting");
        }
        stats.connected.store(false, Ordering::Relaxed);
        *slot.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
        slot.generation.fetch_add(1, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn session(
    upstream: SocketAddr,
    worker: &str,
    version_rolling: bool,
    stats: &DeviceStats,
    slot: &Slot,
    found: &mut mpsc::Receiver<(u64, Submit)>,
) -> Result<(), String> {
    let s = tokio::net::TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = s.into_split();
    let mut c = Client::new(concat!(
        "stratum-v2-rust-sv1-device/",
        env!("CARGO_PKG_VERSION")
    ));
    let mut out = String::new();
    if version_rolling {
        out.push_str(&c.configure(Some(0x1fff_e000), Some(2)));
    }
    out.push_str(&c.subscribe());
    out.push_str(&c.authorize(worker, "x"));
    wr.write_all(out.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stats.connections.fetch_add(1, Ordering::Relaxed);
    stats.connected.store(true, Ordering::Relaxed);
    let mut reader = LineReader::new(sv1_api::DEFAULT_MAX_LINE);
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = n.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the upstream closed the connection".into());
                }
                reader.push(&buf[..n]);
                let mut changed = false;
                while let Some(line) = reader.next_line().map_err(|e| e.to_string())? {
                    let (events, answers) = c.handle_line(&line);
                    for a in answers {
                        wr.write_all(a.as_bytes()).await.map_err(|e| e.to_string())?;
                    }
                    for e in events {
                        match e {
                            ClientEvent::NewJob(_) | ClientEvent::DifficultyChanged(_) => changed = true,
                            ClientEvent::ShareResult { accepted: true, .. } => {
                                stats.accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            ClientEvent::ShareResult { error, .. } => {
                                stats.rejected.fetch_add(1, Ordering::Relaxed);
                                let mut l = stats.last_errors.lock().unwrap_or_else(|e| e.into_inner());
                                if l.len() >= 32 { l.remove(0); }
                                l.push(error.map_or("rejected".into(), |e| e.message));
                            }
                            _ => {}
                        }
                    }
                }
                if changed {
                    if let (Some(n), Some((en1, size))) = (c.current_job(), c.extranonce()) {
                        let job = Job {
                            notify: n.clone(),
                            extranonce1: en1.to_vec(),
                            extranonce2_size: size,
                            target: c.target(),
                            mask: c.version_mask(),
                        };
                        *slot.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
                        slot.generation.fetch_add(1, Ordering::Release);
                    }
                }
            }
            f = found.recv() => {
                let Some((generation, mut s)) = f else { return Ok(()) };
                if generation != slot.generation.load(Ordering::Acquire) {
                    continue;
                }
                s.worker = worker.to_string();
                stats.submitted.fetch_add(1, Ordering::Relaxed);
                let line = c.submit(s);
                wr.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
            }
        }
    }
}
