//! One upstream of the JD client: an extended channel on the pool (with work selection) and a
//! connection to the pool's job declaration server, both set up before the link counts.

use crate::config::UpstreamConfig;
use crate::{send_frame, Route};
use const_sv2::{job_declaration_flags, mining_flags, PROTOCOL_JOB_DECLARATION, PROTOCOL_MINING};
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use roles_logic_sv2::job_declaration::{JdcConfig, JdcEvent, JdcSession};
use roles_logic_sv2::mining_client::{ClientChannel, ClientConfig, ClientEvent, ClientSession};
use roles_logic_sv2::target::{Target, MAX_TARGET};
use roles_utils::{now, setup_connection_message};
use std::time::Duration;
use tokio::net::TcpStream;

/// How links are asked for.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    pub full_template: bool,
    pub min_extranonce_size: u16,
    pub connect_timeout: Duration,
    pub answer_timeout: Duration,
}

/// An upstream that is up: its channel and its JDS, and the outputs its pool requires.
#[derive(Debug)]
pub struct Link {
    pub index: usize,
    pub endpoint: String,
    pub pool_conn: Connection,
    pub pool: ClientSession<Route>,
    pub channel_id: u32,
    pub extranonce_prefix: Vec<u8>,
    pub extranonce_size: usize,
    pub target: Target,
    pub version_rolling: bool,
    pub jds_conn: Connection,
    pub jds: JdcSession,
    /// The pool payout output first (at 0), then any others the JDS requires.
    pub outputs: Vec<bitcoin::TxOut>,
}

async fn connect(
    endpoint: &str,
    key: noise_sv2::AuthorityPublicKey,
    max_payload: usize,
) -> Result<(Connection, std::net::SocketAddr), String> {
    let stream = TcpStream::connect(endpoint)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let peer = stream.peer_addr().map_err(|e| e.to_string())?;
    let cfg = ConnectionConfig {
        max_payload,
        ..ConnectionConfig::default()
    };
    let conn = with_tokio::connect(stream, Security::NoiseInitiator { authority: key.0 }, cfg)
        .await
        .map_err(|e| format!("{endpoint}: handshake: {e}"))?;
    Ok((conn, peer))
}

/// Open the channel and the JDS connection of upstream `index`, within the connect timeout.
pub async fn establish(
    u: &UpstreamConfig,
    index: usize,
    req: &LinkRequest,
) -> Result<Link, String> {
    tokio::time::timeout(req.connect_timeout, establish_inner(u, index, req))
        .await
        .map_err(|_| format!("upstream {index}: not up within {:?}", req.connect_timeout))?
}

async fn establish_inner(
    u: &UpstreamConfig,
    index: usize,
    req: &LinkRequest,
) -> Result<Link, String> {
    let key = u.authority()?;
    let endpoint = u.pool_endpoint()?;
    let (pool_conn, pool, ch, setup_flags) = open_pool_channel(u, &endpoint, key, req).await?;
    let (jds_conn, jds, outputs) = open_jds(u, key, req).await?;
    Ok(Link {
        index,
        endpoint,
        pool_conn,
        channel_id: ch.channel_id,
        extranonce_prefix: ch.extranonce_prefix.clone(),
        extranonce_size: ch.extranonce_size,
        target: ch.target,
        version_rolling: setup_flags & mining_flags::SUCCESS_REQUIRES_FIXED_VERSION == 0,
        pool,
        jds_conn,
        jds,
        outputs,
    })
}

/// SetupConnection with work selection, and one extended channel with at least
/// `req.min_extranonce_size` bytes of extranonce. Returns the channel and the setup flags.
async fn open_pool_channel(
    u: &UpstreamConfig,
    endpoint: &str,
    key: noise_sv2::AuthorityPublicKey,
    req: &LinkRequest,
) -> Result<(Connection, ClientSession<Route>, ClientChannel, u32), String> {
    let (pool_conn, peer) = connect(endpoint, key, const_sv2::SV2_MAX_PAYLOAD_SIZE).await?;
    let flags = mining_flags::REQUIRES_WORK_SELECTION | mining_flags::REQUIRES_VERSION_ROLLING;
    let setup = setup_connection_message(PROTOCOL_MINING, flags, peer, &u.user_identity);
    let cfg = ClientConfig {
        answer_timeout_ms: req.answer_timeout.as_millis() as u64,
        ..ClientConfig::default()
    };
    let mut pool = ClientSession::new(cfg, setup, now());
    roles_utils::upstream::flush(&pool_conn, &mut pool).await?;
    let setup_flags = roles_utils::upstream::read_until(&pool_conn, &mut pool, |e| match e {
        ClientEvent::SetupDone { flags } => Some(Ok(flags)),
        _ => None,
    })
    .await?;
    let request_id = pool
        .open_extended(&u.user_identity, 0.0, MAX_TARGET, req.min_extranonce_size)
        .map_err(|e| e.to_string())?;
    roles_utils::upstream::flush(&pool_conn, &mut pool).await?;
    let channel_id = roles_utils::upstream::read_until(&pool_conn, &mut pool, |e| match e {
        ClientEvent::ChannelOpened {
            request_id: r,
            channel_id,
        } if r == request_id => Some(Ok(channel_id)),
        ClientEvent::OpenFailed { error_code, .. } => {
            Some(Err(format!("channel refused: {error_code}")))
        }
        _ => None,
    })
    .await?;
    let ch = pool
        .channel(channel_id)
        .ok_or("the channel is gone")?
        .clone();
    if ch.extranonce_size < req.min_extranonce_size as usize {
        return Err(format!(
            "the pool grants {} extranonce bytes, {} are needed",
            ch.extranonce_size, req.min_extranonce_size
        ));
    }
    Ok((pool_conn, pool, ch, setup_flags))
}

/// The JDS connection, up to its first token, whose outputs every coinbase must carry (the
/// token is kept for the first declaration).
async fn open_jds(
    u: &UpstreamConfig,
    key: noise_sv2::AuthorityPublicKey,
    req: &LinkRequest,
) -> Result<(Connection, JdcSession, Vec<bitcoin::TxOut>), String> {
    let jds_endpoint = u.jds_endpoint()?;
    // A declaration of a full block's transactions is about 4 MB.
    let (jds_conn, jds_peer) = connect(&jds_endpoint, key, 8 * 1024 * 1024).await?;
    let jd_flags = if req.full_template {
        job_declaration_flags::DECLARE_TX_DATA
    } else {
        0
    };
    let setup = setup_connection_message(
        PROTOCOL_JOB_DECLARATION,
        jd_flags,
        jds_peer,
        &u.user_identity,
    );
    let mut jds = JdcSession::new(
        JdcConfig {
            user_identifier: u.user_identity.clone(),
            answer_timeout_ms: req.answer_timeout.as_millis() as u64,
            ..JdcConfig::default()
        },
        setup,
        now(),
    );
    while jds.tokens() == 0 {
        while let Some(m) = jds.poll_message() {
            send_frame(&jds_conn, m).await?;
        }
        let f = jds_conn
            .receiver
            .recv()
            .await
            .map_err(|_| format!("{jds_endpoint}: closed during setup"))?;
        let h = f.header();
        jds.handle_frame(h.extension_type(), h.msg_type(), f.payload(), now())
            .map_err(|e| format!("{jds_endpoint}: {e}"))?;
        while let Some(e) = jds.poll_event() {
            if let JdcEvent::Timeout { what } = e {
                return Err(format!("{jds_endpoint}: no answer to {what}"));
            }
        }
    }
    // Peek at the first token's outputs without using it.
    let token = jds.take_token().ok_or("no token")?;
    let outputs = token.outputs.clone();
    jds.return_token(token);
    Ok((jds_conn, jds, outputs))
}
