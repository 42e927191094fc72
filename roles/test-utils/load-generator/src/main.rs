//! `sv2-load`: a load generator for Sv2 pools.
//!
//! It opens N noise-encrypted connections, one channel each, and submits shares at a set
//! total rate; it reports the shares per second the pool answered, answer latency, the time
//! to set up a connection, and (for a pool it started itself, or `--pool-pid`) the pool's CPU
//! time per share and memory per connection, read from /proc.
//!
//! With `--spawn` it starts a `template-provider` and a `pool` from the directory of its own
//! executable, with settings that make every share valid (no vardiff pressure, block target
//! out of reach), so what is measured is the pool's cost of validating and answering.
//!
//! With `--spawn --proxy` a `mining-proxy` runs in front of that pool and is what the clients
//! connect to and what is measured. Its downstream targets accept every share; `--forward`
//! makes the pool's target accept every share too, so every share also goes upstream (the
//! proxy's worst case); without it, shares stay at the proxy (its usual case).

use clap::Parser;
use load_generator::sv2::{open, ChannelKind as Channel, Client};
use load_generator::{
    free_addr, pct, proc_cpu_ticks, proc_rss_kb, spawn_tp_and_pool, spawn_with_config, spread,
    Spawned, Totals, SPAWN_POOL_KEY,
};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::parsers::{AnyMessage, Mining};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(version, about = "Load generator for Stratum V2 pools")]
struct Args {
    /// Start a template provider and a pool (binaries next to this one) and measure them.
    #[arg(long)]
    spawn: bool,
    /// Pool address (ignored with --spawn).
    #[arg(long, default_value = "127.0.0.1:34254")]
    pool: SocketAddr,
    /// Pool authority public key (ignored with --spawn).
    #[arg(
        long,
        default_value = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
    )]
    authority_public_key: AuthorityPublicKey,
    /// PID of the pool, to read its CPU and memory (automatic with --spawn).
    #[arg(long)]
    pool_pid: Option<u32>,
    /// Connections (one channel each).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Total shares per second over all connections.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Seconds of submitting.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, value_enum, default_value = "standard")]
    channel: Channel,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// With --spawn: put a mining-proxy in front of the pool and measure the proxy.
    #[arg(long)]
    proxy: bool,
    /// With --proxy: every share also meets the upstream target and is forwarded.
    #[arg(long)]
    forward: bool,
    /// With --spawn: put a jd-client in front of the pool (which runs its JDS on the template
    /// provider's RPC) and measure the jd-client.
    #[arg(long, conflicts_with = "proxy")]
    jdc: bool,
}

const SPAWN_PROXY_KEY: &str = "9cEPtAX1LMxAUDUC5TAAwaPB5D7nipxiwMyzwMHUj2cmqmHUCx4";
/// The jd-client's default (public, development) authority key.
const SPAWN_JDC_KEY: &str = "9cDwWSW3k6XwifmY1gLC25aV9RGLMSmR8AF9N7uxK3hwZYfTZWd";
const SPAWN_JDC_SECRET: &str = "21pXJ4N3GxEFYWvYMRVuSrUdokN91ccy8rXdVdLFVQUddJQ2LC";

/// A template provider with its RPC, a pool with its JDS, and a jd-client in front (full
/// template mode; its vardiff lets every share through, the pool's none of them).
fn spawn_jdc() -> Result<(Spawned, SocketAddr, AuthorityPublicKey, u32), String> {
    let stack = load_generator::spawn_stack(&load_generator::StackConfig {
        pool_spm: "6".into(),
        jds: true,
        ..load_generator::StackConfig::default()
    })?;
    let mut spawned = stack.spawned;
    let jds = stack.jds.ok_or("the pool's JDS did not start")?;
    let jdc_addr = free_addr()?;
    let doc = format!(
        "listening_address = \"{jdc_addr}\"\nauthority_secret_key = \"{SPAWN_JDC_SECRET}\"\n\
         coinbase_reward_script = \"raw(51)\"\nshares_per_minute = 1e12\nmode = \"FULLTEMPLATE\"\n\
         [[upstreams]]\nauthority_pubkey = \"{SPAWN_POOL_KEY}\"\npool_address = \"{}\"\npool_port = {}\n\
         jds_address = \"{}\"\njds_port = {}\nuser_identity = \"load\"\n\
         [template_provider_type.Sv2Tp]\naddress = \"{}\"\n[limits]\nmax_connections_per_ip = 0\n",
        stack.pool.ip(),
        stack.pool.port(),
        jds.ip(),
        jds.port(),
        stack.template_provider,
    );
    let jdc = spawn_with_config("jd-client", &doc)?;
    let pid = jdc.id();
    spawned.0.push(jdc);
    let key = SPAWN_JDC_KEY
        .parse::<AuthorityPublicKey>()
        .map_err(|e| e.to_string())?;
    Ok((spawned, jdc_addr, key, pid))
}

/// The roles started, the address and key to connect to, and the PID to measure.
fn spawn_roles(
    proxy: bool,
    forward: bool,
) -> Result<(Spawned, SocketAddr, AuthorityPublicKey, u32), String> {
    // Behind a proxy that does not forward, a normal target: random nonces never meet it.
    let pool_spm = if proxy && !forward { "6" } else { "1e12" };
    let (mut spawned, pool_addr, pid) = spawn_tp_and_pool(pool_spm)?;
    let key = |k: &str| k.parse::<AuthorityPublicKey>().map_err(|e| e.to_string());
    if !proxy {
        return Ok((spawned, pool_addr, key(SPAWN_POOL_KEY)?, pid));
    }
    let proxy_addr = free_addr()?;
    let doc = format!(
        "listen_address = \"{proxy_addr}\"\nauthority_secret_key = \"23iLJXBSJ8cmw19feDK4r1hKjWJ51vrDB1oJZoXDQLTEyhJGyq\"\n\
         shares_per_minute = 1e12\nshare_batch_size = 10\nmax_connections = 1000000\n\
         [[upstreams]]\naddress = \"{}\"\nport = {}\nauthority_pubkey = \"{SPAWN_POOL_KEY}\"\n",
        pool_addr.ip(),
        pool_addr.port()
    );
    let proxy = spawn_with_config("mining-proxy", &doc)?;
    let pid = proxy.id();
    spawned.0.push(proxy);
    Ok((spawned, proxy_addr, key(SPAWN_PROXY_KEY)?, pid))
}

/// Submit `per_sec` shares per second until `until`, and read the answers.
async fn drive(mut c: Client, per_sec: f64, until: Instant, totals: Arc<Totals>) {
    let interval = Duration::from_secs_f64(1.0 / per_sec.max(1e-3));
    let mut next = Instant::now() + interval.mul_f64(spread(c.ch.channel_id));
    let mut pending: VecDeque<(u32, Instant)> = VecDeque::new();
    let mut nonce = 0u32;
    let en = vec![0u8; c.ch.extranonce_size];
    let mut lat = Vec::new();
    loop {
        let sleep = tokio::time::sleep_until(next.into());
        tokio::select! {
            _ = sleep, if Instant::now() < until => {
                next += interval;
                nonce = nonce.wrapping_add(1);
                let w = &c.work;
                let m = if c.ch.extended {
                    match c.ch.submit_extended(w, nonce, w.min_ntime, w.version, &en) {
                        Some(s) => Mining::SubmitSharesExtended(s),
                        None => return,
                    }
                } else {
                    let s = c.ch.submit_standard(w, nonce, w.min_ntime, w.version);
                    Mining::SubmitSharesStandard(s)
                };
                let seq = match &m { Mining::SubmitSharesExtended(s) => s.sequence_number, Mining::SubmitSharesStandard(s) => s.sequence_number, _ => 0 };
                let Ok(f) = AnyMessage::Mining(m).to_frame() else { return };
                pending.push_back((seq, Instant::now()));
                totals.sent.fetch_add(1, Ordering::Relaxed);
                if c.conn.sender.send(f).await.is_err() { break; }
            }
            f = c.conn.receiver.recv() => {
                let Ok(f) = f else { break };
                let Ok(AnyMessage::Mining(m)) = AnyMessage::parse_frame(&f) else { continue };
                match m {
                    Mining::SubmitSharesSuccess(s) => {
                        totals.accepted.fetch_add(s.new_submits_accepted_count as u64, Ordering::Relaxed);
                        while pending.front().is_some_and(|(q, _)| *q <= s.last_sequence_number) {
                            let (_, t) = pending.pop_front().unwrap_or((0, Instant::now()));
                            lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        }
                    }
                    Mining::SubmitSharesError(e) => {
                        totals.rejected.fetch_add(1, Ordering::Relaxed);
                        pending.retain(|(q, _)| *q != e.sequence_number);
                    }
                    Mining::SetNewPrevHash(p) => { if let Some(w) = c.ch.on_set_new_prev_hash(&p) { c.work = w; } }
                    Mining::NewMiningJob(j) => { if let Some(w) = c.ch.on_new_mining_job(&j) { c.work = w; } }
                    Mining::NewExtendedMiningJob(j) => { if let Ok(Some(w)) = c.ch.on_new_extended_mining_job(&j) { c.work = w; } }
                    _ => {}
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)), if Instant::now() >= until => break,
        }
        if Instant::now() >= until + Duration::from_secs(2) {
            break;
        }
    }
    totals.add_latencies(lat);
    // Keep the connection until every client is done, so the pool sees no churn.
    tokio::time::sleep_until((until + Duration::from_secs(3)).into()).await;
    drop(c);
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let (spawned, addr, key, pid) = if a.spawn {
        let spawned = if a.jdc {
            spawn_jdc()
        } else {
            spawn_roles(a.proxy, a.forward)
        };
        match spawned {
            Ok((s, addr, key, pid)) => (Some(s), addr, key, Some(pid)),
            Err(e) => {
                eprintln!("sv2-load: {e}");
                std::process::exit(1);
            }
        }
    } else {
        (None, a.pool, a.authority_public_key, a.pool_pid)
    };
    // Wait for the pool to listen and to have a job.
    let start = Instant::now();
    loop {
        match open(addr, key, a.channel, None).await {
            Ok(_) => break,
            Err(e) if start.elapsed() > Duration::from_secs(20) => {
                eprintln!("sv2-load: pool not ready: {e}");
                std::process::exit(1);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = pid.and_then(proc_rss_kb);
    let measured = match (a.proxy, a.jdc) {
        (true, _) => "proxy",
        (_, true) => "jd-client",
        _ => "pool",
    };
    println!(
        "opening {} {:?} connections to {addr}",
        a.connections, a.channel
    );
    let t_open = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(a.concurrency.max(1)));
    let mut opens = tokio::task::JoinSet::new();
    for _ in 0..a.connections {
        let sem = sem.clone();
        let kind = a.channel;
        opens.spawn(async move {
            let _p = sem.acquire().await;
            open(addr, key, kind, None).await
        });
    }
    let mut clients = Vec::new();
    let (mut hs, mut setup) = (Vec::new(), Vec::new());
    while let Some(r) = opens.join_next().await {
        match r {
            Ok(Ok((c, h, s))) => {
                hs.push(h.as_micros() as u32);
                setup.push(s.as_micros() as u32);
                clients.push(c);
            }
            Ok(Err(e)) => eprintln!("connection failed: {e}"),
            Err(e) => eprintln!("task: {e}"),
        }
    }
    println!(
        "{} connections open in {:.2}s; TCP+noise handshake p50 {:.2} ms p99 {:.2} ms; to first job p50 {:.2} ms p99 {:.2} ms",
        clients.len(),
        t_open.elapsed().as_secs_f64(),
        pct(&mut hs, 0.5),
        pct(&mut hs, 0.99),
        pct(&mut setup, 0.5),
        pct(&mut setup, 0.99)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = pid.and_then(proc_rss_kb);
    if let (Some(a0), Some(a1)) = (rss0, rss1) {
        println!(
            "{measured} memory: {} kB before, {} kB with {} idle connections: {:.1} kB per connection",
            a0,
            a1,
            clients.len(),
            (a1 as f64 - a0 as f64) / clients.len().max(1) as f64
        );
    }
    let totals = Arc::new(Totals::default());
    let per = a.rate as f64 / clients.len().max(1) as f64;
    let until = Instant::now() + Duration::from_secs(a.duration);
    let cpu0 = pid.and_then(proc_cpu_ticks);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in clients {
        tasks.spawn(drive(c, per, until, totals.clone()));
    }
    tokio::time::sleep_until(until.into()).await;
    let answered_at_end = totals.answered();
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(proc_cpu_ticks);
    while tasks.join_next().await.is_some() {}
    totals.report(measured, a.rate, answered_at_end, wall, cpu0.zip(cpu1));
    drop(spawned);
}
