//! # extensions_sv2
//!
//! The protocol extensions that deployed Stratum V2 software uses (the spec's extensions/
//! folder):
//!
//! * extension 0x0001, extensions negotiation: [`RequestExtensions`] and its answers;
//! * TLV fields appended to base messages once an extension is negotiated ([`tlv`]), and the
//!   one deployed today, extension 0x0002's `user_identity` on SubmitSharesExtended
//!   ([`tlv::UserIdentity`]).
//!
//! ```
//! use extensions_sv2::tlv::{Tlv, TlvList, UserIdentity};
//! // A SubmitSharesExtended payload followed by the worker's identity:
//! let mut trailer = Vec::new();
//! UserIdentity::new("rig-07").unwrap().to_tlv().write_to_vec(&mut trailer).unwrap();
//! assert_eq!(trailer, [0x02, 0x00, 0x01, 0x06, 0x00, b'r', b'i', b'g', b'-', b'0', b'7']);
//! let list = TlvList::parse(&trailer).unwrap();
//! assert_eq!(UserIdentity::find(&list).unwrap().unwrap().as_str(), Some("rig-07"));
//! ```

pub mod tlv;

use binary_sv2::{Decodable, Encodable, IntoStatic, Seq064K};
use const_sv2::*;
use framing_sv2::impl_sv2_message;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// `RequestExtensions` (Client -> Server, extension 0x0001): sent right after
/// SetupConnection.Success to ask for extensions by their U16 ids.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct RequestExtensions<'a> {
    pub request_id: u16,
    pub requested_extensions: Seq064K<'a, u16>,
}

/// `RequestExtensions.Success` (Server -> Client): the requested extensions the server
/// supports; from now on both sides may use them.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct RequestExtensionsSuccess<'a> {
    pub request_id: u16,
    pub supported_extensions: Seq064K<'a, u16>,
}

/// `RequestExtensions.Error` (Server -> Client): some requested extensions are not supported;
/// `required_extensions` are those the server needs the client to support.
#[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
#[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct RequestExtensionsError<'a> {
    pub request_id: u16,
    pub unsupported_extensions: Seq064K<'a, u16>,
    pub required_extensions: Seq064K<'a, u16>,
}

impl_sv2_message!(
    RequestExtensions<'a>,
    EXTENSION_TYPE_EXTENSIONS_NEGOTIATION,
    MESSAGE_TYPE_REQUEST_EXTENSIONS,
    CHANNEL_BIT_REQUEST_EXTENSIONS,
    "RequestExtensions"
);
impl_sv2_message!(
    RequestExtensionsSuccess<'a>,
    EXTENSION_TYPE_EXTENSIONS_NEGOTIATION,
    MESSAGE_TYPE_REQUEST_EXTENSIONS_SUCCESS,
    CHANNEL_BIT_REQUEST_EXTENSIONS_SUCCESS,
    "RequestExtensions.Success"
);
impl_sv2_message!(
    RequestExtensionsError<'a>,
    EXTENSION_TYPE_EXTENSIONS_NEGOTIATION,
    MESSAGE_TYPE_REQUEST_EXTENSIONS_ERROR,
    CHANNEL_BIT_REQUEST_EXTENSIONS_ERROR,
    "RequestExtensions.Error"
);

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
