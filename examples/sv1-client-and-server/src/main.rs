//! `client_and_server`: a Stratum V1 server that sends mining.notify on a timer and checks
//! every share (any Sv1 miner pointed at it is really served), and a client that runs
//! configure, subscribe and authorize and submits shares it really computed. Both print what
//! they receive. No subcommand runs both on loopback.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use sv1_api::client::{Client, ClientEvent};
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::{share, LineReader, Notify, Submit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10, global = true)]
    duration: u64,
    /// Share difficulty (the server's; fractional values suit a CPU).
    #[arg(long, default_value_t = 1e-5, global = true)]
    difficulty: f64,
}

#[derive(Subcommand)]
enum Cmd {
    Server {
        #[arg(long, default_value = "127.0.0.1:3333")]
        listen: SocketAddr,
    },
    Client {
        #[arg(long, default_value = "127.0.0.1:3333")]
        connect: SocketAddr,
    },
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn job(n: u32) -> Notify {
    // A coinbase with the BIP34 height and one output; the extranonces go between its halves.
    let mut coinb1 = hex_bytes(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1003",
    );
    coinb1.extend_from_slice(&n.to_le_bytes()[..3]);
    Notify {
        job_id: format!("{n:x}"),
        prev_hash: share::prev_hash_stratum_order(&[n as u8; 32]),
        coinb1,
        coinb2: hex_bytes("ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000"),
        merkle_branch: vec![[0x11; 32]],
        version: 0x2000_0000,
        nbits: 0x1d00ffff,
        ntime: now(),
        clean_jobs: true,
    }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    sv1_api::methods::parse_hex(s).unwrap_or_default()
}

async fn serve_one(mut stream: TcpStream, difficulty: f64, extranonce1: u32) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut server = Server::new(ServerConfig {
        extranonce1: extranonce1.to_be_bytes().to_vec(),
        initial_difficulty: difficulty,
        ..Default::default()
    });
    server.notify(job(1));
    let mut reader = LineReader::default();
    let mut buf = [0u8; 4096];
    let mut timer = tokio::time::interval(Duration::from_secs(5));
    let mut next_job = 2;
    loop {
        let mut out = Vec::new();
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                reader.push(&buf[..n]);
                loop {
                    match reader.next_line() {
                        Ok(Some(line)) => {
                            println!("server <- {peer}: {line}");
                            let o = server.handle_line(&line);
                            for e in &o.events {
                                match e {
                                    ServerEvent::ShareAccepted { worker, difficulty, .. } => println!("server: share from {worker} accepted (difficulty {difficulty:.6})"),
                                    ServerEvent::ShareRejected { worker, reason, .. } => println!("server: share from {worker} rejected: {reason}"),
                                    other => println!("server: {other:?}"),
                                }
                            }
                            out.extend(o.lines);
                        }
                        Ok(None) => break,
                        Err(e) => { println!("server: {peer}: {e}"); return; }
                    }
                }
            }
            _ = timer.tick() => {
                if server.is_subscribed() {
                    out.push(server.notify(job(next_job)));
                    next_job += 1;
                }
            }
        }
        for l in out {
            if stream.write_all(l.as_bytes()).await.is_err() {
                return;
            }
        }
    }
    println!("server: {peer} disconnected");
}

async fn server(listener: TcpListener, difficulty: f64) {
    println!("server: listening on {:?}", listener.local_addr());
    let mut en1 = 1u32;
    while let Ok((s, _)) = listener.accept().await {
        tokio::spawn(serve_one(s, difficulty, en1));
        en1 += 1;
    }
}

async fn client(addr: SocketAddr, until: Instant) -> Result<u32, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let mut c = Client::new("sv1-example/0.1");
    let hello = [
        c.configure(Some(0x1fff_e000), Some(2)),
        c.subscribe(),
        c.authorize("example.worker", "x"),
    ]
    .concat();
    stream
        .write_all(hello.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reader = LineReader::default();
    let mut buf = [0u8; 4096];
    let (mut accepted, mut en2) = (0u32, 0u32);
    while Instant::now() < until {
        let n = match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err("server closed the connection".into()),
            Ok(Ok(n)) => n,
            Err(_) => 0,
        };
        reader.push(&buf[..n]);
        while let Some(line) = reader.next_line().map_err(|e| e.to_string())? {
            println!("client <- {line}");
            let (events, replies) = c.handle_line(&line);
            for r in replies {
                stream
                    .write_all(r.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            for e in events {
                if let ClientEvent::ShareResult { accepted: true, .. } = e {
                    accepted += 1;
                }
            }
        }
        // Mine a little on the current job: one extranonce2 per pass, up to 2^16 nonces.
        if let (Some(job), Some((en1, size))) = (
            c.current_job().cloned(),
            c.extranonce().map(|(e, s)| (e.to_vec(), s)),
        ) {
            if !c.is_authorized("example.worker") {
                continue;
            }
            en2 += 1;
            let mut s = Submit {
                worker: "example.worker".into(),
                job_id: job.job_id.clone(),
                extranonce2: en2
                    .to_be_bytes()
                    .iter()
                    .copied()
                    .cycle()
                    .take(size)
                    .collect(),
                ntime: job.ntime,
                nonce: 0,
                version_bits: c.version_mask().map(|m| 0x0000_2000 & m),
            };
            let mut header = share::header(&job, &en1, &s, c.version_mask().unwrap_or(0));
            let target = c.target();
            for nonce in 0..1u32 << 16 {
                header[76..80].copy_from_slice(&nonce.to_le_bytes());
                if share::meets_target(&share::sha256d(&header), &target) {
                    s.nonce = nonce;
                    let line = c.submit(s);
                    print!("client -> {line}");
                    stream
                        .write_all(line.as_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                    break;
                }
            }
        }
    }
    println!("client: {accepted} shares accepted");
    Ok(accepted)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let until = Instant::now() + Duration::from_secs(cli.duration);
    let result = match cli.command {
        Some(Cmd::Server { listen }) => match TcpListener::bind(listen).await {
            Ok(l) => {
                let _ = tokio::time::timeout(
                    Duration::from_secs(cli.duration),
                    server(l, cli.difficulty),
                )
                .await;
                Ok(())
            }
            Err(e) => Err(format!("listen {listen}: {e}")),
        },
        Some(Cmd::Client { connect }) => client(connect, until).await.map(|_| ()),
        None => match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => {
                let addr = l.local_addr().expect("bound listener has an address");
                tokio::spawn(server(l, cli.difficulty));
                match client(addr, until).await {
                    Ok(0) => Err("no share was accepted".into()),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e.to_string()),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
