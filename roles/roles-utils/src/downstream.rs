//! One downstream connection served by a [`Session`]: frames in, messages out, the job feed
//! and the clock applied, events handed to the role.

use crate::feed::{FeedUpdate, JobFeed};
use crate::now_ms;
use network_helpers_sv2::Connection;
use roles_logic_sv2::mining_server::{ServerEvent, Session};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

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
