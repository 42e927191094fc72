//! Helpers shared by the load generators and `sv2-hostile`: reading a process's CPU time and
//! memory from /proc, role binaries started as child processes that die with the generator,
//! connections from a chosen loopback source address, percentiles, and the clients in [`sv1`]
//! and [`sv2`].

pub mod sv1;
pub mod sv2;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::net::{TcpSocket, TcpStream};

/// User plus system CPU time of `pid`, in clock ticks (USER_HZ, 100 on Linux).
pub fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A field of /proc/`pid`/status given in kB (`"VmRSS:"`, `"VmHWM:"`...).
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resident memory of `pid` in kB.
pub fn proc_rss_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmRSS:")
}

/// The most resident memory `pid` has had since it started (its high-water mark), in kB.
pub fn proc_peak_rss_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmHWM:")
}

/// The kernel's count of connections dropped because a listener's accept queue was full
/// (TcpExt ListenOverflows in /proc/net/netstat), for every listener of this network
/// namespace.
pub fn tcp_listen_overflows() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut rows = s.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (rows.next()?, rows.next()?);
    let i = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// Open file descriptors of `pid` (its sockets, among others).
pub fn proc_fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
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
/// Its secret half (public too: it is in the pool's default config).
const SPAWN_POOL_SECRET: &str = "jvRuXAe3N2zzAdps41oF4gN82Ft85p48GBPxngwAVqKep9gGu";

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

/// Where a role's stderr goes: this process's stderr (`None`), or a file.
fn stderr_to(log: Option<&Path>) -> Result<Stdio, String> {
    match log {
        None => Ok(Stdio::inherit()),
        Some(p) => std::fs::File::create(p)
            .map(Stdio::from)
            .map_err(|e| format!("{}: {e}", p.display())),
    }
}

/// Start role binary `name` with `-c` and a config file holding `doc`.
pub fn spawn_with_config(name: &str, doc: &str) -> Result<Child, String> {
    spawn_with_config_logged(name, doc, None)
}

/// [`spawn_with_config`], with the role's stderr (its log, at level warn) written to `log`.
pub fn spawn_with_config_logged(
    name: &str,
    doc: &str,
    log: Option<&Path>,
) -> Result<Child, String> {
    let config = std::env::temp_dir().join(format!("load-{name}-{}.toml", std::process::id()));
    std::fs::write(&config, doc).map_err(|e| e.to_string())?;
    Command::new(bin_dir()?.join(name))
        .arg("-c")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr_to(log)?)
        .spawn()
        .map_err(|e| format!("{name} (build it with --release too): {e}"))
}

/// How [`spawn_stack`] starts a template provider and a pool.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The pool's `shares_per_minute` as written in TOML ("1e12" with a zero
    /// `min_share_difficulty`: every share meets the channel target).
    pub pool_spm: String,
    /// The pool's `min_share_difficulty`; `None` leaves the pool's default.
    pub min_share_difficulty: Option<f64>,
    /// The pool's `max_connections`; `None` leaves the pool's default.
    pub max_connections: Option<usize>,
    /// Seconds between the template provider's refreshed templates.
    pub template_interval: u64,
    /// Transactions the template provider adds at each refresh (0: every refresh repeats the
    /// same block contents under a new template id).
    pub transactions: usize,
    /// Seconds between blocks the simulated network finds (0: never).
    pub block_interval: u64,
    /// When set, each role's stderr goes to `DIR/<role>.log`; otherwise the template
    /// provider's is dropped and the pool's is this process's.
    pub log_dir: Option<PathBuf>,
    /// Run the pool's job declaration server (`[jds]`) on the template provider's RPC.
    pub jds: bool,
}

impl Default for StackConfig {
    /// What the load generators measure: every share meets its target, no block is ever
    /// found, templates change once an hour, no connection limit in the way.
    fn default() -> Self {
        StackConfig {
            pool_spm: "1e12".into(),
            min_share_difficulty: Some(0.0),
            max_connections: Some(1_000_000),
            template_interval: 3600,
            transactions: 5,
            block_interval: 0,
            log_dir: None,
            jds: false,
        }
    }
}

/// The processes [`spawn_stack`] started and where they listen.
pub struct Stack {
    pub spawned: Spawned,
    pub pool: SocketAddr,
    pub pool_pid: u32,
    /// The pool's job declaration server, with [`StackConfig::jds`].
    pub jds: Option<SocketAddr>,
    pub template_provider: SocketAddr,
    pub template_provider_pid: u32,
}

/// A template provider whose blocks are out of reach (plain TCP, its own default limits) and
/// a pool taking its templates, with the pool's embedded default keys.
pub fn spawn_stack(c: &StackConfig) -> Result<Stack, String> {
    let (tp_addr, pool_addr) = (free_addr()?, free_addr()?);
    let log = |name: &str| c.log_dir.as_ref().map(|d| d.join(format!("{name}.log")));
    let tp_log = match log("template-provider") {
        Some(p) => stderr_to(Some(&p))?,
        None => Stdio::null(),
    };
    let rpc_addr = free_addr()?;
    let jds_addr = if c.jds { Some(free_addr()?) } else { None };
    let mut tp = Command::new(bin_dir()?.join("template-provider"));
    if c.jds {
        tp.args(["--rpc-address", &rpc_addr.to_string()]);
    }
    let tp = tp
        .args([
            "--listen",
            &tp_addr.to_string(),
            "--block-difficulty",
            "1e12",
            "--template-interval",
            &c.template_interval.to_string(),
            "--transactions",
            &c.transactions.to_string(),
            "--block-interval",
            &c.block_interval.to_string(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(tp_log)
        .spawn()
        .map_err(|e| format!("template-provider (build it with --release too): {e}"))?;
    let tp_pid = tp.id();
    let mut spawned = Spawned(vec![tp]);
    let mut doc = format!(
        "listen_address = \"{pool_addr}\"\nauthority_secret_key = \"{SPAWN_POOL_SECRET}\"\n\
         tp_address = \"{tp_addr}\"\ncoinbase_reward_script = \"raw(51)\"\n\
         shares_per_minute = {}\nshare_batch_size = 10\n",
        c.pool_spm
    );
    if let Some(d) = c.min_share_difficulty {
        doc.push_str(&format!("min_share_difficulty = {d:?}\n"));
    }
    if let Some(n) = c.max_connections {
        doc.push_str(&format!("max_connections = {n}\n"));
    }
    if let Some(jds) = jds_addr {
        doc.push_str(&format!(
            "[jds]\nlisten_address = \"{jds}\"\nrpc_url = \"http://{rpc_addr}\"\n"
        ));
    }
    let pool = spawn_with_config_logged("pool", &doc, log("pool").as_deref())?;
    let pool_pid = pool.id();
    spawned.0.push(pool);
    Ok(Stack {
        spawned,
        pool: pool_addr,
        pool_pid,
        template_provider: tp_addr,
        template_provider_pid: tp_pid,
        jds: jds_addr,
    })
}

/// A template provider whose blocks are out of reach and a pool taking its templates, whose
/// vardiff aims at `pool_spm` shares per minute ("1e12": every share meets the target).
/// Returns them, the pool's address and its PID.
pub fn spawn_tp_and_pool(pool_spm: &str) -> Result<(Spawned, SocketAddr, u32), String> {
    let s = spawn_stack(&StackConfig {
        pool_spm: pool_spm.into(),
        ..StackConfig::default()
    })?;
    Ok((s.spawned, s.pool, s.pool_pid))
}

/// How [`spawn_translator`] configures the translator.
#[derive(Debug, Clone)]
pub struct TranslatorSpawn {
    /// `[downstream_difficulty_config]`: the hashrate assumed for a new miner and the share
    /// rate vardiff aims at.
    pub min_individual_miner_hashrate: f64,
    pub shares_per_minute: f64,
    /// `max_connections`; `None` leaves the translator's default.
    pub max_connections: Option<usize>,
    /// Where its stderr goes (`None`: this process's).
    pub log: Option<PathBuf>,
}

/// A translator whose upstream is the pool at `pool` (with [`SPAWN_POOL_KEY`]), listening on
/// a free loopback port, with its other settings at their defaults (no metrics endpoint).
/// Returns it and its address.
pub fn spawn_translator(
    pool: SocketAddr,
    t: &TranslatorSpawn,
) -> Result<(Child, SocketAddr), String> {
    let addr = free_addr()?;
    let mut doc = format!(
        "downstream_address = \"{}\"\ndownstream_port = {}\n",
        addr.ip(),
        addr.port()
    );
    if let Some(n) = t.max_connections {
        doc.push_str(&format!("max_connections = {n}\n"));
    }
    doc.push_str(&format!(
        "[downstream_difficulty_config]\nmin_individual_miner_hashrate = {:?}\nshares_per_minute = {:?}\n\
         [[upstreams]]\naddress = \"{}\"\nport = {}\nauthority_pubkey = \"{SPAWN_POOL_KEY}\"\n",
        t.min_individual_miner_hashrate,
        t.shares_per_minute,
        pool.ip(),
        pool.port()
    ));
    let child = spawn_with_config_logged("translator", &doc, t.log.as_deref())?;
    Ok((child, addr))
}

/// A TCP connection to `addr` from the loopback (or other local) address `source`, on a port
/// the system picks; from the system's choice of address when `source` is `None`. Many
/// sources let one machine stand for many peers (Linux answers on all of 127.0.0.0/8).
pub async fn connect_from(source: Option<IpAddr>, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(addr).await;
    };
    let socket = if ip.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
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
