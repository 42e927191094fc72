//! # sv1_api
//!
//! Stratum V1 as the installed base of miners and pools speaks it: typed messages for every
//! method real software sends, lenient parsing of what it actually puts on the wire, a bounded
//! line reader, sans-IO state for both ends ([`server::Server`], [`client::Client`]) and the
//! share math a server needs ([`share`]). What one miner can make a server hold is bounded
//! (worker names, jobs), and time is passed in ([`server::Server::set_now`]), never read.
//!
//! ```
//! use sv1_api::{client::Client, server::{Server, ServerConfig, ServerEvent}};
//!
//! let mut server = Server::new(ServerConfig::default());
//! let mut client = Client::new("my-miner/1.0");
//! for line in [client.configure(Some(0x1fffe000), Some(2)), client.subscribe(), client.authorize("alice.rig1", "x")] {
//!     for reply in server.handle_line(&line).lines {
//!         client.handle_line(&reply);
//!     }
//! }
//! assert!(server.is_authorized("alice.rig1"));
//! assert_eq!(client.version_mask(), Some(0x1fffe000));
//! assert_eq!(client.extranonce().unwrap().1, 4);
//! ```

pub mod client;
pub mod error;
pub mod json_rpc;
pub mod line;
pub mod methods;
pub mod server;
pub mod share;

pub use error::{codes, Sv1Error};
pub use json_rpc::{Id, Message, RpcError};
pub use line::{LineError, LineReader, DEFAULT_MAX_LINE};
pub use methods::{ClientMessage, Notify, ServerMessage, Submit};

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
