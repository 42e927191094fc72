//! # fuzz_targets
//!
//! The bodies of the fuzz targets in `fuzz/` at the repository root: one public function per
//! decoder that reads a peer's bytes. Each takes arbitrary bytes, drives the decoder, and
//! asserts the invariants that are cheap to check (what decodes re-encodes to the same bytes,
//! a streaming decoder gives the same frames however its input is chunked, ...). A panic here
//! is a finding: the house rule is that nothing a peer sends makes the library panic.
//!
//! The functions live in an ordinary workspace crate so that `cargo test --workspace` replays
//! every corpus file on stable Rust (`tests/corpus.rs`), with no fuzzing tool installed.
//!
//! | function | what it feeds |
//! |---|---|
//! | [`frame`] | framing_sv2 frames, then `AnyMessage::parse` on their (extension_type, msg_type, payload) |
//! | [`common`], [`mining`], [`template_distribution`], [`job_declaration`] | one subprotocol's parser |
//! | [`standard_decoder`] | codec_sv2's streaming plain decoder, in chunks |
//! | [`noise_decoder`] | codec_sv2's noise decoder after a real handshake |
//! | [`handshake_initiator`], [`handshake_responder`], [`handshake_codec`] | the noise handshake |
//! | [`sv1_line`] | sv1_api's LineReader and message parsers |
//! | [`sv1_server`] | sv1_api's Server, a whole session of lines |
//! | [`tlv`] | extensions_sv2's TLV reader |
//! | [`ffi_decode`] | the C API's decoding functions (sv2_ffi) |
//! | [`mining_session`] | roles_logic_sv2's `mining_server::Session`, a sequence of frames |
//! | [`jds_session`] | roles_logic_sv2's `job_declaration::JdsSession` (the pool's JDS), a sequence of frames |
#![forbid(unsafe_code)]

mod chunks;
mod codec;
mod jds;
mod messages;
pub mod seeds;
mod session;
mod sv1;

pub use chunks::Chunker;
pub use codec::{
    handshake_codec, handshake_initiator, handshake_responder, noise_decoder, standard_decoder,
};
pub use jds::jds_session;
pub use messages::{common, frame, job_declaration, mining, template_distribution, tlv};
pub use session::mining_session;
pub use sv1::{sv1_line, sv1_server};

/// The C API's decoding entry points (`sv2_codec_new_*`, `sv2_codec_feed`, `sv2_codec_next`,
/// `sv2_codec_encode`, `sv2_message_free`), driven from Rust by sv2_ffi itself: `unsafe` is
/// only allowed in that crate.
pub fn ffi_decode(data: &[u8]) {
    sv2_ffi::fuzz_decode(data);
}

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("common", common),
    ("mining", mining),
    ("template_distribution", template_distribution),
    ("job_declaration", job_declaration),
    ("standard_decoder", standard_decoder),
    ("noise_decoder", noise_decoder),
    ("handshake_initiator", handshake_initiator),
    ("handshake_responder", handshake_responder),
    ("handshake_codec", handshake_codec),
    ("sv1_line", sv1_line),
    ("sv1_server", sv1_server),
    ("tlv", tlv),
    ("ffi_decode", ffi_decode),
    ("mining_session", mining_session),
    ("jds_session", jds_session),
];
