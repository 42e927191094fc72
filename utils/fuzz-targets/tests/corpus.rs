//! Replays every file of every fuzz target's corpus (fuzz/corpus/<target>/) and every
//! crasher that was fixed (fuzz/regressions/<target>/) through the target's function, on
//! stable Rust, as part of `cargo test --workspace`.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs every file of `fuzz/<kind>/<target>/`; fails listing every input that panicked.
fn replay(kind: &str) -> usize {
    let mut total = 0;
    let mut failed = Vec::new();
    for (name, target) in fuzz_targets::TARGETS {
        for path in files(&fuzz_dir().join(kind).join(name)) {
            let data = std::fs::read(&path).expect("read corpus file");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failed.push(format!("{name}: {}", path.display()));
            }
            total += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail:\n{}",
        failed.join("\n")
    );
    total
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_corpus() {
    for (name, _) in fuzz_targets::TARGETS {
        let src = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains(&format!("fuzz_targets::{name}(data)")),
            "{} does not call fuzz_targets::{name}",
            src.display()
        );
        assert!(
            !files(&fuzz_dir().join("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name} is empty"
        );
    }
}

#[test]
fn corpora_replay_without_panics() {
    let n = replay("corpus");
    assert!(n > 0);
}

#[test]
fn fixed_crashers_replay_without_panics() {
    replay("regressions");
}
