//! Well-behaved Sv2 clients: a mining device that opens one channel and waits for work, and a
//! template client (what a pool is to its template provider).

use crate::connect_from;
use binary_sv2::{Str0255, U256};
use common_messages_sv2::SetupConnection;
use const_sv2::{
    mining_flags, PROTOCOL_MINING, PROTOCOL_TEMPLATE_DISTRIBUTION, SV2_PROTOCOL_VERSION,
};
use mining_sv2::{OpenExtendedMiningChannel, OpenStandardMiningChannel};
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::mining_client::{ClientChannel, Work};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, Mining, TemplateDistribution};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use template_distribution_sv2::CoinbaseOutputConstraints;
use tokio::net::TcpStream;

/// The kind of channel a client opens.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum ChannelKind {
    Standard,
    Extended,
}

/// A connection with one open channel and its current work.
pub struct Client {
    pub conn: Connection,
    pub ch: ClientChannel,
    pub work: Work,
}

/// A `Str0255` from text (empty when it does not fit).
pub fn str0255(v: &str) -> Str0255<'static> {
    Str0255::new(v.as_bytes().to_vec()).unwrap_or_default()
}

/// Encode and queue one message on `conn`.
pub async fn send(conn: &Connection, m: impl Into<AnyMessage<'static>>) -> Result<(), String> {
    let f = m.into().to_frame().map_err(|e| e.to_string())?;
    conn.sender.send(f).await.map_err(|_| "closed".to_string())
}

/// The SetupConnection a client of `protocol` at `addr` sends.
pub fn setup_connection(protocol: u8, flags: u32, addr: SocketAddr) -> SetupConnection<'static> {
    SetupConnection {
        protocol,
        min_version: SV2_PROTOCOL_VERSION,
        max_version: SV2_PROTOCOL_VERSION,
        flags,
        endpoint_host: str0255(&addr.ip().to_string()),
        endpoint_port: addr.port(),
        vendor: str0255("sv2-load"),
        hardware_version: str0255(""),
        firmware: str0255(""),
        device_id: str0255(""),
    }
}

/// The OpenStandardMiningChannel or OpenExtendedMiningChannel of a device that accepts any
/// target (4 bytes of extranonce for an extended channel).
pub fn open_channel_message(kind: ChannelKind, request_id: u32, user: &str) -> Mining<'static> {
    match kind {
        ChannelKind::Standard => Mining::OpenStandardMiningChannel(OpenStandardMiningChannel {
            request_id,
            user_identity: str0255(user),
            nominal_hash_rate: 1.0,
            max_target: U256([0xff; 32]),
        }),
        ChannelKind::Extended => Mining::OpenExtendedMiningChannel(OpenExtendedMiningChannel {
            request_id,
            user_identity: str0255(user),
            nominal_hash_rate: 1.0,
            max_target: U256([0xff; 32]),
            min_extranonce_size: 4,
        }),
    }
}

/// Connect from `source` (see [`connect_from`]), run the noise handshake, set up a mining
/// connection, open one channel of `kind`, and wait for its first job and SetNewPrevHash.
/// Returns the client, the time to the end of the noise handshake and the time to work, both
/// from the start of the TCP connect.
pub async fn open(
    addr: SocketAddr,
    key: AuthorityPublicKey,
    kind: ChannelKind,
    source: Option<IpAddr>,
) -> Result<(Client, Duration, Duration), String> {
    let t0 = Instant::now();
    let stream = connect_from(source, addr)
        .await
        .map_err(|e| e.to_string())?;
    open_on(stream, t0, addr, key, kind).await
}

/// [`open`] on a connected `stream`, timed from `t0`.
pub async fn open_on(
    stream: TcpStream,
    t0: Instant,
    addr: SocketAddr,
    key: AuthorityPublicKey,
    kind: ChannelKind,
) -> Result<(Client, Duration, Duration), String> {
    let conn = with_tokio::connect(
        stream,
        Security::NoiseInitiator { authority: key.0 },
        ConnectionConfig {
            read_buffer: 4096,
            ..ConnectionConfig::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let handshake = t0.elapsed();
    let flags = if kind == ChannelKind::Standard {
        mining_flags::REQUIRES_STANDARD_JOBS
    } else {
        0
    };
    send(
        &conn,
        CommonMessages::SetupConnection(setup_connection(PROTOCOL_MINING, flags, addr)),
    )
    .await?;
    send(&conn, open_channel_message(kind, 1, "load")).await?;
    let mut ch: Option<ClientChannel> = None;
    loop {
        let f = conn
            .receiver
            .recv()
            .await
            .map_err(|_| "closed".to_string())?;
        let m = AnyMessage::parse_frame(&f).map_err(|e| e.to_string())?;
        let m = match m {
            AnyMessage::Mining(m) => m,
            AnyMessage::Common(CommonMessages::SetupConnectionError(e)) => {
                return Err(format!("setup refused: {}", e.error_code.to_string_lossy()))
            }
            _ => continue,
        };
        let w = match (&m, ch.as_mut()) {
            (Mining::OpenStandardMiningChannelSuccess(o), _) => {
                ch = Some(ClientChannel::standard(
                    o.channel_id,
                    o.group_channel_id,
                    o.target.0,
                    o.extranonce_prefix.as_bytes(),
                ));
                None
            }
            (Mining::OpenExtendedMiningChannelSuccess(o), _) => {
                ch = Some(ClientChannel::extended(
                    o.channel_id,
                    o.group_channel_id,
                    o.target.0,
                    o.extranonce_prefix.as_bytes(),
                    o.extranonce_size as usize,
                ));
                None
            }
            (Mining::OpenMiningChannelError(e), _) => {
                return Err(e.error_code.to_string_lossy().into_owned())
            }
            (Mining::NewMiningJob(j), Some(c)) => c.on_new_mining_job(j),
            (Mining::NewExtendedMiningJob(j), Some(c)) => {
                c.on_new_extended_mining_job(j).map_err(|e| e.to_string())?
            }
            (Mining::SetNewPrevHash(p), Some(c)) => c.on_set_new_prev_hash(p),
            _ => None,
        };
        if let Some(w) = w {
            if let Some(c) = ch.take() {
                return Ok((
                    Client {
                        conn,
                        ch: c,
                        work: w,
                    },
                    handshake,
                    t0.elapsed(),
                ));
            }
        }
    }
}

/// A template client on plain TCP: SetupConnection for Template Distribution, then
/// CoinbaseOutputConstraints; returns once a NewTemplate and its SetNewPrevHash have arrived,
/// with the time from the start of the TCP connect.
pub async fn open_template_client(
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> Result<(Connection, Duration), String> {
    let t0 = Instant::now();
    let stream = connect_from(source, addr)
        .await
        .map_err(|e| e.to_string())?;
    open_template_client_on(stream, t0, addr).await
}

/// [`open_template_client`] on a connected `stream`, timed from `t0`.
pub async fn open_template_client_on(
    stream: TcpStream,
    t0: Instant,
    addr: SocketAddr,
) -> Result<(Connection, Duration), String> {
    let conn = with_tokio::connect(stream, Security::Plain, ConnectionConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    send(
        &conn,
        CommonMessages::SetupConnection(setup_connection(PROTOCOL_TEMPLATE_DISTRIBUTION, 0, addr)),
    )
    .await?;
    send(
        &conn,
        TemplateDistribution::CoinbaseOutputConstraints(CoinbaseOutputConstraints {
            coinbase_output_max_additional_size: 100,
            coinbase_output_max_additional_sigops: 4,
        }),
    )
    .await?;
    let (mut template, mut prev) = (false, false);
    while !(template && prev) {
        let f = conn
            .receiver
            .recv()
            .await
            .map_err(|_| "closed".to_string())?;
        match AnyMessage::parse_frame(&f).map_err(|e| e.to_string())? {
            AnyMessage::TemplateDistribution(TemplateDistribution::NewTemplate(_)) => {
                template = true
            }
            AnyMessage::TemplateDistribution(TemplateDistribution::SetNewPrevHash(_)) => {
                prev = true
            }
            AnyMessage::Common(CommonMessages::SetupConnectionError(e)) => {
                return Err(format!("setup refused: {}", e.error_code.to_string_lossy()))
            }
            _ => {}
        }
    }
    Ok((conn, t0.elapsed()))
}
