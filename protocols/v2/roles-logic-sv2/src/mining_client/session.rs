//! The downstream end of a Mining Protocol connection, sans-IO: what a device, a proxy, a
//! translator or a job declarator client keeps for its upstream.
//!
//! [`ClientSession`] has the shape of [`crate::mining_server::Session`] (and of quinn-proto's
//! connection): getters; `handle_frame` and `handle_timeout` for what arrives from the network
//! and the clock; commands (open channels, submit shares, set custom jobs, close); and
//! `poll_message`, `poll_event` and `poll_timeout` for what to send, what happened and when
//! to call `handle_timeout` next. The caller only moves bytes and sets one timer.
//!
//! Call order: after any `handle_*` or command, drain `poll_message` (send them in order),
//! then `poll_event`, then re-arm the timer from `poll_timeout`.
//!
//! It owns: SetupConnection; standard, extended and group channels (a group's jobs and tips
//! apply to each member); jobs and tips, future jobs included ([`ClientChannel`] per
//! channel); SetTarget and SetExtranoncePrefix; SetCustomMiningJob requests; each channel's
//! share sequence numbers and the reading of acknowledgements (see [`super::shares`]); and
//! Reconnect.

use super::shares::{Resolved, ShareBook, ShareRefusal};
use super::{ClientChannel, Work};
use crate::handlers::{
    HandleCommonMessagesFromUpstream, HandleMiningMessagesFromUpstream, HandlerError,
};
use crate::parsers::{AnyMessage, CommonMessages, Mining, ParserError};
use crate::target::Target;
use crate::Now;
use binary_sv2::{IntoStatic, Str0255, B032, U256};
use common_messages_sv2::{
    ChannelEndpointChanged, Reconnect, SetupConnection, SetupConnectionError,
    SetupConnectionSuccess,
};
use mining_sv2::*;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// How the session behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// A share not answered within this is reported [`ShareRefusal::Timeout`].
    pub answer_timeout_ms: u64,
    /// Shares waiting for an answer on one channel, at most ([`ShareRefusal::Backlog`]).
    pub max_waiting_shares: usize,
    /// Channel opens waiting for an answer, at most.
    pub max_pending_opens: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            answer_timeout_ms: 60_000,
            max_waiting_shares: 65_536,
            max_pending_opens: 1024,
        }
    }
}

/// What happened upstream, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent<R> {
    /// SetupConnection.Success: channels may be opened.
    SetupDone {
        flags: u32,
    },
    /// A channel opened; see [`ClientSession::channel`].
    ChannelOpened {
        request_id: u32,
        channel_id: u32,
    },
    OpenFailed {
        request_id: u32,
        error_code: String,
    },
    /// A job for `channel_id` (a channel or a group), as the upstream sent it.
    NewExtendedMiningJob {
        channel_id: u32,
        job: NewExtendedMiningJob<'static>,
    },
    NewMiningJob {
        channel_id: u32,
        job: NewMiningJob,
    },
    /// A new tip for `channel_id` (a channel or a group).
    SetNewPrevHash {
        channel_id: u32,
        prev: mining_sv2::SetNewPrevHash,
    },
    /// What a member channel should mine now changed (new active job, tip or target).
    Work {
        channel_id: u32,
        work: Work,
    },
    SetTarget {
        channel_id: u32,
        target: Target,
    },
    /// Applies to jobs sent after it.
    SetExtranoncePrefix {
        channel_id: u32,
        prefix: Vec<u8>,
    },
    /// The answer to a submitted share.
    ShareResult {
        channel_id: u32,
        sequence_number: u32,
        route: R,
        result: Result<(), ShareRefusal>,
    },
    CustomJobAccepted {
        request_id: u32,
        channel_id: u32,
        job_id: u32,
    },
    CustomJobRefused {
        request_id: u32,
        channel_id: u32,
        error_code: String,
    },
    UpdateChannelRefused {
        channel_id: u32,
        error_code: String,
    },
    /// The upstream closed the channel; its waiting shares were reported refused.
    ChannelClosed {
        channel_id: u32,
        reason_code: String,
    },
    /// The upstream asks to reconnect elsewhere (empty host or port 0: the same one).
    Reconnect {
        new_host: String,
        new_port: u16,
    },
}

/// Why the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    Parser(ParserError),
    /// A message that has no place on this side, or not now.
    Handler(HandlerError),
    /// A message other than the setup answer before it.
    NotSetUp {
        name: &'static str,
    },
    /// SetupConnection.Error.
    SetupRefused {
        error_code: String,
        flags: u32,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Parser(e) => write!(f, "{e}"),
            ClientError::Handler(e) => write!(f, "{e}"),
            ClientError::NotSetUp { name } => {
                write!(f, "{name} before SetupConnection.Success")
            }
            ClientError::SetupRefused { error_code, flags } => {
                write!(f, "setup refused: {error_code} (flags {flags:#x})")
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<HandlerError> for ClientError {
    fn from(e: HandlerError) -> Self {
        ClientError::Handler(e)
    }
}

/// A command that could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    NotSetUp,
    UnknownChannel(u32),
    /// Too many opens wait for an answer.
    TooManyPendingOpens,
    /// A field does not fit its wire type (a string over 255 bytes...).
    FieldTooLong(&'static str),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NotSetUp => f.write_str("the connection is not set up"),
            CommandError::UnknownChannel(id) => write!(f, "no open channel {id}"),
            CommandError::TooManyPendingOpens => f.write_str("too many channel opens pending"),
            CommandError::FieldTooLong(name) => write!(f, "{name} is too long"),
        }
    }
}

impl std::error::Error for CommandError {}

#[derive(Debug)]
struct Open {
    extended: bool,
}

/// A share to submit: the header fields a miner found, and (extended channels) the rolled
/// extranonce.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub channel_id: u32,
    pub job_id: u32,
    pub nonce: u32,
    pub ntime: u32,
    pub version: u32,
    /// `None` for a standard channel.
    pub extranonce: Option<&'a [u8]>,
}

/// One connection to an upstream, from SetupConnection to close. `R` is the route a share's
/// answer takes back to whoever submitted it (a downstream's id, a reply channel...).
#[derive(Debug)]
pub struct ClientSession<R> {
    cfg: ClientConfig,
    setup_flags: Option<u32>,
    channels: BTreeMap<u32, ClientChannel>,
    books: HashMap<u32, ShareBook<R>>,
    opening: HashMap<u32, Open>,
    next_request_id: u32,
    custom_jobs: HashMap<u32, u32>,
    now: Now,
    out: std::collections::VecDeque<AnyMessage<'static>>,
    events: std::collections::VecDeque<ClientEvent<R>>,
}

impl<R> ClientSession<R> {
    /// A session that starts by sending `setup`.
    pub fn new(cfg: ClientConfig, setup: SetupConnection<'static>, now: Now) -> Self {
        let mut s = ClientSession {
            cfg,
            setup_flags: None,
            channels: BTreeMap::new(),
            books: HashMap::new(),
            opening: HashMap::new(),
            next_request_id: 1,
            custom_jobs: HashMap::new(),
            now,
            out: Default::default(),
            events: Default::default(),
        };
        s.out
            .push_back(CommonMessages::SetupConnection(setup).into());
        s
    }

    // ---- getters ------------------------------------------------------------------------

    /// SetupConnection.Success flags, once set up.
    pub fn setup_flags(&self) -> Option<u32> {
        self.setup_flags
    }

    /// An open channel.
    pub fn channel(&self, channel_id: u32) -> Option<&ClientChannel> {
        self.channels.get(&channel_id)
    }

    /// Open channels, by id.
    pub fn channels(&self) -> impl Iterator<Item = &ClientChannel> {
        self.channels.values()
    }

    /// Shares of `channel_id` waiting for an answer.
    pub fn waiting_shares(&self, channel_id: u32) -> usize {
        self.books.get(&channel_id).map_or(0, ShareBook::waiting)
    }

    /// Channel opens not answered yet.
    pub fn pending_opens(&self) -> usize {
        self.opening.len()
    }

    // ---- input ----------------------------------------------------------------------------

    /// Handle one frame's payload. An error means the connection must be closed.
    pub fn handle_frame(
        &mut self,
        extension_type: u16,
        msg_type: u8,
        payload: &[u8],
        now: Now,
    ) -> Result<(), ClientError> {
        self.now = now;
        let msg =
            AnyMessage::parse(extension_type, msg_type, payload).map_err(ClientError::Parser)?;
        self.handle_message(msg)
    }

    /// Handle a message already parsed.
    pub fn handle_message(&mut self, msg: AnyMessage<'_>) -> Result<(), ClientError> {
        match msg {
            AnyMessage::Common(m) => HandleCommonMessagesFromUpstream::handle_message(self, m),
            AnyMessage::Mining(m) => {
                if self.setup_flags.is_none() {
                    return Err(ClientError::NotSetUp { name: m.name() });
                }
                HandleMiningMessagesFromUpstream::handle_message(self, m)
            }
            other => Err(HandlerError::UnexpectedMessage { name: other.name() }.into()),
        }
    }

    /// The clock: shares past their answer deadline are reported.
    pub fn handle_timeout(&mut self, now: Now) {
        self.now = now;
        let mut out = Vec::new();
        let ids: Vec<u32> = self.books.keys().copied().collect();
        for channel_id in ids {
            if let Some(b) = self.books.get_mut(&channel_id) {
                b.on_timeout(now.monotonic_ms, &mut out);
            }
            self.report(channel_id, &mut out);
        }
    }

    // ---- commands -------------------------------------------------------------------------

    /// Ask for a standard channel; returns the request id its answer carries.
    pub fn open_standard(
        &mut self,
        user_identity: &str,
        nominal_hash_rate: f32,
        max_target: Target,
    ) -> Result<u32, CommandError> {
        let request_id = self.start_open(false)?;
        let user_identity = str0255(user_identity, "user_identity")?;
        self.send(Mining::OpenStandardMiningChannel(
            OpenStandardMiningChannel {
                request_id,
                user_identity,
                nominal_hash_rate,
                max_target: U256(max_target),
            },
        ));
        Ok(request_id)
    }

    /// Ask for an extended channel rolling at least `min_extranonce_size` bytes.
    pub fn open_extended(
        &mut self,
        user_identity: &str,
        nominal_hash_rate: f32,
        max_target: Target,
        min_extranonce_size: u16,
    ) -> Result<u32, CommandError> {
        let request_id = self.start_open(true)?;
        let user_identity = str0255(user_identity, "user_identity")?;
        self.send(Mining::OpenExtendedMiningChannel(
            OpenExtendedMiningChannel {
                request_id,
                user_identity,
                nominal_hash_rate,
                max_target: U256(max_target),
                min_extranonce_size,
            },
        ));
        Ok(request_id)
    }

    fn start_open(&mut self, extended: bool) -> Result<u32, CommandError> {
        if self.setup_flags.is_none() {
            return Err(CommandError::NotSetUp);
        }
        if self.opening.len() >= self.cfg.max_pending_opens {
            return Err(CommandError::TooManyPendingOpens);
        }
        let request_id = self.request_id();
        self.opening.insert(request_id, Open { extended });
        Ok(request_id)
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        id
    }

    /// UpdateChannel: the hashrate behind the channel and the easiest target it wants.
    pub fn update_channel(
        &mut self,
        channel_id: u32,
        nominal_hash_rate: f32,
        maximum_target: Target,
    ) -> Result<(), CommandError> {
        if !self.channels.contains_key(&channel_id) {
            return Err(CommandError::UnknownChannel(channel_id));
        }
        self.send(Mining::UpdateChannel(UpdateChannel {
            channel_id,
            nominal_hash_rate,
            maximum_target: U256(maximum_target),
        }));
        Ok(())
    }

    /// Submit a share. Every submitted share gets exactly one [`ClientEvent::ShareResult`]
    /// carrying `route`. Returns its sequence number, or `None` when it was refused here
    /// without being sent (unknown channel, wrong extranonce size, or
    /// [`ClientConfig::max_waiting_shares`] already waiting); that result is already queued.
    pub fn submit(&mut self, share: Share<'_>, route: R) -> Option<u32> {
        let channel_id = share.channel_id;
        let refuse = |s: &mut Self, route: R, why: ShareRefusal| {
            s.events.push_back(ClientEvent::ShareResult {
                channel_id,
                sequence_number: 0,
                route,
                result: Err(why),
            });
            None
        };
        let Some(ch) = self.channels.get(&channel_id) else {
            return refuse(self, route, ShareRefusal::Closed);
        };
        let extranonce = match (ch.extended, share.extranonce) {
            (true, Some(e)) if e.len() == ch.extranonce_size => B032::new(e.to_vec()).ok(),
            (false, None) => None,
            _ => {
                let code = const_sv2::error_codes::BAD_EXTRANONCE_SIZE;
                return refuse(self, route, ShareRefusal::Local(code));
            }
        };
        let deadline = self.now.monotonic_ms + self.cfg.answer_timeout_ms;
        let max = self.cfg.max_waiting_shares;
        let book = self
            .books
            .entry(channel_id)
            .or_insert_with(|| ShareBook::new(max));
        let sequence_number = match book.send(route, deadline) {
            Ok(s) => s,
            Err(route) => return refuse(self, route, ShareRefusal::Backlog),
        };
        let m = match extranonce {
            Some(extranonce) => Mining::SubmitSharesExtended(SubmitSharesExtended {
                channel_id,
                sequence_number,
                job_id: share.job_id,
                nonce: share.nonce,
                ntime: share.ntime,
                version: share.version,
                extranonce,
            }),
            None => Mining::SubmitSharesStandard(SubmitSharesStandard {
                channel_id,
                sequence_number,
                job_id: share.job_id,
                nonce: share.nonce,
                ntime: share.ntime,
                version: share.version,
            }),
        };
        self.send(m);
        Some(sequence_number)
    }

    /// SetCustomMiningJob (a job declarator client's declared job); `job.request_id` is set
    /// here and returned. The answer comes as [`ClientEvent::CustomJobAccepted`] or
    /// [`ClientEvent::CustomJobRefused`].
    pub fn set_custom_mining_job(
        &mut self,
        mut job: SetCustomMiningJob<'static>,
    ) -> Result<u32, CommandError> {
        if !self.channels.contains_key(&job.channel_id) {
            return Err(CommandError::UnknownChannel(job.channel_id));
        }
        if self.custom_jobs.len() >= self.cfg.max_pending_opens {
            return Err(CommandError::TooManyPendingOpens);
        }
        let request_id = self.request_id();
        job.request_id = request_id;
        self.custom_jobs.insert(request_id, job.channel_id);
        self.send(Mining::SetCustomMiningJob(job));
        Ok(request_id)
    }

    /// Close a channel; its waiting shares are reported [`ShareRefusal::Closed`].
    pub fn close_channel(&mut self, channel_id: u32, reason: &str) {
        if self.channels.remove(&channel_id).is_none() {
            return;
        }
        if let Ok(reason_code) = str0255(reason, "reason_code") {
            self.send(Mining::CloseChannel(CloseChannel {
                channel_id,
                reason_code,
            }));
        }
        self.close_book(channel_id, ShareRefusal::Closed);
    }

    /// The connection is gone: every waiting share is reported `why`.
    pub fn fail_all(&mut self, why: ShareRefusal) {
        let ids: Vec<u32> = self.books.keys().copied().collect();
        for id in ids {
            self.close_book(id, why.clone());
        }
    }

    // ---- output ---------------------------------------------------------------------------

    /// The next message to send.
    pub fn poll_message(&mut self) -> Option<AnyMessage<'static>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent<R>> {
        self.events.pop_front()
    }

    /// When to call [`ClientSession::handle_timeout`] next (monotonic milliseconds).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.books
            .values()
            .filter_map(ShareBook::next_deadline)
            .min()
    }

    // ---- internals ------------------------------------------------------------------------

    fn send(&mut self, m: impl Into<AnyMessage<'static>>) {
        self.out.push_back(m.into());
    }

    fn report(&mut self, channel_id: u32, out: &mut Vec<Resolved<R>>) {
        for (sequence_number, route, result) in out.drain(..) {
            self.events.push_back(ClientEvent::ShareResult {
                channel_id,
                sequence_number,
                route,
                result,
            });
        }
    }

    fn close_book(&mut self, channel_id: u32, why: ShareRefusal) {
        if let Some(mut b) = self.books.remove(&channel_id) {
            let mut out = Vec::new();
            b.close(why, &mut out);
            self.report(channel_id, &mut out);
        }
    }

    /// The member channels a message addressed to `id` (a channel or a group) applies to.
    fn members(&self, id: u32) -> Vec<u32> {
        self.channels
            .values()
            .filter(|c| c.addressed(id))
            .map(|c| c.channel_id)
            .collect()
    }

    fn work(&mut self, channel_id: u32, work: Option<Work>) {
        if let Some(work) = work {
            self.events
                .push_back(ClientEvent::Work { channel_id, work });
        }
    }
}

fn str0255(s: &str, field: &'static str) -> Result<Str0255<'static>, CommandError> {
    Str0255::new(s.as_bytes().to_vec()).map_err(|_| CommandError::FieldTooLong(field))
}

impl<R> HandleCommonMessagesFromUpstream for ClientSession<R> {
    type Error = ClientError;

    fn handle_setup_connection_success(
        &mut self,
        m: SetupConnectionSuccess,
    ) -> Result<(), ClientError> {
        if self.setup_flags.is_some() {
            return Err(HandlerError::UnexpectedMessage {
                name: "SetupConnection.Success",
            }
            .into());
        }
        self.setup_flags = Some(m.flags);
        self.events
            .push_back(ClientEvent::SetupDone { flags: m.flags });
        Ok(())
    }

    fn handle_setup_connection_error(
        &mut self,
        m: SetupConnectionError<'_>,
    ) -> Result<(), ClientError> {
        Err(ClientError::SetupRefused {
            error_code: m.error_code.to_string_lossy().into_owned(),
            flags: m.flags,
        })
    }

    fn handle_channel_endpoint_changed(
        &mut self,
        _m: ChannelEndpointChanged,
    ) -> Result<(), ClientError> {
        // The channel now ends at another upstream node; nothing this side must change.
        Ok(())
    }

    fn handle_reconnect(&mut self, m: Reconnect<'_>) -> Result<(), ClientError> {
        self.events.push_back(ClientEvent::Reconnect {
            new_host: m.new_host.to_string_lossy().into_owned(),
            new_port: m.new_port,
        });
        Ok(())
    }
}

impl<R> HandleMiningMessagesFromUpstream for ClientSession<R> {
    type Error = ClientError;

    fn handle_open_standard_mining_channel_success(
        &mut self,
        m: OpenStandardMiningChannelSuccess<'_>,
    ) -> Result<(), ClientError> {
        match self.opening.remove(&m.request_id) {
            Some(Open { extended: false }) => {}
            _ => {
                return Err(HandlerError::UnexpectedMessage {
                    name: "OpenStandardMiningChannel.Success",
                }
                .into())
            }
        }
        let ch = ClientChannel::standard(
            m.channel_id,
            m.group_channel_id,
            m.target.0,
            m.extranonce_prefix.as_bytes(),
        );
        self.channels.insert(m.channel_id, ch);
        self.events.push_back(ClientEvent::ChannelOpened {
            request_id: m.request_id,
            channel_id: m.channel_id,
        });
        Ok(())
    }

    fn handle_open_extended_mining_channel_success(
        &mut self,
        m: OpenExtendedMiningChannelSuccess<'_>,
    ) -> Result<(), ClientError> {
        match self.opening.remove(&m.request_id) {
            Some(Open { extended: true }) => {}
            _ => {
                return Err(HandlerError::UnexpectedMessage {
                    name: "OpenExtendedMiningChannel.Success",
                }
                .into())
            }
        }
        let ch = ClientChannel::extended(
            m.channel_id,
            m.group_channel_id,
            m.target.0,
            m.extranonce_prefix.as_bytes(),
            m.extranonce_size as usize,
        );
        self.channels.insert(m.channel_id, ch);
        self.events.push_back(ClientEvent::ChannelOpened {
            request_id: m.request_id,
            channel_id: m.channel_id,
        });
        Ok(())
    }

    fn handle_open_mining_channel_error(
        &mut self,
        m: OpenMiningChannelError<'_>,
    ) -> Result<(), ClientError> {
        if self.opening.remove(&m.request_id).is_none() {
            return Err(HandlerError::UnexpectedMessage {
                name: "OpenMiningChannel.Error",
            }
            .into());
        }
        self.events.push_back(ClientEvent::OpenFailed {
            request_id: m.request_id,
            error_code: m.error_code.to_string_lossy().into_owned(),
        });
        Ok(())
    }

    fn handle_new_mining_job(&mut self, m: NewMiningJob) -> Result<(), ClientError> {
        let Some(ch) = self.channels.get_mut(&m.channel_id) else {
            return Ok(()); // a channel closed meanwhile
        };
        let work = ch.on_new_mining_job(&m);
        self.work(m.channel_id, work);
        self.events.push_back(ClientEvent::NewMiningJob {
            channel_id: m.channel_id,
            job: m,
        });
        Ok(())
    }

    fn handle_new_extended_mining_job(
        &mut self,
        m: NewExtendedMiningJob<'_>,
    ) -> Result<(), ClientError> {
        for id in self.members(m.channel_id) {
            let work = match self.channels.get_mut(&id) {
                // A job that does not fit the channel (its coinbase parts are not a
                // transaction around its extranonce) is the upstream's error on that channel.
                Some(ch) => ch.on_new_extended_mining_job(&m).unwrap_or_default(),
                None => None,
            };
            self.work(id, work);
        }
        self.events.push_back(ClientEvent::NewExtendedMiningJob {
            channel_id: m.channel_id,
            job: m.into_static(),
        });
        Ok(())
    }

    fn handle_set_new_prev_hash(
        &mut self,
        m: mining_sv2::SetNewPrevHash,
    ) -> Result<(), ClientError> {
        for id in self.members(m.channel_id) {
            let work = self
                .channels
                .get_mut(&id)
                .and_then(|ch| ch.on_set_new_prev_hash(&m));
            self.work(id, work);
        }
        self.events.push_back(ClientEvent::SetNewPrevHash {
            channel_id: m.channel_id,
            prev: m,
        });
        Ok(())
    }

    fn handle_set_target(&mut self, m: SetTarget) -> Result<(), ClientError> {
        for id in self.members(m.channel_id) {
            let work = self
                .channels
                .get_mut(&id)
                .and_then(|ch| ch.on_set_target(&m));
            self.work(id, work);
        }
        self.events.push_back(ClientEvent::SetTarget {
            channel_id: m.channel_id,
            target: m.maximum_target.0,
        });
        Ok(())
    }

    fn handle_set_extranonce_prefix(
        &mut self,
        m: SetExtranoncePrefix<'_>,
    ) -> Result<(), ClientError> {
        if let Some(ch) = self.channels.get_mut(&m.channel_id) {
            ch.on_set_extranonce_prefix(m.extranonce_prefix.as_bytes());
            self.events.push_back(ClientEvent::SetExtranoncePrefix {
                channel_id: m.channel_id,
                prefix: m.extranonce_prefix.as_bytes().to_vec(),
            });
        }
        Ok(())
    }

    fn handle_submit_shares_success(&mut self, m: SubmitSharesSuccess) -> Result<(), ClientError> {
        let mut out = Vec::new();
        if let Some(b) = self.books.get_mut(&m.channel_id) {
            b.on_success(
                m.last_sequence_number,
                m.new_submits_accepted_count,
                &mut out,
            );
        }
        self.report(m.channel_id, &mut out);
        Ok(())
    }

    fn handle_submit_shares_error(&mut self, m: SubmitSharesError<'_>) -> Result<(), ClientError> {
        let mut out = Vec::new();
        if let Some(b) = self.books.get_mut(&m.channel_id) {
            // An error for a share no longer waiting (answered twice) changes nothing.
            b.on_error(m.sequence_number, &m.error_code.to_string_lossy(), &mut out);
        }
        self.report(m.channel_id, &mut out);
        Ok(())
    }

    fn handle_update_channel_error(
        &mut self,
        m: UpdateChannelError<'_>,
    ) -> Result<(), ClientError> {
        self.events.push_back(ClientEvent::UpdateChannelRefused {
            channel_id: m.channel_id,
            error_code: m.error_code.to_string_lossy().into_owned(),
        });
        Ok(())
    }

    fn handle_close_channel(&mut self, m: CloseChannel<'_>) -> Result<(), ClientError> {
        // A group id closes every member.
        for id in self.members(m.channel_id) {
            self.channels.remove(&id);
            self.close_book(id, ShareRefusal::Closed);
            self.events.push_back(ClientEvent::ChannelClosed {
                channel_id: id,
                reason_code: m.reason_code.to_string_lossy().into_owned(),
            });
        }
        Ok(())
    }

    fn handle_set_custom_mining_job_success(
        &mut self,
        m: SetCustomMiningJobSuccess,
    ) -> Result<(), ClientError> {
        if self.custom_jobs.remove(&m.request_id).is_none() {
            return Err(HandlerError::UnexpectedMessage {
                name: "SetCustomMiningJob.Success",
            }
            .into());
        }
        self.events.push_back(ClientEvent::CustomJobAccepted {
            request_id: m.request_id,
            channel_id: m.channel_id,
            job_id: m.job_id,
        });
        Ok(())
    }

    fn handle_set_custom_mining_job_error(
        &mut self,
        m: SetCustomMiningJobError<'_>,
    ) -> Result<(), ClientError> {
        if self.custom_jobs.remove(&m.request_id).is_none() {
            return Err(HandlerError::UnexpectedMessage {
                name: "SetCustomMiningJob.Error",
            }
            .into());
        }
        self.events.push_back(ClientEvent::CustomJobRefused {
            request_id: m.request_id,
            channel_id: m.channel_id,
            error_code: m.error_code.to_string_lossy().into_owned(),
        });
        Ok(())
    }

    fn handle_set_group_channel(&mut self, m: SetGroupChannel<'_>) -> Result<(), ClientError> {
        for id in m.channel_ids.iter() {
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.group_channel_id = m.group_channel_id;
            }
        }
        Ok(())
    }
}
