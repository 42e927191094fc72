//! Per-worker and per-upstream figures in the Prometheus text format, served on GET /metrics.

use roles_utils::lock;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Window of the hashrate figure.
pub const HASHRATE_WINDOW: Duration = Duration::from_secs(300);
/// How long a disconnected worker stays listed (with `up` 0).
const KEEP_DOWN: Duration = Duration::from_secs(600);

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
    /// (when, difficulty) of accepted shares in the window.
    recent: VecDeque<(Instant, f64)>,
    since: Instant,
    down_at: Option<Instant>,
}

impl Worker {
    fn new(difficulty: f64) -> Self {
        Worker {
            up: true,
            shares_sent: 0,
            shares_accepted: 0,
            diff1_sent: 0.0,
            diff1_accepted: 0.0,
            difficulty,
            recent: VecDeque::new(),
            since: Instant::now(),
            down_at: None,
        }
    }

    /// Hashes per second over the window, from the work the accepted shares prove.
    pub fn hashrate(&mut self, now: Instant) -> f64 {
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > HASHRATE_WINDOW)
        {
            self.recent.pop_front();
        }
        let work: f64 = self.recent.iter().map(|(_, d)| d * 4_294_967_296.0).sum();
        let span = now.duration_since(self.since).min(HASHRATE_WINDOW);
        work / span.as_secs_f64().max(1.0)
    }
}

/// Labels of a worker series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerKey {
    pub worker: String,
    pub address: SocketAddr,
}

/// Everything /metrics shows.
#[derive(Debug, Default)]
pub struct Registry {
    workers: Mutex<HashMap<WorkerKey, Worker>>,
    /// (endpoint, up), in priority order.
    upstreams: Mutex<Vec<(String, bool)>>,
}

impl Registry {
    pub fn new(upstreams: &[String]) -> Self {
        Registry {
            workers: Mutex::new(HashMap::new()),
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

    /// A worker authorized on a connection.
    pub fn worker_up(&self, key: WorkerKey, difficulty: f64) {
        let mut w = lock(&self.workers);
        let e = w.entry(key).or_insert_with(|| Worker::new(difficulty));
        e.up = true;
        e.down_at = None;
        e.difficulty = difficulty;
    }

    pub fn worker_down(&self, key: &WorkerKey) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.up = false;
            w.down_at = Some(Instant::now());
        }
    }

    pub fn share_sent(&self, key: &WorkerKey, difficulty: f64) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.shares_sent += 1;
            w.diff1_sent += difficulty;
        }
    }

    pub fn share_accepted(&self, key: &WorkerKey, difficulty: f64) {
        if let Some(w) = lock(&self.workers).get_mut(key) {
            w.shares_accepted += 1;
            w.diff1_accepted += difficulty;
            w.recent.push_back((Instant::now(), difficulty));
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let now = Instant::now();
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
        let mut workers = lock(&self.workers);
        workers.retain(|_, w| w.down_at.is_none_or(|t| now.duration_since(t) < KEEP_DOWN));
        let mut keys: Vec<WorkerKey> = workers.keys().cloned().collect();
        keys.sort();
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
            for k in &keys {
                let Some(w) = workers.get_mut(k) else {
                    continue;
                };
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
                let body = registry.render();
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

    #[test]
    fn exposition_has_every_series_with_labels() {
        let r = Registry::new(&["pool:1".into()]);
        r.set_upstream_up("pool:1", true);
        let k = WorkerKey {
            worker: "farm.\"rig\"1".into(),
            address: "10.0.0.1:4000".parse().unwrap(),
        };
        r.worker_up(k.clone(), 8.0);
        r.share_sent(&k, 8.0);
        r.share_sent(&k, 8.0);
        r.share_accepted(&k, 8.0);
        let text = r.render();
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
        // One difficulty-8 share in the first second: 8 * 2^32 hashes over at least 1 s.
        let h = r.worker(&k).unwrap().hashrate(Instant::now());
        assert!(h > 0.0 && h <= 8.0 * 4_294_967_296.0, "{h}");
        r.worker_down(&k);
        assert!(r
            .render()
            .contains(&format!("translator_worker_up{labels} 0")));
    }
}
