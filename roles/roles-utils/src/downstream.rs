//! One downstream connection served by a [`Session`]: frames in, messages out, the job feed
//! and the clock applied, events handed to the role.

use crate::feed::{FeedUpdate, JobFeed};
use crate::limits::{Gate, Limits, Permit, SetupSlot};
use crate::now;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, ResponderConfig, Security};
use roles_logic_sv2::mining_server::{ServerEvent, Session};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
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
    fn on_tick(&mut self, _session: &mut Session) {}
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
/// is replayed into it first. The connection is closed when its setup (SetupConnection) does
/// not finish in time or its slot is taken ([`Admitted::setup_expired`]), and when no frame
/// arrives for the idle timeout.
pub async fn serve_session<H: SessionHooks>(
    conn: &Connection,
    session: &mut Session,
    feed: &JobFeed,
    mut commands: Option<mpsc::Receiver<SessionCommand>>,
    hooks: &mut H,
    admitted: &mut Admitted,
) {
    let peer = admitted.peer;
    let idle_timeout = admitted.limits().idle_timeout();
    let stats = admitted.gate().clone();
    let mut last_frame = tokio::time::Instant::now();
    let mut updates = feed.subscribe();
    feed.replay(session);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    while !closing {
        tokio::select! {
            frame = conn.receiver.recv() => {
                let Ok(frame) = frame else { break };
                last_frame = tokio::time::Instant::now();
                closing = handle_frames(conn, session, frame, peer);
                if admitted.in_setup() && session.setup_flags().is_some() {
                    admitted.setup_done();
                }
            }
            why = admitted.setup_expired() => {
                tracing::info!(%peer, "closing: {why}");
                break;
            }
            u = updates.recv() => match u {
                Ok(FeedUpdate::NewTemplate(t)) => session.on_new_template(t),
                Ok(FeedUpdate::SetNewPrevHash(p)) => { let _ = session.on_set_new_prev_hash(p); }
                Ok(FeedUpdate::UpstreamTarget(t)) => session.set_upstream_target(t),
                Ok(FeedUpdate::Reconnect(reason)) => {
                    tracing::info!(%peer, "asking the downstream to reconnect: {reason}");
                    session.reconnect();
                    closing = true;
                }
                // Replaying is idempotent in the session: jobs and tips it already has change
                // nothing, so no share is judged twice.
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
                session.handle_timeout(now());
                hooks.on_tick(session);
                if idle_timeout.is_some_and(|t| last_frame.elapsed() >= t) {
                    stats.stats().idle_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%peer, "closing: nothing received for idle_timeout_sec");
                    break;
                }
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

/// Everything already read, then one batch of acknowledgements. True when the connection
/// must close.
fn handle_frames(
    conn: &Connection,
    session: &mut Session,
    first: network_helpers_sv2::OwnedFrame,
    peer: SocketAddr,
) -> bool {
    let now = now();
    let mut next = Some(first);
    let mut n = 0;
    while let Some(f) = next.take() {
        let h = f.header();
        if let Err(e) = session.handle_frame(h.extension_type(), h.msg_type(), f.payload(), now) {
            tracing::info!(%peer, "closing: {e}");
            return true;
        }
        n += 1;
        if n < MAX_FRAMES_PER_TURN {
            next = conn.receiver.try_recv().ok();
        }
    }
    false
}

async fn next_command(c: &mut Option<mpsc::Receiver<SessionCommand>>) -> Option<SessionCommand> {
    match c {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A socket the [`Gate`] admitted, from accept to the end of its setup: it holds the
/// connection's counts (released when dropped) and, until [`Admitted::setup_done`], a setup
/// slot and the setup deadline.
#[derive(Debug)]
pub struct Admitted {
    pub peer: SocketAddr,
    permit: Permit,
    slot: Option<SetupSlot>,
    setup_deadline: tokio::time::Instant,
}

impl Admitted {
    pub fn limits(&self) -> &Limits {
        self.permit.gate().limits()
    }

    pub fn gate(&self) -> &Arc<Gate> {
        self.permit.gate()
    }

    /// Whether the setup is still going on.
    pub fn in_setup(&self) -> bool {
        self.slot.is_some()
    }

    /// Start the setup deadline again from now (a role that held the connection unread while
    /// it had no work to give).
    pub fn restart_setup_deadline(&mut self) {
        self.setup_deadline = tokio::time::Instant::now() + self.limits().setup_timeout();
    }

    /// The setup finished: free the slot; the deadline no longer applies.
    pub fn setup_done(&mut self) {
        self.slot = None;
    }

    /// Completes when the connection must be closed for its setup: a newer connection took
    /// its slot, or the deadline passed. Never completes once the setup is done.
    pub async fn setup_expired(&mut self) -> SetupExpiry {
        let deadline = self.setup_deadline;
        let Some(slot) = self.slot.as_mut() else {
            return std::future::pending().await;
        };
        let stats = self.permit.gate().stats();
        tokio::select! {
            _ = slot.evicted() => SetupExpiry::Evicted,
            _ = tokio::time::sleep_until(deadline) => {
                stats.setup_timeouts.fetch_add(1, Ordering::Relaxed);
                SetupExpiry::Timeout
            }
        }
    }
}

/// Why a connection in its setup is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupExpiry {
    Evicted,
    Timeout,
}

impl std::fmt::Display for SetupExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetupExpiry::Evicted => "setup not finished; its slot went to a newer connection",
            SetupExpiry::Timeout => "setup not finished within setup_timeout_sec",
        })
    }
}

/// Accept connections until this future is dropped; each admitted one runs `serve` in a task
/// that is dropped with it, so stopping a role closes every connection. The [`Gate`] counts
/// sockets at accept (in total and per IP). A socket takes a setup slot only once it has sent
/// something (every client speaks first: the noise initiator's first message, Stratum V1's
/// subscribe), so a flood of silent sockets never evicts a miner in its handshake; silent
/// sockets are closed at the setup deadline.
pub async fn accept_loop<F, Fut>(listener: TcpListener, gate: Arc<Gate>, serve: F)
where
    F: Fn(TcpStream, Admitted) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve = Arc::new(serve);
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
        let Ok(permit) = gate.admit(peer) else {
            // Refused (and logged by the gate); dropping the stream closes it.
            continue;
        };
        let _ = stream.set_nodelay(true);
        let deadline = tokio::time::Instant::now() + gate.limits().setup_timeout();
        let (gate, serve) = (gate.clone(), serve.clone());
        conns.spawn(async move {
            // `peek` waits for a first byte (readiness alone may be a false positive).
            match tokio::time::timeout_at(deadline, stream.peek(&mut [0u8; 1])).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return, // closed or failed before saying anything
                Err(_) => {
                    gate.stats().setup_timeouts.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            let admitted = Admitted {
                peer,
                slot: Some(gate.setup_slot()),
                setup_deadline: deadline,
                permit,
            };
            serve(stream, admitted).await;
        });
    }
}

/// The noise responder handshake, with buffers sized for miners' small messages so idle
/// connections stay cheap, and the role's write timeout. `None` (logged) when it fails, or
/// when the setup slot or deadline runs out first.
pub async fn handshake(
    stream: TcpStream,
    responder: Arc<ResponderConfig>,
    admitted: &mut Admitted,
) -> Option<Connection> {
    let limits = admitted.limits();
    let cfg = ConnectionConfig {
        channel_capacity: 16,
        read_buffer: 1024,
        max_payload: 64 * 1024,
        handshake_timeout: limits.setup_timeout(),
        write_timeout: Some(limits.write_timeout()),
        frame_timeout: Some(limits.frame_timeout()),
    };
    let peer = admitted.peer;
    tokio::select! {
        r = with_tokio::connect(stream, Security::NoiseResponder(responder), cfg) => match r {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(%peer, "handshake failed: {e}");
                None
            }
        },
        why = admitted.setup_expired() => {
            tracing::debug!(%peer, "closing during the handshake: {why}");
            None
        }
    }
}
