//! Per-worker and per-upstream figures in the Prometheus text format, served on GET /metrics.

use crate::expiring::ExpiringMap;
use roles_utils::lock;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Window of the hashrate figure.
pub const HASHRATE_WINDOW: Duration = Duration::from_secs(300);
/// The window is kept as this many buckets of work...
const BUCKETS: usize = 30;
/// ...each this long.
const BUCKET: Duration = Duration::from_secs(HASHRATE_WINDOW.as_secs() / BUCKETS as u64);

/// Accepted work over the last [`HASHRATE_WINDOW`], in fixed time buckets: the same few
/// hundred bytes whether a worker sends one share an hour or thousands a second.
#[derive(Debug, Clone)]
pub struct ShareWindow {
    /// Sum of accepted difficulty per bucket; bucket `n` (counted from `start`) is at
    /// `n % BUCKETS`.
    work: [f64; BUCKETS],
    /// The newest bucket written.
    newest: u64,
    start: Instant,
}

impl ShareWindow {
    pub fn new(start: Instant) -> Self {
        ShareWindow {
            work: [0.0; BUCKETS],
            newest: 0,
            start,
        }
    }

    fn bucket(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_millis() / BUCKET.as_millis()) as u64
    }

    /// Count an accepted share of `difficulty` at `at`.
    pub fn add(&mut self, at: Instant, difficulty: f64) {
        let b = self.bucket(at);
        if b > self.newest {
            // Clear the buckets that went by since the newest (at most all of them).
            let gone = (b - self.newest).min(BUCKETS as u64);
            for i in 0..gone {
                self.work[((b - i) % BUCKETS as u64) as usize] = 0.0;
            }
            self.newest = b;
        } else if self.newest - b >= BUCKETS as u64 {
            return; // older than the window (a caller's clock read before a later one's)
        }
        self.work[(b % BUCKETS as u64) as usize] += difficulty;
    }

    /// Hashes per second over the window ending at `now`, from the work the accepted shares
    /// prove (a difficulty-1 share is 2^32 hashes).
    pub fn hashrate(&self, now: Instant) -> f64 {
        let b = self.bucket(now);
        let oldest = (b + 1).saturating_sub(BUCKETS as u64);
        let work: f64 = (oldest..=b.min(self.newest))
            .filter(|&i| i + (BUCKETS as u64) > self.newest)
            .map(|i| self.work[(i % BUCKETS as u64) as usize])
            .sum();
        // The buckets cover from the start of the oldest one to now (less at the beginning).
        let covered = now
            .saturating_duration_since(self.start)
            .saturating_sub(BUCKET.saturating_mul(oldest.min(u32::MAX as u64) as u32));
        work * 4_294_967_296.0 / covered.as_secs_f64().max(1.0)
    }
}

/// What one worker on one connection did.
#[derive(Debug, Clone)]
pub struct Worker {
    pub up: bool,
    pub shares_sent: u64,
    pub shares_accepted: u64,
    /// Sums of the difficulty of each share: difficulty-1 shares.
    pub diff1_sent: f64,
    pub diff1_accepted: f64,
    pub difficulty: f64,
    recent: ShareWindow,
}

impl Worker {
    fn new(difficulty: f64, now: Instant) -> Self {
        Worker {
            up: true,
            shares_sent: 0,
            shares_accepted: 0,
            diff1_sent: 0.0,
            diff1_accepted: 0.0,
            difficulty,
            recent: ShareWindow::new(now),
        }
    }

    /// Hashes per second over the last [`HASHRATE_WINDOW`].
    pub fn hashrate(&self, now: Instant) -> f64 {
        self.recent.hashrate(now)
    }
}

/// Labels of a worker series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerKey {
    pub worker: String,
    pub address: SocketAddr,
}

/// Everything /metrics shows. Workers are kept while connected and for a while after
/// ([`Registry::expire`]), and at most `max_workers` of them.
#[derive(Debug)]
pub struct Registry {
    workers: Mutex<ExpiringMap<WorkerKey, Worker>>,
    /// Workers not listed because the registry was full of connected ones.
    untracked: AtomicU64,
    /// (endpoint, up), in priority order.
    upstreams: Mutex<Vec<(String, bool)>>,
}

impl Registry {
    pub fn new(upstreams: &[String], max_workers: usize) -> Self {
        Registry {
            workers: Mutex::new(ExpiringMap::new(max_workers)),
            untracked: AtomicU64::new(0),
            upstreams: Mutex::new(upstreams.iter().map(|u| (u.clone(), false)).collect()),
        }
    }

    pub fn set_upstream_up(&self, endpoint: &str, up: bool) {
        for (e, u) in lock(&self.upstreams).iter_mut() {
            if e == endpoint {
                *u = up;
            }
        }
    }

    /// A worker authorized on a connection (once per connection and name). False when it is
    /// not listed: the registry is full of connected workers.
    pub fn worker_up(&self, key: WorkerKey, difficulty: f64, now: Instant) -> bool {
        let mut w = lock(&self.workers);
        match w.hold(key, || Worker::new(difficulty, now)) {
            Some(e) => {
                e.up = true;
                e.difficulty = difficulty;
                true
            }
            None => {
                self.untracked.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Its connection closed: listed with `up` 0 until it expires.
    pub fn worker_down(&self, key: &WorkerKey, now: Instant) {
        let mut w = lock(&self.workers);
        if let Some(e) = w.get_mut(key) {
            e.up = false;
        }
        w.release(key, now);
    }

    /// Forget workers disconnected for `after` or longer; how many went.
    pub fn expire(&self, now: Instant, after: Duration) -> usize {
        lock(&self.workers).expire(now, after)
    }

    pub fn share_sent(&self, key: &WorkerKey, difficulty: f64) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.shares_sent += 1;
            w.diff1_sent += difficulty;
        }
    }

    pub fn share_accepted(&self, key: &WorkerKey, difficulty: f64, now: Instant) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.shares_accepted += 1;
            w.diff1_accepted += difficulty;
            w.recent.add(now, difficulty);
        }
    }

    pub fn set_difficulty(&self, key: &WorkerKey, difficulty: f64) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.difficulty = difficulty;
        }
    }

    /// A copy of one worker's figures.
    pub fn worker(&self, key: &WorkerKey) -> Option<Worker> {
        lock(&self.workers).get(key).cloned()
    }

    /// Workers listed now (connected or not yet expired).
    pub fn workers_listed(&self) -> usize {
        lock(&self.workers).len()
    }

    /// Workers that could not be listed because the registry was full.
    pub fn workers_untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition at `now`.
    pub fn render(&self, now: Instant) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP translator_build_info Build of the translator.\n# TYPE translator_build_info gauge\ntranslator_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(out, "# HELP translator_upstream_up Whether the upstream channel is open.\n# TYPE translator_upstream_up gauge");
        for (e, up) in lock(&self.upstreams).iter() {
            let _ = writeln!(
                out,
                "translator_upstream_up{{upstream=\"{}\"}} {}",
                escape(e),
                *up as u8
            );
        }
        let workers = lock(&self.workers);
        let _ = writeln!(
            out,
            "# HELP translator_workers_listed Worker series listed (connected, or disconnected and not yet expired).\n# TYPE translator_workers_listed gauge\ntranslator_workers_listed {}",
            workers.len()
        );
        let _ = writeln!(
            out,
            "# HELP translator_workers_untracked_total Workers not listed because max_tracked_workers were connected.\n# TYPE translator_workers_untracked_total counter\ntranslator_workers_untracked_total {}",
            self.untracked.load(Ordering::Relaxed)
        );
        let mut listed: Vec<(&WorkerKey, &Worker)> = workers.iter().collect();
        listed.sort_by(|a, b| a.0.cmp(b.0));
        let series: [(&str, &str, &str); 7] = [
            ("translator_worker_up", "gauge", "Whether the worker is connected."),
            ("translator_worker_shares_sent_total", "counter", "Shares the worker submitted."),
            ("translator_worker_shares_accepted_total", "counter", "Shares accepted (by the translator, and by the pool for those that went upstream)."),
            ("translator_worker_difficulty1_shares_sent_total", "counter", "Submitted work in difficulty-1 shares."),
            ("translator_worker_difficulty1_shares_accepted_total", "counter", "Accepted work in difficulty-1 shares."),
            ("translator_worker_hashrate", "gauge", "Hashes per second over the last 5 minutes, from the work of accepted shares."),
            ("translator_worker_difficulty", "gauge", "Current share difficulty."),
        ];
        for (i, (name, kind, help)) in series.iter().enumerate() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (k, w) in &listed {
                let v = match i {
                    0 => (w.up as u8) as f64,
                    1 => w.shares_sent as f64,
                    2 => w.shares_accepted as f64,
                    3 => w.diff1_sent,
                    4 => w.diff1_accepted,
                    5 => w.hashrate(now),
                    _ => w.difficulty,
                };
                let _ = writeln!(
                    out,
                    "{name}{{worker=\"{}\",address=\"{}\"}} {v}",
                    escape(&k.worker),
                    k.address
                );
            }
        }
        out
    }
}

/// Label values: backslash, quote and newline escaped, as the format requires.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serve GET /metrics until the listener fails.
pub async fn serve(listener: TcpListener, registry: std::sync::Arc<Registry>) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            // The request head only; bounded in size and time.
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let resp = if head.starts_with("GET ")
                && (path == "/metrics" || path.starts_with("/metrics?"))
            {
                let body = registry.render(Instant::now());
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
            };
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn key(worker: &str, port: u16) -> WorkerKey {
        WorkerKey {
            worker: worker.into(),
            address: SocketAddr::from(([10, 0, 0, 1], port)),
        }
    }

    #[test]
    fn exposition_has_every_series_with_labels() {
        let t0 = Instant::now();
        let r = Registry::new(&["pool:1".into()], 100);
        r.set_upstream_up("pool:1", true);
        let k = WorkerKey {
            worker: "farm.\"rig\"1".into(),
            address: "10.0.0.1:4000".parse().unwrap(),
        };
        assert!(r.worker_up(k.clone(), 8.0, t0));
        r.share_sent(&k, 8.0);
        r.share_sent(&k, 8.0);
        r.share_accepted(&k, 8.0, t0);
        let text = r.render(t0);
        assert!(text.contains("translator_upstream_up{upstream=\"pool:1\"} 1"));
        let labels = r#"{worker="farm.\"rig\"1",address="10.0.0.1:4000"}"#;
        assert!(
            text.contains(&format!("translator_worker_up{labels} 1")),
            "{text}"
        );
        assert!(text.contains(&format!("translator_worker_shares_sent_total{labels} 2")));
        assert!(text.contains(&format!(
            "translator_worker_shares_accepted_total{labels} 1"
        )));
        assert!(text.contains(&format!(
            "translator_worker_difficulty1_shares_sent_total{labels} 16"
        )));
        assert!(text.contains(&format!(
            "translator_worker_difficulty1_shares_accepted_total{labels} 8"
        )));
        assert!(text.contains(&format!("translator_worker_difficulty{labels} 8")));
        assert!(text.contains("translator_build_info{version="));
        assert!(text.contains("translator_workers_listed 1"));
        assert!(text.contains("translator_workers_untracked_total 0"));
        // One difficulty-8 share in the first second: 8 * 2^32 hashes over at least 1 s.
        let h = r.worker(&k).unwrap().hashrate(t0);
        assert!(h > 0.0 && h <= 8.0 * 4_294_967_296.0, "{h}");
        r.worker_down(&k, t0);
        assert!(r
            .render(t0)
            .contains(&format!("translator_worker_up{labels} 0")));
    }

    /// A worker at a steady rate reads its hashrate back, whatever the rate; the state is a
    /// fixed array, so a million shares take no more room than one.
    #[test]
    fn per_worker_state_is_fixed_at_any_share_rate() {
        let t0 = Instant::now();
        let mut w = ShareWindow::new(t0);
        let size = std::mem::size_of_val(&w);
        // 1,000,000 difficulty-1 shares evenly over 10 minutes.
        let n = 1_000_000u64;
        for i in 0..n {
            w.add(t0 + Duration::from_micros(i * 600), 1.0);
        }
        assert_eq!(std::mem::size_of_val(&w), size);
        let now = t0 + 600 * SEC;
        let want = (n as f64 / 600.0) * 4_294_967_296.0;
        let got = w.hashrate(now);
        assert!((got / want - 1.0).abs() < 0.01, "{got} vs {want}");
        // The registry's per-worker entry is the same: no allocation that grows with shares.
        assert!(
            std::mem::size_of::<Worker>() < 400,
            "{}",
            std::mem::size_of::<Worker>()
        );
    }

    #[test]
    fn shares_leave_the_hashrate_window_after_five_minutes() {
        let t0 = Instant::now();
        let mut w = ShareWindow::new(t0);
        // 10 shares of difficulty 60 in the first minute.
        for i in 0..10 {
            w.add(t0 + 6 * i * SEC, 60.0);
        }
        let work = 600.0 * 4_294_967_296.0;
        let at = |s: u32| w.hashrate(t0 + s * SEC);
        assert!(
            (at(60) - work / 60.0).abs() / (work / 60.0) < 1e-9,
            "{}",
            at(60)
        );
        assert!((at(200) - work / 200.0).abs() / (work / 200.0) < 1e-9);
        assert!(at(299) > 0.0, "still in the window");
        assert_eq!(at(370), 0.0, "gone after the window");
        assert_eq!(at(100_000), 0.0);
        // A share long after: the buckets in between start empty.
        w.add(t0 + 10_000 * SEC, 30.0);
        let h = w.hashrate(t0 + 10_005 * SEC);
        assert!((h - 30.0 * 4_294_967_296.0 / 295.0).abs() < 1.0, "{h}");
        // A share stamped before the newest bucket but still in the window counts; one from
        // before the window does not.
        w.add(t0 + 9_990 * SEC, 30.0);
        w.add(t0 + 9_000 * SEC, 1e9);
        let h = w.hashrate(t0 + 10_005 * SEC);
        assert!((h - 60.0 * 4_294_967_296.0 / 295.0).abs() < 1.0, "{h}");
    }

    #[test]
    fn disconnected_workers_expire_and_the_registry_has_a_cap() {
        let t0 = Instant::now();
        let r = Registry::new(&[], 3);
        let (a, b, c, d) = (key("a", 1), key("b", 2), key("c", 3), key("d", 4));
        for k in [&a, &b, &c] {
            assert!(r.worker_up(k.clone(), 1.0, t0));
        }
        // Full of connected workers: one more is served but not listed, and counted.
        assert!(!r.worker_up(d.clone(), 1.0, t0));
        assert_eq!(r.workers_untracked(), 1);
        r.share_accepted(&d, 1.0, t0); // not listed: nothing happens
        r.worker_down(&d, t0);
        assert_eq!(r.workers_listed(), 3);
        // a disconnects: listed with up 0 until it expires.
        r.worker_down(&a, t0);
        assert!(!r.worker(&a).unwrap().up);
        assert_eq!(r.expire(t0 + 599 * SEC, 600 * SEC), 0);
        assert_eq!(r.expire(t0 + 600 * SEC, 600 * SEC), 1);
        assert!(r.worker(&a).is_none());
        assert!(!r.render(t0 + 600 * SEC).contains("worker=\"a\""));
        // b disconnects; a new worker takes its place before it expires.
        r.worker_down(&b, t0 + 601 * SEC);
        assert!(r.worker_up(a.clone(), 1.0, t0 + 602 * SEC));
        assert!(r.worker_up(d.clone(), 1.0, t0 + 602 * SEC));
        assert!(r.worker(&b).is_none(), "the idle one made room");
        assert_eq!(r.workers_listed(), 3);
    }
}
