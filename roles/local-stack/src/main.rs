//! `local-stack`: a template provider with a simulated chain (and the node's RPC), the pool
//! with its job declaration server, a mining proxy, a JD client with its own view of the
//! template provider, a translator behind the JD client, and CPU mining devices on each, all
//! on loopback over encrypted Sv2 connections, with a live summary.

use clap::Parser;
use jd_client_sv2::config::{JdClientConfig, Sv2Tp, TemplateProviderType};
use jd_client_sv2::{JdClient, JdEvent, Mining};
use mining_device::sv1::Sv1Device;
use mining_device::{ChannelKind, Device, DeviceConfig, DeviceStats};
use mining_proxy_sv2::config::ProxyConfig;
use mining_proxy_sv2::MiningProxy;
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey};
use pool_sv2::config::PoolConfig;
use pool_sv2::Pool;
use roles_utils::upstream::UpstreamConfig;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use template_provider::{TemplateProvider, TpEvent};
use translator_sv2::config::TranslatorConfig;
use translator_sv2::Translator;

/// Development key of the local template provider (public: never use it elsewhere).
const TP_SECRET_KEY: &str = "2ZeiGcThzCtWLmFbZZNTnPyPkyKsAhLqEmeuY5wnHv2fgUHuDg";

/// The node RPC's credentials (the JDS logs in with them).
const RPC_USER: &str = "local";
const RPC_PASSWORD: &str = "stack";

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
    /// Mining devices behind the JD client; they alternate between standard and extended
    /// channels.
    #[arg(long, default_value_t = 2)]
    jd_devices: usize,
    /// Stratum V1 miners behind the translator (which is behind the JD client).
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
    let s = start_stack(&a).await?;
    print_layout(&s, &a);
    let (devices, sv1) = start_miners(&s, &a);
    let stats: Vec<_> = devices
        .iter()
        .map(|d| d.stats())
        .chain(sv1.iter().map(|d| d.stats()))
        .collect();
    let found = watch(&s, &a, &stats).await;
    let (pool_stats, jdc_stats) = (s.pool.stats(), s.jdc.stats());
    println!(
        "done: {} blocks ({} on declared templates), {} shares accepted, {} rejected, chain height {}",
        found,
        jdc_stats.blocks_on_declared_jobs.load(Ordering::Relaxed),
        pool_stats.shares_accepted.load(Ordering::Relaxed),
        pool_stats.shares_rejected.load(Ordering::Relaxed),
        s.tp.height()
    );
    drop(devices);
    drop(sv1);
    s.translator.shutdown();
    s.jdc.shutdown();
    s.proxy.shutdown();
    s.pool.shutdown();
    s.tp.shutdown();
    Ok(())
}

/// The roles, each listening on a free loopback port, and the keys their clients check.
struct Stack {
    tp: TemplateProvider,
    rpc: SocketAddr,
    pool: Pool,
    pool_key: AuthorityPublicKey,
    jds: SocketAddr,
    jdc: JdClient,
    jdc_key: AuthorityPublicKey,
    proxy: MiningProxy,
    proxy_key: AuthorityPublicKey,
    translator: Translator,
}

async fn start_stack(a: &Args) -> Result<Stack, Box<dyn std::error::Error>> {
    let tp_key = AuthoritySecretKey::from_str(TP_SECRET_KEY)?;
    let tp = TemplateProvider::start(template_provider::Config {
        listen_address: "127.0.0.1:0".parse()?,
        authority_secret_key: Some(tp_key),
        block_difficulty: a.block_difficulty,
        template_interval: Duration::from_secs(2),
        // The JDS reads the mempool and submits blocks over this, as from Bitcoin Core.
        rpc_address: Some("127.0.0.1:0".parse()?),
        rpc_credentials: Some(format!("{RPC_USER}:{RPC_PASSWORD}")),
        ..template_provider::Config::default()
    })
    .await?;
    let rpc = tp
        .rpc_address()
        .ok_or("the template provider's RPC did not start")?;
    let mut cfg = PoolConfig::default_config();
    cfg.listen_address = "127.0.0.1:0".parse()?;
    cfg.tp_address = tp.local_addr();
    cfg.tp_authority_public_key = Some(tp_key.public_key().to_base58());
    // Quick feedback on a laptop: a share every few seconds per device.
    cfg.shares_per_minute = 20.0;
    cfg.jds = Some(pool_sv2::config::JdsConfig {
        listen_address: "127.0.0.1:0".parse()?,
        rpc_url: format!("http://{rpc}"),
        rpc_user: Some(RPC_USER.into()),
        rpc_password: Some(RPC_PASSWORD.into()),
        rpc_cookie_file: None,
        min_pool_payout_fraction: 1.0,
        coinbase_only: true,
        token_ttl_sec: 600,
        max_tokens: 10_000,
    });
    let pool_key = cfg.authority()?.public_key();
    let pool = Pool::start(cfg).await?;
    let jds = pool.jds_addr().ok_or("the pool's JDS did not start")?;
    let jdc_cfg = jd_client_config(pool.local_addr(), jds, &pool_key, &tp)?;
    let jdc_key = jdc_cfg.authority()?.public_key();
    let jdc = JdClient::start(jdc_cfg).await?;
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
    tcfg.upstreams[0].address = jdc.local_addr().ip().to_string();
    tcfg.upstreams[0].port = jdc.local_addr().port();
    tcfg.upstreams[0].authority_pubkey = Some(jdc_key.to_base58());
    let translator = Translator::start(tcfg).await?;
    Ok(Stack {
        tp,
        rpc,
        pool,
        pool_key,
        jds,
        jdc,
        jdc_key,
        proxy,
        proxy_key,
        translator,
    })
}

fn print_layout(s: &Stack, a: &Args) {
    println!(
        "template provider {} (noise) -> pool {} (noise, authority {}) -> {} devices",
        s.tp.local_addr(),
        s.pool.local_addr(),
        s.pool_key.to_base58(),
        a.devices
    );
    println!(
        "                                  pool -> mining proxy {} (noise, authority {}) -> {} devices",
        s.proxy.local_addr(),
        s.proxy_key.to_base58(),
        a.proxied_devices
    );
    println!(
        "template provider -> JD client {} (its own templates, declared to the pool's JDS {}; node RPC http://{}) -> pool; {} devices",
        s.jdc.local_addr(),
        s.jds,
        s.rpc,
        a.jd_devices
    );
    println!(
        "                                  JD client -> translator {} (Stratum V1, metrics http://{}/metrics) -> {} Sv1 miners",
        s.translator.local_addr(),
        s.translator.metrics_addr().map_or("-".into(), |m| m.to_string()),
        a.sv1_miners
    );
}

/// CPU miners on the pool, behind the proxy, behind the JD client, and Sv1 ones behind the
/// translator.
fn start_miners(s: &Stack, a: &Args) -> (Vec<Device>, Vec<Sv1Device>) {
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
                s.pool.local_addr(),
                s.pool_key,
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
            s.proxy.local_addr(),
            s.proxy_key,
            kind,
            format!("proxied.device{i}"),
        )
    }));
    devices.extend((0..a.jd_devices).map(|i| {
        let kind = if i % 2 == 0 {
            ChannelKind::Standard
        } else {
            ChannelKind::Extended
        };
        start(s.jdc.local_addr(), s.jdc_key, kind, format!("jd.device{i}"))
    }));
    let sv1 = (0..a.sv1_miners)
        .map(|i| Sv1Device::start(s.translator.local_addr(), format!("sv1.miner{i}"), true))
        .collect();
    (devices, sv1)
}

/// Print a summary every interval and every block, until Ctrl-C or the deadline. Returns the
/// blocks the stack found.
async fn watch(s: &Stack, a: &Args, stats: &[Arc<DeviceStats>]) -> u64 {
    let (pool_stats, proxy_stats) = (s.pool.stats(), s.proxy.stats());
    let (jdc_stats, translator_stats) = (s.jdc.stats(), s.translator.stats());
    let mut jd_events = s.jdc.subscribe();
    let mut blocks_seen = BlockLog::default();
    let mut blocks = s.tp.subscribe();
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
            e = jd_events.recv() => match e {
                Ok(JdEvent::BlockFound { hash, declared, solo, .. }) => {
                    let how = match (declared, solo) {
                        (true, _) => "on a template the JD client declared to the pool's JDS",
                        (false, true) => "by the JD client mining solo",
                        (false, false) => "by the JD client on a coinbase-only custom job",
                    };
                    blocks_seen.jd_block(hash, how);
                }
                Ok(JdEvent::Mining(m)) => println!("  JD client now mining {}", mining_text(&m)),
                _ => {}
            },
            e = blocks.recv() => {
                match e {
                    Ok(TpEvent::BlockAccepted(b)) if b.submitted => {
                        found += 1;
                        blocks_seen.accepted(b.height, b.hash.to_string(), b.transactions);
                    }
                    Ok(TpEvent::BlockAccepted(b)) => print_block(b.height, &b.hash.to_string(), b.transactions, "by the simulated network"),
                    _ => {}
                }
            }
            _ = tick.tick() => {
                blocks_seen.flush();
                let hashes: u64 = stats.iter().map(|s| s.hashes.load(Ordering::Relaxed)).sum();
                let rate = (hashes - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), hashes);
                let connected = stats.iter().filter(|s| s.connected.load(Ordering::Relaxed)).count();
                println!(
                    "[{:>4}s] {:.2} MH/s  devices {}/{}  pool shares accepted {} rejected {}  proxy checked {} forwarded {}  JD client declared {} forwarded {}  translator checked {} forwarded {}  blocks {} (declared {})",
                    started.elapsed().as_secs(),
                    rate / 1e6,
                    connected,
                    stats.len(),
                    pool_stats.shares_accepted.load(Ordering::Relaxed),
                    pool_stats.shares_rejected.load(Ordering::Relaxed),
                    proxy_stats.shares_accepted.load(Ordering::Relaxed),
                    proxy_stats.shares_forwarded.load(Ordering::Relaxed),
                    jdc_stats.jobs_declared.load(Ordering::Relaxed),
                    jdc_stats.shares_forwarded.load(Ordering::Relaxed),
                    translator_stats.shares_accepted.load(Ordering::Relaxed),
                    translator_stats.shares_forwarded.load(Ordering::Relaxed),
                    found,
                    jdc_stats.blocks_on_declared_jobs.load(Ordering::Relaxed),
                );
            }
        }
    }
    found
}

/// The JD client on the pool and its JDS, with templates from its own connection to the
/// template provider, full-template mode; solo on an anyone-can-spend script if the pool goes.
fn jd_client_config(
    pool: SocketAddr,
    jds: SocketAddr,
    pool_key: &noise_sv2::AuthorityPublicKey,
    tp: &TemplateProvider,
) -> Result<JdClientConfig, Box<dyn std::error::Error>> {
    let mut c = JdClientConfig::default_config();
    c.listening_address = "127.0.0.1:0".parse()?;
    c.shares_per_minute = 20.0;
    c.mode = "FULLTEMPLATE".into();
    c.upstreams = vec![jd_client_sv2::config::UpstreamConfig {
        authority_pubkey: pool_key.to_base58(),
        pool_address: pool.ip().to_string(),
        pool_port: Some(pool.port()),
        jds_address: jds.ip().to_string(),
        jds_port: Some(jds.port()),
        user_identity: "local.jd".into(),
    }];
    c.template_provider_type = Some(TemplateProviderType::Sv2Tp(Sv2Tp {
        address: tp.local_addr().to_string(),
        public_key: Some(
            AuthoritySecretKey::from_str(TP_SECRET_KEY)?
                .public_key()
                .to_base58(),
        ),
    }));
    Ok(c)
}

fn mining_text(m: &Mining) -> String {
    match m {
        Mining::Pool { endpoint, .. } => format!("on the pool at {endpoint}"),
        Mining::Solo => "solo (the pool is unreachable)".into(),
    }
}

/// Prints each block the template provider accepted with who built it. The JD client's report
/// of a block and the template provider's acceptance come on different links, in either order.
#[derive(Default)]
struct BlockLog {
    /// Blocks the JD client reported and the node has not accepted yet: hash, how it was built.
    jd: VecDeque<(String, &'static str)>,
    /// Accepted blocks not reported by the JD client yet: height, hash, transactions, when.
    accepted: VecDeque<(u32, String, usize, Instant)>,
}

impl BlockLog {
    const KEEP: usize = 64;

    fn jd_block(&mut self, hash: String, how: &'static str) {
        if let Some(i) = self.accepted.iter().position(|a| a.1 == hash) {
            let (height, hash, txs, _) = self.accepted.remove(i).expect("position is in range");
            return print_block(height, &hash, txs, how);
        }
        if self.jd.len() == Self::KEEP {
            self.jd.pop_front();
        }
        self.jd.push_back((hash, how));
    }

    fn accepted(&mut self, height: u32, hash: String, transactions: usize) {
        if let Some(i) = self.jd.iter().position(|j| j.0 == hash) {
            let (_, how) = self.jd.remove(i).expect("position is in range");
            return print_block(height, &hash, transactions, how);
        }
        if self.accepted.len() == Self::KEEP {
            self.flush_older_than(Duration::ZERO);
        }
        self.accepted
            .push_back((height, hash, transactions, Instant::now()));
    }

    /// Blocks the JD client did not report within a second came from the pool's own jobs.
    fn flush(&mut self) {
        self.flush_older_than(Duration::from_secs(1));
    }

    fn flush_older_than(&mut self, age: Duration) {
        while self.accepted.front().is_some_and(|a| a.3.elapsed() >= age) {
            if let Some((height, hash, txs, _)) = self.accepted.pop_front() {
                print_block(height, &hash, txs, "on a pool template");
            }
        }
    }
}

fn print_block(height: u32, hash: &str, transactions: usize, how: &str) {
    println!("  block found: height {height} hash {hash} ({transactions} transactions), {how}");
}
