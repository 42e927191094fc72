//! One downstream connection served by a [`Session`]: frames in, messages out, the job feed
//! and the clock applied, events handed to the role.

use crate::feed::{FeedUpdate, JobFeed};
use crate::now_ms;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, ResponderConfig, Security};
use roles_logic_sv2::mining_server::{ServerEvent, Session};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

/// What a role does with a session's events.
pub trait SessionHooks: Send {
    /// Called for every event, in order. It may wait (a proxy waits for room toward its
    /// upstream), which slows this connection alone.
    fn on_event(
        &mut self,
        session: &mut Session,
        event: ServerEvent,
    ) -> impl Future<Output = ()> + Send;

    /// Called about once a second, after the session's own timer.
    fn on_tick(&mut self, _session: &Session) {}
}

/// Commands a role sends to a running session from elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionCommand {
    /// The upstream's answer to a forwarded share
    /// ([`Session::resolve_forwarded_share`]); the error is the upstream's code.
    ResolveForwarded {
        channel_id: u32,
        sequence_number: u32,
        difficulty: f64,
        result: Result<(), String>,
    },
}

/// Most frames handled before the session's answers are sent.
const MAX_FRAMES_PER_TURN: usize = 256;

/// Run `session` on `conn` until either side closes. `session` must be new: the feed's state
/// is replayed into it first.
pub async fn serve_session<H: SessionHooks>(
    conn: &Connection,
    session: &mut Session,
    feed: &JobFeed,
    mut commands: Option<mpsc::Receiver<SessionCommand>>,
    hooks: &mut H,
    peer: SocketAddr,
) {
    let mut updates = feed.subscribe();
    feed.replay(session);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    while !closing {
        tokio::select! {
            frame = conn.receiver.recv() => {
                let Ok(frame) = frame else { break };
                let now = now_ms();
                let mut next = Some(frame);
                // Everything already read, then one batch of acknowledgements.
                let mut n = 0;
                while let Some(f) = next.take() {
                    let h = f.header();
                    if let Err(e) = session.handle_frame(h.extension_type(), h.msg_type(), f.payload(), now) {
                        tracing::info!(%peer, "closing: {e}");
                        closing = true;
                        break;
                    }
                    n += 1;
                    if n < MAX_FRAMES_PER_TURN {
                        next = conn.receiver.try_recv().ok();
                    }
                }
            }
            u = updates.recv() => match u {
                Ok(FeedUpdate::NewTemplate(t)) => session.on_new_template(t),
                Ok(FeedUpdate::SetNewPrevHash(p)) => { session.on_set_new_prev_hash(p); }
                Ok(FeedUpdate::UpstreamTarget(t)) => session.set_upstream_target(t),
                Err(broadcast::error::RecvError::Lagged(_)) => feed.replay(session),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            c = next_command(&mut commands) => match c {
                Some(SessionCommand::ResolveForwarded { channel_id, sequence_number, difficulty, result }) => {
                    session.resolve_forwarded_share(channel_id, sequence_number, difficulty, result.as_ref().map(|_| ()).map_err(|e| e.as_str()));
                }
                None => commands = None,
            },
            _ = tick.tick() => {
                session.handle_timeout(now_ms());
                hooks.on_tick(session);
            }
        }
        while let Some(e) = session.poll_event() {
            hooks.on_event(session, e).await;
        }
        session.flush_share_acks();
        while let Some(m) = session.poll_message() {
            match m.to_frame() {
                Ok(f) => {
                    if conn.sender.send(f).await.is_err() {
                        closing = true;
                        break;
                    }
                }
                Err(e) => tracing::error!("cannot encode {}: {e}", m.name()),
            }
        }
    }
}

async fn next_command(c: &mut Option<mpsc::Receiver<SessionCommand>>) -> Option<SessionCommand> {
    match c {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Accept connections until this future is dropped; each runs `serve` in a task that is
/// dropped with it, so stopping a role closes every connection. Beyond `max_connections`
/// (as `open` counts them) new ones are refused.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    open: impl Fn() -> usize,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        if open() >= max_connections {
            tracing::warn!(%peer, "max_connections reached; refusing");
            continue;
        }
        let _ = stream.set_nodelay(true);
        conns.spawn(serve(stream, peer));
    }
}

/// The noise responder handshake, with buffers sized for miners' small messages so idle
/// connections stay cheap. `None` (logged) when it fails.
pub async fn handshake(
    stream: TcpStream,
    responder: Arc<ResponderConfig>,
    peer: SocketAddr,
) -> Option<Connection> {
    let cfg = ConnectionConfig {
        channel_capacity: 16,
        read_buffer: 1024,
        max_payload: 64 * 1024,
        ..ConnectionConfig::default()
    };
    match with_tokio::connect(stream, Security::NoiseResponder(responder), cfg).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::debug!(%peer, "handshake failed: {e}");
            None
        }
    }
}
