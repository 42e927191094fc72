//! `translator`: Stratum V1 miners onto a Stratum V2 pool.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use translator_sv2::config::{TranslatorConfig, DEFAULT_CONFIG};
use translator_sv2::Translator;

/// Translate Stratum V1 miners to one Stratum V2 extended channel, with per-worker metrics.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TOML configuration file (see --generate-config). Without it, the embedded defaults.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Print a commented default configuration and exit.
    #[arg(long)]
    generate_config: bool,
    /// Overrides downstream_address.
    #[arg(long)]
    downstream_address: Option<String>,
    /// Overrides downstream_port.
    #[arg(long)]
    downstream_port: Option<u16>,
    /// Overrides downstream_extranonce2_size.
    #[arg(long)]
    downstream_extranonce2_size: Option<u16>,
    /// Overrides metrics_address.
    #[arg(long)]
    metrics_address: Option<SocketAddr>,
    /// Overrides max_connections.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Overrides [downstream_difficulty_config] min_individual_miner_hashrate.
    #[arg(long)]
    min_individual_miner_hashrate: Option<f64>,
    /// Overrides [downstream_difficulty_config] shares_per_minute.
    #[arg(long)]
    shares_per_minute: Option<f64>,
    /// Overrides [downstream_difficulty_config] difficulty_power_of_two (true or false).
    #[arg(long)]
    difficulty_power_of_two: Option<bool>,
    /// Overrides max_workers_per_connection.
    #[arg(long)]
    max_workers_per_connection: Option<usize>,
    /// Overrides worker_expiry_sec.
    #[arg(long)]
    worker_expiry_sec: Option<u64>,
    /// Overrides max_tracked_workers.
    #[arg(long)]
    max_tracked_workers: Option<usize>,
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    if a.generate_config {
        print!("{DEFAULT_CONFIG}");
        return;
    }
    roles_utils::init_tracing("info");
    let mut cfg = roles_utils::read_config_or_exit(
        "translator",
        a.config.as_deref(),
        TranslatorConfig::from_toml,
        TranslatorConfig::default_config,
    );
    if let Some(v) = a.downstream_address {
        cfg.downstream_address = v;
    }
    if let Some(v) = a.downstream_port {
        cfg.downstream_port = v;
    }
    if let Some(v) = a.downstream_extranonce2_size {
        cfg.downstream_extranonce2_size = v;
    }
    if let Some(v) = a.metrics_address {
        cfg.metrics_address = Some(v);
    }
    if let Some(v) = a.max_connections {
        cfg.max_connections = v;
    }
    if let Some(v) = a.min_individual_miner_hashrate {
        cfg.downstream_difficulty_config
            .min_individual_miner_hashrate = v;
    }
    if let Some(v) = a.shares_per_minute {
        cfg.downstream_difficulty_config.shares_per_minute = v;
    }
    if let Some(v) = a.difficulty_power_of_two {
        cfg.downstream_difficulty_config.difficulty_power_of_two = v;
    }
    if let Some(v) = a.max_workers_per_connection {
        cfg.max_workers_per_connection = v;
    }
    if let Some(v) = a.worker_expiry_sec {
        cfg.worker_expiry_sec = v;
    }
    if let Some(v) = a.max_tracked_workers {
        cfg.max_tracked_workers = v;
    }
    let t = Translator::start(cfg).await.unwrap_or_else(|e| {
        eprintln!("translator: {e}");
        std::process::exit(1);
    });
    let _ = tokio::signal::ctrl_c().await;
    t.shutdown();
}
