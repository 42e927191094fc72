//! The job declarator client's end of a connection to a JDS, sans-IO: tokens kept ahead of
//! need, declarations, the answers to `ProvideMissingTransactions`, `PushSolution`.

use crate::handlers::{
    HandleCommonMessagesFromUpstream, HandleJobDeclarationFromServer, HandlerError,
};
use crate::parsers::{AnyMessage, CommonMessages, JobDeclaration, ParserError};
use crate::Now;
use binary_sv2::{IntoStatic, Seq064K, Str0255, B016M, B0255, B064K, U256};
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Transaction, TxOut};
use common_messages_sv2::{
    ChannelEndpointChanged, Reconnect, SetupConnection, SetupConnectionError,
    SetupConnectionSuccess,
};
use job_declaration_sv2::*;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct JdcConfig {
    /// `AllocateMiningJobToken.user_identifier`: the pool account.
    pub user_identifier: String,
    /// Tokens kept ready, so a new template is declared without a round trip first.
    pub tokens_ahead: usize,
    /// Declarations remembered for `ProvideMissingTransactions`, at most (the newest).
    pub max_declarations: usize,
    /// A token request or declaration not answered within this is reported
    /// ([`JdcEvent::Timeout`]): the JDS is not doing its job.
    pub answer_timeout_ms: u64,
}

impl Default for JdcConfig {
    fn default() -> Self {
        JdcConfig {
            user_identifier: String::new(),
            tokens_ahead: 2,
            max_declarations: 8,
            answer_timeout_ms: 10_000,
        }
    }
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum JdcEvent {
    SetupDone,
    /// A new token is ready ([`JdcSession::take_token`]).
    TokenReady,
    Declared {
        request_id: u32,
        template_id: u64,
        /// For `SetCustomMiningJob.mining_job_token`.
        token: Vec<u8>,
    },
    DeclareRefused {
        request_id: u32,
        template_id: u64,
        error_code: String,
    },
    /// The JDS asked for transactions of a declaration and was sent them.
    ProvidedTransactions {
        request_id: u32,
        count: usize,
    },
    /// The JDS did not answer in time.
    Timeout {
        what: &'static str,
    },
}

/// Why the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JdcError {
    Parser(ParserError),
    Handler(HandlerError),
    NotSetUp {
        name: &'static str,
    },
    SetupRefused {
        error_code: String,
    },
    /// `ProvideMissingTransactions` named a position the declaration does not have.
    BadPosition {
        request_id: u32,
        position: u16,
    },
}

impl fmt::Display for JdcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JdcError::Parser(e) => write!(f, "{e}"),
            JdcError::Handler(e) => write!(f, "{e}"),
            JdcError::NotSetUp { name } => write!(f, "{name} before SetupConnection.Success"),
            JdcError::SetupRefused { error_code } => write!(f, "setup refused: {error_code}"),
            JdcError::BadPosition {
                request_id,
                position,
            } => write!(
                f,
                "ProvideMissingTransactions for declaration {request_id} names position {position}, which it does not have"
            ),
        }
    }
}

impl std::error::Error for JdcError {}

/// Why [`JdcSession::declare`] could not make a DeclareMiningJob of what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeclareError {
    /// Transaction number `index` (in block order, coinbase excluded) does not deserialize.
    BadTransaction { index: usize },
    /// The field is longer than its Sv2 type allows (`wtxid_list`: over 65,535 transactions).
    TooLarge { field: &'static str },
}

impl fmt::Display for DeclareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeclareError::BadTransaction { index } => {
                write!(f, "template transaction {index} does not deserialize")
            }
            DeclareError::TooLarge { field } => write!(f, "{field} is too large for its Sv2 type"),
        }
    }
}

impl std::error::Error for DeclareError {}

impl From<HandlerError> for JdcError {
    fn from(e: HandlerError) -> Self {
        JdcError::Handler(e)
    }
}

/// A token and the outputs the pool requires with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: Vec<u8>,
    /// Pool payout output first (at 0 sats), then any others.
    pub outputs: Vec<TxOut>,
}

#[derive(Debug)]
struct Declaration {
    template_id: u64,
    transactions: Arc<Vec<Vec<u8>>>,
    deadline_ms: Option<u64>,
}

/// One connection to a job declarator server.
#[derive(Debug)]
pub struct JdcSession {
    cfg: JdcConfig,
    set_up: bool,
    next_request_id: u32,
    token_requests: HashMap<u32, u64>,
    tokens: VecDeque<Token>,
    declarations: HashMap<u32, Declaration>,
    order: VecDeque<u32>,
    now: Now,
    out: VecDeque<AnyMessage<'static>>,
    events: VecDeque<JdcEvent>,
}

impl JdcSession {
    /// A session that starts by sending `setup` (protocol 1; `DECLARE_TX_DATA` in its flags
    /// for full-template mode).
    pub fn new(cfg: JdcConfig, setup: SetupConnection<'static>, now: Now) -> Self {
        let mut s = JdcSession {
            cfg,
            set_up: false,
            next_request_id: 1,
            token_requests: HashMap::new(),
            tokens: VecDeque::new(),
            declarations: HashMap::new(),
            order: VecDeque::new(),
            now,
            out: VecDeque::new(),
            events: VecDeque::new(),
        };
        s.out
            .push_back(CommonMessages::SetupConnection(setup).into());
        s
    }

    pub fn is_set_up(&self) -> bool {
        self.set_up
    }

    /// Tokens ready to use.
    pub fn tokens(&self) -> usize {
        self.tokens.len()
    }

    pub fn handle_frame(
        &mut self,
        extension_type: u16,
        msg_type: u8,
        payload: &[u8],
        now: Now,
    ) -> Result<(), JdcError> {
        self.now = now;
        match AnyMessage::parse(extension_type, msg_type, payload).map_err(JdcError::Parser)? {
            AnyMessage::Common(m) => HandleCommonMessagesFromUpstream::handle_message(self, m),
            AnyMessage::JobDeclaration(m) => {
                if !self.set_up {
                    return Err(JdcError::NotSetUp { name: m.name() });
                }
                HandleJobDeclarationFromServer::handle_message(self, m)
            }
            other => Err(HandlerError::UnexpectedMessage { name: other.name() }.into()),
        }
    }

    /// The clock: token requests and declarations past their deadline are reported once.
    pub fn handle_timeout(&mut self, now: Now) {
        self.now = now;
        let t = now.monotonic_ms;
        let late_tokens = self.token_requests.values().any(|&d| d <= t);
        if late_tokens {
            self.token_requests.retain(|_, d| *d > t);
            self.events.push_back(JdcEvent::Timeout {
                what: "AllocateMiningJobToken",
            });
        }
        let mut late_declaration = false;
        for d in self.declarations.values_mut() {
            if d.deadline_ms.is_some_and(|x| x <= t) {
                d.deadline_ms = None;
                late_declaration = true;
            }
        }
        if late_declaration {
            self.events.push_back(JdcEvent::Timeout {
                what: "DeclareMiningJob",
            });
        }
        self.request_tokens();
    }

    /// Ask for tokens until [`JdcConfig::tokens_ahead`] are ready or on their way.
    pub fn request_tokens(&mut self) {
        if !self.set_up {
            return;
        }
        while self.tokens.len() + self.token_requests.len() < self.cfg.tokens_ahead.max(1) {
            let request_id = self.request_id();
            self.token_requests.insert(
                request_id,
                self.now.monotonic_ms + self.cfg.answer_timeout_ms,
            );
            let user_identifier =
                Str0255::new(self.cfg.user_identifier.as_bytes().to_vec()).unwrap_or_default();
            self.send(JobDeclaration::AllocateMiningJobToken(
                AllocateMiningJobToken {
                    user_identifier,
                    request_id,
                },
            ));
        }
    }

    /// A ready token, if any (more are asked for at once).
    pub fn take_token(&mut self) -> Option<Token> {
        let t = self.tokens.pop_front();
        self.request_tokens();
        t
    }

    /// Put back a token taken and not used (it is the next one taken).
    pub fn return_token(&mut self, token: Token) {
        self.tokens.push_front(token);
    }

    /// Declare a job (full-template mode). `coinbase_tx_prefix`/`suffix` are the coinbase's
    /// full serialization around the extranonce, `transactions` the template's others
    /// (serialized with witnesses, in block order). Returns the request id.
    #[allow(clippy::too_many_arguments)]
    pub fn declare(
        &mut self,
        token: Vec<u8>,
        template_id: u64,
        version: u32,
        coinbase_tx_prefix: Vec<u8>,
        coinbase_tx_suffix: Vec<u8>,
        transactions: Arc<Vec<Vec<u8>>>,
        excess_data: Vec<u8>,
    ) -> Result<u32, DeclareError> {
        let mut wtxids = Vec::with_capacity(transactions.len());
        for (index, t) in transactions.iter().enumerate() {
            let tx: Transaction =
                deserialize(t).map_err(|_| DeclareError::BadTransaction { index })?;
            wtxids.push(U256(tx.compute_wtxid().to_byte_array()));
        }
        let too_large = |field| move |_| DeclareError::TooLarge { field };
        let m = DeclareMiningJob {
            request_id: 0,
            mining_job_token: B0255::new(token).map_err(too_large("mining_job_token"))?,
            version,
            coinbase_tx_prefix: B064K::new(coinbase_tx_prefix)
                .map_err(too_large("coinbase_tx_prefix"))?,
            coinbase_tx_suffix: B064K::new(coinbase_tx_suffix)
                .map_err(too_large("coinbase_tx_suffix"))?,
            wtxid_list: Seq064K::from_items(wtxids).map_err(too_large("wtxid_list"))?,
            excess_data: B064K::new(excess_data).map_err(too_large("excess_data"))?,
        };
        let request_id = self.request_id();
        self.declarations.insert(
            request_id,
            Declaration {
                template_id,
                transactions,
                deadline_ms: Some(self.now.monotonic_ms + self.cfg.answer_timeout_ms),
            },
        );
        self.order.push_back(request_id);
        while self.order.len() > self.cfg.max_declarations.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.declarations.remove(&old);
            }
        }
        self.send(JobDeclaration::DeclareMiningJob(DeclareMiningJob {
            request_id,
            ..m
        }));
        Ok(request_id)
    }

    /// A block was found on the last declared job: let the JDS propagate it too.
    pub fn push_solution(&mut self, m: PushSolution<'static>) {
        self.send(JobDeclaration::PushSolution(m));
    }

    pub fn poll_message(&mut self) -> Option<AnyMessage<'static>> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<JdcEvent> {
        self.events.pop_front()
    }

    /// When to call [`JdcSession::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let a = self.token_requests.values().min().copied();
        let b = self
            .declarations
            .values()
            .filter_map(|d| d.deadline_ms)
            .min();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn send(&mut self, m: impl Into<AnyMessage<'static>>) {
        self.out.push_back(m.into());
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = id.wrapping_add(1).max(1);
        id
    }
}

impl HandleCommonMessagesFromUpstream for JdcSession {
    type Error = JdcError;

    fn handle_setup_connection_success(
        &mut self,
        _m: SetupConnectionSuccess,
    ) -> Result<(), JdcError> {
        if self.set_up {
            return Err(HandlerError::UnexpectedMessage {
                name: "SetupConnection.Success",
            }
            .into());
        }
        self.set_up = true;
        self.events.push_back(JdcEvent::SetupDone);
        self.request_tokens();
        Ok(())
    }

    fn handle_setup_connection_error(
        &mut self,
        m: SetupConnectionError<'_>,
    ) -> Result<(), JdcError> {
        Err(JdcError::SetupRefused {
            error_code: m.error_code.to_string_lossy().into_owned(),
        })
    }

    fn handle_channel_endpoint_changed(
        &mut self,
        _m: ChannelEndpointChanged,
    ) -> Result<(), JdcError> {
        Ok(())
    }

    fn handle_reconnect(&mut self, _m: Reconnect<'_>) -> Result<(), JdcError> {
        Ok(())
    }
}

impl HandleJobDeclarationFromServer for JdcSession {
    type Error = JdcError;

    fn handle_allocate_mining_job_token_success(
        &mut self,
        m: AllocateMiningJobTokenSuccess<'_>,
    ) -> Result<(), JdcError> {
        // One answered after its request timed out is kept: the token is still good.
        self.token_requests.remove(&m.request_id);
        let outputs: Vec<TxOut> = deserialize(m.coinbase_tx_outputs.as_bytes()).map_err(|_| {
            HandlerError::UnexpectedMessage {
                name: "AllocateMiningJobToken.Success with outputs that do not decode",
            }
        })?;
        if outputs.is_empty() {
            return Err(HandlerError::UnexpectedMessage {
                name: "AllocateMiningJobToken.Success without the pool payout output",
            }
            .into());
        }
        self.tokens.push_back(Token {
            token: m.mining_job_token.as_bytes().to_vec(),
            outputs,
        });
        // Never hold more than asked for.
        while self.tokens.len() > self.cfg.tokens_ahead.max(1) * 2 {
            self.tokens.pop_front();
        }
        self.events.push_back(JdcEvent::TokenReady);
        Ok(())
    }

    fn handle_declare_mining_job_success(
        &mut self,
        m: DeclareMiningJobSuccess<'_>,
    ) -> Result<(), JdcError> {
        let Some(d) = self.declarations.get_mut(&m.request_id) else {
            return Ok(()); // a declaration forgotten for newer ones
        };
        d.deadline_ms = None;
        let template_id = d.template_id;
        self.events.push_back(JdcEvent::Declared {
            request_id: m.request_id,
            template_id,
            token: m.new_mining_job_token.into_static().as_bytes().to_vec(),
        });
        Ok(())
    }

    fn handle_declare_mining_job_error(
        &mut self,
        m: DeclareMiningJobError<'_>,
    ) -> Result<(), JdcError> {
        let Some(d) = self.declarations.remove(&m.request_id) else {
            return Ok(());
        };
        self.order.retain(|&r| r != m.request_id);
        self.events.push_back(JdcEvent::DeclareRefused {
            request_id: m.request_id,
            template_id: d.template_id,
            error_code: m.error_code.to_string_lossy().into_owned(),
        });
        Ok(())
    }

    fn handle_provide_missing_transactions(
        &mut self,
        m: ProvideMissingTransactions<'_>,
    ) -> Result<(), JdcError> {
        let Some(d) = self.declarations.get(&m.request_id) else {
            return Ok(()); // too old to answer; the JDS will refuse it
        };
        let mut list = Vec::with_capacity(m.unknown_tx_position_list.len());
        for pos in m.unknown_tx_position_list.iter() {
            let tx = d
                .transactions
                .get(pos as usize)
                .ok_or(JdcError::BadPosition {
                    request_id: m.request_id,
                    position: pos,
                })?;
            list.push(B016M::new(tx.clone()).map_err(|_| JdcError::BadPosition {
                request_id: m.request_id,
                position: pos,
            })?);
        }
        let count = list.len();
        let transaction_list = Seq064K::from_items(list).map_err(|_| JdcError::BadPosition {
            request_id: m.request_id,
            position: u16::MAX,
        })?;
        self.send(JobDeclaration::ProvideMissingTransactionsSuccess(
            ProvideMissingTransactionsSuccess {
                request_id: m.request_id,
                transaction_list,
            },
        ));
        self.events.push_back(JdcEvent::ProvidedTransactions {
            request_id: m.request_id,
            count,
        });
        Ok(())
    }
}
