//! `jd-client`: the Stratum V2 job declarator client.

use clap::Parser;
use jd_client_sv2::config::{JdClientConfig, DEFAULT_CONFIG};
use jd_client_sv2::{JdClient, JdEvent};
use std::path::PathBuf;

/// A Stratum V2 job declarator client: your templates, mined on a pool.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// TOML configuration file (see --generate-config). Without it, the embedded defaults.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Print a commented default configuration and exit.
    #[arg(long)]
    generate_config: bool,
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    if a.generate_config {
        print!("{DEFAULT_CONFIG}");
        return;
    }
    roles_utils::init_tracing("info");
    let cfg = roles_utils::read_config_or_exit(
        "jd-client",
        a.config.as_deref(),
        JdClientConfig::from_toml,
        JdClientConfig::default_config,
    );
    let jdc = JdClient::start(cfg).await.unwrap_or_else(|e| {
        eprintln!("jd-client: {e}");
        std::process::exit(1);
    });
    let mut events = jdc.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = events.recv() => match e {
                Ok(JdEvent::BlockFound { hash, declared, solo, .. }) => {
                    let how = if solo { "solo" } else if declared { "on a declared template" } else { "coinbase-only" };
                    println!("block found ({how}): {hash}");
                }
                Ok(JdEvent::Mining(m)) => println!("mining: {m:?}"),
                _ => {}
            }
        }
    }
    jdc.shutdown();
}
