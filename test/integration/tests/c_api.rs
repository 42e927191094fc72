//! The C API from C and C++, under valgrind: its unit tests, the C probe against our pool, and
//! the C++ template provider feeding our pool until mining devices find blocks through it.

use integration_tests::c_api::{assert_clean, checked, compile, compile_with};
use integration_tests::*;
use mining_device::ChannelKind;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const LONG: Duration = Duration::from_secs(120);

#[test]
fn c_unit_tests_of_every_function_pass_without_leaks() {
    let bin = compile("protocols/v2/sv2-ffi/tests/c/test_sv2.c", "test_sv2");
    run_c_unit_tests(&bin);
}

#[test]
fn c_unit_tests_pass_against_the_shared_library_too() {
    let bin = compile_with(
        "protocols/v2/sv2-ffi/tests/c/test_sv2.c",
        "test_sv2_so",
        true,
    );
    run_c_unit_tests(&bin);
}

fn run_c_unit_tests(bin: &std::path::Path) {
    let out = checked(bin).output().expect("run the C tests");
    assert_clean("the C unit tests", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "C unit tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_probe_checks_our_pools_certificate_and_setup_connection() {
    let bin = compile("examples/c-probe/probe.c", "probe");
    let tp = start_tp(free_addr(), 1.0).await;
    let (pool, key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let addr = pool.local_addr();
    let run = |key: String| {
        let mut cmd = checked(&bin);
        cmd.args([addr.ip().to_string(), addr.port().to_string(), key]);
        tokio::task::spawn_blocking(move || cmd.output().expect("run the probe"))
    };

    let out = run(key.to_base58()).await.unwrap();
    assert_clean("the probe", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""signature":"valid""#), "{stdout}");
    assert!(
        stdout.contains(r#""message":"SetupConnection.Success","used_version":2"#),
        "{stdout}"
    );

    // Another authority's key: the handshake fails at the certificate, and the probe says so.
    let out = run(tp_key().public_key().to_base58()).await.unwrap();
    assert_clean("the probe (wrong key)", &out);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));
    pool.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpp_template_provider_feeds_our_pool_until_blocks_are_submitted_through_it() {
    let bin = compile(
        "examples/interop-cpp/template_provider.cpp",
        "template_provider",
    );
    mine_through_cpp_template_provider(&bin, 2, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rustc_only_build_of_the_library_runs_the_cpp_template_provider() {
    let out = std::env::temp_dir().join(format!("sv2-no-cargo-{}", std::process::id()));
    let build = c_api::repo_root().join("examples/interop-cpp-no-cargo/build.sh");
    let status = tokio::process::Command::new(build)
        .arg(&out)
        .status()
        .await
        .expect("run build.sh");
    assert!(status.success(), "the rustc-only build failed");
    // Built without noise: plain connections only.
    mine_through_cpp_template_provider(&out.join("template_provider"), 1, false).await;
    let _ = std::fs::remove_dir_all(out);
}

/// Run the C++ template provider under valgrind with our pool and an extended device until
/// `blocks` solutions have been submitted to it, then check what it saw.
async fn mine_through_cpp_template_provider(bin: &std::path::Path, blocks: u32, noise: bool) {
    let tp_addr = free_addr();
    let mut tp = tokio::process::Command::from(checked(bin));
    tp.args([
        "--listen",
        &tp_addr.to_string(),
        "--blocks",
        &blocks.to_string(),
    ]);
    if noise {
        tp.args(["--authority-secret", TP_SECRET_KEY]);
    } else {
        tp.arg("--plain");
    }
    tp.stdout(Stdio::piped()).kill_on_drop(true);
    let mut tp = tp.spawn().expect("start the C++ template provider");
    let mut lines = BufReader::new(tp.stdout.take().unwrap()).lines();
    within("the C++ template provider listens", LONG, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains("listening") {
                break;
            }
        }
    })
    .await;

    let mut cfg = pool_config(free_addr(), tp_addr);
    if !noise {
        cfg.tp_authority_public_key = None;
    }
    // With noise, the pool checks the C++ program's certificate against its authority key.
    let (pool, key) = start_pool(cfg).await;
    let _device = device(pool.local_addr(), key, ChannelKind::Extended, "ext");
    let mut seen = Vec::new();
    within(
        "blocks submitted to the C++ template provider",
        LONG,
        async {
            while let Some(l) = lines.next_line().await.unwrap() {
                seen.push(l);
            }
        },
    )
    .await;
    let out = within("the C++ template provider exits", LONG, tp.wait())
        .await
        .unwrap();
    let log = seen.join("\n");
    assert_ne!(
        out.code(),
        Some(c_api::VALGRIND_ERROR),
        "valgrind found problems:\n{log}"
    );
    assert!(out.success(), "{log}");
    assert!(log.contains("SetupConnection protocol=2"), "{log}");
    assert!(log.contains("CoinbaseOutputConstraints"), "{log}");
    // A share found on the old job can still reach the pool after a block, and be a block
    // too (half of all hashes are, at regtest difficulty): the TP reports it as stale.
    let solutions: Vec<_> = seen
        .iter()
        .filter(|l| l.starts_with("SubmitSolution") && !l.contains("stale"))
        .collect();
    assert_eq!(solutions.len(), blocks as usize, "{log}");
    for (i, s) in solutions.iter().enumerate() {
        let want = format!("template_id={} height={}", i + 1, 1001 + i);
        assert!(s.contains(&want), "{log}");
    }
    assert!(
        pool.stats()
            .blocks_found
            .load(std::sync::atomic::Ordering::Relaxed)
            >= u64::from(blocks)
    );
    pool.shutdown();
}
