//! Helpers shared by the load generators: reading a process's CPU time and memory from /proc,
//! child processes that die with the generator, percentiles.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// User plus system CPU time of `pid`, in clock ticks (USER_HZ, 100 on Linux).
pub fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Resident memory of `pid` in kB.
pub fn proc_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Child processes, killed when dropped.
pub struct Spawned(pub Vec<Child>);

impl Drop for Spawned {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `p` quantile of microsecond samples, in milliseconds.
pub fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0
}

/// The public development key of the pool's embedded default config.
pub const SPAWN_POOL_KEY: &str = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8";

/// A loopback address nobody listens on right now.
pub fn free_addr() -> Result<SocketAddr, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())
}

/// The directory of this executable, where the role binaries are built too.
fn bin_dir() -> Result<std::path::PathBuf, String> {
    Ok(std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no executable directory")?
        .to_path_buf())
}

/// Start role binary `name` with `-c` and a config file holding `doc`.
pub fn spawn_with_config(name: &str, doc: &str) -> Result<Child, String> {
    let config = std::env::temp_dir().join(format!("load-{name}-{}.toml", std::process::id()));
    std::fs::write(&config, doc).map_err(|e| e.to_string())?;
    Command::new(bin_dir()?.join(name))
        .arg("-c")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{name} (build it with --release too): {e}"))
}

/// A template provider whose blocks are out of reach and a pool taking its templates, whose
/// vardiff aims at `pool_spm` shares per minute ("1e12": every share meets the target).
/// Returns them, the pool's address and its PID.
pub fn spawn_tp_and_pool(pool_spm: &str) -> Result<(Spawned, SocketAddr, u32), String> {
    let (tp_addr, pool_addr) = (free_addr()?, free_addr()?);
    let tp = Command::new(bin_dir()?.join("template-provider"))
        .args([
            "--listen",
            &tp_addr.to_string(),
            "--block-difficulty",
            "1e12",
            "--template-interval",
            "3600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("template-provider (build it with --release too): {e}"))?;
    let mut spawned = Spawned(vec![tp]);
    let doc = format!(
        "listen_address = \"{pool_addr}\"\nauthority_secret_key = \"jvRuXAe3N2zzAdps41oF4gN82Ft85p48GBPxngwAVqKep9gGu\"\n\
         tp_address = \"{tp_addr}\"\ncoinbase_reward_script = \"raw(51)\"\n\
         shares_per_minute = {pool_spm}\nshare_batch_size = 10\nmax_connections = 1000000\n"
    );
    let pool = spawn_with_config("pool", &doc)?;
    let pid = pool.id();
    spawned.0.push(pool);
    Ok((spawned, pool_addr, pid))
}

/// What the clients of a run counted.
#[derive(Default)]
pub struct Totals {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    /// Submit-to-answer times, microseconds.
    pub latencies_us: Mutex<Vec<u32>>,
}

impl Totals {
    pub fn answered(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed) + self.rejected.load(Ordering::Relaxed)
    }

    /// A client's latencies, added when it is done (one lock per client, not per share).
    pub fn add_latencies(&self, v: Vec<u32>) {
        self.latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(v);
    }

    /// Print the run: what was offered, sent and answered (`answered_at_end` of them within
    /// `wall` seconds), latency, and the CPU ticks the measured process (`what`) used.
    pub fn report(
        &self,
        what: &str,
        rate: u64,
        answered_at_end: u64,
        wall: f64,
        cpu_ticks: Option<(u64, u64)>,
    ) {
        let sent = self.sent.load(Ordering::Relaxed);
        let (acc, rej) = (
            self.accepted.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        );
        println!(
            "offered {rate} shares/s; sent {sent}, answered {} ({acc} accepted, {rej} rejected), {} unanswered; {:.0} answered/s during the run",
            acc + rej,
            sent.saturating_sub(acc + rej),
            answered_at_end as f64 / wall
        );
        let mut lat =
            std::mem::take(&mut *self.latencies_us.lock().unwrap_or_else(|e| e.into_inner()));
        println!(
            "answer latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            pct(&mut lat, 1.0)
        );
        if let Some((c0, c1)) = cpu_ticks {
            let cpu_s = c1.saturating_sub(c0) as f64 / 100.0; // USER_HZ on Linux
            println!(
                "{what} CPU: {:.0}% of one core; {:.2} us per answered share",
                100.0 * cpu_s / wall,
                1e6 * cpu_s / answered_at_end.max(1) as f64
            );
        }
    }
}

/// A fraction in [0, 1) from `seed`, to spread clients' first submits over an interval.
pub fn spread(seed: u32) -> f64 {
    (seed.wrapping_mul(2_654_435_761) as f64) / u32::MAX as f64
}
