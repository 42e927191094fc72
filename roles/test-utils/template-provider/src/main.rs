//! `template-provider`: a Template Distribution server that simulates its own chain.

use clap::Parser;
use noise_sv2::AuthoritySecretKey;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;
use template_provider::{Config, TemplateProvider, TpEvent};

/// A Stratum V2 template provider with a simulated chain, for testing pools.
#[derive(Parser, Debug)]
#[command(version, after_help = REORG_NOTE)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8442")]
    listen: SocketAddr,
    /// Authority secret key (base58check, as `sv2 keygen` prints it). With it, clients must
    /// use noise and check our certificate; without it, connections are plain TCP.
    #[arg(long)]
    authority_secret_key: Option<AuthoritySecretKey>,
    /// Seconds each certificate is valid.
    #[arg(long, default_value_t = 3600)]
    cert_validity_sec: u32,
    /// Block difficulty (1 = 2^32 hashes per block on average). 0.001 lets a CPU find
    /// blocks in seconds.
    #[arg(long, default_value_t = 0.001)]
    block_difficulty: f64,
    /// Seconds between blocks the simulated network finds by itself (0: never).
    #[arg(long, default_value_t = 0)]
    block_interval: u64,
    /// Seconds between new mempool transactions (and refreshed templates).
    #[arg(long, default_value_t = 10)]
    template_interval: u64,
    /// Transactions added each interval.
    #[arg(long, default_value_t = 5)]
    transactions: usize,
    /// Private transactions added each interval: in the templates sent to clients, but not
    /// in what the RPC shows until a block contains them.
    #[arg(long, default_value_t = 0)]
    private_transactions: usize,
    /// Most transactions in the mempool (raised to one interval's worth when lower).
    #[arg(long, default_value_t = 500)]
    max_mempool: usize,
    /// Bytes of OP_RETURN padding in each new transaction, to make them bigger.
    #[arg(long, default_value_t = 0)]
    transaction_padding: usize,
    /// Serve Bitcoin Core's JSON-RPC subset (getbestblockhash, getblockcount, getblockhash,
    /// getblockheader, getrawmempool, getmempoolentry, getrawtransaction, submitblock, and
    /// the simulator's own reorg) on this address.
    #[arg(long, value_name = "HOST:PORT", value_parser = resolve)]
    rpc_address: Option<SocketAddr>,
    /// RPC user name; with --rpc-password the RPC requires them (HTTP basic), without them
    /// it asks for nothing.
    #[arg(long, requires = "rpc_password")]
    rpc_user: Option<String>,
    /// RPC password.
    #[arg(long, requires = "rpc_user")]
    rpc_password: Option<String>,
    /// Clients at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Clients from one IP address at once (0: no limit).
    #[arg(long, default_value_t = 64)]
    max_connections_per_ip: usize,
    /// Clients still in their handshake and SetupConnection at once (the oldest is closed
    /// to make room).
    #[arg(long, default_value_t = 64)]
    max_concurrent_handshakes: usize,
    /// Seconds from accept to the end of SetupConnection.
    #[arg(long, default_value_t = 10)]
    setup_timeout_sec: u64,
    /// Seconds without a message from a client before it is closed (0: never; a pool sends
    /// nothing between blocks).
    #[arg(long, default_value_t = 0)]
    idle_timeout_sec: u64,
    /// Seconds a write may wait on a client that does not read.
    #[arg(long, default_value_t = 20)]
    write_timeout_sec: u64,
}

const REORG_NOTE: &str = "\
Reorganisations on command: with --rpc-address, the RPC method `reorg <depth>` (simulator only,
not in Bitcoin Core) replaces the last <depth> blocks with <depth>+1 new ones, e.g.

  curl --user user:pass --data-binary '{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"reorg\",\"params\":[2]}' \\
      http://127.0.0.1:18443/";

/// HOST:PORT, resolved once.
fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("{s}: {e}"))?
        .next()
        .ok_or_else(|| format!("{s}: no address"))
}

#[tokio::main]
async fn main() {
    roles_utils::init_tracing("info");
    let a = Args::parse();
    let cfg = Config {
        listen_address: a.listen,
        authority_secret_key: a.authority_secret_key,
        cert_validity_sec: a.cert_validity_sec,
        block_difficulty: a.block_difficulty,
        block_interval: (a.block_interval > 0).then(|| Duration::from_secs(a.block_interval)),
        template_interval: Duration::from_secs(a.template_interval.max(1)),
        transactions_per_interval: a.transactions,
        private_transactions_per_interval: a.private_transactions,
        max_mempool: a.max_mempool,
        transaction_padding: a.transaction_padding,
        rpc_address: a.rpc_address,
        rpc_credentials: match (&a.rpc_user, &a.rpc_password) {
            (Some(u), Some(p)) => Some(format!("{u}:{p}")),
            _ => None,
        },
        max_connections: a.max_connections,
        limits: roles_utils::limits::Limits {
            max_connections_per_ip: a.max_connections_per_ip,
            max_concurrent_handshakes: a.max_concurrent_handshakes,
            setup_timeout_sec: a.setup_timeout_sec,
            idle_timeout_sec: a.idle_timeout_sec,
            write_timeout_sec: a.write_timeout_sec,
            frame_timeout_sec: 30,
        },
    };
    if a.rpc_user.as_deref().is_some_and(|u| u.contains(':')) {
        eprintln!("template-provider: --rpc-user cannot contain ':'");
        std::process::exit(2);
    }
    if let Err(e) = cfg.limits.check() {
        eprintln!("template-provider: {e}");
        std::process::exit(2);
    }
    if let Some(k) = &cfg.authority_secret_key {
        println!("authority public key: {}", k.public_key().to_base58());
    }
    let tp = match TemplateProvider::start(cfg).await {
        Ok(tp) => tp,
        Err(e) => {
            eprintln!("template-provider: cannot listen on {}: {e}", a.listen);
            std::process::exit(1);
        }
    };
    if let Some(a) = tp.rpc_address() {
        println!("Bitcoin Core RPC subset on http://{a}");
    }
    let mut events = tp.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = events.recv() => match e {
                Ok(TpEvent::BlockAccepted(b)) => println!("block {} {}", b.height, b.hash),
                Ok(TpEvent::SolutionRefused { template_id, reason }) => {
                    println!("refused solution for template {template_id}: {reason}")
                }
                Err(_) => {}
            }
        }
    }
    tp.shutdown();
}
