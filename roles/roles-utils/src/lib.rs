//! # roles_utils
//!
//! The async glue every role binary needs and would otherwise write again: sending and
//! receiving messages on a [`Connection`], the client side of SetupConnection, the
//! [`feed::JobFeed`] that tells every downstream session about jobs, and
//! [`downstream::serve_session`], the loop that runs one
//! [`Session`](roles_logic_sv2::mining_server::Session) over one connection. The pool and the
//! mining proxy serve downstreams with the same loop; only what they do with events differs.
//!
//! ```
//! let a = roles_utils::now_ms();
//! assert!(a > 1_600_000_000_000);
//! ```

pub mod downstream;
pub mod feed;
pub mod limits;
pub mod upstream;

use binary_sv2::Str0255;
use common_messages_sv2::SetupConnection;
use const_sv2::SV2_PROTOCOL_VERSION;
use network_helpers_sv2::Connection;
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Logs to stderr, filtered by RUST_LOG (`default` when it is not set).
pub fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// Accept-queue length for role listeners (the kernel caps it at `net.core.somaxconn`). The
/// default of 128 overflows under a flood of connects, and an honest miner's dropped SYN is
/// resent only after 1 s, then 3 s.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Why a role failed to start (its `start` function).
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A config value is wrong (the text says which).
    Config(String),
    /// A listening address could not be bound.
    Bind {
        address: String,
        source: std::io::Error,
    },
    /// No randomness for the noise static key.
    Noise(noise_sv2::NoiseError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "config: {e}"),
            StartError::Bind { address, source } => write!(f, "{address}: {source}"),
            StartError::Noise(e) => write!(f, "noise static key: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Bind a listener with [`LISTEN_BACKLOG`].
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Lock, going on with the data if another task panicked while holding it: the state the
/// roles keep behind locks stays consistent between statements.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the Unix epoch (wall clock: timestamps, not durations).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds on a monotonic clock that starts with the process: for windows and
/// deadlines, which must not jump when the wall clock is set.
pub fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// Sleep until `deadline` on the [`monotonic_ms`] clock (what sans-IO sessions' `poll_timeout`
/// return); `None` sleeps for ever.
pub async fn sleep_until_monotonic(deadline: Option<u64>) {
    match deadline {
        Some(ms) => {
            let d = std::time::Duration::from_millis(ms.saturating_sub(monotonic_ms()));
            tokio::time::sleep(d).await
        }
        None => std::future::pending().await,
    }
}

/// Both clocks, as the sans-IO sessions take them.
pub fn now() -> roles_logic_sv2::Now {
    roles_logic_sv2::Now {
        monotonic_ms: monotonic_ms(),
        unix_secs: (now_ms() / 1000).min(u32::MAX as u64) as u32,
    }
}

/// An authority key pair from a config's base58check strings: the secret key, and the public
/// key checked against it when the config gives one too.
pub fn authority_keys(
    secret: &str,
    public: Option<&str>,
) -> Result<noise_sv2::AuthoritySecretKey, String> {
    use std::str::FromStr;
    let sk = noise_sv2::AuthoritySecretKey::from_str(secret)
        .map_err(|e| format!("authority_secret_key: {e}"))?;
    if let Some(pk) = public {
        let pk = noise_sv2::AuthorityPublicKey::from_str(pk)
            .map_err(|e| format!("authority_public_key: {e}"))?;
        if pk != sk.public_key() {
            return Err(
                "authority_public_key is not the public key of authority_secret_key".into(),
            );
        }
    }
    Ok(sk)
}

/// Parse a payout script description.
///
/// `addr(ADDRESS)` (any network: a role does not know which chain its node follows),
/// `raw(HEX)`, or plain hex; the forms deployed pools and JD clients use in their configs.
pub fn parse_script(s: &str) -> Result<bitcoin::ScriptBuf, String> {
    use std::str::FromStr;
    let s = s.trim();
    if let Some(addr) = s.strip_prefix("addr(").and_then(|r| r.strip_suffix(')')) {
        let a = bitcoin::Address::from_str(addr).map_err(|e| format!("address {addr}: {e}"))?;
        // Any network: the pool does not know which chain its template provider follows.
        return Ok(a.assume_checked().script_pubkey());
    }
    let hex_part = s
        .strip_prefix("raw(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s);
    let bytes = hex::decode(hex_part).map_err(|e| format!("not hex: {e}"))?;
    if bytes.is_empty() {
        return Err("empty script".into());
    }
    Ok(bitcoin::ScriptBuf::from_bytes(bytes))
}

/// A `Str0255` from text, truncated to 255 bytes.
pub fn str0255(s: &str) -> Str0255<'static> {
    let mut b = s.as_bytes().to_vec();
    b.truncate(255);
    Str0255::new(b).unwrap_or_default()
}

/// Send without waiting: when `tx` is full the message is sent from a task of its own, so a
/// loop that answers many connections is never held up by one slow connection.
pub fn send_without_waiting<T: Send + 'static>(tx: &tokio::sync::mpsc::Sender<T>, m: T) {
    if let Err(tokio::sync::mpsc::error::TrySendError::Full(m)) = tx.try_send(m) {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(m).await;
        });
    }
}

/// A role's config: the file at `path` through `parse`, or the embedded default. The error
/// names the file.
pub fn read_config<T>(
    path: Option<&std::path::Path>,
    parse: impl Fn(&str) -> Result<T, String>,
    default: impl FnOnce() -> T,
) -> Result<T, String> {
    match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|s| parse(&s))
            .map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(default()),
    }
}

/// [`read_config`] for a binary's `main`: on error, print `program: error` and exit with
/// status 2 (a configuration error, before anything started).
pub fn read_config_or_exit<T>(
    program: &str,
    path: Option<&std::path::Path>,
    parse: impl Fn(&str) -> Result<T, String>,
    default: impl FnOnce() -> T,
) -> T {
    read_config(path, parse, default).unwrap_or_else(|e| {
        eprintln!("{program}: {e}");
        std::process::exit(2);
    })
}

/// Encode and send one message.
pub async fn send(conn: &Connection, m: impl Into<AnyMessage<'static>>) -> Result<(), String> {
    let m: AnyMessage = m.into();
    let f = m
        .to_frame()
        .map_err(|e| format!("cannot encode {}: {e}", m.name()))?;
    conn.sender
        .send(f)
        .await
        .map_err(|_| "connection closed".to_string())
}

/// The next message, owned.
pub async fn recv(conn: &Connection) -> Result<AnyMessage<'static>, String> {
    let f = conn
        .receiver
        .recv()
        .await
        .map_err(|_| "peer closed the connection".to_string())?;
    AnyMessage::parse_frame(&f)
        .map(binary_sv2::IntoStatic::into_static)
        .map_err(|e| format!("bad frame: {e}"))
}

/// A SetupConnection for `protocol` to `endpoint`, as this workspace's roles send it.
pub fn setup_connection_message(
    protocol: u8,
    flags: u32,
    endpoint: SocketAddr,
    device_id: &str,
) -> SetupConnection<'static> {
    SetupConnection {
        protocol,
        min_version: SV2_PROTOCOL_VERSION,
        max_version: SV2_PROTOCOL_VERSION,
        flags,
        endpoint_host: str0255(&endpoint.ip().to_string()),
        endpoint_port: endpoint.port(),
        vendor: str0255("stratum-v2-rust"),
        hardware_version: str0255(""),
        firmware: str0255(env!("CARGO_PKG_VERSION")),
        device_id: str0255(device_id),
    }
}

/// The client side of SetupConnection: send it and wait for the answer. Returns the flags of
/// SetupConnection.Success; a refusal is an error that names the code.
pub async fn setup_connection(
    conn: &Connection,
    protocol: u8,
    flags: u32,
    endpoint: SocketAddr,
    device_id: &str,
) -> Result<u32, String> {
    send(
        conn,
        CommonMessages::SetupConnection(setup_connection_message(
            protocol, flags, endpoint, device_id,
        )),
    )
    .await?;
    match recv(conn).await? {
        AnyMessage::Common(CommonMessages::SetupConnectionSuccess(s)) => Ok(s.flags),
        AnyMessage::Common(CommonMessages::SetupConnectionError(e)) => Err(format!(
            "setup refused: {} (flags {:#x})",
            e.error_code.to_string_lossy(),
            e.flags
        )),
        other => Err(format!("unexpected {} during setup", other.name())),
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
