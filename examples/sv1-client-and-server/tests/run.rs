//! Both sides on loopback: the client's really computed shares are accepted by the server.
#[test]
fn shares_are_mined_and_accepted() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_client_and_server"))
        .args(["--duration", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("server: share from example.worker accepted"),
        "{text}"
    );
    assert!(text.contains("mining.notify") && text.contains("mining.configure"));
}
