//! `ping_pong_without_noise`: a server and a client exchanging Ping/Pong messages of random
//! bytes over plain TCP. With no subcommand both run on loopback.

use clap::{Parser, Subcommand};
use network_helpers_sv2::Security;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Sv2 ping-pong over plain TCP")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Rounds the client runs (also when both run).
    #[arg(long, default_value_t = 10, global = true)]
    count: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Server {
        #[arg(long, default_value = "127.0.0.1:34250")]
        listen: SocketAddr,
    },
    /// Run the client.
    Client {
        #[arg(long, default_value = "127.0.0.1:34250")]
        connect: SocketAddr,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Cmd::Server { listen }) => ping_pong::serve(listen, Security::Plain)
            .await
            .map_err(|e| e.to_string()),
        Some(Cmd::Client { connect }) => {
            ping_pong::client(connect, Security::Plain, cli.count).await
        }
        None => ping_pong::both(Security::Plain, Security::Plain, cli.count).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
