//! Helpers shared by the load generators: reading a process's CPU time and memory from /proc,
//! child processes that die with the generator, percentiles.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

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
