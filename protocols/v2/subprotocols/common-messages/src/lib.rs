//! # common_messages_sv2
//!
//! The messages every Stratum V2 subprotocol shares (03-Protocol-Overview.md, 3.6):
//! connection setup, channel endpoint change, and reconnect.
//!
//! ```
//! use binary_sv2::{Decodable, Encodable};
//! use common_messages_sv2::{Protocol, SetupConnection};
//!
//! let setup = SetupConnection {
//!     protocol: Protocol::Mining as u8,
//!     min_version: 2,
//!     max_version: 2,
//!     flags: const_sv2::mining_flags::REQUIRES_VERSION_ROLLING,
//!     endpoint_host: "pool.example".try_into().unwrap(),
//!     endpoint_port: 3333,
//!     vendor: "acme".try_into().unwrap(),
//!     hardware_version: "".try_into().unwrap(),
//!     firmware: "".try_into().unwrap(),
//!     device_id: "".try_into().unwrap(),
//! };
//! let bytes = setup.to_bytes().unwrap();
//! assert_eq!(SetupConnection::decode(&bytes).unwrap(), setup);
//! ```

use binary_sv2::{Decodable, Encodable, IntoStatic, Str0255};
use const_sv2::*;
use framing_sv2::impl_sv2_message;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The subprotocol a connection is set up for (`SetupConnection.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Protocol {
    Mining = PROTOCOL_MINING,
    JobDeclaration = PROTOCOL_JOB_DECLARATION,
    TemplateDistribution = PROTOCOL_TEMPLATE_DISTRIBUTION,
}

impl TryFrom<u8> for Protocol {
    type Error = u8;
    /// Unknown values come back as the error, for an `unsupported-protocol` answer.
    fn try_from(v: u8) -> Result<Self, u8> {
        match v {
            PROTOCOL_MINING => Ok(Protocol::Mining),
            PROTOCOL_JOB_DECLARATION => Ok(Protocol::JobDeclaration),
            PROTOCOL_TEMPLATE_DISTRIBUTION => Ok(Protocol::TemplateDistribution),
            other => Err(other),
        }
    }
}

/// `SetupConnection` (Client -> Server): the first message on every connection. It names the
/// subprotocol, the version range the client speaks, its feature flags, and who the client is.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct SetupConnection<'a> {
    /// 0 mining, 1 job declaration, 2 template distribution (see [`Protocol`]).
    pub protocol: u8,
    /// Lowest protocol version the client supports (currently 2).
    pub min_version: u16,
    /// Highest protocol version the client supports (currently 2).
    pub max_version: u16,
    /// Feature flags; their meaning depends on `protocol` (see `const_sv2::*_flags`).
    pub flags: u32,
    /// The host name the client connected to (for proxies that route by name).
    pub endpoint_host: Str0255<'a>,
    /// The port the client connected to.
    pub endpoint_port: u16,
    /// Manufacturer or developer of the client, and its version.
    pub vendor: Str0255<'a>,
    pub hardware_version: Str0255<'a>,
    pub firmware: Str0255<'a>,
    /// Unique identifier of the device, or empty.
    pub device_id: Str0255<'a>,
}

impl SetupConnection<'_> {
    /// Whether the client's version range contains `version`.
    pub fn supports_version(&self, version: u16) -> bool {
        self.min_version <= version && version <= self.max_version
    }
}

/// `SetupConnection.Success` (Server -> Client): the connection is set up with `used_version`;
/// `flags` are the server's answer flags for the chosen protocol.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct SetupConnectionSuccess {
    /// The version the server chose; all later messages follow it.
    pub used_version: u16,
    /// Server flags for the chosen protocol.
    pub flags: u32,
}

/// `SetupConnection.Error` (Server -> Client): the server refuses the connection.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct SetupConnectionError<'a> {
    /// The client flags the server does not support (for `unsupported-feature-flags`).
    pub flags: u32,
    /// `unsupported-feature-flags`, `unsupported-protocol` or `protocol-version-mismatch`.
    pub error_code: Str0255<'a>,
}

/// `ChannelEndpointChanged` (Server -> Client): the channel's endpoint changed (a proxy moved
/// it), so extension state negotiated for the channel must be negotiated again.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct ChannelEndpointChanged {
    pub channel_id: u32,
}

/// `Reconnect` (Server -> Client): reconnect to another host (or the same one, if
/// `new_host` is empty), e.g. before maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Reconnect<'a> {
    /// Host to connect to; empty means the current host.
    pub new_host: Str0255<'a>,
    /// Port to connect to; 0 means the current port.
    pub new_port: u16,
}

impl_sv2_message!(
    SetupConnection<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SETUP_CONNECTION,
    CHANNEL_BIT_SETUP_CONNECTION,
    "SetupConnection"
);
impl_sv2_message!(
    SetupConnectionSuccess,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS,
    CHANNEL_BIT_SETUP_CONNECTION_SUCCESS,
    "SetupConnection.Success"
);
impl_sv2_message!(
    SetupConnectionError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SETUP_CONNECTION_ERROR,
    CHANNEL_BIT_SETUP_CONNECTION_ERROR,
    "SetupConnection.Error"
);
impl_sv2_message!(
    ChannelEndpointChanged,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_CHANNEL_ENDPOINT_CHANGED,
    CHANNEL_BIT_CHANNEL_ENDPOINT_CHANGED,
    "ChannelEndpointChanged"
);
impl_sv2_message!(
    Reconnect<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_RECONNECT,
    CHANNEL_BIT_RECONNECT,
    "Reconnect"
);

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
