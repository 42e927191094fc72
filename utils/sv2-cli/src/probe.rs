//! `sv2 probe`: connect to an Sv2 server, check its certificate, and ask it a SetupConnection.

use common_messages_sv2::{Protocol, SetupConnection};
use framing_sv2::Sv2Frame;
use network_helpers_sv2::{with_tokio, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use serde_json::json;
use std::time::Duration;

pub struct ProbeArgs {
    pub address: String,
    pub authority: Option<AuthorityPublicKey>,
    pub timeout: Duration,
    pub flags: u32,
}

/// Run the probe; every line it prints is JSON. Errors say which step failed.
pub async fn probe(args: ProbeArgs, mut out: impl FnMut(String)) -> Result<(), String> {
    let stream = tokio::time::timeout(args.timeout, tokio::net::TcpStream::connect(&args.address))
        .await
        .map_err(|_| {
            format!(
                "connect to {}: timed out after {:?}",
                args.address, args.timeout
            )
        })?
        .map_err(|e| format!("connect to {}: {e}", args.address))?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let security = match args.authority {
        Some(a) => Security::NoiseInitiator { authority: a.0 },
        None => Security::Plain,
    };
    let cfg = ConnectionConfig {
        handshake_timeout: args.timeout,
        ..Default::default()
    };
    let conn = with_tokio::connect(stream, security, cfg)
        .await
        .map_err(|e| format!("handshake with {peer}: {e}"))?;
    match (&conn.handshake, args.authority) {
        (Some(h), Some(a)) => {
            let now = network_helpers_sv2::unix_now();
            out(json!({
                "certificate": {
                    "authority_public_key": a.to_base58(),
                    "server_static_key": h.responder_static.to_string(),
                    "version": h.certificate.version,
                    "valid_from": h.certificate.valid_from,
                    "not_valid_after": h.certificate.not_valid_after,
                    "seconds_left": i64::from(h.certificate.not_valid_after) - i64::from(now),
                    "signature": "valid",
                }
            })
            .to_string());
        }
        _ => out(json!({"connection": "plain (no encryption, no authentication)"}).to_string()),
    }

    let (host, port) = split_host_port(&args.address);
    let setup = SetupConnection {
        protocol: Protocol::Mining as u8,
        min_version: const_sv2::SV2_PROTOCOL_VERSION,
        max_version: const_sv2::SV2_PROTOCOL_VERSION,
        flags: args.flags,
        endpoint_host: host
            .to_string()
            .try_into()
            .map_err(|e| format!("host: {e}"))?,
        endpoint_port: port,
        vendor: "sv2-cli probe".try_into().map_err(|e| format!("{e}"))?,
        hardware_version: "".try_into().map_err(|e| format!("{e}"))?,
        firmware: env!("CARGO_PKG_VERSION")
            .try_into()
            .map_err(|e| format!("{e}"))?,
        device_id: "".try_into().map_err(|e| format!("{e}"))?,
    };
    let frame = Sv2Frame::from_message(&setup).map_err(|e| e.to_string())?;
    conn.sender
        .send(frame)
        .await
        .map_err(|_| "connection closed before SetupConnection was sent".to_string())?;
    let answer = tokio::time::timeout(args.timeout, conn.receiver.recv())
        .await
        .map_err(|_| format!("no answer to SetupConnection within {:?}", args.timeout))?
        .map_err(|_| "connection closed without an answer to SetupConnection".to_string())?;
    let line = crate::frame_to_json(&answer.as_frame())?;
    out(line);
    conn.close();
    let msg_type = answer.header().msg_type();
    if msg_type == const_sv2::MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS {
        Ok(())
    } else {
        Err(format!(
            "server did not accept SetupConnection (answered message type 0x{msg_type:02x})"
        ))
    }
}

fn split_host_port(addr: &str) -> (&str, u16) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().unwrap_or(0),
        ),
        None => (addr, 0),
    }
}
