//! `ping_pong_with_noise`: the ping-pong example over the Sv2 noise handshake. The server takes
//! its authority key and certificate validity from flags, so any Sv2 client (for example
//! `sv2 probe`) can be pointed at it; the client checks the certificate against the authority
//! public key. With no subcommand both run on loopback with a fresh authority key.

use clap::{Parser, Subcommand};
use network_helpers_sv2::{ResponderConfig, Security};
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey, HandshakeKey};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(about = "Sv2 ping-pong over the noise handshake")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Rounds the client runs (also when both run).
    #[arg(long, default_value_t = 10, global = true)]
    count: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (noise responder).
    Server {
        #[arg(long, default_value = "127.0.0.1:34251")]
        listen: SocketAddr,
        /// Authority secret key (base58check or hex); `sv2 keygen` makes one. A fresh key is
        /// generated and printed if none is given.
        #[arg(long)]
        authority_secret: Option<AuthoritySecretKey>,
        /// Certificate validity in seconds.
        #[arg(long, default_value_t = 3600)]
        cert_validity: u32,
    },
    /// Run the client (noise initiator).
    Client {
        #[arg(long, default_value = "127.0.0.1:34251")]
        connect: SocketAddr,
        /// The server's authority public key (base58check or hex).
        #[arg(long)]
        authority_pubkey: AuthorityPublicKey,
    },
}

fn responder(authority: &AuthoritySecretKey, validity: u32) -> Result<Security, String> {
    Ok(Security::NoiseResponder(Arc::new(ResponderConfig {
        authority: authority.keypair(),
        static_key: HandshakeKey::generate().map_err(|e| e.to_string())?,
        cert_validity_secs: validity,
    })))
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Some(Cmd::Server {
            listen,
            authority_secret,
            cert_validity,
        }) => {
            let authority = match authority_secret {
                Some(k) => k,
                None => AuthoritySecretKey::generate().map_err(|e| e.to_string())?,
            };
            println!("server: authority public key {}", authority.public_key());
            ping_pong::serve(listen, responder(&authority, cert_validity)?)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Cmd::Client {
            connect,
            authority_pubkey,
        }) => {
            ping_pong::client(
                connect,
                Security::NoiseInitiator {
                    authority: authority_pubkey.0,
                },
                cli.count,
            )
            .await
        }
        None => {
            let authority = AuthoritySecretKey::generate().map_err(|e| e.to_string())?;
            println!("authority public key {}", authority.public_key());
            ping_pong::both(
                responder(&authority, 3600)?,
                Security::NoiseInitiator {
                    authority: authority.public_key().0,
                },
                cli.count,
            )
            .await
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
