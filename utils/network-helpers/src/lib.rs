//! # network_helpers_sv2
//!
//! Turns a TCP stream into a Stratum V2 connection: a bounded sender and receiver of plaintext
//! frames, with the bytes on the socket plain or noise-encrypted, as initiator or responder.
//! The protocol work is done by the sans-IO crates (`codec_sv2`, `noise_sv2`); this crate only
//! moves bytes, on tokio (default feature `tokio`) or async-std (feature `async_std`).
//!
//! * The noise handshake must finish within [`ConnectionConfig::handshake_timeout`].
//! * Any error (I/O, a frame that does not decrypt, a frame over the size limit, the peer
//!   closing) ends that connection alone: both channels close, the socket is dropped, and the
//!   application sees its receiver end. Nothing else is affected.
//! * Channels are bounded ([`ConnectionConfig::channel_capacity`]), so a slow application
//!   slows the socket reader instead of buffering without limit.
//! * A peer that stops reading cannot hold the connection: a write that does not finish
//!   within [`ConnectionConfig::write_timeout`] closes it.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn example(authority: noise_sv2::AuthorityPublicKey) -> Result<(), network_helpers_sv2::Error> {
//! use network_helpers_sv2::{with_tokio, ConnectionConfig, Security};
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:34254").await?;
//! let conn = with_tokio::connect(stream, Security::NoiseInitiator { authority: authority.0 }, ConnectionConfig::default()).await?;
//! // conn.sender.send(frame).await; conn.receiver.recv().await
//! # Ok(()) }
//! ```

use codec_sv2::{CodecError, HandshakeCodec, NoiseDecoder, NoiseEncoder, StandardDecoder};
use const_sv2::SV2_MAX_PAYLOAD_SIZE;
use framing_sv2::Sv2Frame;
use noise_sv2::secp256k1::{Keypair, XOnlyPublicKey};
use noise_sv2::{
    HandshakeKey, HandshakeResult, Initiator, NoiseError, Responder, RESPONDER_MESSAGE_LEN,
};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "async_std")]
pub mod with_async_std;
#[cfg(feature = "tokio")]
pub mod with_tokio;

/// An owned plaintext frame, as the channels carry them.
pub type OwnedFrame = Sv2Frame<Vec<u8>>;

/// What a responder needs: the authority key that signs its certificates, its long-lived
/// static key, and how long each certificate is valid.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    pub authority: Keypair,
    pub static_key: HandshakeKey,
    pub cert_validity_secs: u32,
}

/// How the bytes on the socket are protected.
#[derive(Debug, Clone)]
pub enum Security {
    /// No encryption (local links, tests).
    Plain,
    /// Connect and check the responder's certificate against this authority key.
    NoiseInitiator { authority: XOnlyPublicKey },
    /// Accept, proving who we are with a certificate from our authority.
    NoiseResponder(Arc<ResponderConfig>),
}

/// Limits of a connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub handshake_timeout: Duration,
    pub channel_capacity: usize,
    /// Largest payload accepted from the peer (refused as soon as its header arrives).
    pub max_payload: usize,
    /// Size of each socket read.
    pub read_buffer: usize,
    /// A write that cannot finish within this (the peer stopped reading and the socket's
    /// buffers are full) closes the connection. `None`: wait for ever.
    pub write_timeout: Option<Duration>,
    /// A frame must arrive whole within this once its first byte did; a peer that trickles a
    /// frame (holding the buffer it grows) is closed. `None`: no limit.
    pub frame_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            handshake_timeout: Duration::from_secs(10),
            channel_capacity: 256,
            max_payload: SV2_MAX_PAYLOAD_SIZE,
            read_buffer: 64 * 1024,
            write_timeout: Some(Duration::from_secs(20)),
            frame_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// An established connection.
#[derive(Debug)]
pub struct Connection {
    /// Frames to send. Closed when the connection ends.
    pub sender: async_channel::Sender<OwnedFrame>,
    /// Frames received. Ends when the connection ends.
    pub receiver: async_channel::Receiver<OwnedFrame>,
    /// The checked certificate, for a noise initiator.
    pub handshake: Option<HandshakeResult>,
}

impl Connection {
    /// Close the connection (both directions).
    pub fn close(&self) {
        self.sender.close();
        self.receiver.close();
    }
}

/// Why a connection could not be established.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The noise handshake did not finish in time.
    HandshakeTimeout(Duration),
    /// The noise handshake failed (wrong key, bad certificate, altered bytes...).
    Noise(NoiseError),
    /// The peer closed the connection during the handshake.
    ClosedDuringHandshake,
    /// A framing error during setup.
    Framing(framing_sv2::FramingError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::HandshakeTimeout(d) => write!(f, "noise handshake did not finish within {d:?}"),
            Error::Noise(e) => write!(f, "noise handshake failed: {e}"),
            Error::ClosedDuringHandshake => {
                f.write_str("peer closed the connection during the handshake")
            }
            Error::Framing(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<CodecError> for Error {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Noise(e) => Error::Noise(e),
            CodecError::Framing(e) => Error::Framing(e),
        }
    }
}

impl From<NoiseError> for Error {
    fn from(e: NoiseError) -> Self {
        Error::Noise(e)
    }
}

/// Unix time in seconds, for certificate checks.
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32)
        .unwrap_or(0)
}

/// The error of a write that did not finish within the write timeout.
pub(crate) fn write_timed_out(t: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the peer did not read for {t:?}"),
    )
}

/// The two socket operations the connection needs, implemented per runtime.
pub(crate) trait ReadIo: Send + 'static {
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    /// A read that fails with `TimedOut` after `limit`.
    fn read_within(
        &mut self,
        buf: &mut [u8],
        limit: Duration,
    ) -> impl Future<Output = io::Result<usize>> + Send;
}

pub(crate) trait WriteIo: Send + 'static {
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    fn shutdown(&mut self) -> impl Future<Output = ()> + Send;
}

pub(crate) enum Decoder {
    Plain(StandardDecoder),
    Noise(Box<NoiseDecoder>),
}

impl Decoder {
    fn is_idle(&self) -> bool {
        match self {
            Decoder::Plain(d) => d.is_idle(),
            Decoder::Noise(d) => d.is_idle(),
        }
    }

    fn decode_owned(&mut self, input: &[u8]) -> Result<(usize, Option<OwnedFrame>), CodecError> {
        match self {
            Decoder::Plain(d) => d.decode_owned(input),
            Decoder::Noise(d) => {
                let (used, f) = d.decode(input)?;
                Ok((used, f.map(|f| f.to_owned_frame())))
            }
        }
    }
}

pub(crate) enum Encoder {
    Plain,
    Noise(Box<NoiseEncoder>),
}

/// Run the handshake (if any) and return the codec halves.
pub(crate) async fn handshake<R: ReadIo, W: WriteIo>(
    r: &mut R,
    w: &mut W,
    security: &Security,
    cfg: &ConnectionConfig,
) -> Result<(Decoder, Encoder, Option<HandshakeResult>), Error> {
    match security {
        Security::Plain => Ok((
            Decoder::Plain(StandardDecoder::with_max_payload(cfg.max_payload)),
            Encoder::Plain,
            None,
        )),
        Security::NoiseInitiator { authority } => {
            let (hs, msg1) = HandshakeCodec::initiator(Initiator::new(*authority)?)?;
            w.write_all(&msg1).await?;
            noise_handshake(r, w, hs, cfg).await
        }
        Security::NoiseResponder(rc) => {
            let resp = Responder::new(rc.authority, rc.static_key, rc.cert_validity_secs)?;
            noise_handshake(r, w, HandshakeCodec::responder(resp), cfg).await
        }
    }
}

/// Drive the sans-IO handshake codec. Reads never go past the handshake message, so no
/// transport bytes are consumed here.
async fn noise_handshake<R: ReadIo, W: WriteIo>(
    r: &mut R,
    w: &mut W,
    mut hs: HandshakeCodec,
    cfg: &ConnectionConfig,
) -> Result<(Decoder, Encoder, Option<HandshakeResult>), Error> {
    let mut buf = [0u8; RESPONDER_MESSAGE_LEN];
    loop {
        let want = hs.missing().min(buf.len());
        let n = r.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(Error::ClosedDuringHandshake);
        }
        if let (_, Some(done)) = hs.decode(&buf[..n], cfg.max_payload, unix_now())? {
            if let Some(reply) = &done.reply {
                w.write_all(reply).await?;
            }
            return Ok((
                Decoder::Noise(Box::new(done.decoder)),
                Encoder::Noise(Box::new(done.encoder)),
                done.result,
            ));
        }
    }
}

/// Socket -> frames, until an error or EOF; then close both channels.
pub(crate) async fn read_loop<R: ReadIo>(
    mut r: R,
    mut dec: Decoder,
    to_app: async_channel::Sender<OwnedFrame>,
    from_app: async_channel::Receiver<OwnedFrame>,
    read_buffer: usize,
    frame_timeout: Option<Duration>,
) {
    let mut buf = vec![0u8; read_buffer.max(1)];
    // When the current partial frame started.
    let mut partial_since: Option<std::time::Instant> = None;
    'outer: loop {
        let read = match (partial_since, frame_timeout) {
            (Some(since), Some(limit)) => {
                let left = limit.saturating_sub(since.elapsed());
                r.read_within(&mut buf, left).await
            }
            _ => r.read(&mut buf).await,
        };
        let n = match read {
            Ok(0) => {
                tracing::debug!("peer closed the connection");
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                tracing::debug!("closing connection: a frame did not arrive whole in time");
                break;
            }
            Err(e) => {
                tracing::debug!("read error: {e}");
                break;
            }
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match dec.decode_owned(rest) {
                Ok((used, frame)) => {
                    rest = &rest[used..];
                    if let Some(f) = frame {
                        if to_app.send(f).await.is_err() {
                            break 'outer;
                        }
                    }
                }
                // A peer's bad bytes close its connection; that is logged once by the role
                // that sees the receiver end, so a flood of them does not flood the log.
                Err(e) => {
                    tracing::debug!("closing connection: {e}");
                    break 'outer;
                }
            }
        }
        partial_since = match (dec.is_idle(), partial_since) {
            (true, _) => None,
            (false, None) => Some(std::time::Instant::now()),
            (false, since) => since,
        };
    }
    to_app.close();
    from_app.close();
}

/// Frames -> socket, until the channel closes or a write fails; then close both channels.
pub(crate) async fn write_loop<W: WriteIo>(
    mut w: W,
    mut enc: Encoder,
    from_app: async_channel::Receiver<OwnedFrame>,
    to_app: async_channel::Sender<OwnedFrame>,
) {
    while let Ok(frame) = from_app.recv().await {
        let bytes = match &mut enc {
            Encoder::Plain => frame.as_bytes(),
            Encoder::Noise(e) => match e.encrypt_frame(frame.as_bytes()) {
                Ok(b) => b,
                Err(err) => {
                    tracing::warn!("closing connection: {err}");
                    break;
                }
            },
        };
        if let Err(e) = w.write_all(bytes).await {
            if e.kind() == io::ErrorKind::TimedOut {
                tracing::info!("closing connection: {e}");
            } else {
                tracing::debug!("write error: {e}");
            }
            break;
        }
    }
    w.shutdown().await;
    from_app.close();
    to_app.close();
}

/// The channels of a new connection and the ends its tasks keep.
pub(crate) fn channels(
    cap: usize,
) -> (
    Connection,
    async_channel::Sender<OwnedFrame>,
    async_channel::Receiver<OwnedFrame>,
) {
    let (to_app, from_net) = async_channel::bounded(cap.max(1));
    let (to_net, from_app) = async_channel::bounded(cap.max(1));
    (
        Connection {
            sender: to_net,
            receiver: from_net,
            handshake: None,
        },
        to_app,
        from_app,
    )
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
