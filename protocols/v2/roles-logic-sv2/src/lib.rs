//! # roles_logic_sv2
//!
//! The logic Stratum V2 roles share, sans-IO. This first part is [`parsers`]: the enums that
//! map a frame's `(extension_type, msg_type)` to a typed message, per subprotocol and for any
//! message. Channels, jobs, share validation and vardiff come with the mining issue.
//!
//! ```
//! use roles_logic_sv2::parsers::{AnyMessage, Mining};
//! use framing_sv2::Frame;
//!
//! // A CloseChannel frame: channel bit set, msg_type 0x18.
//! let bytes = [0x00, 0x80, 0x18, 0x06, 0x00, 0x00, 1, 0, 0, 0, 1, b'x'];
//! let frame = Frame::parse(&bytes).unwrap();
//! match AnyMessage::parse(frame.header.extension_type(), frame.header.msg_type(), frame.payload) {
//!     Ok(AnyMessage::Mining(Mining::CloseChannel(m))) => assert_eq!(m.channel_id, 1),
//!     other => panic!("{other:?}"),
//! }
//! ```
#![forbid(unsafe_code)]

pub mod parsers;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
