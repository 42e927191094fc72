//! The example runs server and client on loopback and the client checks every pong.

use network_helpers_sv2::Security;

#[tokio::test(flavor = "current_thread")]
async fn plain_rounds_complete() {
    ping_pong::both(Security::Plain, Security::Plain, 20)
        .await
        .unwrap();
}

#[test]
fn binary_runs_both_sides() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ping_pong_without_noise"))
        .args(["--count", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("client: received Pong").count(), 5);
    assert!(text.contains("client: 5 rounds done"));
}
