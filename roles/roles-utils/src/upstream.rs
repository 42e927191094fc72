//! One extended channel to the best upstream that answers, for roles that sit between miners
//! and a pool (the mining proxy, the translator).
//!
//! [`run_upstreams`] keeps the channel open: it tries the upstreams in priority order, and
//! while it is on a lower-priority one it keeps trying the higher ones, switching back as
//! soon as one of them opens a channel. The role sees [`UpstreamEvent`]s (the channel up or
//! down, jobs, tips, targets, the answer to each share) and sends [`UpstreamCommand`]s (shares
//! to submit, its hashrate). Each share carries a route of the role's choosing that comes back
//! with its answer, so the role never keeps a table of sequence numbers.

use crate::{now, send, setup_connection_message, sleep_until_monotonic};
use const_sv2::{error_codes, mining_flags, PROTOCOL_MINING};
use mining_sv2::{NewExtendedMiningJob, SetNewPrevHash};
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::extranonce::{ExtranonceAllocator, ExtranonceError, ExtranonceRange};
use roles_logic_sv2::mining_client::{
    ClientConfig, ClientEvent, ClientSession, Share, ShareRefusal,
};
use roles_logic_sv2::target::{Target, MAX_TARGET};
use serde::Deserialize;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// One `[[upstreams]]` entry. The key names are the ones deployed proxies and translators
/// use, so existing configs carry over.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Host name or IP address.
    pub address: String,
    pub port: u16,
    /// The pool's authority public key (base58check). Without it the connection is plain
    /// TCP, which only makes sense on a trusted local link.
    pub authority_pubkey: Option<String>,
    /// Lower is preferred; upstreams with equal priority are tried in file order.
    #[serde(default)]
    pub priority: u32,
}

impl UpstreamConfig {
    /// `address:port`, for logs and metrics labels.
    pub fn endpoint(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }

    /// The authority key, checked.
    pub fn authority(&self) -> Result<Option<AuthorityPublicKey>, String> {
        self.authority_pubkey
            .as_deref()
            .map(AuthorityPublicKey::from_str)
            .transpose()
            .map_err(|e| format!("upstream {}: authority_pubkey: {e}", self.endpoint()))
    }
}

/// Sort by priority (stable: file order breaks ties) and check every key.
pub fn ordered(upstreams: &[UpstreamConfig]) -> Result<Vec<UpstreamConfig>, String> {
    if upstreams.is_empty() {
        return Err("no [[upstreams]] configured".into());
    }
    for u in upstreams {
        u.authority()?;
    }
    let mut v = upstreams.to_vec();
    v.sort_by_key(|u| u.priority);
    Ok(v)
}

/// How the channel is asked for.
#[derive(Debug, Clone)]
pub struct ChannelRequest {
    pub user_identity: String,
    /// Extranonce bytes the role needs to roll (or to split among its downstreams).
    pub min_extranonce_size: u16,
    /// SetupConnection flags (for example REQUIRES_VERSION_ROLLING).
    pub flags: u32,
    /// While on a lower-priority upstream, how often the better ones are tried.
    pub retry_primary: Duration,
    /// Connect, handshake, setup and channel open must finish within this.
    pub connect_timeout: Duration,
    /// A share the upstream has not answered within this is reported refused.
    pub answer_timeout: Duration,
}

impl Default for ChannelRequest {
    fn default() -> Self {
        ChannelRequest {
            user_identity: String::new(),
            min_extranonce_size: 8,
            flags: mining_flags::REQUIRES_VERSION_ROLLING,
            retry_primary: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(60),
        }
    }
}

/// The channel as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Counts links: jobs and shares of one link are never taken for another's.
    pub generation: u64,
    /// Index in the ordered upstream list.
    pub index: usize,
    pub endpoint: String,
    /// SetupConnection.Success flags.
    pub setup_flags: u32,
    pub channel_id: u32,
    pub group_channel_id: u32,
    pub extranonce_prefix: Vec<u8>,
    pub extranonce_size: usize,
    pub target: Target,
}

impl ChannelInfo {
    /// Whether miners may roll version bits on this upstream.
    pub fn version_rolling(&self) -> bool {
        self.setup_flags & mining_flags::SUCCESS_REQUIRES_FIXED_VERSION == 0
    }
}

/// How a role lays its own extranonce bytes inside an upstream channel's: the upstream prefix
/// and zero padding go into the coinbase prefix of every job (so downstreams never see them
/// and a new upstream changes nothing they were told), and the last `ours` bytes are the
/// role's to split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtranonceSplit {
    /// Zero bytes between the upstream prefix and ours.
    pub pad: usize,
    /// Upstream prefix then the pad.
    pub job_prefix: Vec<u8>,
}

impl ExtranonceSplit {
    /// `prefix` from the upstream, `total` extranonce bytes in the coinbase; `None` when fewer
    /// than `ours` bytes are left after the prefix.
    pub fn new(prefix: &[u8], total: usize, ours: usize) -> Option<Self> {
        let pad = total.checked_sub(prefix.len() + ours)?;
        let mut job_prefix = prefix.to_vec();
        job_prefix.resize(prefix.len() + pad, 0);
        Some(ExtranonceSplit { pad, job_prefix })
    }

    /// The split of a newly opened channel.
    pub fn of_channel(info: &ChannelInfo, ours: usize) -> Option<Self> {
        let p = &info.extranonce_prefix;
        Self::new(p, p.len() + info.extranonce_size, ours)
    }

    /// After SetExtranoncePrefix: the whole extranonce keeps its length. `None` (keep the old
    /// split) when the new prefix leaves fewer than `ours` bytes.
    pub fn with_prefix(&self, prefix: &[u8], ours: usize) -> Option<Self> {
        Self::new(prefix, self.job_prefix.len() + ours, ours)
    }

    /// Apply an upstream SetExtranoncePrefix in place; one that leaves fewer than `ours`
    /// bytes is logged and ignored (the old split stays).
    pub fn apply_prefix(&mut self, prefix: &[u8], ours: usize) {
        match self.with_prefix(prefix, ours) {
            Some(s) => *self = s,
            None => tracing::error!(
                "upstream SetExtranoncePrefix leaves fewer than {ours} bytes; ignored"
            ),
        }
    }

    /// What goes in SubmitSharesExtended.extranonce for our `extranonce` bytes.
    pub fn upstream_extranonce(&self, ours: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; self.pad];
        v.extend_from_slice(ours);
        v
    }
}

/// How a role that splits an upstream channel (a proxy, a job declarator client) lays out its
/// part of the upstream extranonce for its downstreams: each connection gets
/// [`LAYOUT_CONNECTION_ID_BYTES`] of it, each channel 2 more, devices roll the rest.
///
/// It follows what the upstream grants: as much as the pool gives, so devices and translators
/// get all the room there is. An upstream that grants less than the connected downstreams
/// were given (after failover) cannot carry their shares: they must reconnect and get ranges
/// that fit ([`Layout::follow`] says so). A larger grant is used as soon as no downstream
/// holds a range.
#[derive(Debug)]
pub struct Layout {
    total: usize,
    /// Counts layouts, so a range goes back only to the allocator it came from.
    epoch: u64,
    allocator: ExtranonceAllocator,
}

/// Bytes of a [`Layout`] that tell downstream connections apart.
pub const LAYOUT_CONNECTION_ID_BYTES: usize = 2;

impl Layout {
    /// A layout of `total` bytes.
    pub fn new(total: usize) -> Result<Layout, String> {
        Self::with_epoch(total, 0)
    }

    fn with_epoch(total: usize, epoch: u64) -> Result<Layout, String> {
        Ok(Layout {
            total,
            epoch,
            allocator: ExtranonceAllocator::new(vec![], total, LAYOUT_CONNECTION_ID_BYTES)
                .map_err(|e| format!("extranonce layout of {total} bytes: {e}"))?,
        })
    }

    /// Bytes split among downstreams.
    pub fn total(&self) -> usize {
        self.total
    }

    /// A downstream connection's range, and the layout it belongs to.
    pub fn allocate(&mut self) -> Result<(ExtranonceRange, u64), ExtranonceError> {
        self.allocator.allocate().map(|r| (r, self.epoch))
    }

    /// Give a range back (ignored when its layout was replaced since).
    pub fn release(&mut self, range: &ExtranonceRange, epoch: u64) {
        if epoch == self.epoch {
            let _ = self.allocator.release(range);
        }
    }

    /// Follow an upstream that grants `granted` bytes; `Some(old total)` when the connected
    /// downstreams no longer fit and must reconnect.
    pub fn follow(&mut self, granted: usize) -> Option<usize> {
        let shrink = granted < self.total;
        let grow = granted > self.total && self.allocator.in_use() == 0;
        if !(shrink || grow) {
            return None;
        }
        let old = self.total;
        match Layout::with_epoch(granted, self.epoch + 1) {
            Ok(l) => *self = l,
            Err(e) => {
                tracing::error!("{e}; keeping {old} bytes");
                return None;
            }
        }
        shrink.then_some(old)
    }
}

/// What happens upstream, in order.
#[derive(Debug)]
pub enum UpstreamEvent<R> {
    Up(ChannelInfo),
    Down {
        generation: u64,
        endpoint: String,
        reason: String,
    },
    /// A job for the channel (or its group).
    NewExtendedMiningJob {
        generation: u64,
        job: NewExtendedMiningJob<'static>,
    },
    SetNewPrevHash {
        generation: u64,
        prev: SetNewPrevHash,
    },
    SetTarget {
        generation: u64,
        target: Target,
    },
    /// Applies to jobs sent after it.
    SetExtranoncePrefix {
        generation: u64,
        prefix: Vec<u8>,
    },
    /// The answer to a share: `Err` holds the upstream's error code.
    ShareResult {
        route: R,
        result: Result<(), String>,
    },
}

/// A share for the upstream channel.
#[derive(Debug)]
pub struct Submit<R> {
    /// The link the job came from ([`ChannelInfo::generation`]).
    pub generation: u64,
    pub job_id: u32,
    pub nonce: u32,
    pub ntime: u32,
    pub version: u32,
    /// The part of the extranonce the channel rolls (`extranonce_size` bytes).
    pub extranonce: Vec<u8>,
    pub route: R,
}

/// What the role asks of the upstream.
#[derive(Debug)]
pub enum UpstreamCommand<R> {
    Submit(Submit<R>),
    /// The role's current hashrate (h/s): sent as UpdateChannel, and declared when the next
    /// channel opens.
    Hashrate(f32),
}

/// The routes of shares while they are in a [`ClientSession`]: the role's route and the
/// link generation the share was submitted on.
type Session<R> = ClientSession<R>;

struct Link<R> {
    conn: Connection,
    session: Session<R>,
    info: ChannelInfo,
}

/// How often an UpdateChannel is sent on a link, whatever else is sent.
const KEEPALIVE: Duration = Duration::from_secs(300);

/// Why a link ended.
enum End<R> {
    Failed(String),
    /// A higher-priority upstream opened a channel.
    Preempted(Box<Link<R>>),
    /// The role is gone.
    Stop,
}

impl<R> fmt::Debug for End<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Failed(r) => write!(f, "{r}"),
            End::Preempted(l) => write!(f, "switching to {}", l.info.endpoint),
            End::Stop => f.write_str("stopping"),
        }
    }
}

/// Keep a channel open to the best upstream until `events`' receiver is dropped.
pub async fn run_upstreams<R: Send + 'static>(
    upstreams: Vec<UpstreamConfig>,
    request: ChannelRequest,
    events: mpsc::Sender<UpstreamEvent<R>>,
    mut commands: mpsc::Receiver<UpstreamCommand<R>>,
) {
    let generation = AtomicU64::new(0);
    let mut hashrate = 0f32;
    let mut next: Option<Link<R>> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let link = match next.take() {
            Some(l) => Some(l),
            None => {
                let mut found = None;
                for (i, u) in upstreams.iter().enumerate() {
                    let g = generation.fetch_add(1, Ordering::Relaxed) + 1;
                    match establish(u, i, g, &request, hashrate).await {
                        Ok(l) => {
                            found = Some(l);
                            break;
                        }
                        Err(e) => tracing::warn!(upstream = %u.endpoint(), "{e}"),
                    }
                }
                found
            }
        };
        let Some(link) = link else {
            // Answer shares that arrive meanwhile: no upstream can take them.
            let wait = tokio::time::sleep(backoff);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    c = commands.recv() => match c {
                        None => return,
                        Some(c) => if !refuse(&events, c, &mut hashrate).await { return },
                    },
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
            continue;
        };
        backoff = Duration::from_millis(100);
        let info = link.info.clone();
        tracing::info!(upstream = %info.endpoint, channel_id = info.channel_id, extranonce_size = info.extranonce_size, "upstream channel open");
        if events.send(UpstreamEvent::Up(info.clone())).await.is_err() {
            return;
        }
        let end = run_link(
            link,
            &upstreams,
            &request,
            &generation,
            &mut hashrate,
            &events,
            &mut commands,
        )
        .await;
        tracing::warn!(upstream = %info.endpoint, "upstream channel closed: {end:?}");
        let _ = events
            .send(UpstreamEvent::Down {
                generation: info.generation,
                endpoint: info.endpoint.clone(),
                reason: format!("{end:?}"),
            })
            .await;
        match end {
            End::Stop => return,
            End::Preempted(l) => next = Some(*l),
            End::Failed(_) => {}
        }
    }
}

/// Answer a command while no link is up. False when the role is gone.
async fn refuse<R>(
    events: &mpsc::Sender<UpstreamEvent<R>>,
    c: UpstreamCommand<R>,
    hashrate: &mut f32,
) -> bool {
    match c {
        UpstreamCommand::Submit(s) => events
            .send(UpstreamEvent::ShareResult {
                route: s.route,
                result: Err(error_codes::STALE_SHARE.into()),
            })
            .await
            .is_ok(),
        UpstreamCommand::Hashrate(h) => {
            *hashrate = h;
            true
        }
    }
}

async fn establish<R>(
    u: &UpstreamConfig,
    index: usize,
    generation: u64,
    req: &ChannelRequest,
    hashrate: f32,
) -> Result<Link<R>, String> {
    tokio::time::timeout(
        req.connect_timeout,
        establish_inner(u, index, generation, req, hashrate),
    )
    .await
    .map_err(|_| format!("no channel within {:?}", req.connect_timeout))?
}

/// Send what the session queued.
/// Send every message the session has queued.
pub async fn flush<R>(conn: &Connection, session: &mut Session<R>) -> Result<(), String> {
    while let Some(m) = session.poll_message() {
        send(conn, m).await?;
    }
    Ok(())
}

/// Read frames into the session until `done` picks an event (other events are dropped: none
/// matter before the channel is open).
pub async fn read_until<R, T>(
    conn: &Connection,
    session: &mut Session<R>,
    mut done: impl FnMut(ClientEvent<R>) -> Option<Result<T, String>>,
) -> Result<T, String> {
    loop {
        let f = conn
            .receiver
            .recv()
            .await
            .map_err(|_| "the upstream closed the connection".to_string())?;
        let h = f.header();
        session
            .handle_frame(h.extension_type(), h.msg_type(), f.payload(), now())
            .map_err(|e| e.to_string())?;
        while let Some(e) = session.poll_event() {
            if let Some(r) = done(e) {
                return r;
            }
        }
    }
}

async fn establish_inner<R>(
    u: &UpstreamConfig,
    index: usize,
    generation: u64,
    req: &ChannelRequest,
    hashrate: f32,
) -> Result<Link<R>, String> {
    let stream = TcpStream::connect((u.address.as_str(), u.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map_err(|e| e.to_string())?;
    let security = match u.authority()? {
        Some(k) => Security::NoiseInitiator { authority: k.0 },
        None => Security::Plain,
    };
    let conn = with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let setup = setup_connection_message(PROTOCOL_MINING, req.flags, peer, &req.user_identity);
    let cfg = ClientConfig {
        answer_timeout_ms: req.answer_timeout.as_millis() as u64,
        ..ClientConfig::default()
    };
    let mut session = ClientSession::new(cfg, setup, now());
    flush(&conn, &mut session).await?;
    let setup_flags = read_until(&conn, &mut session, |e| match e {
        ClientEvent::SetupDone { flags } => Some(Ok(flags)),
        _ => None,
    })
    .await?;
    let request_id = session
        .open_extended(
            &req.user_identity,
            hashrate,
            MAX_TARGET,
            req.min_extranonce_size,
        )
        .map_err(|e| e.to_string())?;
    flush(&conn, &mut session).await?;
    let channel_id = read_until(&conn, &mut session, |e| match e {
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
    let ch = session
        .channel(channel_id)
        .ok_or("the opened channel is gone")?;
    let info = ChannelInfo {
        generation,
        index,
        endpoint: u.endpoint(),
        setup_flags,
        channel_id,
        group_channel_id: ch.group_channel_id,
        extranonce_prefix: ch.extranonce_prefix.clone(),
        extranonce_size: ch.extranonce_size,
        target: ch.target,
    };
    if info.extranonce_size < req.min_extranonce_size as usize {
        return Err(format!(
            "the upstream gave {} extranonce bytes, {} are needed",
            info.extranonce_size, req.min_extranonce_size
        ));
    }
    Ok(Link {
        conn,
        session,
        info,
    })
}

async fn run_link<R: Send + 'static>(
    link: Link<R>,
    upstreams: &[UpstreamConfig],
    req: &ChannelRequest,
    generation: &AtomicU64,
    hashrate: &mut f32,
    events: &mpsc::Sender<UpstreamEvent<R>>,
    commands: &mut mpsc::Receiver<UpstreamCommand<R>>,
) -> End<R> {
    let Link {
        conn,
        mut session,
        info,
    } = link;
    // The better upstreams, tried every `retry_primary` while on a worse one. The probe runs
    // beside the link, so a slow connect does not hold shares up.
    let better = &upstreams[..info.index];
    let declared = *hashrate;
    let probe = async {
        if better.is_empty() {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(req.retry_primary).await;
            for (i, u) in better.iter().enumerate() {
                let g = generation.fetch_add(1, Ordering::Relaxed) + 1;
                match establish(u, i, g, req, declared).await {
                    Ok(l) => return l,
                    Err(e) => tracing::debug!(upstream = %u.endpoint(), "still away: {e}"),
                }
            }
        }
    };
    tokio::pin!(probe);
    // An UpdateChannel now and then keeps a link that has no shares to send (no miners yet)
    // from the upstream's idle timeout.
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    // Events the link's setup already produced (the first jobs may have come with the open).
    let mut end = forward_events(&mut session, &info, events).await.err();
    while end.is_none() {
        let timer = session.poll_timeout();
        let step = tokio::select! {
            f = conn.receiver.recv() => match f {
                Ok(f) => {
                    let h = f.header();
                    session
                        .handle_frame(h.extension_type(), h.msg_type(), f.payload(), now())
                        .map_err(|e| End::Failed(e.to_string()))
                }
                Err(_) => Err(End::Failed("the upstream closed the connection".into())),
            },
            c = commands.recv() => match c {
                None => Err(End::Stop),
                Some(c) => {
                    on_command(&mut session, &info, c, hashrate);
                    Ok(())
                }
            },
            _ = sleep_until_monotonic(timer) => {
                session.handle_timeout(now());
                Ok(())
            }
            _ = keepalive.tick() => {
                let _ = session.update_channel(info.channel_id, *hashrate, MAX_TARGET);
                Ok(())
            }
            l = &mut probe => {
                tracing::info!(upstream = %l.info.endpoint, "a preferred upstream is back");
                Err(End::Preempted(Box::new(l)))
            }
        };
        end = match step {
            Err(e) => Some(e),
            Ok(()) => match flush(&conn, &mut session).await {
                Err(e) => Some(End::Failed(e)),
                Ok(()) => forward_events(&mut session, &info, events).await.err(),
            },
        };
    }
    conn.close();
    // Every unanswered share is refused: its link is gone, so are its jobs.
    session.fail_all(ShareRefusal::Closed);
    let _ = forward_events(&mut session, &info, events).await;
    end.unwrap_or(End::Stop)
}

/// A role's command, applied to the session.
fn on_command<R>(
    session: &mut Session<R>,
    info: &ChannelInfo,
    c: UpstreamCommand<R>,
    hashrate: &mut f32,
) {
    match c {
        UpstreamCommand::Hashrate(h) => {
            *hashrate = h;
            // Also sent when unchanged: it keeps an idle link (no devices yet) alive past
            // the upstream's idle timeout.
            let _ = session.update_channel(info.channel_id, h, MAX_TARGET);
        }
        UpstreamCommand::Submit(s) => {
            if s.generation != info.generation {
                // A job of an earlier link: refused at once through the session's one path.
                let _ = session.submit(
                    Share {
                        channel_id: u32::MAX,
                        job_id: s.job_id,
                        nonce: s.nonce,
                        ntime: s.ntime,
                        version: s.version,
                        extranonce: None,
                    },
                    s.route,
                );
                return;
            }
            let share = Share {
                channel_id: info.channel_id,
                job_id: s.job_id,
                nonce: s.nonce,
                ntime: s.ntime,
                version: s.version,
                extranonce: Some(&s.extranonce),
            };
            let _ = session.submit(share, s.route);
        }
    }
}

/// Hand the session's events to the role; `Err` ends the link.
async fn forward_events<R>(
    session: &mut Session<R>,
    info: &ChannelInfo,
    events: &mpsc::Sender<UpstreamEvent<R>>,
) -> Result<(), End<R>> {
    let g = info.generation;
    while let Some(e) = session.poll_event() {
        let event = match e {
            ClientEvent::NewExtendedMiningJob { job, .. } => {
                UpstreamEvent::NewExtendedMiningJob { generation: g, job }
            }
            ClientEvent::SetNewPrevHash { prev, .. } => UpstreamEvent::SetNewPrevHash {
                generation: g,
                prev,
            },
            ClientEvent::SetTarget { target, .. } => UpstreamEvent::SetTarget {
                generation: g,
                target,
            },
            ClientEvent::SetExtranoncePrefix { prefix, .. } => UpstreamEvent::SetExtranoncePrefix {
                generation: g,
                prefix,
            },
            ClientEvent::ShareResult { route, result, .. } => UpstreamEvent::ShareResult {
                route,
                result: result.map_err(|r| r.error_code().to_string()),
            },
            ClientEvent::ChannelClosed { reason_code, .. } => {
                return Err(End::Failed(format!(
                    "the upstream closed the channel: {reason_code}"
                )))
            }
            ClientEvent::Reconnect { new_host, new_port } => {
                // Following it to another host would leave the configured upstreams; the
                // list is tried again from the best, which is this one when it said "here".
                return Err(End::Failed(format!(
                    "the upstream asked to reconnect to {new_host}:{new_port}"
                )));
            }
            ClientEvent::UpdateChannelRefused { error_code, .. } => {
                tracing::debug!("UpdateChannel refused: {error_code}");
                continue;
            }
            _ => continue,
        };
        if events.send(event).await.is_err() {
            return Err(End::Stop);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_follows_the_grant_and_says_when_downstreams_must_reconnect() {
        let mut l = Layout::new(12).unwrap();
        assert_eq!(l.follow(26), None, "grows while nobody holds a range");
        assert_eq!(l.total(), 26);
        let (r, epoch) = l.allocate().unwrap();
        assert_eq!(r.rollable(), 24);
        assert_eq!(l.follow(30), None, "held ranges keep the layout");
        assert_eq!(l.total(), 26);
        assert_eq!(l.follow(20), Some(26), "a smaller grant: reconnect");
        assert_eq!(l.total(), 20);
        // The old range goes nowhere; a new one fits the new layout.
        l.release(&r, epoch);
        let (r2, _) = l.allocate().unwrap();
        assert_eq!(r2.total_len(), 20);
    }

    #[test]
    fn the_split_puts_the_upstream_prefix_and_pad_before_our_bytes() {
        let s = ExtranonceSplit::new(&[1, 2], 2 + 10, 7).unwrap();
        assert_eq!((s.pad, s.job_prefix.clone()), (3, vec![1, 2, 0, 0, 0]));
        assert_eq!(s.upstream_extranonce(&[9; 7]).len(), 10);
        // A longer prefix later: the pad shrinks, the total stays.
        let t = s.with_prefix(&[5, 5, 5, 5], 7).unwrap();
        assert_eq!((t.pad, t.job_prefix.len() + 7), (1, 12));
        assert!(
            s.with_prefix(&[0; 6], 7).is_none(),
            "only 6 bytes would be left"
        );
        assert!(ExtranonceSplit::new(&[1], 5, 7).is_none());
    }
}
