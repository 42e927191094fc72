//! Typed messages from frames, and frames from typed messages.
//!
//! One enum per subprotocol ([`CommonMessages`], [`Mining`], [`TemplateDistribution`],
//! [`JobDeclaration`], [`ExtensionsNegotiation`]) and [`AnyMessage`] over all of them. Each
//! parses a payload given its message type, knows its own header values, encodes, and turns
//! into an owned `'static` value. [`MESSAGES`] lists every message with its header values.
//!
//! Parsing is keyed by `(extension_type without the channel bit, msg_type)`. The channel bit a
//! frame carries is not checked here: the spec's table and deployed implementations disagree on
//! it for a few messages, and a receiver has nothing to gain from refusing either form.

use binary_sv2::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, EncodeError, IntoStatic, Writer,
};
use const_sv2::*;
use extensions_sv2::tlv::TlvList;
use framing_sv2::Sv2Message;
use std::fmt;

use common_messages_sv2::*;
use extensions_sv2::*;
use job_declaration_sv2::*;
use mining_sv2::*;
use template_distribution_sv2 as td;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, RequestTransactionDataError,
    RequestTransactionDataSuccess, SubmitSolution,
};

/// Why a payload could not be turned into a typed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParserError {
    /// No message of this subprotocol or extension has this type.
    UnknownMessageType { extension_type: u16, msg_type: u8 },
    /// An extension this library does not implement.
    UnknownExtension { extension_type: u16 },
    /// The payload does not decode as the message its type names.
    Decode(DecodeError),
}

impl fmt::Display for ParserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParserError::UnknownMessageType {
                extension_type,
                msg_type,
            } => write!(
                f,
                "unknown message type 0x{msg_type:02x} (extension_type 0x{extension_type:04x})"
            ),
            ParserError::UnknownExtension { extension_type } => {
                write!(f, "unknown extension_type 0x{extension_type:04x}")
            }
            ParserError::Decode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ParserError {}

impl From<DecodeError> for ParserError {
    fn from(e: DecodeError) -> Self {
        ParserError::Decode(e)
    }
}

/// Header values and name of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    pub extension_type: u16,
    pub msg_type: u8,
    pub channel_bit: bool,
    /// As 08-Message-Types.md writes it (`SubmitShares.Success`).
    pub name: &'static str,
}

macro_rules! protocol_enum {
    (
        $(#[$doc:meta])*
        $enum:ident, $ext:expr, {
            $( $variant:ident ( $ty:ty ) = $mt:path ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $enum<'a> {
            $( $variant($ty), )*
        }

        impl<'a> $enum<'a> {
            /// Header values and names of this subprotocol's messages.
            pub const MESSAGES: &'static [MessageInfo] = &[
                $( MessageInfo {
                    extension_type: <$ty as Sv2Message>::EXTENSION_TYPE,
                    msg_type: <$ty as Sv2Message>::MSG_TYPE,
                    channel_bit: <$ty as Sv2Message>::CHANNEL_BIT,
                    name: <$ty as Sv2Message>::NAME,
                }, )*
            ];

            /// Decode `payload` as the message `msg_type` names; trailing bytes are an error.
            #[inline]
            pub fn parse(msg_type: u8, payload: &'a [u8]) -> Result<Self, ParserError> {
                match msg_type {
                    $( $mt => Ok($enum::$variant(<$ty as Decodable<'a>>::decode(payload)?)), )*
                    _ => Err(ParserError::UnknownMessageType { extension_type: $ext, msg_type }),
                }
            }

            /// Decode the message at the start of `payload` and return the bytes after it.
            pub fn parse_prefix(msg_type: u8, payload: &'a [u8]) -> Result<(Self, &'a [u8]), ParserError> {
                match msg_type {
                    $( $mt => {
                        let (m, rest) = <$ty as Decodable<'a>>::decode_prefix(payload)?;
                        Ok(($enum::$variant(m), rest))
                    } )*
                    _ => Err(ParserError::UnknownMessageType { extension_type: $ext, msg_type }),
                }
            }

            pub fn msg_type(&self) -> u8 {
                match self { $( $enum::$variant(_) => <$ty as Sv2Message>::MSG_TYPE, )* }
            }

            pub fn channel_bit(&self) -> bool {
                match self { $( $enum::$variant(_) => <$ty as Sv2Message>::CHANNEL_BIT, )* }
            }

            pub fn extension_type(&self) -> u16 {
                $ext
            }

            /// The name as 08-Message-Types.md writes it.
            pub fn name(&self) -> &'static str {
                match self { $( $enum::$variant(_) => <$ty as Sv2Message>::NAME, )* }
            }

            /// Deserialize the fields of message `msg_type` (owned values).
            #[cfg(feature = "serde")]
            pub fn deserialize_fields<'de, D: serde::Deserializer<'de>>(
                msg_type: u8,
                d: D,
            ) -> Result<Self, D::Error> {
                match msg_type {
                    $( $mt => Ok($enum::$variant(<$ty as serde::Deserialize>::deserialize(d)?)), )*
                    _ => Err(<D::Error as serde::de::Error>::custom(
                        ParserError::UnknownMessageType { extension_type: $ext, msg_type },
                    )),
                }
            }
        }

        impl Encodable for $enum<'_> {
            #[inline]
            fn encoded_len(&self) -> usize {
                match self { $( $enum::$variant(m) => m.encoded_len(), )* }
            }
            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match self { $( $enum::$variant(m) => m.write_to(w), )* }
            }
        }

        impl IntoStatic for $enum<'_> {
            type Static = $enum<'static>;
            fn into_static(self) -> $enum<'static> {
                match self { $( $enum::$variant(m) => $enum::$variant(m.into_static()), )* }
            }
        }

        /// Serializes the message's fields only (DESIGN.md's `fields` object).
        #[cfg(feature = "serde")]
        impl serde::Serialize for $enum<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $( $enum::$variant(m) => m.serialize(s), )* }
            }
        }

        $(
            impl<'a> From<$ty> for $enum<'a> {
                fn from(m: $ty) -> Self {
                    $enum::$variant(m)
                }
            }
        )*
    };
}

protocol_enum! {
    /// Messages common to all subprotocols (03, 3.6).
    CommonMessages, EXTENSION_TYPE_NO_EXTENSION, {
        SetupConnection(SetupConnection<'a>) = MESSAGE_TYPE_SETUP_CONNECTION,
        SetupConnectionSuccess(SetupConnectionSuccess) = MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS,
        SetupConnectionError(SetupConnectionError<'a>) = MESSAGE_TYPE_SETUP_CONNECTION_ERROR,
        ChannelEndpointChanged(ChannelEndpointChanged) = MESSAGE_TYPE_CHANNEL_ENDPOINT_CHANGED,
        Reconnect(Reconnect<'a>) = MESSAGE_TYPE_RECONNECT,
    }
}

protocol_enum! {
    /// Mining Protocol messages (05).
    Mining, EXTENSION_TYPE_NO_EXTENSION, {
        OpenStandardMiningChannel(OpenStandardMiningChannel<'a>) = MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL,
        OpenStandardMiningChannelSuccess(OpenStandardMiningChannelSuccess<'a>) = MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS,
        OpenMiningChannelError(OpenMiningChannelError<'a>) = MESSAGE_TYPE_OPEN_MINING_CHANNEL_ERROR,
        OpenExtendedMiningChannel(OpenExtendedMiningChannel<'a>) = MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL,
        OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess<'a>) = MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
        NewMiningJob(NewMiningJob) = MESSAGE_TYPE_NEW_MINING_JOB,
        UpdateChannel(UpdateChannel) = MESSAGE_TYPE_UPDATE_CHANNEL,
        UpdateChannelError(UpdateChannelError<'a>) = MESSAGE_TYPE_UPDATE_CHANNEL_ERROR,
        CloseChannel(CloseChannel<'a>) = MESSAGE_TYPE_CLOSE_CHANNEL,
        SetExtranoncePrefix(SetExtranoncePrefix<'a>) = MESSAGE_TYPE_SET_EXTRANONCE_PREFIX,
        SubmitSharesStandard(SubmitSharesStandard) = MESSAGE_TYPE_SUBMIT_SHARES_STANDARD,
        SubmitSharesExtended(SubmitSharesExtended<'a>) = MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED,
        SubmitSharesSuccess(SubmitSharesSuccess) = MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS,
        SubmitSharesError(SubmitSharesError<'a>) = MESSAGE_TYPE_SUBMIT_SHARES_ERROR,
        NewExtendedMiningJob(NewExtendedMiningJob<'a>) = MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB,
        SetNewPrevHash(mining_sv2::SetNewPrevHash) = MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH,
        SetTarget(SetTarget) = MESSAGE_TYPE_SET_TARGET,
        SetCustomMiningJob(SetCustomMiningJob<'a>) = MESSAGE_TYPE_SET_CUSTOM_MINING_JOB,
        SetCustomMiningJobSuccess(SetCustomMiningJobSuccess) = MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_SUCCESS,
        SetCustomMiningJobError(SetCustomMiningJobError<'a>) = MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_ERROR,
        SetGroupChannel(SetGroupChannel<'a>) = MESSAGE_TYPE_SET_GROUP_CHANNEL,
    }
}

protocol_enum! {
    /// Job Declaration Protocol messages (06).
    JobDeclaration, EXTENSION_TYPE_NO_EXTENSION, {
        AllocateMiningJobToken(AllocateMiningJobToken<'a>) = MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN,
        AllocateMiningJobTokenSuccess(AllocateMiningJobTokenSuccess<'a>) = MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN_SUCCESS,
        ProvideMissingTransactions(ProvideMissingTransactions<'a>) = MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS,
        ProvideMissingTransactionsSuccess(ProvideMissingTransactionsSuccess<'a>) = MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS_SUCCESS,
        DeclareMiningJob(DeclareMiningJob<'a>) = MESSAGE_TYPE_DECLARE_MINING_JOB,
        DeclareMiningJobSuccess(DeclareMiningJobSuccess<'a>) = MESSAGE_TYPE_DECLARE_MINING_JOB_SUCCESS,
        DeclareMiningJobError(DeclareMiningJobError<'a>) = MESSAGE_TYPE_DECLARE_MINING_JOB_ERROR,
        PushSolution(PushSolution<'a>) = MESSAGE_TYPE_PUSH_SOLUTION,
    }
}

protocol_enum! {
    /// Template Distribution Protocol messages (07).
    TemplateDistribution, EXTENSION_TYPE_NO_EXTENSION, {
        CoinbaseOutputConstraints(CoinbaseOutputConstraints) = MESSAGE_TYPE_COINBASE_OUTPUT_CONSTRAINTS,
        NewTemplate(NewTemplate<'a>) = MESSAGE_TYPE_NEW_TEMPLATE,
        SetNewPrevHash(td::SetNewPrevHash) = MESSAGE_TYPE_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH,
        RequestTransactionData(RequestTransactionData) = MESSAGE_TYPE_REQUEST_TRANSACTION_DATA,
        RequestTransactionDataSuccess(RequestTransactionDataSuccess<'a>) = MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_SUCCESS,
        RequestTransactionDataError(RequestTransactionDataError<'a>) = MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_ERROR,
        SubmitSolution(SubmitSolution<'a>) = MESSAGE_TYPE_SUBMIT_SOLUTION,
    }
}

protocol_enum! {
    /// Extension 0x0001, extensions negotiation.
    ExtensionsNegotiation, EXTENSION_TYPE_EXTENSIONS_NEGOTIATION, {
        RequestExtensions(RequestExtensions<'a>) = MESSAGE_TYPE_REQUEST_EXTENSIONS,
        RequestExtensionsSuccess(RequestExtensionsSuccess<'a>) = MESSAGE_TYPE_REQUEST_EXTENSIONS_SUCCESS,
        RequestExtensionsError(RequestExtensionsError<'a>) = MESSAGE_TYPE_REQUEST_EXTENSIONS_ERROR,
    }
}

/// Any message this library knows.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyMessage<'a> {
    Common(CommonMessages<'a>),
    Mining(Mining<'a>),
    JobDeclaration(JobDeclaration<'a>),
    TemplateDistribution(TemplateDistribution<'a>),
    ExtensionsNegotiation(ExtensionsNegotiation<'a>),
}

/// Which subprotocol enum a base-protocol message type belongs to (08-Message-Types.md
/// groups them by range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Common,
    Mining,
    JobDeclaration,
    TemplateDistribution,
    Extensions,
}

fn group(extension_type: u16, msg_type: u8) -> Result<Group, ParserError> {
    match extension_type & !CHANNEL_BIT_MASK {
        EXTENSION_TYPE_NO_EXTENSION => match msg_type {
            0x00..=0x0f => Ok(Group::Common),
            0x10..=0x4f => Ok(Group::Mining),
            0x50..=0x6f => Ok(Group::JobDeclaration),
            0x70..=0x8f => Ok(Group::TemplateDistribution),
            _ => Err(ParserError::UnknownMessageType {
                extension_type: 0,
                msg_type,
            }),
        },
        EXTENSION_TYPE_EXTENSIONS_NEGOTIATION => Ok(Group::Extensions),
        other => Err(ParserError::UnknownExtension {
            extension_type: other,
        }),
    }
}

macro_rules! any_dispatch {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            AnyMessage::Common($m) => $e,
            AnyMessage::Mining($m) => $e,
            AnyMessage::JobDeclaration($m) => $e,
            AnyMessage::TemplateDistribution($m) => $e,
            AnyMessage::ExtensionsNegotiation($m) => $e,
        }
    };
}

impl<'a> AnyMessage<'a> {
    /// Every message: extension type, message type, channel bit and name.
    pub fn messages() -> impl Iterator<Item = &'static MessageInfo> {
        CommonMessages::MESSAGES
            .iter()
            .chain(Mining::MESSAGES)
            .chain(JobDeclaration::MESSAGES)
            .chain(TemplateDistribution::MESSAGES)
            .chain(ExtensionsNegotiation::MESSAGES)
    }

    /// Header values of the message called `name`, as 08-Message-Types.md spells it
    /// (`SubmitShares.Success`) or without the dot as other implementations print it
    /// (`SubmitSharesSuccess`). Two messages are called `SetNewPrevHash`; `msg_type` picks one
    /// (0x20 mining, 0x72 template distribution), and without it the name is ambiguous (`None`).
    pub fn lookup(name: &str, msg_type: Option<u8>) -> Option<&'static MessageInfo> {
        let same = |spec: &str| {
            spec.len() - spec.matches('.').count() == name.len() - name.matches('.').count()
                && spec
                    .chars()
                    .filter(|&c| c != '.')
                    .eq(name.chars().filter(|&c| c != '.'))
        };
        let mut found = Self::messages()
            .filter(|m| same(m.name))
            .filter(|m| msg_type.is_none_or(|t| t == m.msg_type));
        let first = found.next()?;
        match found.next() {
            Some(_) => None,
            None => Some(first),
        }
    }

    /// Decode `payload` as the message named by `(extension_type, msg_type)`; the channel bit
    /// in `extension_type` is ignored. Trailing bytes are an error.
    #[inline]
    pub fn parse(
        extension_type: u16,
        msg_type: u8,
        payload: &'a [u8],
    ) -> Result<Self, ParserError> {
        Ok(match group(extension_type, msg_type)? {
            Group::Common => AnyMessage::Common(CommonMessages::parse(msg_type, payload)?),
            Group::Mining => AnyMessage::Mining(Mining::parse(msg_type, payload)?),
            Group::JobDeclaration => {
                AnyMessage::JobDeclaration(JobDeclaration::parse(msg_type, payload)?)
            }
            Group::TemplateDistribution => {
                AnyMessage::TemplateDistribution(TemplateDistribution::parse(msg_type, payload)?)
            }
            Group::Extensions => {
                AnyMessage::ExtensionsNegotiation(ExtensionsNegotiation::parse(msg_type, payload)?)
            }
        })
    }

    /// Like [`AnyMessage::parse`], but bytes after the message are accepted if they are well
    /// formed TLV fields (extensions append those once negotiated, e.g. extension 0x0002's
    /// user_identity after SubmitSharesExtended).
    pub fn parse_with_tlvs(
        extension_type: u16,
        msg_type: u8,
        payload: &'a [u8],
    ) -> Result<(Self, TlvList<'a>), ParserError> {
        let (msg, rest) = match group(extension_type, msg_type)? {
            Group::Common => {
                let (m, r) = CommonMessages::parse_prefix(msg_type, payload)?;
                (AnyMessage::Common(m), r)
            }
            Group::Mining => {
                let (m, r) = Mining::parse_prefix(msg_type, payload)?;
                (AnyMessage::Mining(m), r)
            }
            Group::JobDeclaration => {
                let (m, r) = JobDeclaration::parse_prefix(msg_type, payload)?;
                (AnyMessage::JobDeclaration(m), r)
            }
            Group::TemplateDistribution => {
                let (m, r) = TemplateDistribution::parse_prefix(msg_type, payload)?;
                (AnyMessage::TemplateDistribution(m), r)
            }
            Group::Extensions => {
                let (m, r) = ExtensionsNegotiation::parse_prefix(msg_type, payload)?;
                (AnyMessage::ExtensionsNegotiation(m), r)
            }
        };
        let tlvs = TlvList::parse(rest).map_err(|_| {
            DecodeError::new(DecodeErrorKind::TrailingBytes { count: rest.len() })
                .in_message(msg.name())
        })?;
        Ok((msg, tlvs))
    }

    pub fn msg_type(&self) -> u8 {
        any_dispatch!(self, m => m.msg_type())
    }

    pub fn channel_bit(&self) -> bool {
        any_dispatch!(self, m => m.channel_bit())
    }

    pub fn extension_type(&self) -> u16 {
        any_dispatch!(self, m => m.extension_type())
    }

    pub fn name(&self) -> &'static str {
        any_dispatch!(self, m => m.name())
    }

    /// Deserialize the fields of the message `(extension_type, msg_type)`.
    #[cfg(feature = "serde")]
    pub fn deserialize_fields<'de, D: serde::Deserializer<'de>>(
        extension_type: u16,
        msg_type: u8,
        d: D,
    ) -> Result<Self, D::Error> {
        let g = group(extension_type, msg_type).map_err(<D::Error as serde::de::Error>::custom)?;
        Ok(match g {
            Group::Common => AnyMessage::Common(CommonMessages::deserialize_fields(msg_type, d)?),
            Group::Mining => AnyMessage::Mining(Mining::deserialize_fields(msg_type, d)?),
            Group::JobDeclaration => {
                AnyMessage::JobDeclaration(JobDeclaration::deserialize_fields(msg_type, d)?)
            }
            Group::TemplateDistribution => AnyMessage::TemplateDistribution(
                TemplateDistribution::deserialize_fields(msg_type, d)?,
            ),
            Group::Extensions => AnyMessage::ExtensionsNegotiation(
                ExtensionsNegotiation::deserialize_fields(msg_type, d)?,
            ),
        })
    }
}

impl<'a> AnyMessage<'a> {
    /// Decode a whole frame (its header says which message the payload is).
    pub fn parse_frame<B: AsRef<[u8]>>(
        frame: &'a framing_sv2::Sv2Frame<B>,
    ) -> Result<Self, ParserError> {
        let h = frame.header();
        AnyMessage::parse(h.extension_type(), h.msg_type(), frame.payload())
    }

    /// The message as a frame with its own header values.
    pub fn to_frame(&self) -> Result<framing_sv2::Sv2Frame<Vec<u8>>, framing_sv2::FramingError> {
        let mut buf = vec![0u8; framing_sv2::encoded_frame_len(self)];
        framing_sv2::encode_frame_with(
            self.extension_type(),
            self.channel_bit(),
            self.msg_type(),
            self,
            &mut buf,
        )?;
        framing_sv2::Sv2Frame::from_bytes(buf)
    }
}

impl Encodable for AnyMessage<'_> {
    #[inline]
    fn encoded_len(&self) -> usize {
        any_dispatch!(self, m => m.encoded_len())
    }
    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        any_dispatch!(self, m => m.write_to(w))
    }
}

impl IntoStatic for AnyMessage<'_> {
    type Static = AnyMessage<'static>;
    fn into_static(self) -> AnyMessage<'static> {
        match self {
            AnyMessage::Common(m) => AnyMessage::Common(m.into_static()),
            AnyMessage::Mining(m) => AnyMessage::Mining(m.into_static()),
            AnyMessage::JobDeclaration(m) => AnyMessage::JobDeclaration(m.into_static()),
            AnyMessage::TemplateDistribution(m) => {
                AnyMessage::TemplateDistribution(m.into_static())
            }
            AnyMessage::ExtensionsNegotiation(m) => {
                AnyMessage::ExtensionsNegotiation(m.into_static())
            }
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for AnyMessage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        any_dispatch!(self, m => m.serialize(s))
    }
}

macro_rules! any_from {
    ($($variant:ident($enum:ident)),*) => {$(
        impl<'a> From<$enum<'a>> for AnyMessage<'a> {
            fn from(m: $enum<'a>) -> Self {
                AnyMessage::$variant(m)
            }
        }
    )*};
}
any_from!(
    Common(CommonMessages),
    Mining(Mining),
    JobDeclaration(JobDeclaration),
    TemplateDistribution(TemplateDistribution),
    ExtensionsNegotiation(ExtensionsNegotiation)
);
