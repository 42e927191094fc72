//! # roles_logic_sv2
//!
//! The logic Stratum V2 roles share, sans-IO: no sockets, no runtime, no clock (time is
//! passed in). The roles under `roles/` are thin shells around it.
//!
//! * [`parsers`]: typed messages from frames, per subprotocol and for any message;
//! * [`handlers`]: one trait per subprotocol and direction, dispatching parsed messages;
//! * [`target`]: targets, difficulty and hashrate;
//! * [`extranonce`]: disjoint extranonce ranges for channels (and for proxies that split);
//! * [`job`]: the coinbase from a template, split around the extranonce; merkle paths;
//! * [`mining_server`]: the upstream end of a mining connection: channels, jobs, share
//!   validation, vardiff, `SubmitShares.Success` batching, blocks found;
//! * [`mining_client`]: the downstream end of a channel: the current work and submissions;
//! * [`vardiff`]: shares-per-minute difficulty.
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

pub mod extranonce;
pub mod handlers;
pub mod job;
pub mod job_declaration;
pub mod mining_client;
pub mod mining_server;
pub mod parsers;
pub mod target;
pub mod vardiff;

pub use bitcoin;

/// The two clocks a sans-IO session is given, read by the caller.
///
/// Windows and deadlines (vardiff, the grace of an old target) use `monotonic_ms`, which never
/// goes back when the wall clock is set; nTime bounds use `unix_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Milliseconds on a monotonic clock with any origin.
    pub monotonic_ms: u64,
    /// Seconds since the Unix epoch.
    pub unix_secs: u32,
}

impl Now {
    /// Both clocks from one Unix time in milliseconds (tests, and callers with one clock).
    pub fn from_unix_ms(ms: u64) -> Now {
        Now {
            monotonic_ms: ms,
            unix_secs: (ms / 1000).min(u32::MAX as u64) as u32,
        }
    }
}

/// Longest extranonce a channel can carry (B0_32).
pub const MAX_EXTRANONCE_LEN: usize = 32;

/// Double SHA-256, as block headers, txids and merkle nodes use it.
#[inline]
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(Sha256::digest(data)).into()
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
