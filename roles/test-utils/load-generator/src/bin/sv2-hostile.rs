//! `sv2-hostile`: hostile peers against the roles, one attack at a time, with measured effects.
//!
//! It starts the attacked role as a separate process (release binaries next to its own, as
//! `sv2-load --spawn` does: a template provider and a pool, plus a translator for the Sv1
//! attacks), waits until an honest client gets work, then runs the attack. While it runs, an
//! honest client connects every `--probe-every-ms` from its own address (127.0.0.1; the
//! attackers use 127.0.0.2 and up) and the time from its TCP connect to its first work is
//! recorded: first job and SetNewPrevHash for an Sv2 miner, first mining.notify for an Sv1
//! miner, NewTemplate and SetNewPrevHash for a template client. At the end it prints one line:
//! the attack and its parameters, the attacked process's resident memory (kB) before, at its
//! peak (VmHWM), while the attack still held its connections and a few seconds after they
//! closed, its open file descriptors at the same times (so retained memory can be told from
//! connections not closed), its CPU, the honest clients' times, what the attacker saw, how
//! many connections the kernel dropped because an accept queue was full, and how many lines
//! the attacked role logged.

use clap::{Parser, Subcommand, ValueEnum};
use const_sv2::{PROTOCOL_MINING, PROTOCOL_TEMPLATE_DISTRIBUTION};
use load_generator::sv2::{self as client, ChannelKind};
use load_generator::{
    connect_from, pct, proc_cpu_ticks, proc_fd_count, proc_peak_rss_kb, proc_rss_kb, spawn_stack,
    spawn_translator, sv1, tcp_listen_overflows, Spawned, StackConfig, TranslatorSpawn,
    SPAWN_POOL_KEY,
};
use mining_sv2::CloseChannel;
use network_helpers_sv2::{unix_now, with_tokio, ConnectionConfig, Security};
use noise_sv2::{
    encrypted_payload_len, AuthorityPublicKey, Decryptor, Encryptor, Initiator,
    ENCRYPTED_HEADER_LEN, RESPONDER_MESSAGE_LEN,
};
use roles_logic_sv2::mining_client::Work;
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, Mining};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sv1_api::client::{Client as Sv1Client, ClientEvent};
use sv1_api::LineReader;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Hostile peers against the roles, one attack at a time, with measured effects"
)]
struct Args {
    #[command(subcommand)]
    attack: Attack,
    /// Seconds the attack runs (each attack has its own default).
    #[arg(long, global = true)]
    duration: Option<u64>,
    /// Milliseconds between two honest clients connecting during the attack.
    #[arg(long, global = true, default_value_t = 1000)]
    probe_every_ms: u64,
    /// Run the attack this many times, one after the other, on the same attacked process
    /// (one line each).
    #[arg(long, global = true, default_value_t = 1)]
    repeat: usize,
    /// Keep the attacked roles' logs (level warn) in this directory; by default they go to a
    /// temporary one that is removed.
    #[arg(long, global = true)]
    log_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
enum Attack {
    /// TCP connections to the pool that never finish the noise handshake (or, with --mode
    /// setup, that finish their setup and then say nothing); each one closed by the pool is
    /// opened again after --reconnect-delay-ms.
    HandshakeFlood {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Source addresses (127.0.0.2 and up) the connections are spread over.
        #[arg(long, default_value_t = 1)]
        sources: usize,
        #[arg(long, value_enum, default_value = "silent")]
        mode: FloodMode,
        #[arg(long, default_value_t = 100)]
        reconnect_delay_ms: u64,
        /// Do not open a connection again once the pool closed it.
        #[arg(long)]
        no_reconnect: bool,
    },
    /// Sv1 connections to the translator that send a line that never ends, one byte every
    /// --interval-ms; during their setup (the line is the subscribe), or after subscribe and
    /// authorize with --after-setup. Closed ones reconnect after a second.
    Slowloris {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        sources: usize,
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        #[arg(long)]
        after_setup: bool,
    },
    /// mining.authorize with --workers distinct names on one Sv1 connection to the translator;
    /// with --rounds N, N connections one after the other, each with new names.
    WorkerNames {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Authorizes sent and not yet answered, at most.
        #[arg(long, default_value_t = 2000)]
        window: usize,
    },
    /// Frames whose header declares --declared payload bytes, of which --prefill are sent at
    /// once and then one byte every --interval-ms: to the pool after the noise handshake, or
    /// to the template provider (plain TCP). With --after-setup a SetupConnection is done
    /// first. The payload bytes are never a valid message: the frame never completes.
    BigFrames {
        #[arg(long, value_enum, default_value = "pool")]
        target: FrameTarget,
        #[arg(long, default_value_t = 100)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        sources: usize,
        /// Payload length the header declares (at most 16777215, the protocol's limit).
        #[arg(long, default_value_t = 0xff_ffff)]
        declared: u32,
        #[arg(long, default_value_t = 0)]
        prefill: usize,
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        #[arg(long)]
        after_setup: bool,
    },
    /// One set-up connection to the pool that opens an extended channel, waits for the
    /// answer, closes it, and again, for --duration seconds.
    ChannelChurn,
    /// A valid share sent again: on the same job, and after the template provider refreshed
    /// the template on the same tip, under the new job id too (with --transactions 0 the new
    /// template has the same contents, so the header is the same). Counts credits (must be 1
    /// per distinct header).
    ShareReplay {
        /// Transactions the template provider adds at each refresh.
        #[arg(long, default_value_t = 0)]
        transactions: usize,
        /// Seconds between template refreshes.
        #[arg(long, default_value_t = 2)]
        template_interval: u64,
        /// Also let the simulated network find a block every this many seconds, and replay
        /// the share on the old jobs after it (0: no blocks).
        #[arg(long, default_value_t = 0)]
        block_interval: u64,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum FloodMode {
    /// Connect and send nothing.
    Silent,
    /// Send a 64-byte noise message 1 (random bytes: every 64 bytes decode as an
    /// ElligatorSwift key), so the pool does its half of the handshake, then nothing.
    Ephemeral,
    /// Not a handshake flood but its neighbour: finish the handshake and SetupConnection,
    /// then send nothing (what the per-IP cap and max_connections bound, not the setup
    /// slots).
    Setup,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum FrameTarget {
    Pool,
    TemplateProvider,
}

impl Attack {
    fn name(&self) -> &'static str {
        match self {
            Attack::HandshakeFlood { .. } => "handshake-flood",
            Attack::Slowloris { .. } => "slowloris",
            Attack::WorkerNames { .. } => "worker-names",
            Attack::BigFrames { .. } => "big-frames",
            Attack::ChannelChurn => "channel-churn",
            Attack::ShareReplay { .. } => "share-replay",
        }
    }

    fn default_duration(&self) -> u64 {
        match self {
            Attack::Slowloris { .. } => 30,
            Attack::WorkerNames { .. } => 600,
            Attack::ShareReplay { .. } => 60,
            _ => 20,
        }
    }
}

/// Where the honest clients connect from.
const HONEST_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// The `i`th attacker source address: 127.0.0.2 to 127.0.0.251, then 127.0.1.2 and so on.
fn attack_source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, (i / 250) as u8, (2 + i % 250) as u8))
}

/// Time allowed to an honest client before it counts as getting no work.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time after the attacker closed its connections before the last memory reading.
const SETTLE: Duration = Duration::from_secs(3);

/// How an honest client gets work from the attacked role.
#[derive(Clone)]
enum Probe {
    Pool(SocketAddr, AuthorityPublicKey),
    Translator(SocketAddr),
    TemplateProvider(SocketAddr),
}

/// One honest client's times: to the established TCP connection, and to work.
struct ProbeTimes {
    connect: Duration,
    work: Duration,
}

impl Probe {
    fn addr(&self) -> SocketAddr {
        match self {
            Probe::Pool(a, _) | Probe::Translator(a) | Probe::TemplateProvider(a) => *a,
        }
    }

    async fn once(&self) -> Result<ProbeTimes, String> {
        let run = async {
            let t0 = Instant::now();
            let stream = connect_from(Some(HONEST_SOURCE), self.addr())
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let connect = t0.elapsed();
            let work = match self {
                Probe::Pool(addr, key) => {
                    client::open_on(stream, t0, *addr, *key, ChannelKind::Standard)
                        .await?
                        .2
                }
                Probe::Translator(_) => {
                    sv1::open_on(stream, "honest").await?;
                    t0.elapsed()
                }
                Probe::TemplateProvider(addr) => {
                    client::open_template_client_on(stream, t0, *addr).await?.1
                }
            };
            Ok(ProbeTimes { connect, work })
        };
        tokio::time::timeout(PROBE_TIMEOUT, run)
            .await
            .unwrap_or_else(|_| Err(format!("no work within {PROBE_TIMEOUT:?}")))
    }
}

/// How every attack is measured.
struct Opts {
    probe_every: Duration,
    repeat: usize,
}

/// The process under attack.
struct Attacked {
    role: &'static str,
    pid: u32,
    log: PathBuf,
}

/// Honest clients connecting one after the other until `stop`.
async fn probe_loop(probe: Probe, every: Duration, mut stop: watch::Receiver<bool>) -> Honest {
    let mut h = Honest::default();
    let mut tick = tokio::time::interval(every);
    // A slow client delays the next one instead of bunching those that fell behind.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        match probe.once().await {
            Ok(t) => {
                h.work_us.push(micros(t.work));
                h.connect_us.push(micros(t.connect));
            }
            Err(e) => h.failures.push(e),
        }
    }
    h
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

/// What the honest clients saw.
#[derive(Default)]
struct Honest {
    /// From the start of the TCP connect to work.
    work_us: Vec<u32>,
    /// Of the same clients, to the established TCP connection (a second or three here is a
    /// SYN the listener's full accept queue dropped, sent again by the kernel).
    connect_us: Vec<u32>,
    failures: Vec<String>,
}

impl Honest {
    fn summary(mut self) -> String {
        let n = self.work_us.len() + self.failures.len();
        if n == 0 {
            return "no client ran".into();
        }
        let within = self.work_us.iter().filter(|&&t| t <= 1_000_000).count();
        let mut s = if self.work_us.is_empty() {
            format!("no work ({n} of {n} clients)")
        } else {
            format!(
                "{within}/{n} got work within 1 s; time to work p50 {:.1} ms, max {:.1} ms (TCP connect p50 {:.1} ms, max {:.1} ms)",
                pct(&mut self.work_us, 0.5),
                pct(&mut self.work_us, 1.0),
                pct(&mut self.connect_us, 0.5),
                pct(&mut self.connect_us, 1.0),
            )
        };
        if let Some(e) = self.failures.first() {
            s.push_str(&format!("; {} got none (first: {e})", self.failures.len()));
        }
        s
    }
}

fn log_lines(p: &Path) -> usize {
    std::fs::read(p)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// What an attack hands back when its time is up: what it saw, and the tasks that still hold
/// its connections (dropped after the memory reading).
struct Outcome {
    seen: String,
    hold: JoinSet<()>,
}

/// Wait until an honest client gets work, then `repeat` times: run the attack `make(i)`
/// builds, with honest clients alongside, and print its line. Repeating on the same process
/// tells memory that is kept for good (it grows each time) from memory the allocator keeps
/// for reuse (it does not).
async fn measure<F>(
    attack: &str,
    params: &str,
    target: &Attacked,
    probe: Probe,
    opts: &Opts,
    make: impl Fn(usize) -> F,
) -> Result<(), String>
where
    F: Future<Output = Result<Outcome, String>>,
{
    let start = Instant::now();
    loop {
        match probe.once().await {
            Ok(_) => break,
            Err(e) if start.elapsed() > Duration::from_secs(30) => {
                return Err(format!("{} not ready: {e}", target.role))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..opts.repeat.max(1) {
        let round = if opts.repeat > 1 {
            format!(" | repetition {} of {}", i + 1, opts.repeat)
        } else {
            String::new()
        };
        measure_once(attack, params, &round, target, probe.clone(), opts, make(i)).await?;
    }
    Ok(())
}

async fn measure_once(
    attack: &str,
    params: &str,
    round: &str,
    target: &Attacked,
    probe: Probe,
    opts: &Opts,
    run: impl Future<Output = Result<Outcome, String>>,
) -> Result<(), String> {
    let pid = target.pid;
    let rss0 = proc_rss_kb(pid).unwrap_or(0);
    let fd0 = proc_fd_count(pid).unwrap_or(0);
    let log0 = log_lines(&target.log);
    let cpu0 = proc_cpu_ticks(pid).unwrap_or(0);
    let me = std::process::id();
    let my_cpu0 = proc_cpu_ticks(me).unwrap_or(0);
    let overflows0 = tcp_listen_overflows();
    let t0 = Instant::now();
    eprintln!(
        "sv2-hostile: {attack} against the {} ({params})",
        target.role
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let probes = tokio::spawn(probe_loop(probe, opts.probe_every, stop_rx));
    let outcome = run.await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = proc_cpu_ticks(pid).unwrap_or(0);
    let my_cpu1 = proc_cpu_ticks(me).unwrap_or(0);
    let overflows = tcp_listen_overflows()
        .zip(overflows0)
        .map_or("?".to_string(), |(b, a)| b.saturating_sub(a).to_string());
    let held = proc_rss_kb(pid);
    let fd_held = proc_fd_count(pid);
    let _ = stop_tx.send(true);
    let honest = probes.await.map_err(|e| e.to_string())?;
    let Outcome { seen, mut hold } = outcome?;
    hold.shutdown().await;
    tokio::time::sleep(SETTLE).await;
    let after = proc_rss_kb(pid);
    let fd_after = proc_fd_count(pid);
    let peak = proc_peak_rss_kb(pid);
    let alive = after.is_some();
    let or_gone = |v: Option<u64>| v.map_or("gone".to_string(), |v| v.to_string());
    println!(
        "{attack} | target {} | {params}{round} | RSS kB before {rss0} peak {} held {} after {} | fds before {fd0} held {} after {} | CPU {:.0}% of a core over {wall:.1} s (attacker and honest clients: {:.0}%) | honest: {} | attacker: {seen} | kernel: {overflows} connections dropped at full accept queues | {} log lines{}",
        target.role,
        or_gone(peak),
        or_gone(held),
        or_gone(after),
        or_gone(fd_held.map(|n| n as u64)),
        or_gone(fd_after.map(|n| n as u64)),
        // Ticks are 1/100 s (USER_HZ): ticks per second is percent of a core.
        cpu1.saturating_sub(cpu0) as f64 / wall.max(1e-3),
        my_cpu1.saturating_sub(my_cpu0) as f64 / wall.max(1e-3),
        honest.summary(),
        log_lines(&target.log).saturating_sub(log0),
        if alive { "" } else { " | THE ATTACKED PROCESS DIED" },
    );
    Ok(())
}

// ---- what attackers count -------------------------------------------------------------------

/// Connection counters shared by an attack's tasks.
#[derive(Default)]
struct Conns {
    opened: AtomicU64,
    closed_by_server: AtomicU64,
    held_at_end: AtomicU64,
    bytes_sent: AtomicU64,
    /// Connect to server close, of the connections the server closed (ms).
    lifetimes_ms: Mutex<Vec<u32>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Conns {
    fn error(&self, what: impl Into<String>) {
        *lock(&self.errors).entry(what.into()).or_default() += 1;
    }

    fn closed(&self, since: Instant) {
        self.closed_by_server.fetch_add(1, Ordering::Relaxed);
        lock(&self.lifetimes_ms).push(since.elapsed().as_millis().min(u32::MAX as u128) as u32);
    }

    fn summary(&self) -> String {
        let mut life = std::mem::take(&mut *lock(&self.lifetimes_ms));
        // pct works on microseconds; these are milliseconds.
        let (p50, max) = (pct(&mut life, 0.5) * 1000.0, pct(&mut life, 1.0) * 1000.0);
        let mut s = format!(
            "{} connections opened, {} closed by the server (open for p50 {p50:.0} ms, max {max:.0} ms), {} still open at the end, {} bytes sent",
            self.opened.load(Ordering::Relaxed),
            self.closed_by_server.load(Ordering::Relaxed),
            self.held_at_end.load(Ordering::Relaxed),
            self.bytes_sent.load(Ordering::Relaxed),
        );
        let errors = lock(&self.errors);
        if !errors.is_empty() {
            let e: Vec<String> = errors.iter().map(|(k, v)| format!("{k} x{v}")).collect();
            s.push_str(&format!("; errors: {}", e.join(", ")));
        }
        s
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read and drop whatever arrives until the peer closes (or the read fails).
async fn drain(rd: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = rd.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Keep what `hold` owns until the task is aborted.
async fn hold_forever<T>(hold: T, conns: &Conns) {
    conns.held_at_end.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
    drop(hold);
}

/// A small deterministic generator for bytes nobody checks.
fn noise_bytes(seed: u64) -> [u8; 64] {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = [0u8; 64];
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    out
}

// ---- handshake-flood ------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
async fn flood_one(
    i: usize,
    addr: SocketAddr,
    key: AuthorityPublicKey,
    source: IpAddr,
    mode: FloodMode,
    reconnect: Option<Duration>,
    until: Instant,
    conns: Arc<Conns>,
) {
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        let t = Instant::now();
        let mut s =
            match tokio::time::timeout_at(until.into(), connect_from(Some(source), addr)).await {
                Err(_) => return,
                Ok(Err(e)) => {
                    conns.error(format!("connect {:?}", e.kind()));
                    tokio::time::sleep(reconnect.unwrap_or(Duration::from_secs(1))).await;
                    continue;
                }
                Ok(Ok(s)) => s,
            };
        conns.opened.fetch_add(1, Ordering::Relaxed);
        match mode {
            FloodMode::Silent => {}
            FloodMode::Ephemeral => {
                let m = noise_bytes((i as u64) << 32 | round);
                if s.write_all(&m).await.is_ok() {
                    conns.bytes_sent.fetch_add(64, Ordering::Relaxed);
                }
            }
            FloodMode::Setup => {
                let setup = async {
                    let mut n = RawNoise::handshake(s, key).await?;
                    n.send(
                        CommonMessages::SetupConnection(client::setup_connection(
                            PROTOCOL_MINING,
                            0,
                            addr,
                        ))
                        .into(),
                    )
                    .await?;
                    let (h, p) = n.recv().await?;
                    expect_setup_success(h, &p)?;
                    Ok::<_, String>(n.stream)
                };
                s = match tokio::time::timeout_at(until.into(), setup).await {
                    Err(_) => return,
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        conns.error(e);
                        conns.closed(t);
                        tokio::time::sleep(reconnect.unwrap_or(Duration::from_secs(1))).await;
                        continue;
                    }
                };
            }
        }
        let closed = tokio::select! {
            _ = drain(&mut s) => true,
            _ = tokio::time::sleep_until(until.into()) => false,
        };
        if !closed {
            return hold_forever(s, &conns).await;
        }
        conns.closed(t);
        match reconnect {
            Some(d) => tokio::time::sleep(d).await,
            None => return,
        }
    }
}

// ---- slowloris ------------------------------------------------------------------------------

/// The start of a subscribe whose string parameter never ends.
const ENDLESS_LINE: &[u8] = br#"{"id":1,"method":"mining.subscribe","params":[""#;

async fn slowloris_one(
    i: usize,
    addr: SocketAddr,
    source: IpAddr,
    interval: Duration,
    after_setup: bool,
    until: Instant,
    conns: Arc<Conns>,
) {
    while Instant::now() < until {
        let t = Instant::now();
        let (mut rd, mut wr) = if after_setup {
            match tokio::time::timeout_at(
                until.into(),
                sv1::open(addr, &format!("slow.{i}"), Some(source)),
            )
            .await
            {
                Err(_) => return,
                Ok(Err(e)) => {
                    conns.error(format!("setup: {e}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Ok(Ok(m)) => (m.rd, m.wr),
            }
        } else {
            match tokio::time::timeout_at(until.into(), connect_from(Some(source), addr)).await {
                Err(_) => return,
                Ok(Err(e)) => {
                    conns.error(format!("connect {:?}", e.kind()));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Ok(Ok(s)) => s.into_split(),
            }
        };
        conns.opened.fetch_add(1, Ordering::Relaxed);
        let trickle = async {
            let mut sent = 0usize;
            loop {
                let b = ENDLESS_LINE.get(sent).copied().unwrap_or(b'a');
                if wr.write_all(&[b]).await.is_err() {
                    return;
                }
                sent += 1;
                conns.bytes_sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(interval).await;
            }
        };
        let closed = tokio::select! {
            _ = drain(&mut rd) => true,
            _ = trickle => true,
            _ = tokio::time::sleep_until(until.into()) => false,
        };
        if !closed {
            return hold_forever((rd, wr), &conns).await;
        }
        conns.closed(t);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---- worker-names ---------------------------------------------------------------------------

/// One connection: subscribe, then `workers` authorizes with names unique to `round`, at most
/// `window` unanswered. Returns what it saw.
async fn worker_names_round(
    addr: SocketAddr,
    round: usize,
    workers: usize,
    window: usize,
    until: Instant,
) -> Result<String, String> {
    let s = connect_from(Some(attack_source(0)), addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let (mut rd, mut wr) = s.into_split();
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let writer = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        // Keep the connection open until the round is over.
        std::future::pending::<()>().await;
    });
    let mut c = Sv1Client::new("sv2-hostile/1.0");
    let mut reader = LineReader::new(sv1_api::DEFAULT_MAX_LINE);
    let t0 = Instant::now();
    let (mut sent, mut ok, mut refused, mut other_lines) = (0usize, 0usize, 0usize, 0usize);
    let mut refusal: Option<String> = None;
    let _ = tx.send(c.subscribe()).await;
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = "all answered";
    while ok + refused < workers {
        if sent < workers && sent - (ok + refused) < window {
            let n = (workers - sent).min(window / 2).max(1);
            let mut chunk = String::new();
            for k in sent..sent + n {
                chunk.push_str(&c.authorize(&format!("r{round}.w{k}"), "x"));
            }
            sent += n;
            if tx.send(chunk).await.is_err() {
                end = "connection closed by the server";
                break;
            }
        }
        let n = tokio::select! {
            r = rd.read(&mut buf) => r,
            _ = tokio::time::sleep_until(until.into()) => { end = "time up"; break }
        };
        let n = match n {
            Ok(0) | Err(_) => {
                end = "connection closed by the server";
                break;
            }
            Ok(n) => n,
        };
        reader.push(&buf[..n]);
        while let Ok(Some(line)) = reader.next_line() {
            let (events, _) = c.handle_line(&line);
            for e in events {
                match e {
                    ClientEvent::Authorized { ok: true, .. } => ok += 1,
                    ClientEvent::Authorized { ok: false, .. } => refused += 1,
                    ClientEvent::RequestFailed { method, error }
                        if method.contains("authorize") =>
                    {
                        refused += 1;
                        refusal.get_or_insert(format!("{}: {}", error.code, error.message));
                    }
                    _ => other_lines += 1,
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    writer.abort();
    let mut s = format!(
        "round {round}: {sent} authorizes sent, {ok} accepted, {refused} refused in {secs:.1} s ({:.0}/s), {other_lines} other messages; {end}",
        (ok + refused) as f64 / secs.max(1e-3)
    );
    if let Some(r) = refusal {
        s.push_str(&format!(" (first refusal: {r})"));
    }
    Ok(s)
}

// ---- big-frames -----------------------------------------------------------------------------

/// A raw noise session over a socket, to write bytes no honest encoder would.
struct RawNoise {
    stream: TcpStream,
    enc: Encryptor,
    dec: Decryptor,
}

/// An Sv2 frame header: extension type, message type, 24-bit payload length.
fn header(msg_type: u8, len: u32) -> [u8; 6] {
    let l = len.to_le_bytes();
    [0, 0, msg_type, l[0], l[1], l[2]]
}

impl RawNoise {
    async fn handshake(mut stream: TcpStream, key: AuthorityPublicKey) -> Result<Self, String> {
        let mut init = Initiator::new(key.0).map_err(|e| e.to_string())?;
        let m1 = init.start().map_err(|e| e.to_string())?;
        stream.write_all(&m1).await.map_err(|e| e.to_string())?;
        let mut m2 = [0u8; RESPONDER_MESSAGE_LEN];
        stream
            .read_exact(&mut m2)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (session, _) = init.finish(&m2, unix_now()).map_err(|e| e.to_string())?;
        let (enc, dec) = session.split();
        Ok(RawNoise { stream, enc, dec })
    }

    async fn send(&mut self, m: AnyMessage<'static>) -> Result<(), String> {
        let f = m.to_frame().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        self.enc
            .encrypt_frame_to_vec(f.as_bytes(), &mut out)
            .map_err(|e| e.to_string())?;
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }

    /// The next frame's header and plaintext payload.
    async fn recv(&mut self) -> Result<([u8; 6], Vec<u8>), String> {
        let mut h = [0u8; ENCRYPTED_HEADER_LEN];
        self.stream
            .read_exact(&mut h)
            .await
            .map_err(|e| e.to_string())?;
        let h = self.dec.decrypt_header(&mut h).map_err(|e| e.to_string())?;
        let len = u32::from_le_bytes([h[3], h[4], h[5], 0]) as usize;
        if len == 0 {
            return Ok((h, Vec::new()));
        }
        let mut p = vec![0u8; encrypted_payload_len(len)];
        self.stream
            .read_exact(&mut p)
            .await
            .map_err(|e| e.to_string())?;
        let plain = self
            .dec
            .decrypt_payload(&mut p)
            .map_err(|e| e.to_string())?;
        Ok((h, plain.to_vec()))
    }

    /// Just the header of a frame, encrypted as the transport encrypts headers: 22 bytes.
    fn encrypted_header(&mut self, msg_type: u8, len: u32) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; ENCRYPTED_HEADER_LEN];
        self.enc
            .encrypt_frame(&header(msg_type, len), &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Read frames until SetupConnection.Success.
fn expect_setup_success(h: [u8; 6], payload: &[u8]) -> Result<(), String> {
    match AnyMessage::parse(u16::from_le_bytes([h[0], h[1]]), h[2], payload) {
        Ok(AnyMessage::Common(CommonMessages::SetupConnectionSuccess(_))) => Ok(()),
        Ok(other) => Err(format!("setup answered with {}", other.name())),
        Err(e) => Err(format!("setup answer: {e}")),
    }
}

struct BigFrame {
    target: FrameTarget,
    addr: SocketAddr,
    key: AuthorityPublicKey,
    declared: u32,
    prefill: usize,
    interval: Duration,
    after_setup: bool,
}

/// Connect, (handshake, setup), and write the big frame's header and prefill; returns the
/// socket to trickle on.
async fn big_frame_start(b: &BigFrame, source: IpAddr) -> Result<TcpStream, String> {
    let stream = connect_from(Some(source), b.addr)
        .await
        .map_err(|e| format!("connect {:?}", e.kind()))?;
    let setup = |protocol| {
        AnyMessage::from(CommonMessages::SetupConnection(client::setup_connection(
            protocol, 0, b.addr,
        )))
    };
    // The message type of SetupConnection: what a peer sends first.
    const MSG_TYPE: u8 = 0;
    let (mut stream, head) = match b.target {
        FrameTarget::Pool => {
            let mut n = RawNoise::handshake(stream, b.key).await?;
            if b.after_setup {
                n.send(setup(PROTOCOL_MINING)).await?;
                let (h, p) = n.recv().await?;
                expect_setup_success(h, &p)?;
            }
            let head = n.encrypted_header(MSG_TYPE, b.declared)?;
            (n.stream, head)
        }
        FrameTarget::TemplateProvider => {
            let mut stream = stream;
            if b.after_setup {
                let f = setup(PROTOCOL_TEMPLATE_DISTRIBUTION)
                    .to_frame()
                    .map_err(|e| e.to_string())?;
                stream
                    .write_all(f.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                let mut h = [0u8; 6];
                stream.read_exact(&mut h).await.map_err(|e| e.to_string())?;
                let mut p = vec![0u8; u32::from_le_bytes([h[3], h[4], h[5], 0]) as usize];
                stream.read_exact(&mut p).await.map_err(|e| e.to_string())?;
                expect_setup_success(h, &p)?;
            }
            (stream, header(MSG_TYPE, b.declared).to_vec())
        }
    };
    stream
        .write_all(&head)
        .await
        .map_err(|e| format!("header: {e}"))?;
    let prefill = vec![0u8; b.prefill.min(b.declared as usize)];
    stream
        .write_all(&prefill)
        .await
        .map_err(|e| format!("prefill: {e}"))?;
    Ok(stream)
}

async fn big_frame_one(b: Arc<BigFrame>, source: IpAddr, until: Instant, conns: Arc<Conns>) {
    while Instant::now() < until {
        let t = Instant::now();
        let stream = match tokio::time::timeout_at(until.into(), big_frame_start(&b, source)).await
        {
            Err(_) => return,
            Ok(Err(e)) => {
                conns.error(e);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Ok(Ok(s)) => s,
        };
        conns.opened.fetch_add(1, Ordering::Relaxed);
        conns.bytes_sent.fetch_add(
            b.prefill.min(b.declared as usize) as u64 + 6,
            Ordering::Relaxed,
        );
        let (mut rd, mut wr) = stream.into_split();
        let left = (b.declared as usize).saturating_sub(b.prefill);
        let trickle = async {
            for _ in 0..left {
                tokio::time::sleep(b.interval).await;
                if wr.write_all(&[0]).await.is_err() {
                    return;
                }
                conns.bytes_sent.fetch_add(1, Ordering::Relaxed);
            }
            std::future::pending::<()>().await
        };
        let closed = tokio::select! {
            _ = drain(&mut rd) => true,
            _ = trickle => true,
            _ = tokio::time::sleep_until(until.into()) => false,
        };
        if !closed {
            return hold_forever((rd, wr), &conns).await;
        }
        conns.closed(t);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---- channel-churn --------------------------------------------------------------------------

async fn channel_churn(
    addr: SocketAddr,
    key: AuthorityPublicKey,
    until: Instant,
) -> Result<String, String> {
    let stream = connect_from(Some(attack_source(0)), addr)
        .await
        .map_err(|e| e.to_string())?;
    let conn = with_tokio::connect(
        stream,
        Security::NoiseInitiator { authority: key.0 },
        ConnectionConfig::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    client::send(
        &conn,
        CommonMessages::SetupConnection(client::setup_connection(PROTOCOL_MINING, 0, addr)),
    )
    .await?;
    let t0 = Instant::now();
    let (mut opened, mut refused, mut other) = (0u64, 0u64, 0u64);
    let mut refusal = None;
    let mut end = "time up";
    let mut request_id = 0u32;
    'churn: while Instant::now() < until {
        request_id = request_id.wrapping_add(1);
        if client::send(
            &conn,
            client::open_channel_message(ChannelKind::Extended, request_id, "churn"),
        )
        .await
        .is_err()
        {
            end = "connection closed by the server";
            break;
        }
        loop {
            let f = tokio::select! {
                f = conn.receiver.recv() => f,
                _ = tokio::time::sleep_until(until.into()) => break 'churn,
            };
            let Ok(f) = f else {
                end = "connection closed by the server";
                break 'churn;
            };
            match AnyMessage::parse_frame(&f) {
                Ok(AnyMessage::Mining(Mining::OpenExtendedMiningChannelSuccess(o)))
                    if o.request_id == request_id =>
                {
                    opened += 1;
                    let close = Mining::CloseChannel(CloseChannel {
                        channel_id: o.channel_id,
                        reason_code: client::str0255("churn"),
                    });
                    if client::send(&conn, close).await.is_err() {
                        end = "connection closed by the server";
                        break 'churn;
                    }
                    break;
                }
                Ok(AnyMessage::Mining(Mining::OpenMiningChannelError(e)))
                    if e.request_id == request_id =>
                {
                    refused += 1;
                    refusal.get_or_insert(e.error_code.to_string_lossy().into_owned());
                    break;
                }
                _ => other += 1,
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut s = format!(
        "{opened} channels opened and closed, {refused} refused, in {secs:.1} s ({:.0} cycles/s), {other} other messages; {end}",
        (opened + refused) as f64 / secs.max(1e-3)
    );
    if let Some(r) = refusal {
        s.push_str(&format!(" (first refusal: {r})"));
    }
    Ok(s)
}

// ---- share-replay ---------------------------------------------------------------------------

struct Replayer {
    c: client::Client,
    /// The latest job on the current tip, and the tip's number (counting SetNewPrevHash).
    tip: u64,
    credited: u64,
    answers: Vec<String>,
}

impl Replayer {
    /// Apply one message from the pool; returns true when it was a new active job or tip.
    fn on_message(&mut self, m: Mining<'_>) -> bool {
        let w = match m {
            Mining::NewExtendedMiningJob(j) => {
                self.c.ch.on_new_extended_mining_job(&j).ok().flatten()
            }
            Mining::SetNewPrevHash(p) => {
                self.tip += 1;
                self.c.ch.on_set_new_prev_hash(&p)
            }
            Mining::SetTarget(t) => {
                self.c.ch.on_set_target(&t);
                None
            }
            _ => None,
        };
        match w {
            Some(w) => {
                self.c.work = w;
                true
            }
            None => false,
        }
    }

    /// Submit the share (fixed nonce, ntime, version and extranonce) on job `w` and wait for
    /// its answer; returns the header it stands for and the answer.
    async fn submit(&mut self, w: &Work, label: &str) -> Result<[u8; 80], String> {
        let en = vec![0u8; self.c.ch.extranonce_size];
        let (nonce, ntime, version) = (7, w.min_ntime, w.version);
        let root = w.merkle_root(&en).map_err(|e| e.to_string())?;
        let header = w.header(&root, ntime, nonce, version);
        let s = self
            .c
            .ch
            .submit_extended(w, nonce, ntime, version, &en)
            .ok_or("extranonce does not fit")?;
        let seq = s.sequence_number;
        client::send(&self.c.conn, Mining::SubmitSharesExtended(s)).await?;
        loop {
            let f = tokio::time::timeout(Duration::from_secs(5), self.c.conn.receiver.recv())
                .await
                .map_err(|_| format!("{label}: no answer within 5 s"))?
                .map_err(|_| "connection closed by the server".to_string())?;
            let Ok(AnyMessage::Mining(m)) = AnyMessage::parse_frame(&f) else {
                continue;
            };
            match m {
                Mining::SubmitSharesSuccess(a) if a.last_sequence_number >= seq => {
                    self.credited += a.new_submits_accepted_count as u64;
                    self.answers.push(format!("{label}: credited"));
                    return Ok(header);
                }
                Mining::SubmitSharesError(e) if e.sequence_number == seq => {
                    self.answers
                        .push(format!("{label}: {}", e.error_code.to_string_lossy()));
                    return Ok(header);
                }
                other => {
                    self.on_message(other);
                }
            }
        }
    }

    /// Wait for the next active job on the current tip (`same_tip`) or for the next tip.
    async fn next_work(&mut self, same_tip: bool, until: Instant) -> Result<Work, String> {
        let (job, tip) = (self.c.work.job_id, self.tip);
        loop {
            let f = tokio::select! {
                f = self.c.conn.receiver.recv() => f.map_err(|_| "connection closed by the server".to_string())?,
                _ = tokio::time::sleep_until(until.into()) => return Err("time up waiting for a new job".into()),
            };
            let Ok(AnyMessage::Mining(m)) = AnyMessage::parse_frame(&f) else {
                continue;
            };
            if !self.on_message(m) {
                continue;
            }
            let w = &self.c.work;
            if same_tip && self.tip != tip {
                return Err("a new tip came before a refreshed template".into());
            }
            if (same_tip && w.job_id != job) || (!same_tip && self.tip != tip) {
                return Ok(w.clone());
            }
        }
    }
}

async fn share_replay(
    addr: SocketAddr,
    key: AuthorityPublicKey,
    blocks: bool,
    until: Instant,
) -> Result<String, String> {
    let (c, _, _) = client::open(addr, key, ChannelKind::Extended, Some(attack_source(0))).await?;
    let mut r = Replayer {
        c,
        tip: 0,
        credited: 0,
        answers: Vec::new(),
    };
    let w1 = r.c.work.clone();
    let h1 = r.submit(&w1, "job A").await?;
    r.submit(&w1, "job A again").await?;
    let w2 = r.next_work(true, until).await?;
    let h2 = r.submit(&w2, "refreshed job B").await?;
    r.submit(&w1, "job A after the refresh").await?;
    r.submit(&w2, "job B again").await?;
    let mut distinct = 1 + u64::from(h2 != h1);
    if blocks {
        let w3 = r.next_work(false, until).await?;
        r.submit(&w1, "job A after a new block").await?;
        r.submit(&w2, "job B after a new block").await?;
        let h3 = r.submit(&w3, "new-tip job C").await?;
        distinct += u64::from(h3 != h1 && h3 != h2);
    }
    let verdict = if r.credited == distinct {
        "as it must"
    } else {
        "WRONG"
    };
    Ok(format!(
        "{} submits of {distinct} distinct header(s) ({}), {} credited: {verdict} [{}]",
        r.answers.len(),
        if h1 == h2 {
            "the refreshed job has the same header"
        } else {
            "the refreshed job changed the merkle root"
        },
        r.credited,
        r.answers.join("; ")
    ))
}

// ---- main -----------------------------------------------------------------------------------

fn sources_list(n: usize) -> Vec<IpAddr> {
    (0..n.max(1)).map(attack_source).collect()
}

async fn run(a: Args) -> Result<(), String> {
    let attack = a.attack.clone();
    let name = attack.name();
    let duration = Duration::from_secs(a.duration.unwrap_or(attack.default_duration()));
    let opts = Opts {
        probe_every: Duration::from_millis(a.probe_every_ms.max(10)),
        repeat: a.repeat.max(1),
    };
    let (log_dir, temp_logs) = match &a.log_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("sv2-hostile-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let mut stack_cfg = StackConfig {
        pool_spm: "6".into(),
        min_share_difficulty: None,
        max_connections: None,
        template_interval: 30,
        transactions: 5,
        block_interval: 0,
        log_dir: Some(log_dir.clone()),
        jds: false,
    };
    if let Attack::ShareReplay {
        transactions,
        template_interval,
        block_interval,
    } = &attack
    {
        // Every share meets the channel's target, none the network's.
        stack_cfg.pool_spm = "1e12".into();
        stack_cfg.min_share_difficulty = Some(0.0);
        stack_cfg.template_interval = *template_interval;
        stack_cfg.transactions = *transactions;
        stack_cfg.block_interval = *block_interval;
    }
    let stack = spawn_stack(&stack_cfg)?;
    let key: AuthorityPublicKey = SPAWN_POOL_KEY.parse().map_err(|e| format!("{e}"))?;
    let mut spawned: Spawned = stack.spawned;
    let pool = Attacked {
        role: "pool",
        pid: stack.pool_pid,
        log: log_dir.join("pool.log"),
    };
    let pool_probe = Probe::Pool(stack.pool, key);
    let translator = |spawned: &mut Spawned| -> Result<(Attacked, SocketAddr), String> {
        let log = log_dir.join("translator.log");
        let (child, addr) = spawn_translator(
            stack.pool,
            &TranslatorSpawn {
                min_individual_miner_hashrate: 1e12,
                shares_per_minute: 6.0,
                max_connections: None,
                log: Some(log.clone()),
            },
        )?;
        let pid = child.id();
        spawned.0.push(child);
        Ok((
            Attacked {
                role: "translator",
                pid,
                log,
            },
            addr,
        ))
    };
    let until = || Instant::now() + duration;
    let result = match attack {
        Attack::HandshakeFlood {
            connections,
            sources,
            mode,
            reconnect_delay_ms,
            no_reconnect,
        } => {
            let params = format!(
                "connections {connections} from {} source address(es), mode {mode:?}, {}, {} s",
                sources.max(1),
                if no_reconnect {
                    "no reconnect".to_string()
                } else {
                    format!("reconnect after {reconnect_delay_ms} ms")
                },
                duration.as_secs()
            );
            let addr = stack.pool;
            let reconnect = (!no_reconnect).then(|| Duration::from_millis(reconnect_delay_ms));
            let srcs = sources_list(sources);
            measure(name, &params, &pool, pool_probe, &opts, |_| {
                let srcs = srcs.clone();
                async move {
                    let conns = Arc::new(Conns::default());
                    let until = until();
                    let mut hold = JoinSet::new();
                    for i in 0..connections {
                        let src = srcs[i % srcs.len()];
                        hold.spawn(flood_one(
                            i,
                            addr,
                            key,
                            src,
                            mode,
                            reconnect,
                            until,
                            conns.clone(),
                        ));
                    }
                    tokio::time::sleep_until(until.into()).await;
                    // Let tasks that were closing at the deadline settle their counts.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(Outcome {
                        seen: conns.summary(),
                        hold,
                    })
                }
            })
            .await
        }
        Attack::Slowloris {
            connections,
            sources,
            interval_ms,
            after_setup,
        } => {
            let (target, addr) = translator(&mut spawned)?;
            let probe = Probe::Translator(addr);
            let params = format!(
                "connections {connections} from {} source address(es), one byte every {interval_ms} ms, {}, {} s",
                sources.max(1),
                if after_setup { "after subscribe and authorize" } else { "during setup" },
                duration.as_secs()
            );
            let srcs = sources_list(sources);
            let interval = Duration::from_millis(interval_ms.max(1));
            measure(name, &params, &target, probe, &opts, |_| {
                let srcs = srcs.clone();
                async move {
                    let conns = Arc::new(Conns::default());
                    let until = until();
                    let mut hold = JoinSet::new();
                    for i in 0..connections {
                        let src = srcs[i % srcs.len()];
                        hold.spawn(slowloris_one(
                            i,
                            addr,
                            src,
                            interval,
                            after_setup,
                            until,
                            conns.clone(),
                        ));
                    }
                    tokio::time::sleep_until(until.into()).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(Outcome {
                        seen: conns.summary(),
                        hold,
                    })
                }
            })
            .await
        }
        Attack::WorkerNames {
            workers,
            rounds,
            window,
        } => {
            let (target, addr) = translator(&mut spawned)?;
            let probe = Probe::Translator(addr);
            let params = format!(
                "{workers} distinct worker names on one connection, {rounds} round(s) (a new connection each), window {window}"
            );
            let pid = target.pid;
            measure(name, &params, &target, probe, &opts, |rep| async move {
                let until = until();
                let mut seen = Vec::new();
                for round in rep * rounds.max(1)..(rep + 1) * rounds.max(1) {
                    let s = worker_names_round(addr, round, workers, window.max(2), until).await?;
                    // Memory with this round's connection closed (the next has not begun).
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    seen.push(format!(
                        "{s}; translator RSS {} kB after it closed",
                        proc_rss_kb(pid).unwrap_or(0)
                    ));
                    if Instant::now() >= until {
                        break;
                    }
                }
                Ok(Outcome {
                    seen: seen.join(" / "),
                    hold: JoinSet::new(),
                })
            })
            .await
        }
        Attack::BigFrames {
            target,
            connections,
            sources,
            declared,
            prefill,
            interval_ms,
            after_setup,
        } => {
            let (attacked, probe, addr) = match target {
                FrameTarget::Pool => (pool, pool_probe, stack.pool),
                FrameTarget::TemplateProvider => (
                    Attacked {
                        role: "template-provider",
                        pid: stack.template_provider_pid,
                        log: log_dir.join("template-provider.log"),
                    },
                    Probe::TemplateProvider(stack.template_provider),
                    stack.template_provider,
                ),
            };
            let declared = declared.min(0xff_ffff);
            let params = format!(
                "connections {connections} from {} source address(es), {} declared payload {declared} B, {prefill} B at once then one byte every {interval_ms} ms, {} s",
                sources.max(1),
                if after_setup { "after SetupConnection," } else { "first frame," },
                duration.as_secs()
            );
            let b = Arc::new(BigFrame {
                target,
                addr,
                key,
                declared,
                prefill,
                interval: Duration::from_millis(interval_ms.max(1)),
                after_setup,
            });
            let srcs = sources_list(sources);
            measure(name, &params, &attacked, probe, &opts, |_| {
                let (srcs, b) = (srcs.clone(), b.clone());
                async move {
                    let conns = Arc::new(Conns::default());
                    let until = until();
                    let mut hold = JoinSet::new();
                    for i in 0..connections {
                        let src = srcs[i % srcs.len()];
                        hold.spawn(big_frame_one(b.clone(), src, until, conns.clone()));
                    }
                    tokio::time::sleep_until(until.into()).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(Outcome {
                        seen: conns.summary(),
                        hold,
                    })
                }
            })
            .await
        }
        Attack::ChannelChurn => {
            let params = format!("one connection, {} s", duration.as_secs());
            let addr = stack.pool;
            measure(name, &params, &pool, pool_probe, &opts, |_| async move {
                Ok(Outcome {
                    seen: channel_churn(addr, key, until()).await?,
                    hold: JoinSet::new(),
                })
            })
            .await
        }
        Attack::ShareReplay {
            transactions,
            template_interval,
            block_interval,
        } => {
            let params = format!(
                "template refresh every {template_interval} s with {transactions} new transactions{}",
                if block_interval > 0 {
                    format!(", a block every {block_interval} s")
                } else {
                    String::new()
                }
            );
            let addr = stack.pool;
            measure(name, &params, &pool, pool_probe, &opts, |_| async move {
                Ok(Outcome {
                    seen: share_replay(addr, key, block_interval > 0, until()).await?,
                    hold: JoinSet::new(),
                })
            })
            .await
        }
    };
    drop(spawned);
    if temp_logs {
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    result
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("sv2-hostile: {e}");
        std::process::exit(1);
    }
}
