//! `sv2 probe` and `sv2 keygen` against a noise server on loopback.

use common_messages_sv2::{SetupConnectionError, SetupConnectionSuccess};
use framing_sv2::Sv2Frame;
use network_helpers_sv2::{with_tokio, ConnectionConfig, ResponderConfig, Security};
use noise_sv2::{AuthoritySecretKey, HandshakeKey};
use std::process::Command;
use std::sync::Arc;

/// A server that answers one SetupConnection per connection, with success or an error.
fn server(authority: &AuthoritySecretKey, accept: bool) -> std::net::SocketAddr {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let security = Security::NoiseResponder(Arc::new(ResponderConfig {
        authority: authority.keypair(),
        static_key: HandshakeKey::generate().unwrap(),
        cert_validity_secs: 600,
    }));
    std::thread::spawn(move || {
        rt.block_on(async move {
            while let Ok((s, _)) = listener.accept().await {
                let security = security.clone();
                tokio::spawn(async move {
                    let Ok(conn) =
                        with_tokio::connect(s, security, ConnectionConfig::default()).await
                    else {
                        return;
                    };
                    if conn.receiver.recv().await.is_ok() {
                        let answer = if accept {
                            Sv2Frame::from_message(&SetupConnectionSuccess {
                                used_version: 2,
                                flags: 0,
                            })
                            .unwrap()
                        } else {
                            Sv2Frame::from_message(&SetupConnectionError {
                                flags: 0,
                                error_code: "unsupported-protocol".try_into().unwrap(),
                            })
                            .unwrap()
                        };
                        let _ = conn.sender.send(answer).await;
                        let _ = conn.receiver.recv().await;
                    }
                });
            }
        })
    });
    addr
}

fn sv2(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_sv2"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn probe_prints_certificate_and_answer() {
    let authority = AuthoritySecretKey::generate().unwrap();
    let addr = server(&authority, true).to_string();
    let (out, code) = sv2(&[
        "probe",
        &addr,
        "--authority-pubkey",
        &authority.public_key().to_base58(),
    ]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cert = &lines[0]["certificate"];
    assert_eq!(
        cert["authority_public_key"],
        authority.public_key().to_base58()
    );
    assert_eq!(
        cert["not_valid_after"].as_u64().unwrap() - cert["valid_from"].as_u64().unwrap(),
        600
    );
    assert_eq!(lines[1]["message"], "SetupConnection.Success");
}

#[test]
fn probe_fails_on_the_wrong_key_and_on_a_refusal() {
    let authority = AuthoritySecretKey::generate().unwrap();
    let addr = server(&authority, true).to_string();
    let other = AuthoritySecretKey::generate()
        .unwrap()
        .public_key()
        .to_base58();
    let (out, code) = sv2(&["probe", &addr, "--authority-pubkey", &other]);
    assert_eq!(code, 1);
    assert!(
        out.contains("certificate signature does not verify"),
        "{out}"
    );

    let refusing = server(&authority, false).to_string();
    let (out, code) = sv2(&[
        "probe",
        &refusing,
        "--authority-pubkey",
        &authority.public_key().to_base58(),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("SetupConnection.Error") && out.contains("did not accept"),
        "{out}"
    );
}

#[test]
fn keygen_prints_keys_that_parse() {
    let (out, code) = sv2(&["keygen"]);
    assert_eq!(code, 0);
    let get = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{k} = ")))
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap()
            .to_string()
    };
    let sk: AuthoritySecretKey = get("authority_secret_key").parse().unwrap();
    let pk: noise_sv2::AuthorityPublicKey = get("authority_public_key").parse().unwrap();
    assert_eq!(sk.public_key(), pk);
    assert_eq!(get("authority_public_key_hex"), pk.to_hex());
}
