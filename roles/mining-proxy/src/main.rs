//! `mining-proxy`: the Stratum V2 mining proxy.

use clap::Parser;
use mining_proxy_sv2::config::{ProxyConfig, DEFAULT_CONFIG};
use mining_proxy_sv2::{MiningProxy, ProxyEvent};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A Stratum V2 mining proxy: many devices downstream, one channel to the best pool upstream.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TOML configuration file (see --generate-config). Without it, the embedded defaults.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Print a commented default configuration and exit.
    #[arg(long)]
    generate_config: bool,
    /// Overrides listen_address.
    #[arg(long)]
    listen_address: Option<SocketAddr>,
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
        "mining-proxy",
        a.config.as_deref(),
        ProxyConfig::from_toml,
        ProxyConfig::default_config,
    );
    if let Some(l) = a.listen_address {
        cfg.listen_address = l;
    }
    let proxy = MiningProxy::start(cfg).await.unwrap_or_else(|e| {
        eprintln!("mining-proxy: {e}");
        std::process::exit(1);
    });
    let mut events = proxy.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = events.recv() => match e {
                Ok(ProxyEvent::BlockFound { hash, user_identity }) => println!("block found by {user_identity}: {hash}"),
                Ok(ProxyEvent::UpstreamUp { endpoint }) => println!("upstream up: {endpoint}"),
                Ok(ProxyEvent::UpstreamDown { endpoint, reason }) => println!("upstream down: {endpoint}: {reason}"),
                Err(_) => {}
            },
        }
    }
    proxy.shutdown();
}
