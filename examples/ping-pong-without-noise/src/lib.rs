//! Shared by the two ping-pong examples: the messages and the two loops.
//!
//! The messages are our own, defined with the binary_sv2 derive macros and sent under an
//! experimental extension type (03-Protocol-Overview.md 3.4: 0x4000-0x7fff is for experiments
//! and must not be used in production), which is how a vendor prototypes an extension.

use binary_sv2::{Decodable, Encodable, B064K};
use framing_sv2::{Sv2Frame, Sv2Message};
use network_helpers_sv2::{with_tokio, ConnectionConfig, OwnedFrame, Security};
use std::net::SocketAddr;

/// Experimental extension type of the example messages.
pub const EXTENSION_TYPE_PING_PONG: u16 = 0x4242;

/// Ping: a round number and random bytes the server must send back.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable)]
pub struct Ping<'a> {
    pub round: u32,
    pub data: B064K<'a>,
}

/// Pong: the round and the bytes of the ping it answers.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable)]
pub struct Pong<'a> {
    pub round: u32,
    pub data: B064K<'a>,
}

framing_sv2::impl_sv2_message!(Ping<'a>, EXTENSION_TYPE_PING_PONG, 0x01, false, "Ping");
framing_sv2::impl_sv2_message!(Pong<'a>, EXTENSION_TYPE_PING_PONG, 0x02, false, "Pong");

fn random_bytes() -> Vec<u8> {
    let mut len = [0u8; 2];
    let _ = getrandom::getrandom(&mut len);
    let mut data = vec![0u8; 1 + (u16::from_le_bytes(len) as usize % 256)];
    let _ = getrandom::getrandom(&mut data);
    data
}

fn short_hex(b: &[u8]) -> String {
    let s: String = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    if b.len() > 8 {
        format!("{s}... ({} bytes)", b.len())
    } else {
        s
    }
}

/// Accept connections and answer every Ping with a Pong, printing what arrives.
pub async fn serve(addr: SocketAddr, security: Security) -> std::io::Result<()> {
    serve_on(tokio::net::TcpListener::bind(addr).await?, security).await
}

/// [`serve`] on a listener the caller bound (port 0 in tests and the all-in-one mode).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    security: Security,
) -> std::io::Result<()> {
    println!("server: listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let security = security.clone();
        tokio::spawn(async move {
            let conn =
                match with_tokio::connect(stream, security, ConnectionConfig::default()).await {
                    Ok(c) => c,
                    Err(e) => {
                        println!("server: {peer}: {e}");
                        return;
                    }
                };
            while let Ok(frame) = conn.receiver.recv().await {
                match answer(&frame) {
                    Ok(pong) => {
                        if conn.sender.send(pong).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        println!("server: {peer}: {e}; closing");
                        break;
                    }
                }
            }
            println!("server: {peer} disconnected");
        });
    }
}

fn answer(frame: &OwnedFrame) -> Result<OwnedFrame, String> {
    let h = frame.header();
    if h.extension_type() != EXTENSION_TYPE_PING_PONG || h.msg_type() != Ping::MSG_TYPE {
        return Err(format!(
            "unexpected message (extension 0x{:04x}, type 0x{:02x})",
            h.extension_type(),
            h.msg_type()
        ));
    }
    let ping = Ping::decode(frame.payload()).map_err(|e| e.to_string())?;
    println!(
        "server: received Ping round {} data {}",
        ping.round,
        short_hex(&ping.data)
    );
    Sv2Frame::from_message(&Pong {
        round: ping.round,
        data: ping.data,
    })
    .map_err(|e| e.to_string())
}

/// Send `count` Pings, check each Pong, print what arrives.
pub async fn client(addr: SocketAddr, security: Security, count: u32) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let conn = with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(h) = &conn.handshake {
        println!(
            "client: server certificate valid from {} to {}, static key {}",
            h.certificate.valid_from, h.certificate.not_valid_after, h.responder_static
        );
    }
    for round in 0..count {
        let data = random_bytes();
        let ping = Ping {
            round,
            data: B064K::new(data.clone()).map_err(|e| e.to_string())?,
        };
        let frame = Sv2Frame::from_message(&ping).map_err(|e| e.to_string())?;
        conn.sender
            .send(frame)
            .await
            .map_err(|_| "connection closed".to_string())?;
        let reply = conn
            .receiver
            .recv()
            .await
            .map_err(|_| "connection closed".to_string())?;
        let pong = Pong::decode(reply.payload()).map_err(|e| e.to_string())?;
        println!(
            "client: received Pong round {} data {}",
            pong.round,
            short_hex(&pong.data)
        );
        if pong.round != round || pong.data.as_bytes() != data.as_slice() {
            return Err(format!("round {round}: the pong does not match the ping"));
        }
    }
    println!("client: {count} rounds done");
    Ok(())
}

/// Server and client in one process on a free loopback port.
pub async fn both(server: Security, client_security: Security, count: u32) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(serve_on(listener, server));
    client(addr, client_security, count).await
}
