//! # sv2_ffi
//!
//! The C ABI of the workspace: every message of the common, mining, template distribution and
//! job declaration subprotocols as plain C structs ([`Sv2Message`], tagged by message type),
//! and [`Sv2Codec`], a sans-IO streaming decoder and encoder of one connection, plain or
//! encrypted (noise initiator or responder, with the authority key and certificate checks).
//!
//! The header, `sv2.h`, is generated from this crate by cbindgen (`build_header.sh` at the
//! repository root); its comments are the doc comments here, so ownership rules are written
//! once, next to the code that implements them.
//!
//! Rules every exported function keeps:
//! - it returns an [`Sv2Status`] (the `free` functions return nothing, like `free`);
//! - no Rust panic crosses the boundary: a panic becomes `SV2_ERR_PANIC`;
//! - null pointers and impossible lengths are refused with an error, never dereferenced;
//! - on failure, [`sv2_last_error`] has the reason as text.
#![deny(unsafe_op_in_unsafe_fn)]

mod codec;
mod error;
mod fuzz;
mod messages;
mod types;

pub use codec::*;
pub use error::*;
pub use fuzz::fuzz_decode;
pub use messages::*;
pub use types::*;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
