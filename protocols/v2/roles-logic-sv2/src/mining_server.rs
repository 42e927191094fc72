//! The upstream end of Mining Protocol connections: what a pool (and a proxy, toward its own
//! downstreams) does for one downstream connection.
//!
//! A [`Session`] is sans-IO, in the quinn-proto shape: `handle_*` for what arrives (frames and
//! the clock), commands from the application ([`Session::on_new_template`],
//! [`Session::on_set_new_prev_hash`]), and `poll_*` for what to send and what happened. It
//! owns the connection's channels, its jobs, share validation, vardiff and the batching of
//! `SubmitShares.Success`.
//!
//! Channels:
//! * extended channels get their own `NewExtendedMiningJob`;
//! * standard channels of a connection that set `REQUIRES_STANDARD_JOBS` get `NewMiningJob`
//!   with the merkle root for their extranonce;
//! * other standard channels form the connection's group channel: one `NewExtendedMiningJob`
//!   and one `SetNewPrevHash` to the group serve all of them (05, group channels).
//!
//! Job ids are per connection and increase, so a share for a job id that was once valid but
//! is no longer known is `stale-share`, and one never issued is `invalid-job-id`.

use crate::extranonce::{Extranonce, ExtranonceAllocator, ExtranonceRange};
use crate::handlers::{
    HandleCommonMessagesFromDownstream, HandleMiningMessagesFromDownstream, HandlerError,
};
use crate::job::{block_header, JobTemplate, BIP320_VERSION_MASK};
use crate::parsers::{AnyMessage, CommonMessages, Mining, ParserError};
use crate::sha256d;
use crate::target::{self, Target};
use crate::vardiff::Vardiff;
use crate::Now;
use binary_sv2::{IntoStatic, Seq0255, Str0255, B032, B064K, U256};
use common_messages_sv2::{SetupConnection, SetupConnectionError, SetupConnectionSuccess};
use const_sv2::{error_codes, mining_flags, PROTOCOL_MINING, SV2_PROTOCOL_VERSION};
use mining_sv2::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

/// Settings shared by all sessions of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Vardiff aim for each channel.
    pub shares_per_minute: f64,
    /// Accepted shares acknowledged in one `SubmitShares.Success` at most; the application
    /// also flushes whenever it has no more input ([`Session::flush_share_acks`]).
    pub share_batch_size: u32,
    /// Hashrate assumed for a channel that declares 0 (a proxy with no devices yet).
    pub default_hashrate: f64,
    /// Channels one connection may open.
    pub max_channels: usize,
    /// Seconds an nTime may be ahead of both `min_ntime` and the clock.
    pub max_ntime_ahead_secs: u32,
    /// No channel's target is easier than this difficulty's (0: no floor), so a channel that
    /// declares a tiny hashrate does not get shares for almost nothing. A target is never
    /// harder than the network's, though, so every block is submitted.
    pub min_share_difficulty: f64,
    /// How long shares at the previous target are still accepted after a SetTarget.
    pub target_grace_ms: u64,
    /// Accept `REQUIRES_WORK_SELECTION` (the pool has a job declarator): custom jobs are
    /// reported as [`ServerEvent::CustomJobRequested`] for the role to check.
    pub work_selection: bool,
    /// Custom job requests waiting for the role's answer, per connection at most.
    pub max_pending_custom_jobs: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            shares_per_minute: 6.0,
            share_batch_size: 10,
            default_hashrate: 1e6,
            max_channels: 1024,
            max_ntime_ahead_secs: 600,
            min_share_difficulty: 0.0,
            work_selection: false,
            max_pending_custom_jobs: 16,
            target_grace_ms: 5_000,
        }
    }
}

/// The chain tip the jobs build on (a Template Distribution `SetNewPrevHash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrevHash {
    pub template_id: u64,
    /// Header byte order.
    pub prev_hash: [u8; 32],
    pub min_ntime: u32,
    pub nbits: u32,
}

/// Why a share was refused; [`ShareError::error_code`] is what goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    InvalidChannelId,
    InvalidJobId,
    StaleShare,
    DifficultyTooLow,
    DuplicateShare,
    BadExtranonceSize {
        expected: usize,
        got: usize,
    },
    VersionRollingNotAllowed {
        bits: u32,
    },
    NtimeOutOfRange {
        ntime: u32,
        min: u32,
        max: u32,
    },
    /// A proxy's upstream refused the share with a code that is not one of the above.
    RefusedUpstream,
}

impl ShareError {
    /// The `SubmitShares.Error.error_code`. The first four are the spec's (05); the others
    /// are the codes deployed pools send for cases the spec does not name.
    pub fn error_code(&self) -> &'static str {
        match self {
            ShareError::InvalidChannelId => error_codes::INVALID_CHANNEL_ID,
            ShareError::InvalidJobId => error_codes::INVALID_JOB_ID,
            ShareError::StaleShare => error_codes::STALE_SHARE,
            ShareError::DifficultyTooLow => error_codes::DIFFICULTY_TOO_LOW,
            ShareError::DuplicateShare => error_codes::DUPLICATE_SHARE,
            ShareError::BadExtranonceSize { .. } => error_codes::BAD_EXTRANONCE_SIZE,
            ShareError::VersionRollingNotAllowed { .. } => error_codes::VERSION_ROLLING_NOT_ALLOWED,
            ShareError::NtimeOutOfRange { .. } | ShareError::RefusedUpstream => {
                error_codes::INVALID_SHARE
            }
        }
    }

    /// The error an upstream's `SubmitShares.Error` code stands for.
    pub fn from_code(code: &str) -> ShareError {
        match code {
            error_codes::INVALID_CHANNEL_ID => ShareError::InvalidChannelId,
            error_codes::INVALID_JOB_ID => ShareError::InvalidJobId,
            error_codes::STALE_SHARE => ShareError::StaleShare,
            error_codes::DIFFICULTY_TOO_LOW => ShareError::DifficultyTooLow,
            error_codes::DUPLICATE_SHARE => ShareError::DuplicateShare,
            _ => ShareError::RefusedUpstream,
        }
    }
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::BadExtranonceSize { expected, got } => {
                write!(f, "extranonce of {got} bytes, channel uses {expected}")
            }
            ShareError::VersionRollingNotAllowed { bits } => {
                write!(
                    f,
                    "version bits {bits:#010x} changed outside the BIP320 mask"
                )
            }
            ShareError::NtimeOutOfRange { ntime, min, max } => {
                write!(f, "ntime {ntime} outside [{min}, {max}]")
            }
            ShareError::RefusedUpstream => f.write_str("refused upstream"),
            other => f.write_str(other.error_code()),
        }
    }
}

/// A share the session accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedShare {
    pub channel_id: u32,
    pub user_identity: Arc<str>,
    pub template_id: u64,
    pub job_id: u32,
    pub sequence_number: u32,
    pub nonce: u32,
    pub ntime: u32,
    pub version: u32,
    /// The whole extranonce (channel prefix and rolled part).
    pub extranonce: Extranonce,
    /// sha256d of the header, little-endian.
    pub hash: [u8; 32],
    /// Difficulty of the channel target the share met.
    pub difficulty: f64,
    /// It meets the upstream target ([`Session::set_upstream_target`]): the application
    /// forwards it and answers with [`Session::resolve_forwarded_share`]; it is not
    /// acknowledged before.
    pub forward: bool,
}

/// A share that meets the network target: everything a template provider's
/// `SubmitSolution` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSolution {
    pub channel_id: u32,
    pub template_id: u64,
    pub version: u32,
    pub header_timestamp: u32,
    pub header_nonce: u32,
    /// Full serialization (with the witness reserved value when the block has witnesses).
    pub coinbase_tx: Vec<u8>,
    /// Block hash, little-endian (reverse for the usual display).
    pub block_hash: [u8; 32],
    /// The 80-byte header, so a whole block can be built from the template's transactions.
    pub header: [u8; 80],
    /// The whole extranonce (the channel's prefix and what the miner rolled).
    pub extranonce: Extranonce,
}

/// What happened, for the application's logs, statistics and upstreams.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    SetupDone {
        flags: u32,
    },
    ChannelOpened {
        channel_id: u32,
        user_identity: Arc<str>,
        extended: bool,
        target: Target,
    },
    ChannelClosed {
        channel_id: u32,
    },
    ShareAccepted(AcceptedShare),
    ShareRejected {
        channel_id: u32,
        sequence_number: u32,
        error: ShareError,
    },
    BlockFound(BlockSolution),
    /// A `SetCustomMiningJob` on an extended channel: check it (its token, its coinbase) and
    /// answer with [`Session::accept_custom_job`] or [`Session::refuse_custom_job`].
    CustomJobRequested {
        channel_id: u32,
        request_id: u32,
        job: SetCustomMiningJob<'static>,
        /// The channel's whole extranonce (prefix and rolled part), which goes after the
        /// job's `coinbase_prefix`.
        extranonce_len: usize,
    },
}

/// Why the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// A message before SetupConnection.Success.
    NotSetUp {
        name: &'static str,
    },
    /// A second SetupConnection.
    SetupTwice,
    /// SetupConnection was refused (the error has been queued for sending).
    SetupRefused {
        error_code: &'static str,
    },
    Handler(HandlerError),
    Parser(ParserError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::NotSetUp { name } => write!(f, "{name} before SetupConnection"),
            SessionError::SetupTwice => f.write_str("SetupConnection sent twice"),
            SessionError::SetupRefused { error_code } => {
                write!(f, "SetupConnection refused: {error_code}")
            }
            SessionError::Handler(e) => write!(f, "{e}"),
            SessionError::Parser(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<HandlerError> for SessionError {
    fn from(e: HandlerError) -> Self {
        SessionError::Handler(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Gets NewMiningJob (the connection requires standard jobs).
    Standard,
    /// Served through the group channel.
    Grouped,
    Extended,
}

#[derive(Debug)]
struct Channel {
    user: Arc<str>,
    kind: Kind,
    range: ExtranonceRange,
    /// Standard channels: the full extranonce (prefix padded).
    standard_extranonce: Vec<u8>,
    target: Target,
    /// Previous target and until when it is still accepted.
    old_target: Option<(Target, u64)>,
    max_target: Target,
    vardiff: Vardiff,
    seen: HashSet<u64>,
    roots: Vec<(u32, [u8; 32])>,
    batch: Batch,
}

#[derive(Debug, Default, Clone, Copy)]
struct Batch {
    last_sequence_number: u32,
    count: u32,
    sum: u64,
}

#[derive(Debug)]
struct Job {
    template: Arc<JobTemplate>,
    /// The prevhash epoch the job is valid in; `None` while it waits for its SetNewPrevHash.
    epoch: Option<u64>,
    /// A custom job (SetCustomMiningJob): the one channel it belongs to, and the header
    /// fields it declared. Never sent to other channels.
    custom: Option<(u32, PrevHash)>,
}

#[derive(Debug, Clone, Copy)]
struct ActivePrev {
    hash: PrevHash,
    network_target: Target,
    job_id: u32,
}

/// One downstream connection, from SetupConnection to close.
#[derive(Debug)]
pub struct Session {
    cfg: Arc<ServerConfig>,
    setup_flags: Option<u32>,
    extranonce: ExtranonceAllocator,
    group_channel_id: u32,
    next_channel_id: u32,
    channels: HashMap<u32, Channel>,
    jobs: BTreeMap<u32, Job>,
    next_job_id: u32,
    epoch: u64,
    prev: Option<ActivePrev>,
    now: Now,
    out: VecDeque<AnyMessage<'static>>,
    events: VecDeque<ServerEvent>,
    upstream_target: Option<Target>,
    version_rolling: bool,
    /// (channel, request) of custom jobs waiting for the role's answer.
    pending_custom: Vec<(u32, u32)>,
}

/// Bytes of extranonce each channel's id takes inside the connection's range.
pub const CHANNEL_ID_BYTES: usize = 2;

impl Session {
    /// A session whose channels share `range` (the connection's part of the extranonce).
    pub fn new(
        cfg: Arc<ServerConfig>,
        range: &ExtranonceRange,
    ) -> Result<Self, crate::extranonce::ExtranonceError> {
        Ok(Session {
            cfg,
            setup_flags: None,
            extranonce: range.sub_allocator(CHANNEL_ID_BYTES)?,
            group_channel_id: 1,
            next_channel_id: 2,
            channels: HashMap::new(),
            jobs: BTreeMap::new(),
            next_job_id: 1,
            epoch: 0,
            prev: None,
            now: Now::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            upstream_target: None,
            version_rolling: true,
            pending_custom: Vec::new(),
        })
    }

    // ---- getters ------------------------------------------------------------------------

    /// Open channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The flags of SetupConnection, once accepted.
    pub fn setup_flags(&self) -> Option<u32> {
        self.setup_flags
    }

    /// Sum of the channels' hashrate estimates (h/s).
    pub fn hashrate(&self) -> f64 {
        self.channels.values().map(|c| c.vardiff.hashrate()).sum()
    }

    // ---- input ----------------------------------------------------------------------------

    /// Handle one frame's payload. An error means the connection must be closed (after
    /// sending what is queued); share errors are not connection errors.
    pub fn handle_frame(
        &mut self,
        extension_type: u16,
        msg_type: u8,
        payload: &[u8],
        now: Now,
    ) -> Result<(), SessionError> {
        self.now = now;
        let msg =
            AnyMessage::parse(extension_type, msg_type, payload).map_err(SessionError::Parser)?;
        match msg {
            AnyMessage::Common(m) => HandleCommonMessagesFromDownstream::handle_message(self, m),
            AnyMessage::Mining(m) => {
                if self.setup_flags.is_none() {
                    return Err(SessionError::NotSetUp { name: m.name() });
                }
                HandleMiningMessagesFromDownstream::handle_message(self, m)
            }
            other => Err(HandlerError::UnexpectedMessage { name: other.name() }.into()),
        }
    }

    /// The clock: retargets and acknowledges. Call about once a second.
    pub fn handle_timeout(&mut self, now: Now) {
        self.now = now;
        let now_ms = now.monotonic_ms;
        let limits = self.target_limits();
        let mut updates = Vec::new();
        for (&id, ch) in self.channels.iter_mut() {
            if let Some(t) = ch.vardiff.poll(now_ms, &ch.target) {
                let t = limits.clamp(t, ch.max_target);
                if t != ch.target {
                    ch.old_target = Some((ch.target, now_ms + self.cfg.target_grace_ms));
                    ch.target = t;
                    updates.push((id, t));
                }
            }
        }
        for (channel_id, t) in updates {
            self.send(Mining::SetTarget(SetTarget {
                channel_id,
                maximum_target: U256(t),
            }));
        }
        self.flush_share_acks();
    }

    // ---- commands -------------------------------------------------------------------------

    /// A new job for every channel: future (waits for its SetNewPrevHash) or, on the current
    /// prevhash, to be mined at once.
    ///
    /// A template the session already has (same `template_id`) changes nothing, so replaying
    /// a feed after a lagged broadcast does not issue jobs twice.
    pub fn on_new_template(&mut self, template: Arc<JobTemplate>) {
        if self
            .jobs
            .values()
            .any(|j| j.template.template_id == template.template_id)
        {
            return;
        }
        let job_id = self.next_job_id;
        self.next_job_id = self.next_job_id.wrapping_add(1);
        let active = !template.future && self.prev.is_some();
        self.jobs.insert(
            job_id,
            Job {
                template,
                epoch: active.then_some(self.epoch),
                custom: None,
            },
        );
        let min_ntime = if active {
            self.prev.map(|p| p.hash.min_ntime)
        } else {
            None
        };
        let ids: Vec<u32> = self.channels.keys().copied().collect();
        let mut grouped = false;
        for id in ids {
            match self.channels[&id].kind {
                Kind::Grouped => grouped = true,
                _ => self.send_job(id, job_id, min_ntime),
            }
        }
        if grouped {
            self.send_job(self.group_channel_id, job_id, min_ntime);
        }
        self.prune_jobs();
    }

    /// The chain moved: the future job for `prev.template_id` becomes the only valid one.
    /// Returns false when no job of that template is known (nothing changes then).
    ///
    /// The tip the session is already on changes nothing: its jobs stay valid and shares
    /// already credited stay duplicates (a replayed feed must not open a new epoch).
    #[must_use]
    pub fn on_set_new_prev_hash(&mut self, prev: PrevHash) -> bool {
        if self.prev.is_some_and(|p| p.hash == prev) {
            return true;
        }
        let Some((&job_id, _)) = self
            .jobs
            .iter()
            .rev()
            .find(|(_, j)| j.template.template_id == prev.template_id && j.epoch.is_none())
        else {
            return false;
        };
        self.epoch += 1;
        let epoch = self.epoch;
        // Jobs queued for other tips are dropped; older active ones become stale.
        self.jobs
            .retain(|&id, j| id == job_id || j.epoch.is_some_and(|e| e + 1 >= epoch));
        if let Some(j) = self.jobs.get_mut(&job_id) {
            j.epoch = Some(epoch);
        }
        self.prev = Some(ActivePrev {
            hash: prev,
            network_target: target::from_nbits(prev.nbits),
            job_id,
        });
        // A new nbits may move the network target past a channel's.
        self.retarget_all();
        let mut grouped = false;
        let ids: Vec<u32> = self.channels.keys().copied().collect();
        for id in ids {
            let ch = self.channels.get_mut(&id).expect("listed");
            ch.seen.clear();
            ch.roots.retain(|(j, _)| *j == job_id);
            match ch.kind {
                Kind::Grouped => grouped = true,
                _ => self.send_prev_hash(id),
            }
        }
        if grouped {
            self.send_prev_hash(self.group_channel_id);
        }
        true
    }

    /// For a proxy: the target of its upstream channel, or `None` (a pool, or no upstream).
    ///
    /// Shares that meet it are reported with [`AcceptedShare::forward`] set and are not
    /// acknowledged until [`Session::resolve_forwarded_share`] brings the upstream's answer.
    /// No channel's target is kept harder than it, so every share the upstream would credit
    /// reaches the proxy; channels whose target changes get a SetTarget.
    pub fn set_upstream_target(&mut self, upstream: Option<Target>) {
        self.upstream_target = upstream;
        self.retarget_all();
    }

    /// Re-clamp every channel's target after a change of the limits (upstream or network
    /// target); channels whose target changes get a SetTarget.
    fn retarget_all(&mut self) {
        let now = self.now.monotonic_ms;
        let grace = self.cfg.target_grace_ms;
        let limits = self.target_limits();
        let mut updates = Vec::new();
        for (&id, ch) in self.channels.iter_mut() {
            let t = limits.clamp(ch.vardiff.target(), ch.max_target);
            if t != ch.target {
                ch.old_target = Some((ch.target, now + grace));
                ch.target = t;
                updates.push((id, t));
            }
        }
        for (channel_id, t) in updates {
            self.send_mining(Mining::SetTarget(SetTarget {
                channel_id,
                maximum_target: U256(t),
            }));
        }
    }

    /// The role's yes to [`ServerEvent::CustomJobRequested`]: `template` (from
    /// `JobTemplate::from_custom_job` with the channel's whole extranonce length; its
    /// `template_id` is the role's key for blocks) is mined on `prev` by that channel alone.
    /// Sends `SetCustomMiningJob.Success`; returns the job id, or `None` when the channel is
    /// gone or the request unknown.
    pub fn accept_custom_job(
        &mut self,
        channel_id: u32,
        request_id: u32,
        template: Arc<JobTemplate>,
        prev: PrevHash,
    ) -> Option<u32> {
        let i = self
            .pending_custom
            .iter()
            .position(|&p| p == (channel_id, request_id))?;
        self.pending_custom.swap_remove(i);
        if !self.channels.contains_key(&channel_id) {
            return None;
        }
        // The role accepts only custom jobs on the pool's tip; the tip may not move between
        // its check and this call, but if it did the job is of no use.
        if self.prev.is_none_or(|p| p.hash.prev_hash != prev.prev_hash) {
            let code = format!("{}prev_hash", error_codes::INVALID_JOB_PARAM_VALUE_PREFIX);
            self.custom_error(channel_id, request_id, &code);
            return None;
        }
        let job_id = self.next_job_id;
        self.next_job_id = self.next_job_id.wrapping_add(1);
        self.jobs.insert(
            job_id,
            Job {
                template,
                epoch: Some(self.epoch),
                custom: Some((channel_id, prev)),
            },
        );
        self.prune_jobs();
        self.send_mining(Mining::SetCustomMiningJobSuccess(
            SetCustomMiningJobSuccess {
                channel_id,
                request_id,
                job_id,
            },
        ));
        Some(job_id)
    }

    /// The role's no to [`ServerEvent::CustomJobRequested`], with the error code.
    pub fn refuse_custom_job(&mut self, channel_id: u32, request_id: u32, code: &str) {
        if let Some(i) = self
            .pending_custom
            .iter()
            .position(|&p| p == (channel_id, request_id))
        {
            self.pending_custom.swap_remove(i);
            self.custom_error(channel_id, request_id, code);
        }
    }

    fn custom_error(&mut self, channel_id: u32, request_id: u32, code: &str) {
        if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
            self.send_mining(Mining::SetCustomMiningJobError(SetCustomMiningJobError {
                channel_id,
                request_id,
                error_code,
            }));
        }
    }

    /// Ask the downstream to reconnect to this same server (`Reconnect` with an empty host):
    /// the role is about to close the connection, for example because its extranonce layout
    /// changed. Queued after everything already queued.
    pub fn reconnect(&mut self) {
        self.send(CommonMessages::Reconnect(common_messages_sv2::Reconnect {
            new_host: Str0255::default(),
            new_port: 0,
        }));
    }

    /// Whether downstreams may roll version bits (a proxy whose upstream requires a fixed
    /// version says no). Decides the SetupConnection answer; call before the first frame.
    pub fn set_version_rolling(&mut self, allowed: bool) {
        self.version_rolling = allowed;
    }

    /// The upstream's answer to a share reported with `forward` set: acknowledged with the
    /// next `SubmitShares.Success`, or refused with the upstream's own error code.
    pub fn resolve_forwarded_share(
        &mut self,
        channel_id: u32,
        sequence_number: u32,
        difficulty: f64,
        result: Result<(), &str>,
    ) {
        match result {
            Ok(()) => {
                let batch_size = self.cfg.share_batch_size.max(1);
                let Some(ch) = self.channels.get_mut(&channel_id) else {
                    return;
                };
                let b = &mut ch.batch;
                // Sequence numbers wrap: the later of the two is the one "ahead" by < 2^31.
                if b.count == 0 || sequence_number.wrapping_sub(b.last_sequence_number) < 1 << 31 {
                    b.last_sequence_number = sequence_number;
                }
                b.count += 1;
                b.sum += (difficulty as u64).max(1);
                if b.count >= batch_size {
                    let a = success(channel_id, std::mem::take(b));
                    self.send_mining(Mining::SubmitSharesSuccess(a));
                }
            }
            Err(code) => {
                if !self.channels.contains_key(&channel_id) {
                    return;
                }
                if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
                    self.send_mining(Mining::SubmitSharesError(SubmitSharesError {
                        channel_id,
                        sequence_number,
                        error_code,
                    }));
                }
                self.events.push_back(ServerEvent::ShareRejected {
                    channel_id,
                    sequence_number,
                    error: ShareError::from_code(code),
                });
            }
        }
    }

    /// Acknowledge every accepted share not yet acknowledged.
    pub fn flush_share_acks(&mut self) {
        let mut acks = Vec::new();
        for (&id, ch) in self.channels.iter_mut() {
            if ch.batch.count > 0 {
                acks.push(success(id, std::mem::take(&mut ch.batch)));
            }
        }
        for a in acks {
            self.send(Mining::SubmitSharesSuccess(a));
        }
    }

    // ---- output ---------------------------------------------------------------------------

    /// The next message to send.
    pub fn poll_message(&mut self) -> Option<AnyMessage<'static>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    // ---- internals ------------------------------------------------------------------------

    fn target_limits(&self) -> TargetLimits {
        let d = self.cfg.min_share_difficulty;
        TargetLimits {
            floor: (d.is_finite() && d > 0.0).then(|| target::from_difficulty(d)),
            upstream: self.upstream_target,
            network: self.prev.map(|p| p.network_target),
        }
    }

    fn send(&mut self, m: impl Into<AnyMessage<'static>>) {
        self.out.push_back(m.into());
    }

    fn send_mining(&mut self, m: Mining<'static>) {
        self.out.push_back(AnyMessage::Mining(m));
    }

    /// Send job `job_id` to channel (or group) `to`.
    fn send_job(&mut self, to: u32, job_id: u32, min_ntime: Option<u32>) {
        let Some(job) = self.jobs.get(&job_id) else {
            return;
        };
        let t = job.template.clone();
        let standard = self
            .channels
            .get(&to)
            .is_some_and(|c| c.kind == Kind::Standard);
        if standard {
            let Some(root) = self.standard_root(to, job_id) else {
                return;
            };
            self.send_mining(Mining::NewMiningJob(NewMiningJob {
                channel_id: to,
                job_id,
                min_ntime,
                version: t.version,
                merkle_root: U256(root),
            }));
            return;
        }
        let (Ok(merkle_path), Ok(prefix), Ok(suffix)) = (
            Seq0255::from_items(t.merkle_path.iter().map(|h| U256(*h))),
            B064K::new(t.coinbase_tx_prefix.clone()),
            B064K::new(t.coinbase_tx_suffix.clone()),
        ) else {
            return;
        };
        self.send_mining(Mining::NewExtendedMiningJob(NewExtendedMiningJob {
            channel_id: to,
            job_id,
            min_ntime,
            version: t.version,
            version_rolling_allowed: t.version_rolling_allowed && self.version_rolling,
            merkle_path,
            coinbase_tx_prefix: prefix,
            coinbase_tx_suffix: suffix,
        }));
    }

    fn send_prev_hash(&mut self, to: u32) {
        if let Some(p) = self.prev {
            self.send_mining(Mining::SetNewPrevHash(mining_sv2::SetNewPrevHash {
                channel_id: to,
                job_id: p.job_id,
                prev_hash: U256(p.hash.prev_hash),
                min_ntime: p.hash.min_ntime,
                nbits: p.hash.nbits,
            }));
        }
    }

    /// The merkle root of a standard channel's job, computed once.
    fn standard_root(&mut self, channel_id: u32, job_id: u32) -> Option<[u8; 32]> {
        let ch = self.channels.get_mut(&channel_id)?;
        if let Some((_, r)) = ch.roots.iter().find(|(j, _)| *j == job_id) {
            return Some(*r);
        }
        let root = self
            .jobs
            .get(&job_id)?
            .template
            .merkle_root(&ch.standard_extranonce)
            .ok()?;
        if ch.roots.len() >= 32 {
            ch.roots.remove(0);
        }
        ch.roots.push((job_id, root));
        Some(root)
    }

    fn prune_jobs(&mut self) {
        // Bound the jobs of one tip: templates may refresh often between blocks.
        const MAX_JOBS: usize = 64;
        while self.jobs.len() > MAX_JOBS {
            let Some((&oldest, _)) = self
                .jobs
                .iter()
                .find(|(&id, _)| self.prev.map(|p| p.job_id) != Some(id))
            else {
                break;
            };
            self.jobs.remove(&oldest);
        }
    }

    fn open_error(&mut self, request_id: u32, code: &str) {
        if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
            self.send_mining(Mining::OpenMiningChannelError(OpenMiningChannelError {
                request_id,
                error_code,
            }));
        }
    }

    /// Checks common to both open messages; the channel's initial target on success.
    fn check_open(&mut self, request_id: u32, nominal: f32, max_target: &U256) -> Option<Vardiff> {
        if !nominal.is_finite() || nominal < 0.0 {
            self.open_error(request_id, error_codes::INVALID_NOMINAL_HASHRATE);
            return None;
        }
        if max_target.0 == [0; 32] {
            self.open_error(request_id, error_codes::MAX_TARGET_OUT_OF_RANGE);
            return None;
        }
        if self.channels.len() >= self.cfg.max_channels {
            self.open_error(request_id, error_codes::TOO_MANY_CHANNELS);
            return None;
        }
        let hr = if nominal > 0.0 {
            nominal as f64
        } else {
            self.cfg.default_hashrate
        };
        Some(Vardiff::new(
            self.cfg.shares_per_minute,
            hr,
            self.now.monotonic_ms,
        ))
    }

    fn add_channel(
        &mut self,
        user: &Str0255<'_>,
        kind: Kind,
        range: ExtranonceRange,
        vardiff: Vardiff,
        max_target: Target,
    ) -> (u32, Target) {
        let id = self.next_channel_id;
        self.next_channel_id = self.next_channel_id.wrapping_add(1).max(2);
        let t = self.target_limits().clamp(vardiff.target(), max_target);
        let user: Arc<str> = Arc::from(user.to_string_lossy().as_ref());
        self.events.push_back(ServerEvent::ChannelOpened {
            channel_id: id,
            user_identity: user.clone(),
            extended: kind == Kind::Extended,
            target: t,
        });
        self.channels.insert(
            id,
            Channel {
                user,
                kind,
                standard_extranonce: range.padded(),
                range,
                target: t,
                old_target: None,
                max_target,
                vardiff,
                seen: HashSet::new(),
                roots: Vec::new(),
                batch: Batch::default(),
            },
        );
        (id, t)
    }

    /// A new channel's first messages: the active job as a future job and its
    /// SetNewPrevHash, then jobs still waiting for a tip.
    fn send_initial_jobs(&mut self, channel_id: u32) {
        if let Some(p) = self.prev {
            self.send_job(channel_id, p.job_id, None);
            self.send_prev_hash(channel_id);
            let current: Vec<u32> = self
                .jobs
                .iter()
                .filter(|(&id, j)| {
                    id > p.job_id && j.epoch == Some(self.epoch) && j.custom.is_none()
                })
                .map(|(&id, _)| id)
                .collect();
            for id in current {
                self.send_job(channel_id, id, Some(p.hash.min_ntime));
            }
        }
        let future: Vec<u32> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.epoch.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in future {
            self.send_job(channel_id, id, None);
        }
    }

    fn submit(&mut self, share: Submission<'_>) {
        let (channel_id, sequence_number) = (share.channel_id, share.sequence_number);
        match self.validate(share) {
            Ok(()) => {}
            Err(error) => {
                if let Ok(code) = Str0255::new(error.error_code().as_bytes().to_vec()) {
                    self.send_mining(Mining::SubmitSharesError(SubmitSharesError {
                        channel_id,
                        sequence_number,
                        error_code: code,
                    }));
                }
                self.events.push_back(ServerEvent::ShareRejected {
                    channel_id,
                    sequence_number,
                    error,
                });
            }
        }
    }

    fn validate(&mut self, share: Submission<'_>) -> Result<(), ShareError> {
        let work = self.header_of(&share)?;
        self.credit(&share, work)
    }

    /// The share's whole header and its hash, once its channel, job, version bits, nTime
    /// and extranonce size are right for it.
    fn header_of(&mut self, share: &Submission<'_>) -> Result<Work, ShareError> {
        let Submission {
            channel_id,
            job_id,
            nonce,
            ntime,
            version,
            extranonce,
            ..
        } = *share;
        let epoch = self.epoch;
        let Some(ch) = self.channels.get(&channel_id) else {
            return Err(ShareError::InvalidChannelId);
        };
        let job = match self.jobs.get(&job_id) {
            Some(j) => j,
            None if job_id < self.next_job_id && job_id != 0 => return Err(ShareError::StaleShare),
            None => return Err(ShareError::InvalidJobId),
        };
        match job.epoch {
            None => return Err(ShareError::InvalidJobId),
            Some(e) if e != epoch => return Err(ShareError::StaleShare),
            Some(_) => {}
        }
        let active = self.prev.ok_or(ShareError::InvalidJobId)?;
        // A custom job carries its own header fields (on the same tip) and one channel.
        let (prev, network_target) = match job.custom {
            Some((owner, _)) if owner != channel_id => return Err(ShareError::InvalidJobId),
            Some((_, p)) => (p, target::from_nbits(p.nbits)),
            None => (active.hash, active.network_target),
        };
        let mask = if job.template.version_rolling_allowed && self.version_rolling {
            BIP320_VERSION_MASK
        } else {
            0
        };
        let changed = (version ^ job.template.version) & !mask;
        if changed != 0 {
            return Err(ShareError::VersionRollingNotAllowed { bits: changed });
        }
        let min = prev.min_ntime;
        let max = min
            .max(self.now.unix_secs)
            .saturating_add(self.cfg.max_ntime_ahead_secs);
        if ntime < min || ntime > max {
            return Err(ShareError::NtimeOutOfRange { ntime, min, max });
        }
        // The whole extranonce: the channel's fixed prefix then what the miner rolled.
        let bad_size =
            |expected: usize, got: usize| ShareError::BadExtranonceSize { expected, got };
        let full = match (ch.kind, extranonce) {
            (Kind::Extended, Some(e)) if e.len() == ch.range.rollable() => {
                Extranonce::from_parts(ch.range.prefix(), e)
                    .ok_or(bad_size(ch.range.rollable(), e.len()))?
            }
            (Kind::Extended, e) => {
                return Err(bad_size(ch.range.rollable(), e.map_or(0, <[u8]>::len)))
            }
            // SubmitSharesExtended on a standard channel: its extranonce must be empty.
            (_, Some(e)) if !e.is_empty() => return Err(bad_size(0, e.len())),
            (_, _) => Extranonce::from_parts(&ch.standard_extranonce, &[])
                .ok_or(bad_size(0, ch.standard_extranonce.len()))?,
        };
        let template = job.template.clone();
        let root = if ch.kind == Kind::Extended {
            template
                .merkle_root(full.as_bytes())
                .map_err(|_| bad_size(ch.range.rollable(), full.as_bytes().len()))?
        } else {
            self.standard_root(channel_id, job_id)
                .ok_or(ShareError::InvalidJobId)?
        };
        let header = block_header(version, &prev.prev_hash, &root, ntime, prev.nbits, nonce);
        let hash = sha256d(&header);
        Ok(Work {
            template,
            extranonce: full,
            header,
            hash,
            network_target,
        })
    }

    /// Credit a share whose header is `work`: it must meet the channel's target (or the
    /// previous one, for a while after a change) and not have been seen; it is acknowledged
    /// in batches, or forwarded when it meets the upstream target, and a block is reported.
    fn credit(&mut self, share: &Submission<'_>, work: Work) -> Result<(), ShareError> {
        let Submission {
            channel_id,
            sequence_number,
            job_id,
            nonce,
            ntime,
            version,
            ..
        } = *share;
        let Work {
            template,
            extranonce: full,
            header,
            hash,
            network_target,
        } = work;
        let now = self.now.monotonic_ms;
        let batch_size = self.cfg.share_batch_size.max(1);
        let upstream_target = self.upstream_target;
        let ch = self
            .channels
            .get_mut(&channel_id)
            .ok_or(ShareError::InvalidChannelId)?;
        let met = if target::hash_meets_target(&hash, &ch.target) {
            ch.target
        } else {
            match ch.old_target {
                Some((old, until)) if now <= until && target::hash_meets_target(&hash, &old) => old,
                _ => return Err(ShareError::DifficultyTooLow),
            }
        };
        let key = u64::from_le_bytes(hash[..8].try_into().unwrap_or_default());
        if !ch.seen.insert(key) {
            return Err(ShareError::DuplicateShare);
        }
        ch.vardiff.on_share();
        let difficulty = target::difficulty(&met);
        let forward = upstream_target.is_some_and(|u| target::hash_meets_target(&hash, &u));
        let ack = if forward {
            None
        } else {
            ch.batch.last_sequence_number = sequence_number;
            ch.batch.count += 1;
            ch.batch.sum += (difficulty as u64).max(1);
            (ch.batch.count >= batch_size)
                .then(|| success(channel_id, std::mem::take(&mut ch.batch)))
        };
        let user = ch.user.clone();
        if let Some(a) = ack {
            self.send_mining(Mining::SubmitSharesSuccess(a));
        }
        if target::hash_meets_target(&hash, &network_target) {
            if let Ok(coinbase_tx) = template.full_coinbase(full.as_bytes()) {
                self.events
                    .push_back(ServerEvent::BlockFound(BlockSolution {
                        channel_id,
                        template_id: template.template_id,
                        version,
                        header_timestamp: ntime,
                        header_nonce: nonce,
                        coinbase_tx,
                        block_hash: hash,
                        header,
                        extranonce: full,
                    }));
            }
        }
        self.events
            .push_back(ServerEvent::ShareAccepted(AcceptedShare {
                channel_id,
                user_identity: user,
                template_id: template.template_id,
                job_id,
                sequence_number,
                nonce,
                ntime,
                version,
                extranonce: full,
                hash,
                difficulty,
                forward,
            }));
        Ok(())
    }
}

/// A share's header, worked out from its job and channel.
struct Work {
    template: Arc<JobTemplate>,
    extranonce: Extranonce,
    header: [u8; 80],
    hash: [u8; 32],
    network_target: Target,
}

/// The fields of SubmitSharesStandard / SubmitSharesExtended.
struct Submission<'x> {
    channel_id: u32,
    sequence_number: u32,
    job_id: u32,
    nonce: u32,
    ntime: u32,
    version: u32,
    /// `None` for SubmitSharesStandard.
    extranonce: Option<&'x [u8]>,
}

/// What bounds a channel's target besides its vardiff.
#[derive(Debug, Clone, Copy)]
struct TargetLimits {
    /// The easiest target allowed ([`ServerConfig::min_share_difficulty`]).
    floor: Option<Target>,
    upstream: Option<Target>,
    network: Option<Target>,
}

impl TargetLimits {
    /// `t` made no easier than the floor, no harder than the upstream's target (so nothing
    /// the upstream credits is lost), no easier than the channel's maximum (what the device
    /// asked for), and last no harder than the network target, so every hash that is a block
    /// is submitted.
    fn clamp(&self, t: Target, max_target: Target) -> Target {
        let t = self.floor.map_or(t, |f| target::harder(t, f));
        let t = self.upstream.map_or(t, |u| target::easier(t, u));
        let t = target::harder(t, max_target);
        self.network.map_or(t, |n| target::easier(t, n))
    }
}

fn success(channel_id: u32, b: Batch) -> SubmitSharesSuccess {
    SubmitSharesSuccess {
        channel_id,
        last_sequence_number: b.last_sequence_number,
        new_submits_accepted_count: b.count,
        new_shares_sum: b.sum,
    }
}

impl HandleCommonMessagesFromDownstream for Session {
    type Error = SessionError;

    fn handle_setup_connection(&mut self, m: SetupConnection<'_>) -> Result<(), SessionError> {
        if self.setup_flags.is_some() {
            return Err(SessionError::SetupTwice);
        }
        let refuse = |s: &mut Session, flags: u32, code: &'static str| {
            if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
                s.send(CommonMessages::SetupConnectionError(SetupConnectionError {
                    flags,
                    error_code,
                }));
            }
            Err(SessionError::SetupRefused { error_code: code })
        };
        if m.protocol != PROTOCOL_MINING {
            return refuse(self, 0, error_codes::UNSUPPORTED_PROTOCOL);
        }
        if m.min_version > SV2_PROTOCOL_VERSION || m.max_version < SV2_PROTOCOL_VERSION {
            return refuse(self, 0, error_codes::PROTOCOL_VERSION_MISMATCH);
        }
        // Work selection (custom jobs) needs a job declarator.
        let mut unsupported = if self.cfg.work_selection {
            0
        } else {
            m.flags & mining_flags::REQUIRES_WORK_SELECTION
        };
        if !self.version_rolling {
            unsupported |= m.flags & mining_flags::REQUIRES_VERSION_ROLLING;
        }
        if unsupported != 0 {
            return refuse(self, unsupported, error_codes::UNSUPPORTED_FEATURE_FLAGS);
        }
        self.setup_flags = Some(m.flags);
        self.send(CommonMessages::SetupConnectionSuccess(
            SetupConnectionSuccess {
                used_version: SV2_PROTOCOL_VERSION,
                // Both channel kinds are served; rolling is allowed unless turned off.
                flags: if self.version_rolling {
                    0
                } else {
                    mining_flags::SUCCESS_REQUIRES_FIXED_VERSION
                },
            },
        ));
        self.events
            .push_back(ServerEvent::SetupDone { flags: m.flags });
        Ok(())
    }
}

impl HandleMiningMessagesFromDownstream for Session {
    type Error = SessionError;

    fn handle_open_standard_mining_channel(
        &mut self,
        m: OpenStandardMiningChannel<'_>,
    ) -> Result<(), SessionError> {
        let Some(vardiff) = self.check_open(m.request_id, m.nominal_hash_rate, &m.max_target)
        else {
            return Ok(());
        };
        let range = match self.extranonce.allocate() {
            Ok(r) => r,
            Err(_) => {
                self.open_error(m.request_id, error_codes::TOO_MANY_CHANNELS);
                return Ok(());
            }
        };
        let kind = if self.setup_flags.unwrap_or(0) & mining_flags::REQUIRES_STANDARD_JOBS != 0 {
            Kind::Standard
        } else {
            Kind::Grouped
        };
        let prefix = range.padded();
        let (channel_id, t) =
            self.add_channel(&m.user_identity, kind, range, vardiff, m.max_target.0);
        let Ok(extranonce_prefix) = B032::new(prefix) else {
            return Ok(());
        };
        self.send_mining(Mining::OpenStandardMiningChannelSuccess(
            OpenStandardMiningChannelSuccess {
                request_id: m.request_id,
                channel_id,
                target: U256(t),
                extranonce_prefix,
                group_channel_id: self.group_channel_id,
            },
        ));
        // A standard channel's first message is NewMiningJob (05), grouped or not.
        if let Some(ch) = self.channels.get_mut(&channel_id) {
            let kind = ch.kind;
            ch.kind = Kind::Standard;
            self.send_initial_jobs(channel_id);
            if let Some(ch) = self.channels.get_mut(&channel_id) {
                ch.kind = kind;
            }
        }
        Ok(())
    }

    fn handle_open_extended_mining_channel(
        &mut self,
        m: OpenExtendedMiningChannel<'_>,
    ) -> Result<(), SessionError> {
        let Some(vardiff) = self.check_open(m.request_id, m.nominal_hash_rate, &m.max_target)
        else {
            return Ok(());
        };
        let range = match self
            .extranonce
            .allocate_with_min(m.min_extranonce_size as usize)
        {
            Ok(r) => r,
            Err(crate::extranonce::ExtranonceError::TooLarge { .. }) => {
                self.open_error(m.request_id, error_codes::MIN_EXTRANONCE_SIZE_TOO_LARGE);
                return Ok(());
            }
            Err(_) => {
                self.open_error(m.request_id, error_codes::TOO_MANY_CHANNELS);
                return Ok(());
            }
        };
        let prefix = range.prefix().to_vec();
        let extranonce_size = range.rollable() as u16;
        let (channel_id, t) = self.add_channel(
            &m.user_identity,
            Kind::Extended,
            range,
            vardiff,
            m.max_target.0,
        );
        let Ok(extranonce_prefix) = B032::new(prefix) else {
            return Ok(());
        };
        self.send_mining(Mining::OpenExtendedMiningChannelSuccess(
            OpenExtendedMiningChannelSuccess {
                request_id: m.request_id,
                channel_id,
                target: U256(t),
                extranonce_size,
                extranonce_prefix,
                group_channel_id: self.group_channel_id,
            },
        ));
        self.send_initial_jobs(channel_id);
        Ok(())
    }

    fn handle_update_channel(&mut self, m: UpdateChannel) -> Result<(), SessionError> {
        let error = if !self.channels.contains_key(&m.channel_id) {
            Some(error_codes::INVALID_CHANNEL_ID)
        } else if !m.nominal_hash_rate.is_finite() || m.nominal_hash_rate < 0.0 {
            Some(error_codes::INVALID_NOMINAL_HASHRATE)
        } else if m.maximum_target.0 == [0; 32] {
            Some(error_codes::MAX_TARGET_OUT_OF_RANGE)
        } else {
            None
        };
        if let Some(code) = error {
            if let Ok(error_code) = Str0255::new(code.as_bytes().to_vec()) {
                self.send_mining(Mining::UpdateChannelError(UpdateChannelError {
                    channel_id: m.channel_id,
                    error_code,
                }));
            }
            return Ok(());
        }
        let now = self.now.monotonic_ms;
        let grace = self.cfg.target_grace_ms;
        let default_hr = self.cfg.default_hashrate;
        let limits = self.target_limits();
        let Some(ch) = self.channels.get_mut(&m.channel_id) else {
            return Ok(());
        };
        ch.max_target = m.maximum_target.0;
        let hr = if m.nominal_hash_rate > 0.0 {
            m.nominal_hash_rate as f64
        } else {
            default_hr
        };
        ch.vardiff.reset(hr, now);
        let t = limits.clamp(ch.vardiff.target(), ch.max_target);
        if t != ch.target {
            ch.old_target = Some((ch.target, now + grace));
            ch.target = t;
            self.send_mining(Mining::SetTarget(SetTarget {
                channel_id: m.channel_id,
                maximum_target: U256(t),
            }));
        }
        Ok(())
    }

    fn handle_close_channel(&mut self, m: CloseChannel<'_>) -> Result<(), SessionError> {
        let ids: Vec<u32> = if m.channel_id == self.group_channel_id {
            self.channels
                .iter()
                .filter(|(_, c)| c.kind == Kind::Grouped)
                .map(|(&id, _)| id)
                .collect()
        } else {
            vec![m.channel_id]
        };
        for id in ids {
            if let Some(ch) = self.channels.remove(&id) {
                let _ = self.extranonce.release(&ch.range);
                self.events
                    .push_back(ServerEvent::ChannelClosed { channel_id: id });
            }
        }
        Ok(())
    }

    fn handle_submit_shares_standard(
        &mut self,
        m: SubmitSharesStandard,
    ) -> Result<(), SessionError> {
        self.submit(Submission {
            channel_id: m.channel_id,
            sequence_number: m.sequence_number,
            job_id: m.job_id,
            nonce: m.nonce,
            ntime: m.ntime,
            version: m.version,
            extranonce: None,
        });
        Ok(())
    }

    fn handle_submit_shares_extended(
        &mut self,
        m: SubmitSharesExtended<'_>,
    ) -> Result<(), SessionError> {
        self.submit(Submission {
            channel_id: m.channel_id,
            sequence_number: m.sequence_number,
            job_id: m.job_id,
            nonce: m.nonce,
            ntime: m.ntime,
            version: m.version,
            extranonce: Some(m.extranonce.as_bytes()),
        });
        Ok(())
    }

    fn handle_set_custom_mining_job(
        &mut self,
        m: SetCustomMiningJob<'_>,
    ) -> Result<(), SessionError> {
        let (channel_id, request_id) = (m.channel_id, m.request_id);
        let selects = self.setup_flags.unwrap_or(0) & mining_flags::REQUIRES_WORK_SELECTION != 0;
        if !(self.cfg.work_selection && selects) {
            self.custom_error(
                channel_id,
                request_id,
                error_codes::INVALID_MINING_JOB_TOKEN,
            );
            return Ok(());
        }
        let extranonce_len = match self.channels.get(&channel_id) {
            Some(ch) if ch.kind == Kind::Extended => ch.range.total_len(),
            _ => {
                self.custom_error(channel_id, request_id, error_codes::INVALID_CHANNEL_ID);
                return Ok(());
            }
        };
        if self.pending_custom.len() >= self.cfg.max_pending_custom_jobs.max(1)
            || self.pending_custom.contains(&(channel_id, request_id))
        {
            self.custom_error(channel_id, request_id, "too-many-pending-custom-jobs");
            return Ok(());
        }
        self.pending_custom.push((channel_id, request_id));
        self.events.push_back(ServerEvent::CustomJobRequested {
            channel_id,
            request_id,
            job: m.into_static(),
            extranonce_len,
        });
        Ok(())
    }
}
