//! `sv2`: a tool for people who operate or debug Stratum V2.
//!
//! * `sv2 decode [HEX...]`: frames as hex (arguments, or one per line on stdin) to JSON lines.
//! * `sv2 encode [JSON...]`: JSON lines back to frame hex, byte for byte.
//!
//! * `sv2 keygen`: a new authority key pair (base58check and hex).
//! * `sv2 probe HOST:PORT --authority-pubkey KEY`: handshake, certificate check and a
//!   SetupConnection, like a TLS client check.
//!
//! decode/encode: the exit status is 1 if any line failed; every failure prints
//! `{"error": "..."}` and the tool goes on with the next line.

use clap::{Parser, Subcommand};
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sv2", version, about = "Decode and encode Stratum V2 frames")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print each frame (hex) as one JSON object per line.
    Decode {
        /// Frames as hex; if none, one per line is read from stdin.
        frames: Vec<String>,
    },
    /// Print each JSON object (as `decode` prints them) as frame hex.
    Encode {
        /// JSON objects; if none, one per line is read from stdin.
        objects: Vec<String>,
    },
    /// Print a new authority key pair (base58check, as pool configs use, and hex).
    Keygen,
    /// Connect to an Sv2 server: run the noise handshake, check and print its certificate,
    /// send a mining SetupConnection and print the answer. Exits non-zero if a step fails.
    Probe {
        /// Server address, HOST:PORT.
        address: String,
        /// The pool's authority public key (base58check or hex).
        #[arg(long, value_name = "KEY", required_unless_present = "plain")]
        authority_pubkey: Option<noise_sv2::AuthorityPublicKey>,
        /// Connect without encryption (servers that listen in plain text).
        #[arg(long, conflicts_with = "authority_pubkey")]
        plain: bool,
        /// Timeout of each step, in seconds.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// SetupConnection flags (mining protocol).
        #[arg(long, default_value_t = 0)]
        flags: u32,
    },
}

/// Apply `f` to each argument, or to each non-empty stdin line if there are none.
fn for_each_line(args: Vec<String>, f: impl Fn(&str, &mut dyn Write) -> bool) -> io::Result<bool> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut ok = true;
    if args.is_empty() {
        for line in io::stdin().lock().lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            ok &= f(&line, &mut out);
        }
    } else {
        for a in &args {
            ok &= f(a, &mut out);
        }
    }
    out.flush()?;
    Ok(ok)
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode { frames } => lines(for_each_line(frames, decode_one)),
        Command::Encode { objects } => lines(for_each_line(objects, encode_one)),
        Command::Keygen => match sv2_cli::keygen() {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sv2 keygen: {e}");
                ExitCode::from(2)
            }
        },
        Command::Probe {
            address,
            authority_pubkey,
            plain: _,
            timeout,
            flags,
        } => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("sv2 probe: {e}");
                    return ExitCode::from(2);
                }
            };
            let args = sv2_cli::probe::ProbeArgs {
                address,
                authority: authority_pubkey,
                timeout: std::time::Duration::from_secs(timeout),
                flags,
            };
            match rt.block_on(sv2_cli::probe::probe(args, |line| println!("{line}"))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    println!("{}", sv2_cli::error_json(&e));
                    eprintln!("sv2 probe: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn decode_one(line: &str, out: &mut dyn Write) -> bool {
    let mut ok = true;
    for r in sv2_cli::decode_line(line) {
        let text = r.unwrap_or_else(|e| {
            ok = false;
            sv2_cli::error_json(e)
        });
        let _ = writeln!(out, "{text}");
    }
    ok
}

fn encode_one(line: &str, out: &mut dyn Write) -> bool {
    match sv2_cli::encode_line(line) {
        Ok(hex) => {
            let _ = writeln!(out, "{hex}");
            true
        }
        Err(e) => {
            let _ = writeln!(out, "{}", sv2_cli::error_json(e));
            false
        }
    }
}

fn lines(result: io::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sv2: {e}");
            ExitCode::from(2)
        }
    }
}
