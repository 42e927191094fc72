//! Connections over loopback on both runtimes: plain and noise, the handshake timeout, a wrong
//! authority key, and a misbehaving peer that must lose only its own connection.

use common_messages_sv2::{ChannelEndpointChanged, SetupConnectionSuccess};
use network_helpers_sv2::*;
use noise_sv2::{AuthoritySecretKey, HandshakeKey};
use std::sync::Arc;
use std::time::Duration;

fn responder(authority: &AuthoritySecretKey) -> Security {
    Security::NoiseResponder(Arc::new(ResponderConfig {
        authority: authority.keypair(),
        static_key: HandshakeKey::generate().unwrap(),
        cert_validity_secs: 3600,
    }))
}

fn frame(id: u32) -> OwnedFrame {
    framing_sv2::Sv2Frame::from_message(&ChannelEndpointChanged { channel_id: id }).unwrap()
}

mod tokio_runtime {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// A server that echoes every frame back, one task per connection.
    async fn echo_server(security: Security, cfg: ConnectionConfig) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let security = security.clone();
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    if let Ok(conn) = with_tokio::connect(s, security, cfg).await {
                        while let Ok(f) = conn.receiver.recv().await {
                            if conn.sender.send(f).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn plain_echo() {
        let addr = echo_server(Security::Plain, ConnectionConfig::default()).await;
        let conn = with_tokio::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::Plain,
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
        for i in 0..100 {
            conn.sender.send(frame(i)).await.unwrap();
        }
        for i in 0..100 {
            assert_eq!(conn.receiver.recv().await.unwrap(), frame(i));
        }
    }

    #[tokio::test]
    async fn noise_echo_and_certificate() {
        let authority = AuthoritySecretKey::generate().unwrap();
        let addr = echo_server(responder(&authority), ConnectionConfig::default()).await;
        let conn = with_tokio::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::NoiseInitiator {
                authority: authority.public_key().0,
            },
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
        let cert = conn.handshake.unwrap().certificate;
        assert_eq!(cert.not_valid_after - cert.valid_from, 3600);
        // A large frame (split into several noise messages) and small ones.
        let big = raw_frame(200_000); // three noise messages

        conn.sender.send(big.clone()).await.unwrap();
        conn.sender.send(frame(7)).await.unwrap();
        assert_eq!(conn.receiver.recv().await.unwrap(), big);
        assert_eq!(conn.receiver.recv().await.unwrap(), frame(7));
    }

    /// A frame of an unknown type with `len` payload bytes (the echo server does not parse).
    fn raw_frame(len: usize) -> OwnedFrame {
        let mut bytes = framing_sv2::Header::new(0, false, 0x7f, len)
            .unwrap()
            .to_bytes()
            .to_vec();
        bytes.extend((0..len).map(|i| i as u8));
        framing_sv2::Sv2Frame::from_bytes(bytes).unwrap()
    }

    #[tokio::test]
    async fn wrong_authority_is_refused() {
        let authority = AuthoritySecretKey::generate().unwrap();
        let addr = echo_server(responder(&authority), ConnectionConfig::default()).await;
        let other = AuthoritySecretKey::generate().unwrap();
        let err = with_tokio::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::NoiseInitiator {
                authority: other.public_key().0,
            },
            ConnectionConfig::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Noise(noise_sv2::NoiseError::CertificateSignature)
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn handshake_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A client that connects and says nothing.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let authority = AuthoritySecretKey::generate().unwrap();
        let cfg = ConnectionConfig {
            handshake_timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let err = with_tokio::connect(s, responder(&authority), cfg)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout(_)), "{err}");
    }

    #[tokio::test]
    async fn a_bad_peer_loses_only_its_own_connection() {
        let authority = AuthoritySecretKey::generate().unwrap();
        let addr = echo_server(responder(&authority), ConnectionConfig::default()).await;
        let good = with_tokio::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::NoiseInitiator {
                authority: authority.public_key().0,
            },
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
        // A bad peer: handshakes, then sends bytes that do not decrypt.
        let mut raw = TcpStream::connect(addr).await.unwrap();
        {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut init = noise_sv2::Initiator::new(authority.public_key().0).unwrap();
            raw.write_all(&init.start().unwrap()).await.unwrap();
            let mut m2 = [0u8; 234];
            raw.read_exact(&mut m2).await.unwrap();
            init.finish(&m2, unix_now()).unwrap();
            raw.write_all(&[0xab; 100]).await.unwrap();
            // The server closes it: reading returns EOF.
            let mut b = [0u8; 16];
            let n = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut b))
                .await
                .unwrap()
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
        // The good connection still works.
        good.sender.send(frame(1)).await.unwrap();
        assert_eq!(good.receiver.recv().await.unwrap(), frame(1));
    }

    #[tokio::test]
    async fn oversized_frames_close_the_connection() {
        let cfg = ConnectionConfig {
            max_payload: 16,
            ..Default::default()
        };
        let addr = echo_server(Security::Plain, cfg).await;
        let conn = with_tokio::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::Plain,
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
        let big = framing_sv2::Sv2Frame::from_message(&SetupConnectionSuccess {
            used_version: 2,
            flags: 0,
        })
        .unwrap();
        conn.sender.send(big).await.unwrap(); // 6-byte payload: fine
        assert!(conn.receiver.recv().await.is_ok());
        let too_big = raw_frame(17);
        conn.sender.send(too_big).await.unwrap();
        // The server drops the connection; our receiver ends.
        let r = tokio::time::timeout(Duration::from_secs(5), conn.receiver.recv())
            .await
            .unwrap();
        assert!(r.is_err());
    }
}

#[cfg(feature = "async_std")]
mod async_std_runtime {
    use super::*;
    use async_std::net::{TcpListener, TcpStream};

    #[async_std::test]
    async fn noise_echo() {
        let authority = AuthoritySecretKey::generate().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server_security = responder(&authority);
        async_std::task::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let conn = with_async_std::connect(s, server_security, ConnectionConfig::default())
                .await
                .unwrap();
            while let Ok(f) = conn.receiver.recv().await {
                conn.sender.send(f).await.unwrap();
            }
        });
        let conn = with_async_std::connect(
            TcpStream::connect(addr).await.unwrap(),
            Security::NoiseInitiator {
                authority: authority.public_key().0,
            },
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
        for i in 0..10 {
            conn.sender.send(frame(i)).await.unwrap();
            assert_eq!(conn.receiver.recv().await.unwrap(), frame(i));
        }
    }

    #[async_std::test]
    async fn plain_and_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = TcpStream::connect(addr).await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let authority = AuthoritySecretKey::generate().unwrap();
        let cfg = ConnectionConfig {
            handshake_timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let err = with_async_std::connect(s, responder(&authority), cfg)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout(_)));
    }
}
