//! Writes the seed inputs of every fuzz target (`fuzz_targets::seeds::all`) under a corpus
//! directory, one file per input named after its content's hash:
//!
//! ```text
//! cargo run -p fuzz-targets --example seed_corpus -- fuzz/corpus
//! ```
//!
//! The Sv2 frames come from test/vectors/sv2-messages.jsonl.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/corpus"));
    let vectors = std::fs::read_to_string(root.join("test/vectors/sv2-messages.jsonl"))
        .expect("test/vectors/sv2-messages.jsonl");
    let frames: Vec<Vec<u8>> = vectors
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            hex::decode(v["frame_hex"].as_str().expect("frame_hex")).expect("hex")
        })
        .collect();
    let mut n = 0;
    for (target, input) in fuzz_targets::seeds::all(&frames) {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        let mut h = DefaultHasher::new();
        input.hash(&mut h);
        std::fs::write(dir.join(format!("seed-{:016x}", h.finish())), &input).expect("write");
        n += 1;
    }
    println!("{n} seeds written under {}", out.display());
}
