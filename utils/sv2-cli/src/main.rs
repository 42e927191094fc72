//! `sv2`: a tool for people who operate or debug Stratum V2.
//!
//! * `sv2 decode [HEX...]`: frames as hex (arguments, or one per line on stdin) to JSON lines.
//! * `sv2 encode [JSON...]`: JSON lines back to frame hex, byte for byte.
//!
//! The exit status is 1 if any line failed; every failure prints `{"error": "..."}` and the
//! tool goes on with the next line.

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
}

fn for_each_line(args: Vec<String>, mut f: impl FnMut(&str) -> bool) -> io::Result<bool> {
    let mut ok = true;
    if args.is_empty() {
        for line in io::stdin().lock().lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            ok &= f(&line);
        }
    } else {
        for a in &args {
            ok &= f(a);
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Decode { frames } => for_each_line(frames, |line| {
            let mut ok = true;
            for r in sv2_cli::decode_line(line) {
                let text = r.unwrap_or_else(|e| {
                    ok = false;
                    sv2_cli::error_json(e)
                });
                let _ = writeln!(out, "{text}");
            }
            ok
        }),
        Command::Encode { objects } => {
            for_each_line(objects, |line| match sv2_cli::encode_line(line) {
                Ok(hex) => {
                    let _ = writeln!(out, "{hex}");
                    true
                }
                Err(e) => {
                    let _ = writeln!(out, "{}", sv2_cli::error_json(e));
                    false
                }
            })
        }
    };
    let _ = out.flush();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sv2: {e}");
            ExitCode::from(2)
        }
    }
}
