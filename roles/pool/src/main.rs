//! `pool`: the Stratum V2 pool.

use clap::Parser;
use pool_sv2::config::{PoolConfig, DEFAULT_CONFIG};
use pool_sv2::{Pool, PoolEvent};
use std::path::PathBuf;

/// A Stratum V2 pool.
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
        "pool",
        a.config.as_deref(),
        |s| PoolConfig::from_toml(s).map_err(|e| e.to_string()),
        PoolConfig::default_config,
    );
    let pool = Pool::start(cfg).await.unwrap_or_else(|e| {
        eprintln!("pool: {e}");
        std::process::exit(1);
    });
    let mut events = pool.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = events.recv() => {
                let h = |height: Option<u32>| height.map_or("?".into(), |h| h.to_string());
                match e {
                    Ok(PoolEvent::BlockFound { height, hash, .. }) => {
                        println!("block found: height {} hash {hash}", h(height));
                    }
                    Ok(PoolEvent::BlockConfirmed { height, hash }) => {
                        println!("block confirmed: height {} hash {hash}", h(height));
                    }
                    Ok(PoolEvent::BlockSubmissionFailed { height, hash, block_hex }) => {
                        println!("block submission FAILED: height {} hash {hash}; block hex: {}", h(height), block_hex.as_deref().unwrap_or("(unknown)"));
                    }
                    _ => {}
                }
            }
        }
    }
    pool.shutdown();
}
