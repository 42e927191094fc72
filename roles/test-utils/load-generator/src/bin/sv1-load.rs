//! `sv1-load`: a load generator for the translator.
//!
//! It opens N Stratum V1 connections (subscribe and authorize, like firmware without
//! mining.configure) and submits shares at a set total rate; it reports the shares answered
//! per second, answer latency, and the translator's CPU per share and memory per miner (idle,
//! and at the end of the run, which shows whether an overload is queued without bound).
//!
//! With `--spawn` it starts a template provider, a pool and a `translator` from its own
//! directory, with difficulties that make every random share valid at the translator; with
//! `--forward` every share also meets the pool's target and goes upstream.

use clap::Parser;
use load_generator::sv1::{open, Miner};
use load_generator::{
    proc_cpu_ticks, proc_rss_kb, spawn_tp_and_pool, spawn_translator, spread, Spawned, Totals,
    TranslatorSpawn,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sv1_api::client::ClientEvent;
use sv1_api::Submit;
use tokio::io::AsyncWriteExt;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Load generator for the Stratum V1 side of the translator"
)]
struct Args {
    /// Start a template provider, a pool and a translator (binaries next to this one).
    #[arg(long)]
    spawn: bool,
    /// With --spawn: every share also meets the pool's target and is forwarded.
    #[arg(long)]
    forward: bool,
    /// Translator address (ignored with --spawn).
    #[arg(long, default_value = "127.0.0.1:34255")]
    translator: SocketAddr,
    /// PID of the translator, to read its CPU and memory (automatic with --spawn).
    #[arg(long)]
    translator_pid: Option<u32>,
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Total submits per second over all connections.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Seconds of submitting.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

async fn drive(mut m: Miner, i: usize, per_sec: f64, until: Instant, totals: Arc<Totals>) {
    let interval = Duration::from_secs_f64(1.0 / per_sec.max(1e-3));
    let mut next = Instant::now() + interval.mul_f64(spread(i as u32));
    let mut pending: VecDeque<Instant> = VecDeque::new();
    let mut lat = Vec::new();
    let worker = format!("load.{i}");
    let mut nonce = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()), if Instant::now() < until => {
                next += interval;
                let Some(job) = m.client.current_job() else { continue };
                let Some((_, size)) = m.client.extranonce() else { continue };
                nonce = nonce.wrapping_add(1);
                let line = {
                    let s = Submit {
                        worker: worker.clone(),
                        job_id: job.job_id.clone(),
                        extranonce2: vec![0; size],
                        ntime: job.ntime,
                        nonce,
                        version_bits: None,
                    };
                    m.client.submit(s)
                };
                pending.push_back(Instant::now());
                totals.sent.fetch_add(1, Ordering::Relaxed);
                if m.wr.write_all(line.as_bytes()).await.is_err() { break }
            }
            r = m.read() => {
                let Ok(events) = r else { break };
                for e in events {
                    if let ClientEvent::ShareResult { accepted, .. } = e {
                        if accepted {
                            totals.accepted.fetch_add(1, Ordering::Relaxed);
                        } else {
                            totals.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(t) = pending.pop_front() {
                            lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        }
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)), if Instant::now() >= until => break,
        }
        if Instant::now() >= until + Duration::from_secs(2) {
            break;
        }
    }
    totals.add_latencies(lat);
    tokio::time::sleep_until((until + Duration::from_secs(3)).into()).await;
}

fn spawn(forward: bool) -> Result<(Spawned, SocketAddr, u32), String> {
    let (mut spawned, pool_addr, _) = spawn_tp_and_pool(if forward { "1e12" } else { "6" })?;
    // Difficulty low enough that every random share is valid at the translator.
    let (t, addr) = spawn_translator(
        pool_addr,
        &TranslatorSpawn {
            min_individual_miner_hashrate: 1.0,
            shares_per_minute: 1e6,
            max_connections: Some(1_000_000),
            log: None,
        },
    )?;
    let pid = t.id();
    spawned.0.push(t);
    Ok((spawned, addr, pid))
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let (spawned, addr, pid) = if a.spawn {
        match spawn(a.forward) {
            Ok((s, addr, pid)) => (Some(s), addr, Some(pid)),
            Err(e) => {
                eprintln!("sv1-load: {e}");
                std::process::exit(1);
            }
        }
    } else {
        (None, a.translator, a.translator_pid)
    };
    let start = Instant::now();
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            open(addr, &format!("load.{}", usize::MAX), None),
        )
        .await
        {
            Ok(Ok(_)) => break,
            _ if start.elapsed() > Duration::from_secs(30) => {
                eprintln!("sv1-load: translator not ready");
                std::process::exit(1);
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = pid.and_then(proc_rss_kb);
    println!("opening {} Sv1 connections to {addr}", a.connections);
    let t_open = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(a.concurrency.max(1)));
    let mut opens = tokio::task::JoinSet::new();
    for i in 0..a.connections {
        let sem = sem.clone();
        opens.spawn(async move {
            let _p = sem.acquire().await;
            open(addr, &format!("load.{i}"), None).await.map(|m| (i, m))
        });
    }
    let mut miners = Vec::new();
    while let Some(r) = opens.join_next().await {
        match r {
            Ok(Ok(m)) => miners.push(m),
            Ok(Err(e)) => eprintln!("connection failed: {e}"),
            Err(e) => eprintln!("task: {e}"),
        }
    }
    println!(
        "{} miners subscribed, authorized and given a job in {:.2}s",
        miners.len(),
        t_open.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = pid.and_then(proc_rss_kb);
    if let (Some(a0), Some(a1)) = (rss0, rss1) {
        println!(
            "translator memory: {a0} kB before, {a1} kB with {} idle miners: {:.1} kB per miner",
            miners.len(),
            (a1 as f64 - a0 as f64) / miners.len().max(1) as f64
        );
    }
    let totals = Arc::new(Totals::default());
    let per = a.rate as f64 / miners.len().max(1) as f64;
    let until = Instant::now() + Duration::from_secs(a.duration);
    let cpu0 = pid.and_then(proc_cpu_ticks);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, m) in miners {
        tasks.spawn(drive(m, i, per, until, totals.clone()));
    }
    tokio::time::sleep_until(until.into()).await;
    let answered_at_end = totals.answered();
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(proc_cpu_ticks);
    let rss2 = pid.and_then(proc_rss_kb);
    while tasks.join_next().await.is_some() {}
    totals.report("translator", a.rate, answered_at_end, wall, cpu0.zip(cpu1));
    if let Some(r) = rss2 {
        println!("translator memory at the end of the run: {r} kB");
    }
    drop(spawned);
}
