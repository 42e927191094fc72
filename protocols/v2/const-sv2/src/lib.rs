//! Constants of the Stratum V2 specification (repository `stratum-mining/sv2-spec`).
//!
//! Everything here is a plain `const`: message types and channel bits (08-Message-Types.md),
//! protocol identifiers and `SetupConnection` flags (03, 05, 06, 07), the error-code strings the
//! spec recommends, and the sizes of the framing layer.
//!
//! Where the spec's table and what deployed implementations put on the wire differ, the wire
//! wins and the constant says so.
#![no_std]

// ---------------------------------------------------------------------------------------------
// Framing (03-Protocol-Overview.md, 3.2)
// ---------------------------------------------------------------------------------------------

/// Size of the frame header: extension_type (U16), msg_type (U8), msg_length (U24).
pub const SV2_FRAME_HEADER_SIZE: usize = 6;
/// The largest payload a U24 `msg_length` can describe (2^24 - 1).
pub const SV2_MAX_PAYLOAD_SIZE: usize = (1 << 24) - 1;
/// The `channel_msg` bit: the most significant bit of the U16 `extension_type`.
///
/// The spec's prose calls it the "least significant bit (bit 15)"; every deployed implementation
/// sets 0x8000, i.e. bit 7 of the second header byte on the wire.
pub const CHANNEL_BIT_MASK: u16 = 0x8000;
/// Largest plaintext of one noise transport message (65535 - 16 bytes of MAC).
pub const NOISE_MAX_PLAINTEXT: usize = 65535 - AEAD_MAC_LEN;
/// ChaCha20-Poly1305 tag size.
pub const AEAD_MAC_LEN: usize = 16;

// ---------------------------------------------------------------------------------------------
// Extension types (03, 3.4 and extensions/)
// ---------------------------------------------------------------------------------------------

/// Messages of the four base subprotocols.
pub const EXTENSION_TYPE_NO_EXTENSION: u16 = 0x0000;
/// Extension 0x0001: extensions negotiation (RequestExtensions and its answers).
pub const EXTENSION_TYPE_EXTENSIONS_NEGOTIATION: u16 = 0x0001;
/// Extension 0x0002: worker-specific hashrate tracking (user_identity TLV on
/// SubmitSharesExtended).
pub const EXTENSION_TYPE_WORKER_HASHRATE_TRACKING: u16 = 0x0002;

/// TLV field type of `user_identity` in extension 0x0002.
pub const TLV_FIELD_TYPE_USER_IDENTITY: u8 = 0x01;
/// Maximum length of the `user_identity` TLV value (extension 0x0002).
pub const TLV_USER_IDENTITY_MAX_LEN: usize = 32;
/// Size of a TLV header: Type (U16 extension_type + U8 field_type) and Length (U16).
pub const TLV_HEADER_SIZE: usize = 5;

// ---------------------------------------------------------------------------------------------
// SetupConnection.protocol (03, 3.6.1)
// ---------------------------------------------------------------------------------------------

/// `SetupConnection.protocol` for the Mining Protocol.
pub const PROTOCOL_MINING: u8 = 0;
/// `SetupConnection.protocol` for the Job Declaration Protocol.
pub const PROTOCOL_JOB_DECLARATION: u8 = 1;
/// `SetupConnection.protocol` for the Template Distribution Protocol.
pub const PROTOCOL_TEMPLATE_DISTRIBUTION: u8 = 2;

/// The only protocol version the current spec defines.
pub const SV2_PROTOCOL_VERSION: u16 = 2;

// ---------------------------------------------------------------------------------------------
// SetupConnection flags
// ---------------------------------------------------------------------------------------------

/// Mining Protocol `SetupConnection.flags` (05-Mining-Protocol.md).
pub mod mining_flags {
    /// The downstream requires standard jobs: it does not understand group or extended
    /// channels.
    pub const REQUIRES_STANDARD_JOBS: u32 = 1 << 0;
    /// The downstream will send SetCustomMiningJob (work selection).
    pub const REQUIRES_WORK_SELECTION: u32 = 1 << 1;
    /// The downstream needs version rolling to be allowed (BIP320 bits).
    pub const REQUIRES_VERSION_ROLLING: u32 = 1 << 2;

    /// `SetupConnection.Success.flags`: the upstream will not accept a version field that
    /// differs from the job's.
    pub const SUCCESS_REQUIRES_FIXED_VERSION: u32 = 1 << 0;
    /// `SetupConnection.Success.flags`: the upstream does not accept standard channels.
    pub const SUCCESS_REQUIRES_EXTENDED_CHANNELS: u32 = 1 << 1;
}

/// Job Declaration Protocol `SetupConnection.flags` (06-Job-Declaration-Protocol.md).
pub mod job_declaration_flags {
    /// The JDC agrees to reveal the template's transactions via DeclareMiningJob and
    /// ProvideMissingTransactions.
    pub const DECLARE_TX_DATA: u32 = 1 << 0;
}

/// Template Distribution Protocol: the spec defines no SetupConnection flags.
pub mod template_distribution_flags {}

// ---------------------------------------------------------------------------------------------
// Message types and channel bits (08-Message-Types.md)
// ---------------------------------------------------------------------------------------------

pub const MESSAGE_TYPE_SETUP_CONNECTION: u8 = 0x00;
pub const MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS: u8 = 0x01;
pub const MESSAGE_TYPE_SETUP_CONNECTION_ERROR: u8 = 0x02;
pub const MESSAGE_TYPE_CHANNEL_ENDPOINT_CHANGED: u8 = 0x03;
pub const MESSAGE_TYPE_RECONNECT: u8 = 0x04;

pub const MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL: u8 = 0x10;
pub const MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS: u8 = 0x11;
pub const MESSAGE_TYPE_OPEN_MINING_CHANNEL_ERROR: u8 = 0x12;
pub const MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL: u8 = 0x13;
pub const MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS: u8 = 0x14;
pub const MESSAGE_TYPE_NEW_MINING_JOB: u8 = 0x15;
pub const MESSAGE_TYPE_UPDATE_CHANNEL: u8 = 0x16;
pub const MESSAGE_TYPE_UPDATE_CHANNEL_ERROR: u8 = 0x17;
pub const MESSAGE_TYPE_CLOSE_CHANNEL: u8 = 0x18;
pub const MESSAGE_TYPE_SET_EXTRANONCE_PREFIX: u8 = 0x19;
pub const MESSAGE_TYPE_SUBMIT_SHARES_STANDARD: u8 = 0x1a;
pub const MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED: u8 = 0x1b;
pub const MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS: u8 = 0x1c;
pub const MESSAGE_TYPE_SUBMIT_SHARES_ERROR: u8 = 0x1d;
/// 0x1e is reserved by the spec.
pub const MESSAGE_TYPE_RESERVED_0X1E: u8 = 0x1e;
pub const MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB: u8 = 0x1f;
pub const MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH: u8 = 0x20;
pub const MESSAGE_TYPE_SET_TARGET: u8 = 0x21;
pub const MESSAGE_TYPE_SET_CUSTOM_MINING_JOB: u8 = 0x22;
pub const MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_SUCCESS: u8 = 0x23;
pub const MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_ERROR: u8 = 0x24;
pub const MESSAGE_TYPE_SET_GROUP_CHANNEL: u8 = 0x25;

pub const MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN: u8 = 0x50;
pub const MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN_SUCCESS: u8 = 0x51;
pub const MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS: u8 = 0x55;
pub const MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS_SUCCESS: u8 = 0x56;
pub const MESSAGE_TYPE_DECLARE_MINING_JOB: u8 = 0x57;
pub const MESSAGE_TYPE_DECLARE_MINING_JOB_SUCCESS: u8 = 0x58;
pub const MESSAGE_TYPE_DECLARE_MINING_JOB_ERROR: u8 = 0x59;
/// The Job Declaration Protocol's solution message. The spec's table still names it
/// SubmitSolution; its chapter and deployed implementations call it PushSolution.
pub const MESSAGE_TYPE_PUSH_SOLUTION: u8 = 0x60;

pub const MESSAGE_TYPE_COINBASE_OUTPUT_CONSTRAINTS: u8 = 0x70;
pub const MESSAGE_TYPE_NEW_TEMPLATE: u8 = 0x71;
pub const MESSAGE_TYPE_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH: u8 = 0x72;
pub const MESSAGE_TYPE_REQUEST_TRANSACTION_DATA: u8 = 0x73;
pub const MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_SUCCESS: u8 = 0x74;
pub const MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_ERROR: u8 = 0x75;
pub const MESSAGE_TYPE_SUBMIT_SOLUTION: u8 = 0x76;

/// Extension 0x0001 message types (extensions/0x0001-extensions-negotiation.md).
pub const MESSAGE_TYPE_REQUEST_EXTENSIONS: u8 = 0x00;
pub const MESSAGE_TYPE_REQUEST_EXTENSIONS_SUCCESS: u8 = 0x01;
pub const MESSAGE_TYPE_REQUEST_EXTENSIONS_ERROR: u8 = 0x02;

// Channel bits. Values follow 08-Message-Types.md except where noted: what deployed
// implementations put on the wire wins.
pub const CHANNEL_BIT_SETUP_CONNECTION: bool = false;
pub const CHANNEL_BIT_SETUP_CONNECTION_SUCCESS: bool = false;
pub const CHANNEL_BIT_SETUP_CONNECTION_ERROR: bool = false;
pub const CHANNEL_BIT_CHANNEL_ENDPOINT_CHANGED: bool = true;
pub const CHANNEL_BIT_RECONNECT: bool = false;

pub const CHANNEL_BIT_OPEN_STANDARD_MINING_CHANNEL: bool = false;
pub const CHANNEL_BIT_OPEN_STANDARD_MINING_CHANNEL_SUCCESS: bool = false;
pub const CHANNEL_BIT_OPEN_MINING_CHANNEL_ERROR: bool = false;
pub const CHANNEL_BIT_OPEN_EXTENDED_MINING_CHANNEL: bool = false;
pub const CHANNEL_BIT_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS: bool = false;
/// The spec's table says 0; deployed implementations set it (the payload starts with
/// channel_id), so we do too.
pub const CHANNEL_BIT_NEW_MINING_JOB: bool = true;
pub const CHANNEL_BIT_UPDATE_CHANNEL: bool = true;
pub const CHANNEL_BIT_UPDATE_CHANNEL_ERROR: bool = true;
pub const CHANNEL_BIT_CLOSE_CHANNEL: bool = true;
pub const CHANNEL_BIT_SET_EXTRANONCE_PREFIX: bool = true;
pub const CHANNEL_BIT_SUBMIT_SHARES_STANDARD: bool = true;
pub const CHANNEL_BIT_SUBMIT_SHARES_EXTENDED: bool = true;
pub const CHANNEL_BIT_SUBMIT_SHARES_SUCCESS: bool = true;
pub const CHANNEL_BIT_SUBMIT_SHARES_ERROR: bool = true;
pub const CHANNEL_BIT_NEW_EXTENDED_MINING_JOB: bool = true;
pub const CHANNEL_BIT_MINING_SET_NEW_PREV_HASH: bool = true;
pub const CHANNEL_BIT_SET_TARGET: bool = true;
/// The spec's table says 0; deployed implementations set it (the payload starts with
/// channel_id).
pub const CHANNEL_BIT_SET_CUSTOM_MINING_JOB: bool = true;
/// See [`CHANNEL_BIT_SET_CUSTOM_MINING_JOB`].
pub const CHANNEL_BIT_SET_CUSTOM_MINING_JOB_SUCCESS: bool = true;
/// See [`CHANNEL_BIT_SET_CUSTOM_MINING_JOB`].
pub const CHANNEL_BIT_SET_CUSTOM_MINING_JOB_ERROR: bool = true;
pub const CHANNEL_BIT_SET_GROUP_CHANNEL: bool = false;

pub const CHANNEL_BIT_ALLOCATE_MINING_JOB_TOKEN: bool = false;
pub const CHANNEL_BIT_ALLOCATE_MINING_JOB_TOKEN_SUCCESS: bool = false;
pub const CHANNEL_BIT_PROVIDE_MISSING_TRANSACTIONS: bool = false;
pub const CHANNEL_BIT_PROVIDE_MISSING_TRANSACTIONS_SUCCESS: bool = false;
pub const CHANNEL_BIT_DECLARE_MINING_JOB: bool = false;
pub const CHANNEL_BIT_DECLARE_MINING_JOB_SUCCESS: bool = false;
pub const CHANNEL_BIT_DECLARE_MINING_JOB_ERROR: bool = false;
/// The spec's table says 1; the Job Declaration Protocol has no channels and deployed
/// implementations send 0.
pub const CHANNEL_BIT_PUSH_SOLUTION: bool = false;

pub const CHANNEL_BIT_COINBASE_OUTPUT_CONSTRAINTS: bool = false;
pub const CHANNEL_BIT_NEW_TEMPLATE: bool = false;
pub const CHANNEL_BIT_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH: bool = false;
pub const CHANNEL_BIT_REQUEST_TRANSACTION_DATA: bool = false;
pub const CHANNEL_BIT_REQUEST_TRANSACTION_DATA_SUCCESS: bool = false;
pub const CHANNEL_BIT_REQUEST_TRANSACTION_DATA_ERROR: bool = false;
pub const CHANNEL_BIT_SUBMIT_SOLUTION: bool = false;

pub const CHANNEL_BIT_REQUEST_EXTENSIONS: bool = false;
pub const CHANNEL_BIT_REQUEST_EXTENSIONS_SUCCESS: bool = false;
pub const CHANNEL_BIT_REQUEST_EXTENSIONS_ERROR: bool = false;

// ---------------------------------------------------------------------------------------------
// Error codes (03, 3.5 and each message's "possible error codes")
// ---------------------------------------------------------------------------------------------

/// Error-code strings the spec recommends. Implementations MUST NOT act automatically on them;
/// they are for people reading logs.
pub mod error_codes {
    // SetupConnection.Error
    pub const UNSUPPORTED_FEATURE_FLAGS: &str = "unsupported-feature-flags";
    pub const UNSUPPORTED_PROTOCOL: &str = "unsupported-protocol";
    pub const PROTOCOL_VERSION_MISMATCH: &str = "protocol-version-mismatch";
    // OpenMiningChannel.Error, UpdateChannel.Error
    pub const UNKNOWN_USER: &str = "unknown-user";
    pub const MAX_TARGET_OUT_OF_RANGE: &str = "max-target-out-of-range";
    // SubmitShares.Error, UpdateChannel.Error, SetCustomMiningJob.Error
    pub const INVALID_CHANNEL_ID: &str = "invalid-channel-id";
    pub const STALE_SHARE: &str = "stale-share";
    pub const DIFFICULTY_TOO_LOW: &str = "difficulty-too-low";
    pub const INVALID_JOB_ID: &str = "invalid-job-id";
    /// Listed in 03, 3.5 as a general code; 05 uses `difficulty-too-low` for shares.
    pub const TOO_LOW_DIFFICULTY: &str = "too-low-difficulty";
    // SetCustomMiningJob.Error, DeclareMiningJob.Error
    pub const INVALID_MINING_JOB_TOKEN: &str = "invalid-mining-job-token";
    /// Prefix of `invalid-job-param-value-{field_name}`.
    pub const INVALID_JOB_PARAM_VALUE_PREFIX: &str = "invalid-job-param-value-";
    // RequestTransactionData.Error
    pub const TEMPLATE_ID_NOT_FOUND: &str = "template-id-not-found";
    pub const STALE_TEMPLATE_ID: &str = "stale-template-id";

    // Codes the spec does not name but deployed pools send; receivers show them to people,
    // so using the same strings keeps logs comparable across implementations.
    pub const INVALID_NOMINAL_HASHRATE: &str = "invalid-nominal-hashrate";
    pub const MIN_EXTRANONCE_SIZE_TOO_LARGE: &str = "min-extranonce-size-too-large";
    pub const DUPLICATE_SHARE: &str = "duplicate-share";
    pub const BAD_EXTRANONCE_SIZE: &str = "bad-extranonce-size";
    pub const VERSION_ROLLING_NOT_ALLOWED: &str = "version-rolling-not-allowed";
    /// A share whose fields are wrong in a way no other code names (nTime out of range).
    pub const INVALID_SHARE: &str = "invalid-share";
    /// The connection has as many channels as the server allows.
    pub const TOO_MANY_CHANNELS: &str = "too-many-channels";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_payload_limits_follow_u24() {
        assert_eq!(SV2_FRAME_HEADER_SIZE, 2 + 1 + 3);
        assert_eq!(SV2_MAX_PAYLOAD_SIZE, 16_777_215);
        assert_eq!(NOISE_MAX_PLAINTEXT, 65_519);
    }

    #[test]
    fn channel_bit_is_the_top_bit_of_extension_type() {
        // On the wire the U16 is little-endian, so the bit lands in the second byte.
        assert_eq!(CHANNEL_BIT_MASK.to_le_bytes(), [0x00, 0x80]);
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
