//! `mining-device`: a CPU Stratum V2 miner.

use clap::{Parser, ValueEnum};
use mining_device::{ChannelKind, Device, DeviceConfig};
use noise_sv2::AuthorityPublicKey;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Channel {
    Standard,
    Grouped,
    Extended,
}

/// A CPU Stratum V2 mining device, for testing pools and proxies.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Pool or proxy address.
    #[arg(long, default_value = "127.0.0.1:34254")]
    upstream: SocketAddr,
    /// The upstream's authority public key (base58check). Without it the connection is
    /// plain TCP.
    #[arg(long)]
    authority_public_key: Option<AuthorityPublicKey>,
    /// Channel kind to open.
    #[arg(long, value_enum, default_value = "extended")]
    channel: Channel,
    /// Hashing threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// user_identity sent when opening the channel.
    #[arg(long, default_value = "device")]
    user_identity: String,
    /// Declared hashrate (h/s); measured when absent.
    #[arg(long)]
    nominal_hashrate: Option<f32>,
}

#[tokio::main]
async fn main() {
    roles_utils::init_tracing("info");
    let a = Args::parse();
    let mut cfg = DeviceConfig::new(
        a.upstream,
        a.authority_public_key,
        match a.channel {
            Channel::Standard => ChannelKind::Standard,
            Channel::Grouped => ChannelKind::Grouped,
            Channel::Extended => ChannelKind::Extended,
        },
    );
    cfg.threads = a.threads;
    cfg.user_identity = a.user_identity;
    cfg.nominal_hashrate = a.nominal_hashrate;
    let device = Device::start(cfg);
    let stats = device.stats();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let h = stats.hashes.load(Ordering::Relaxed);
                let rate = (h - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), h);
                println!(
                    "{:.2} MH/s  accepted {}  rejected {}  {}",
                    rate / 1e6,
                    stats.accepted.load(Ordering::Relaxed),
                    stats.rejected.load(Ordering::Relaxed),
                    if stats.connected.load(Ordering::Relaxed) { "connected" } else { "connecting" },
                );
            }
        }
    }
}
