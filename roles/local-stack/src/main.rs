//! `local-stack`: a template provider with a simulated chain, the pool, a mining proxy, and
//! CPU mining devices (some on the pool, some behind the proxy), all on loopback over
//! encrypted Sv2 connections, with a live summary.

use clap::Parser;
use mining_device::sv1::Sv1Device;
use mining_device::{ChannelKind, Device, DeviceConfig};
use mining_proxy_sv2::config::ProxyConfig;
use mining_proxy_sv2::MiningProxy;
use noise_sv2::AuthoritySecretKey;
use pool_sv2::config::PoolConfig;
use pool_sv2::Pool;
use roles_utils::upstream::UpstreamConfig;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use template_provider::{TemplateProvider, TpEvent};
use translator_sv2::config::TranslatorConfig;
use translator_sv2::Translator;

/// Development key of the local template provider (public: never use it elsewhere).
const TP_SECRET_KEY: &str = "2ZeiGcThzCtWLmFbZZNTnPyPkyKsAhLqEmeuY5wnHv2fgUHuDg";

/// Run a whole Stratum V2 mining stack on this machine and watch blocks being found.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    /// Mining devices on the pool; they alternate between standard and extended channels.
    #[arg(long, default_value_t = 2)]
    devices: usize,
    /// Mining devices behind the mining proxy; they alternate between grouped standard and
    /// extended channels.
    #[arg(long, default_value_t = 2)]
    proxied_devices: usize,
    /// Stratum V1 miners behind the translator.
    #[arg(long, default_value_t = 1)]
    sv1_miners: usize,
    /// Hashing threads per device.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Block difficulty of the simulated chain (1 = 2^32 hashes per block).
    #[arg(long, default_value_t = 0.02)]
    block_difficulty: f64,
    /// Seconds between the summary lines.
    #[arg(long, default_value_t = 2)]
    interval: u64,
}

#[tokio::main]
async fn main() {
    roles_utils::init_tracing("warn");
    let a = Args::parse();
    if let Err(e) = run(a).await {
        eprintln!("local-stack: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let tp_key = AuthoritySecretKey::from_str(TP_SECRET_KEY)?;
    let tp = TemplateProvider::start(template_provider::Config {
        listen_address: "127.0.0.1:0".parse()?,
        authority_secret_key: Some(tp_key),
        block_difficulty: a.block_difficulty,
        template_interval: Duration::from_secs(2),
        ..template_provider::Config::default()
    })
    .await?;
    let mut cfg = PoolConfig::default_config();
    cfg.listen_address = "127.0.0.1:0".parse()?;
    cfg.tp_address = tp.local_addr();
    cfg.tp_authority_public_key = Some(tp_key.public_key().to_base58());
    // Quick feedback on a laptop: a share every few seconds per device.
    cfg.shares_per_minute = 20.0;
    let pool_key = cfg.authority()?.public_key();
    let pool = Pool::start(cfg).await?;
    let mut pcfg = ProxyConfig::default_config();
    pcfg.listen_address = "127.0.0.1:0".parse()?;
    pcfg.shares_per_minute = 20.0;
    pcfg.upstreams = vec![UpstreamConfig {
        address: pool.local_addr().ip().to_string(),
        port: pool.local_addr().port(),
        authority_pubkey: Some(pool_key.to_base58()),
        priority: 0,
    }];
    let proxy_key = pcfg.authority()?.public_key();
    let proxy = MiningProxy::start(pcfg).await?;
    let mut tcfg = TranslatorConfig::default_config();
    tcfg.downstream_address = "127.0.0.1".into();
    tcfg.downstream_port = 0;
    tcfg.metrics_address = Some("127.0.0.1:0".parse()?);
    tcfg.downstream_difficulty_config
        .min_individual_miner_hashrate = 1e6;
    tcfg.downstream_difficulty_config.shares_per_minute = 20.0;
    tcfg.upstreams[0].address = pool.local_addr().ip().to_string();
    tcfg.upstreams[0].port = pool.local_addr().port();
    let translator = Translator::start(tcfg).await?;
    println!(
        "template provider {} (noise) -> pool {} (noise, authority {}) -> {} devices",
        tp.local_addr(),
        pool.local_addr(),
        pool_key.to_base58(),
        a.devices
    );
    println!(
        "                                  pool -> mining proxy {} (noise, authority {}) -> {} devices",
        proxy.local_addr(),
        proxy_key.to_base58(),
        a.proxied_devices
    );
    println!(
        "                                  pool -> translator {} (Stratum V1, metrics http://{}/metrics) -> {} Sv1 miners",
        translator.local_addr(),
        translator.metrics_addr().map_or("-".into(), |m| m.to_string()),
        a.sv1_miners
    );
    let start = |addr, key, kind, name: String| {
        let mut c = DeviceConfig::new(addr, Some(key), kind);
        c.threads = a.threads;
        c.user_identity = name;
        Device::start(c)
    };
    let mut devices: Vec<Device> = (0..a.devices)
        .map(|i| {
            let kind = if i % 2 == 0 {
                ChannelKind::Standard
            } else {
                ChannelKind::Extended
            };
            start(
                pool.local_addr(),
                pool_key,
                kind,
                format!("local.device{i}"),
            )
        })
        .collect();
    devices.extend((0..a.proxied_devices).map(|i| {
        let kind = if i % 2 == 0 {
            ChannelKind::Grouped
        } else {
            ChannelKind::Extended
        };
        start(
            proxy.local_addr(),
            proxy_key,
            kind,
            format!("proxied.device{i}"),
        )
    }));
    let proxy_stats = proxy.stats();
    let sv1: Vec<Sv1Device> = (0..a.sv1_miners)
        .map(|i| Sv1Device::start(translator.local_addr(), format!("sv1.miner{i}"), true))
        .collect();
    let translator_stats = translator.stats();
    let stats: Vec<_> = devices
        .iter()
        .map(|d| d.stats())
        .chain(sv1.iter().map(|d| d.stats()))
        .collect();
    let pool_stats = pool.stats();
    let mut blocks = tp.subscribe();
    let started = Instant::now();
    let deadline = a.duration.map(|d| started + Duration::from_secs(d));
    let mut tick = tokio::time::interval(Duration::from_secs(a.interval.max(1)));
    tick.tick().await;
    let mut last = (Instant::now(), 0u64);
    let mut found = 0u64;
    loop {
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = until_deadline => break,
            e = blocks.recv() => {
                if let Ok(TpEvent::BlockAccepted(b)) = e {
                    found += 1;
                    println!("  block found: height {} hash {} ({} transactions)", b.height, b.hash, b.transactions);
                }
            }
            _ = tick.tick() => {
                let hashes: u64 = stats.iter().map(|s| s.hashes.load(Ordering::Relaxed)).sum();
                let rate = (hashes - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), hashes);
                let connected = stats.iter().filter(|s| s.connected.load(Ordering::Relaxed)).count();
                println!(
                    "[{:>4}s] {:.2} MH/s  devices {}/{}  pool shares accepted {} rejected {}  proxy checked {} forwarded {}  translator checked {} forwarded {}  blocks {}",
                    started.elapsed().as_secs(),
                    rate / 1e6,
                    connected,
                    stats.len(),
                    pool_stats.shares_accepted.load(Ordering::Relaxed),
                    pool_stats.shares_rejected.load(Ordering::Relaxed),
                    proxy_stats.shares_accepted.load(Ordering::Relaxed),
                    proxy_stats.shares_forwarded.load(Ordering::Relaxed),
                    translator_stats.shares_accepted.load(Ordering::Relaxed),
                    translator_stats.shares_forwarded.load(Ordering::Relaxed),
                    found,
                );
            }
        }
    }
    println!(
        "done: {} blocks, {} shares accepted, {} rejected, chain height {}",
        found,
        pool_stats.shares_accepted.load(Ordering::Relaxed),
        pool_stats.shares_rejected.load(Ordering::Relaxed),
        tp.height()
    );
    drop(devices);
    drop(sv1);
    translator.shutdown();
    proxy.shutdown();
    pool.shutdown();
    tp.shutdown();
    Ok(())
}
