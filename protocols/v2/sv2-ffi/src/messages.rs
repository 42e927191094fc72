//! Every message of the common, mining, template distribution and job declaration
//! subprotocols as a plain C struct, and [`Sv2Message`], the tagged union over them.
//!
//! The C structs are written out here (cbindgen reads them); [`ffi_messages!`] generates
//! their conversion from and to the Rust message types field by field, so a field that is
//! missing or of the wrong type does not compile.

use crate::error::*;
use crate::types::*;
use binary_sv2::Decodable;
use framing_sv2::Sv2Message as _;
use std::ffi::{c_char, c_void};

/// The message types (the header's `msg_type`, extension_type 0), one per member of
/// `Sv2MessageBody`. The values are the spec's (08-Message-Types.md).
#[allow(non_camel_case_types)]
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sv2MessageType {
    SV2_MSG_SETUP_CONNECTION = 0x00,
    SV2_MSG_SETUP_CONNECTION_SUCCESS = 0x01,
    SV2_MSG_SETUP_CONNECTION_ERROR = 0x02,
    SV2_MSG_CHANNEL_ENDPOINT_CHANGED = 0x03,
    SV2_MSG_RECONNECT = 0x04,
    SV2_MSG_OPEN_STANDARD_MINING_CHANNEL = 0x10,
    SV2_MSG_OPEN_STANDARD_MINING_CHANNEL_SUCCESS = 0x11,
    SV2_MSG_OPEN_MINING_CHANNEL_ERROR = 0x12,
    SV2_MSG_OPEN_EXTENDED_MINING_CHANNEL = 0x13,
    SV2_MSG_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS = 0x14,
    SV2_MSG_NEW_MINING_JOB = 0x15,
    SV2_MSG_UPDATE_CHANNEL = 0x16,
    SV2_MSG_UPDATE_CHANNEL_ERROR = 0x17,
    SV2_MSG_CLOSE_CHANNEL = 0x18,
    SV2_MSG_SET_EXTRANONCE_PREFIX = 0x19,
    SV2_MSG_SUBMIT_SHARES_STANDARD = 0x1a,
    SV2_MSG_SUBMIT_SHARES_EXTENDED = 0x1b,
    SV2_MSG_SUBMIT_SHARES_SUCCESS = 0x1c,
    SV2_MSG_SUBMIT_SHARES_ERROR = 0x1d,
    SV2_MSG_NEW_EXTENDED_MINING_JOB = 0x1f,
    SV2_MSG_MINING_SET_NEW_PREV_HASH = 0x20,
    SV2_MSG_SET_TARGET = 0x21,
    SV2_MSG_SET_CUSTOM_MINING_JOB = 0x22,
    SV2_MSG_SET_CUSTOM_MINING_JOB_SUCCESS = 0x23,
    SV2_MSG_SET_CUSTOM_MINING_JOB_ERROR = 0x24,
    SV2_MSG_SET_GROUP_CHANNEL = 0x25,
    SV2_MSG_COINBASE_OUTPUT_CONSTRAINTS = 0x70,
    SV2_MSG_NEW_TEMPLATE = 0x71,
    SV2_MSG_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH = 0x72,
    SV2_MSG_REQUEST_TRANSACTION_DATA = 0x73,
    SV2_MSG_REQUEST_TRANSACTION_DATA_SUCCESS = 0x74,
    SV2_MSG_REQUEST_TRANSACTION_DATA_ERROR = 0x75,
    SV2_MSG_SUBMIT_SOLUTION = 0x76,
    SV2_MSG_ALLOCATE_MINING_JOB_TOKEN = 0x50,
    SV2_MSG_ALLOCATE_MINING_JOB_TOKEN_SUCCESS = 0x51,
    SV2_MSG_PROVIDE_MISSING_TRANSACTIONS = 0x55,
    SV2_MSG_PROVIDE_MISSING_TRANSACTIONS_SUCCESS = 0x56,
    SV2_MSG_DECLARE_MINING_JOB = 0x57,
    SV2_MSG_DECLARE_MINING_JOB_SUCCESS = 0x58,
    SV2_MSG_DECLARE_MINING_JOB_ERROR = 0x59,
    SV2_MSG_PUSH_SOLUTION = 0x60,
}

/// The fields of one message; `Sv2Message.msg_type` says which member is valid.
#[repr(C)]
#[derive(Clone, Copy)]
pub union Sv2MessageBody {
    pub setup_connection: Sv2SetupConnection,
    pub setup_connection_success: Sv2SetupConnectionSuccess,
    pub setup_connection_error: Sv2SetupConnectionError,
    pub channel_endpoint_changed: Sv2ChannelEndpointChanged,
    pub reconnect: Sv2Reconnect,
    pub open_standard_mining_channel: Sv2OpenStandardMiningChannel,
    pub open_standard_mining_channel_success: Sv2OpenStandardMiningChannelSuccess,
    pub open_mining_channel_error: Sv2OpenMiningChannelError,
    pub open_extended_mining_channel: Sv2OpenExtendedMiningChannel,
    pub open_extended_mining_channel_success: Sv2OpenExtendedMiningChannelSuccess,
    pub new_mining_job: Sv2NewMiningJob,
    pub update_channel: Sv2UpdateChannel,
    pub update_channel_error: Sv2UpdateChannelError,
    pub close_channel: Sv2CloseChannel,
    pub set_extranonce_prefix: Sv2SetExtranoncePrefix,
    pub submit_shares_standard: Sv2SubmitSharesStandard,
    pub submit_shares_extended: Sv2SubmitSharesExtended,
    pub submit_shares_success: Sv2SubmitSharesSuccess,
    pub submit_shares_error: Sv2SubmitSharesError,
    pub new_extended_mining_job: Sv2NewExtendedMiningJob,
    pub mining_set_new_prev_hash: Sv2MiningSetNewPrevHash,
    pub set_target: Sv2SetTarget,
    pub set_custom_mining_job: Sv2SetCustomMiningJob,
    pub set_custom_mining_job_success: Sv2SetCustomMiningJobSuccess,
    pub set_custom_mining_job_error: Sv2SetCustomMiningJobError,
    pub set_group_channel: Sv2SetGroupChannel,
    pub coinbase_output_constraints: Sv2CoinbaseOutputConstraints,
    pub new_template: Sv2NewTemplate,
    pub template_distribution_set_new_prev_hash: Sv2TemplateDistributionSetNewPrevHash,
    pub request_transaction_data: Sv2RequestTransactionData,
    pub request_transaction_data_success: Sv2RequestTransactionDataSuccess,
    pub request_transaction_data_error: Sv2RequestTransactionDataError,
    pub submit_solution: Sv2SubmitSolution,
    pub allocate_mining_job_token: Sv2AllocateMiningJobToken,
    pub allocate_mining_job_token_success: Sv2AllocateMiningJobTokenSuccess,
    pub provide_missing_transactions: Sv2ProvideMissingTransactions,
    pub provide_missing_transactions_success: Sv2ProvideMissingTransactionsSuccess,
    pub declare_mining_job: Sv2DeclareMiningJob,
    pub declare_mining_job_success: Sv2DeclareMiningJobSuccess,
    pub declare_mining_job_error: Sv2DeclareMiningJobError,
    pub push_solution: Sv2PushSolution,
}

/// One message: the tag `msg_type` (a `Sv2MessageType` value) and the matching member of
/// `body`.
///
/// Ownership: a message returned by `sv2_codec_next` owns the memory all its pointers point
/// into (`storage`); release it with `sv2_message_free` exactly once, and do not use its
/// pointers afterwards. Do not copy the struct and free both copies.
///
/// To encode, build the message yourself: zero it (`Sv2Message m = {0};`, which leaves
/// `storage` NULL), set `msg_type` and the member of `body`; pointers point into your own
/// memory and are read only during the encode call.
#[repr(C)]
pub struct Sv2Message {
    pub msg_type: u8,
    pub body: Sv2MessageBody,
    /// The library's storage of a decoded message; NULL for a message you built. Do not touch.
    pub storage: *mut c_void,
}

/// `SetupConnection` (Client -> Server): the first message on every connection. It names the
/// subprotocol, the version range the client speaks, its feature flags, and who the client is.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetupConnection {
    /// 0 mining, 1 job declaration, 2 template distribution.
    pub protocol: u8,
    /// Lowest protocol version the client supports (currently 2).
    pub min_version: u16,
    /// Highest protocol version the client supports (currently 2).
    pub max_version: u16,
    /// Feature flags; their meaning depends on `protocol` (see `const_sv2::*_flags`).
    pub flags: u32,
    /// The host name the client connected to (for proxies that route by name).
    pub endpoint_host: Sv2Str,
    /// The port the client connected to.
    pub endpoint_port: u16,
    /// Manufacturer or developer of the client, and its version.
    pub vendor: Sv2Str,
    pub hardware_version: Sv2Str,
    pub firmware: Sv2Str,
    /// Unique identifier of the device, or empty.
    pub device_id: Sv2Str,
}

/// `SetupConnection.Success` (Server -> Client): the connection is set up with `used_version`;
/// `flags` are the server's answer flags for the chosen protocol.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetupConnectionSuccess {
    /// The version the server chose; all later messages follow it.
    pub used_version: u16,
    /// Server flags for the chosen protocol.
    pub flags: u32,
}

/// `SetupConnection.Error` (Server -> Client): the server refuses the connection.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetupConnectionError {
    /// The client flags the server does not support (for `unsupported-feature-flags`).
    pub flags: u32,
    /// `unsupported-feature-flags`, `unsupported-protocol` or `protocol-version-mismatch`.
    pub error_code: Sv2Str,
}

/// `ChannelEndpointChanged` (Server -> Client): the channel's endpoint changed (a proxy moved
/// it), so extension state negotiated for the channel must be negotiated again.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2ChannelEndpointChanged {
    pub channel_id: u32,
}

/// `Reconnect` (Server -> Client): reconnect to another host (or the same one, if
/// `new_host` is empty), e.g. before maintenance.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2Reconnect {
    /// Host to connect to; empty means the current host.
    pub new_host: Sv2Str,
    /// Port to connect to; 0 means the current port.
    pub new_port: u16,
}

/// `OpenStandardMiningChannel` (Client -> Server): open a standard channel, where the
/// server gives the whole header except nonce, ntime and version bits (header-only mining).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OpenStandardMiningChannel {
    /// Client-chosen id to match the answer to this request.
    pub request_id: u32,
    /// Identity of the user or worker the shares are accounted to.
    pub user_identity: Sv2Str,
    /// Expected hash rate of the device in h/s (IEEE-754 binary32).
    pub nominal_hash_rate: f32,
    /// The largest target the device accepts (its minimum difficulty).
    pub max_target: [u8; 32],
}

/// `OpenStandardMiningChannel.Success` (Server -> Client).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OpenStandardMiningChannelSuccess {
    pub request_id: u32,
    /// Id of the new channel; channel messages carry it first.
    pub channel_id: u32,
    /// Initial target of the channel.
    pub target: [u8; 32],
    /// Bytes the server puts before the device's (empty) extranonce in the coinbase.
    pub extranonce_prefix: Sv2Bytes,
    /// Group channel the channel belongs to.
    pub group_channel_id: u32,
}

/// `OpenMiningChannel.Error` (Server -> Client): a standard or extended channel could
/// not be opened (`unknown-user`, `max-target-out-of-range`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OpenMiningChannelError {
    pub request_id: u32,
    pub error_code: Sv2Str,
}

/// `OpenExtendedMiningChannel` (Client -> Server): open an extended channel, where the
/// client rolls its own extranonce and so can build merkle roots itself (proxies).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OpenExtendedMiningChannel {
    pub request_id: u32,
    pub user_identity: Sv2Str,
    pub nominal_hash_rate: f32,
    pub max_target: [u8; 32],
    /// The smallest extranonce the client needs to roll, in bytes.
    pub min_extranonce_size: u16,
}

/// `OpenExtendedMiningChannel.Success` (Server -> Client).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OpenExtendedMiningChannelSuccess {
    pub request_id: u32,
    pub channel_id: u32,
    pub target: [u8; 32],
    /// Extranonce size the client rolls, in bytes.
    pub extranonce_size: u16,
    /// Bytes the server reserves before the client's extranonce.
    pub extranonce_prefix: Sv2Bytes,
    /// Group channel the channel belongs to.
    pub group_channel_id: u32,
}

/// `NewMiningJob` (Server -> Client): a job for a standard channel, with its merkle root
/// already computed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2NewMiningJob {
    pub channel_id: u32,
    /// Server's id of the job, used in shares.
    pub job_id: u32,
    /// Smallest ntime for the job; absent for a future job, which starts with the next
    /// SetNewPrevHash.
    pub min_ntime: Sv2OptionU32,
    /// Version field of the header (the BIP320 bits may be rolled if allowed).
    pub version: u32,
    /// Merkle root of the block header.
    pub merkle_root: [u8; 32],
}

/// `UpdateChannel` (Client -> Server): the device's hash rate or maximum target changed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2UpdateChannel {
    pub channel_id: u32,
    pub nominal_hash_rate: f32,
    pub maximum_target: [u8; 32],
}

/// `UpdateChannel.Error` (Server -> Client): `max-target-out-of-range` or
/// `invalid-channel-id`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2UpdateChannelError {
    pub channel_id: u32,
    pub error_code: Sv2Str,
}

/// `CloseChannel` (both directions): the channel ends.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2CloseChannel {
    pub channel_id: u32,
    /// Why, for people reading logs.
    pub reason_code: Sv2Str,
}

/// `SetExtranoncePrefix` (Server -> Client): a new extranonce prefix for the channel, used
/// from the next job on.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetExtranoncePrefix {
    pub channel_id: u32,
    pub extranonce_prefix: Sv2Bytes,
}

/// `SubmitSharesStandard` (Client -> Server): a share found on a standard channel.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SubmitSharesStandard {
    pub channel_id: u32,
    /// Sequential id of the submit within the channel; acknowledgements refer to it.
    pub sequence_number: u32,
    pub job_id: u32,
    pub nonce: u32,
    pub ntime: u32,
    /// Full nVersion field.
    pub version: u32,
}

/// `SubmitSharesExtended` (Client -> Server): a share found on an extended channel, with
/// the extranonce the client rolled. With extension 0x0002 negotiated, a `user_identity`
/// TLV follows the message (see `extensions_sv2`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SubmitSharesExtended {
    pub channel_id: u32,
    pub sequence_number: u32,
    pub job_id: u32,
    pub nonce: u32,
    pub ntime: u32,
    pub version: u32,
    /// The client's extranonce; its size is the channel's negotiated extranonce size.
    pub extranonce: Sv2Bytes,
}

/// `SubmitShares.Success` (Server -> Client): shares accepted, acknowledged in batches.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SubmitSharesSuccess {
    pub channel_id: u32,
    /// Sequence number of the last share acknowledged.
    pub last_sequence_number: u32,
    /// Shares accepted since the previous acknowledgement.
    pub new_submits_accepted_count: u32,
    /// Sum of the difficulty of those shares.
    pub new_shares_sum: u64,
}

/// `SubmitShares.Error` (Server -> Client): one share refused (`invalid-channel-id`,
/// `stale-share`, `difficulty-too-low`, `invalid-job-id`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SubmitSharesError {
    pub channel_id: u32,
    pub sequence_number: u32,
    pub error_code: Sv2Str,
}

/// `NewExtendedMiningJob` (Server -> Client): a job for an extended (or group) channel:
/// the coinbase split around the extranonce, and the merkle path.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2NewExtendedMiningJob {
    pub channel_id: u32,
    pub job_id: u32,
    /// Absent for a future job.
    pub min_ntime: Sv2OptionU32,
    pub version: u32,
    /// Whether the client may roll the BIP320 version bits.
    pub version_rolling_allowed: bool,
    /// Merkle path of the coinbase, hashes in wire order.
    pub merkle_path: Sv2U256List,
    /// Coinbase bytes before the extranonce (prefix + client extranonce go after it).
    pub coinbase_tx_prefix: Sv2Bytes,
    /// Coinbase bytes after the extranonce.
    pub coinbase_tx_suffix: Sv2Bytes,
}

/// `SetNewPrevHash` (Server -> Client, mining): the chain tip moved; the named (future)
/// job becomes active and every older job is stale.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2MiningSetNewPrevHash {
    pub channel_id: u32,
    /// The future job this prev hash activates.
    pub job_id: u32,
    pub prev_hash: [u8; 32],
    /// Smallest ntime allowed from now on.
    pub min_ntime: u32,
    /// Network target in compact form.
    pub nbits: u32,
}

/// `SetTarget` (Server -> Client): a new maximum target (difficulty) for the channel.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetTarget {
    pub channel_id: u32,
    pub maximum_target: [u8; 32],
}

/// `SetCustomMiningJob` (Client -> Server): a job the client built itself (work
/// selection), declared beforehand through the Job Declaration Protocol.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetCustomMiningJob {
    pub channel_id: u32,
    pub request_id: u32,
    /// Token from the job declarator. Deployed implementations name this field `token`;
    /// the spec's name is used here and both are accepted in JSON.
    pub mining_job_token: Sv2Bytes,
    pub version: u32,
    pub prev_hash: [u8; 32],
    pub min_ntime: u32,
    pub nbits: u32,
    pub coinbase_tx_version: u32,
    /// Coinbase scriptSig prefix (BIP34 height first).
    pub coinbase_prefix: Sv2Bytes,
    /// The spec writes `coinbase_tx_input_nSequence`.
    pub coinbase_tx_input_n_sequence: u32,
    /// Serialized coinbase outputs.
    pub coinbase_tx_outputs: Sv2Bytes,
    pub coinbase_tx_locktime: u32,
    pub merkle_path: Sv2U256List,
}

/// `SetCustomMiningJob.Success` (Server -> Client): the custom job is accepted as `job_id`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetCustomMiningJobSuccess {
    pub channel_id: u32,
    pub request_id: u32,
    pub job_id: u32,
}

/// `SetCustomMiningJob.Error` (Server -> Client): `invalid-channel-id`,
/// `invalid-mining-job-token`, or `invalid-job-param-value-{field}`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetCustomMiningJobError {
    pub channel_id: u32,
    pub request_id: u32,
    pub error_code: Sv2Str,
}

/// `SetGroupChannel` (Server -> Client): these channels now belong to a group channel and
/// receive its jobs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SetGroupChannel {
    pub group_channel_id: u32,
    pub channel_ids: Sv2U32List,
}

/// `CoinbaseOutputConstraints` (Client -> Server): how much room the client needs in the
/// coinbase for its own outputs, so that templates leave space for them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2CoinbaseOutputConstraints {
    /// Additional serialized bytes of outputs the client will add.
    pub coinbase_output_max_additional_size: u32,
    /// Additional sigops of those outputs.
    pub coinbase_output_max_additional_sigops: u16,
}

/// `NewTemplate` (Server -> Client): a block template, described by its coinbase pieces and
/// the merkle path; `future_template` templates wait for a SetNewPrevHash.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2NewTemplate {
    /// Server's id of the template.
    pub template_id: u64,
    /// True if the template is for a future prev hash.
    pub future_template: bool,
    /// Block header version.
    pub version: u32,
    pub coinbase_tx_version: u32,
    /// Start of the coinbase scriptSig (BIP34 height); the client appends its own bytes.
    pub coinbase_prefix: Sv2Bytes,
    /// nSequence of the coinbase input.
    pub coinbase_tx_input_sequence: u32,
    /// Satoshis left for the client's outputs (subsidy plus fees minus the template's
    /// outputs).
    pub coinbase_tx_value_remaining: u64,
    /// Number of outputs in `coinbase_tx_outputs`.
    pub coinbase_tx_outputs_count: u32,
    /// Outputs the coinbase must contain (e.g. the witness commitment), serialized.
    pub coinbase_tx_outputs: Sv2Bytes,
    pub coinbase_tx_locktime: u32,
    /// Merkle path of the coinbase.
    pub merkle_path: Sv2U256List,
}

/// `SetNewPrevHash` (Server -> Client, template distribution): the chain tip moved; the
/// named future template becomes active.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2TemplateDistributionSetNewPrevHash {
    pub template_id: u64,
    pub prev_hash: [u8; 32],
    /// Block header timestamp to start with.
    pub header_timestamp: u32,
    /// Network target in compact form (the spec writes `nBits`).
    pub n_bits: u32,
    /// Network target, expanded.
    pub target: [u8; 32],
}

/// `RequestTransactionData` (Client -> Server): ask for a template's transactions (job
/// declaration needs them).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2RequestTransactionData {
    pub template_id: u64,
}

/// `RequestTransactionData.Success` (Server -> Client): the template's transactions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2RequestTransactionDataSuccess {
    pub template_id: u64,
    /// Extra data for future use.
    pub excess_data: Sv2Bytes,
    /// The serialized transactions, coinbase excluded, in block order.
    pub transaction_list: Sv2BytesList,
}

/// `RequestTransactionData.Error` (Server -> Client): `template-id-not-found` or
/// `stale-template-id`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2RequestTransactionDataError {
    pub template_id: u64,
    pub error_code: Sv2Str,
}

/// `SubmitSolution` (Client -> Server): a block was found on this template; the server
/// builds and broadcasts it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2SubmitSolution {
    pub template_id: u64,
    pub version: u32,
    pub header_timestamp: u32,
    pub header_nonce: u32,
    /// The full serialized coinbase transaction.
    pub coinbase_tx: Sv2Bytes,
}

/// `AllocateMiningJobToken` (JDC -> JDS): ask for a token to declare a future job with.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2AllocateMiningJobToken {
    /// Who the job is for (the pool account).
    pub user_identifier: Sv2Str,
    pub request_id: u32,
}

/// `AllocateMiningJobToken.Success` (JDS -> JDC): the token, and the outputs the pool
/// requires in the coinbase.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2AllocateMiningJobTokenSuccess {
    pub request_id: u32,
    pub mining_job_token: Sv2Bytes,
    /// Serialized outputs the pool requires. Deployed implementations name this field
    /// `coinbase_outputs`; the spec's name is used here and both are accepted in JSON.
    pub coinbase_tx_outputs: Sv2Bytes,
}

/// `ProvideMissingTransactions` (JDS -> JDC): the JDS lacks some transactions of a declared
/// job; they are named by position in the job's `wtxid_list`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2ProvideMissingTransactions {
    pub request_id: u32,
    pub unknown_tx_position_list: Sv2U16List,
}

/// `ProvideMissingTransactions.Success` (JDC -> JDS): the missing transactions, in the
/// order they were asked for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2ProvideMissingTransactionsSuccess {
    pub request_id: u32,
    pub transaction_list: Sv2BytesList,
}

/// `DeclareMiningJob` (JDC -> JDS): the job the miner will work on: its coinbase around the
/// extranonce, and its transactions by wtxid.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2DeclareMiningJob {
    pub request_id: u32,
    /// Token from AllocateMiningJobToken.Success.
    pub mining_job_token: Sv2Bytes,
    pub version: u32,
    pub coinbase_tx_prefix: Sv2Bytes,
    pub coinbase_tx_suffix: Sv2Bytes,
    /// wtxids of the block's transactions, coinbase excluded.
    pub wtxid_list: Sv2U256List,
    pub excess_data: Sv2Bytes,
}

/// `DeclareMiningJob.Success` (JDS -> JDC): the job is accepted; the new token goes into
/// SetCustomMiningJob.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2DeclareMiningJobSuccess {
    pub request_id: u32,
    pub new_mining_job_token: Sv2Bytes,
}

/// `DeclareMiningJob.Error` (JDS -> JDC): `invalid-mining-job-token` or
/// `invalid-job-param-value-{field}`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2DeclareMiningJobError {
    pub request_id: u32,
    pub error_code: Sv2Str,
    /// Optional details.
    pub error_details: Sv2Bytes,
}

/// `PushSolution` (JDC -> JDS): a block was found on a declared job; the JDS propagates
/// it too. (08-Message-Types.md still lists 0x60 as SubmitSolution.)
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2PushSolution {
    /// The full extranonce (prefix and rolled part).
    pub extranonce: Sv2Bytes,
    pub prev_hash: [u8; 32],
    pub nonce: u32,
    pub ntime: u32,
    pub nbits: u32,
    pub version: u32,
}

/// The table of messages: tag, `Sv2MessageBody` member, Rust type and fields.
macro_rules! with_messages {
    ($callback:ident) => {
        $callback! {
            SV2_MSG_SETUP_CONNECTION, setup_connection: Sv2SetupConnection, common_messages_sv2::SetupConnection { protocol, min_version, max_version, flags, endpoint_host, endpoint_port, vendor, hardware_version, firmware, device_id };
            SV2_MSG_SETUP_CONNECTION_SUCCESS, setup_connection_success: Sv2SetupConnectionSuccess, common_messages_sv2::SetupConnectionSuccess { used_version, flags };
            SV2_MSG_SETUP_CONNECTION_ERROR, setup_connection_error: Sv2SetupConnectionError, common_messages_sv2::SetupConnectionError { flags, error_code };
            SV2_MSG_CHANNEL_ENDPOINT_CHANGED, channel_endpoint_changed: Sv2ChannelEndpointChanged, common_messages_sv2::ChannelEndpointChanged { channel_id };
            SV2_MSG_RECONNECT, reconnect: Sv2Reconnect, common_messages_sv2::Reconnect { new_host, new_port };
            SV2_MSG_OPEN_STANDARD_MINING_CHANNEL, open_standard_mining_channel: Sv2OpenStandardMiningChannel, mining_sv2::OpenStandardMiningChannel { request_id, user_identity, nominal_hash_rate, max_target };
            SV2_MSG_OPEN_STANDARD_MINING_CHANNEL_SUCCESS, open_standard_mining_channel_success: Sv2OpenStandardMiningChannelSuccess, mining_sv2::OpenStandardMiningChannelSuccess { request_id, channel_id, target, extranonce_prefix, group_channel_id };
            SV2_MSG_OPEN_MINING_CHANNEL_ERROR, open_mining_channel_error: Sv2OpenMiningChannelError, mining_sv2::OpenMiningChannelError { request_id, error_code };
            SV2_MSG_OPEN_EXTENDED_MINING_CHANNEL, open_extended_mining_channel: Sv2OpenExtendedMiningChannel, mining_sv2::OpenExtendedMiningChannel { request_id, user_identity, nominal_hash_rate, max_target, min_extranonce_size };
            SV2_MSG_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS, open_extended_mining_channel_success: Sv2OpenExtendedMiningChannelSuccess, mining_sv2::OpenExtendedMiningChannelSuccess { request_id, channel_id, target, extranonce_size, extranonce_prefix, group_channel_id };
            SV2_MSG_NEW_MINING_JOB, new_mining_job: Sv2NewMiningJob, mining_sv2::NewMiningJob { channel_id, job_id, min_ntime, version, merkle_root };
            SV2_MSG_UPDATE_CHANNEL, update_channel: Sv2UpdateChannel, mining_sv2::UpdateChannel { channel_id, nominal_hash_rate, maximum_target };
            SV2_MSG_UPDATE_CHANNEL_ERROR, update_channel_error: Sv2UpdateChannelError, mining_sv2::UpdateChannelError { channel_id, error_code };
            SV2_MSG_CLOSE_CHANNEL, close_channel: Sv2CloseChannel, mining_sv2::CloseChannel { channel_id, reason_code };
            SV2_MSG_SET_EXTRANONCE_PREFIX, set_extranonce_prefix: Sv2SetExtranoncePrefix, mining_sv2::SetExtranoncePrefix { channel_id, extranonce_prefix };
            SV2_MSG_SUBMIT_SHARES_STANDARD, submit_shares_standard: Sv2SubmitSharesStandard, mining_sv2::SubmitSharesStandard { channel_id, sequence_number, job_id, nonce, ntime, version };
            SV2_MSG_SUBMIT_SHARES_EXTENDED, submit_shares_extended: Sv2SubmitSharesExtended, mining_sv2::SubmitSharesExtended { channel_id, sequence_number, job_id, nonce, ntime, version, extranonce };
            SV2_MSG_SUBMIT_SHARES_SUCCESS, submit_shares_success: Sv2SubmitSharesSuccess, mining_sv2::SubmitSharesSuccess { channel_id, last_sequence_number, new_submits_accepted_count, new_shares_sum };
            SV2_MSG_SUBMIT_SHARES_ERROR, submit_shares_error: Sv2SubmitSharesError, mining_sv2::SubmitSharesError { channel_id, sequence_number, error_code };
            SV2_MSG_NEW_EXTENDED_MINING_JOB, new_extended_mining_job: Sv2NewExtendedMiningJob, mining_sv2::NewExtendedMiningJob { channel_id, job_id, min_ntime, version, version_rolling_allowed, merkle_path, coinbase_tx_prefix, coinbase_tx_suffix };
            SV2_MSG_MINING_SET_NEW_PREV_HASH, mining_set_new_prev_hash: Sv2MiningSetNewPrevHash, mining_sv2::SetNewPrevHash { channel_id, job_id, prev_hash, min_ntime, nbits };
            SV2_MSG_SET_TARGET, set_target: Sv2SetTarget, mining_sv2::SetTarget { channel_id, maximum_target };
            SV2_MSG_SET_CUSTOM_MINING_JOB, set_custom_mining_job: Sv2SetCustomMiningJob, mining_sv2::SetCustomMiningJob { channel_id, request_id, mining_job_token, version, prev_hash, min_ntime, nbits, coinbase_tx_version, coinbase_prefix, coinbase_tx_input_n_sequence, coinbase_tx_outputs, coinbase_tx_locktime, merkle_path };
            SV2_MSG_SET_CUSTOM_MINING_JOB_SUCCESS, set_custom_mining_job_success: Sv2SetCustomMiningJobSuccess, mining_sv2::SetCustomMiningJobSuccess { channel_id, request_id, job_id };
            SV2_MSG_SET_CUSTOM_MINING_JOB_ERROR, set_custom_mining_job_error: Sv2SetCustomMiningJobError, mining_sv2::SetCustomMiningJobError { channel_id, request_id, error_code };
            SV2_MSG_SET_GROUP_CHANNEL, set_group_channel: Sv2SetGroupChannel, mining_sv2::SetGroupChannel { group_channel_id, channel_ids };
            SV2_MSG_COINBASE_OUTPUT_CONSTRAINTS, coinbase_output_constraints: Sv2CoinbaseOutputConstraints, template_distribution_sv2::CoinbaseOutputConstraints { coinbase_output_max_additional_size, coinbase_output_max_additional_sigops };
            SV2_MSG_NEW_TEMPLATE, new_template: Sv2NewTemplate, template_distribution_sv2::NewTemplate { template_id, future_template, version, coinbase_tx_version, coinbase_prefix, coinbase_tx_input_sequence, coinbase_tx_value_remaining, coinbase_tx_outputs_count, coinbase_tx_outputs, coinbase_tx_locktime, merkle_path };
            SV2_MSG_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH, template_distribution_set_new_prev_hash: Sv2TemplateDistributionSetNewPrevHash, template_distribution_sv2::SetNewPrevHash { template_id, prev_hash, header_timestamp, n_bits, target };
            SV2_MSG_REQUEST_TRANSACTION_DATA, request_transaction_data: Sv2RequestTransactionData, template_distribution_sv2::RequestTransactionData { template_id };
            SV2_MSG_REQUEST_TRANSACTION_DATA_SUCCESS, request_transaction_data_success: Sv2RequestTransactionDataSuccess, template_distribution_sv2::RequestTransactionDataSuccess { template_id, excess_data, transaction_list };
            SV2_MSG_REQUEST_TRANSACTION_DATA_ERROR, request_transaction_data_error: Sv2RequestTransactionDataError, template_distribution_sv2::RequestTransactionDataError { template_id, error_code };
            SV2_MSG_SUBMIT_SOLUTION, submit_solution: Sv2SubmitSolution, template_distribution_sv2::SubmitSolution { template_id, version, header_timestamp, header_nonce, coinbase_tx };
            SV2_MSG_ALLOCATE_MINING_JOB_TOKEN, allocate_mining_job_token: Sv2AllocateMiningJobToken, job_declaration_sv2::AllocateMiningJobToken { user_identifier, request_id };
            SV2_MSG_ALLOCATE_MINING_JOB_TOKEN_SUCCESS, allocate_mining_job_token_success: Sv2AllocateMiningJobTokenSuccess, job_declaration_sv2::AllocateMiningJobTokenSuccess { request_id, mining_job_token, coinbase_tx_outputs };
            SV2_MSG_PROVIDE_MISSING_TRANSACTIONS, provide_missing_transactions: Sv2ProvideMissingTransactions, job_declaration_sv2::ProvideMissingTransactions { request_id, unknown_tx_position_list };
            SV2_MSG_PROVIDE_MISSING_TRANSACTIONS_SUCCESS, provide_missing_transactions_success: Sv2ProvideMissingTransactionsSuccess, job_declaration_sv2::ProvideMissingTransactionsSuccess { request_id, transaction_list };
            SV2_MSG_DECLARE_MINING_JOB, declare_mining_job: Sv2DeclareMiningJob, job_declaration_sv2::DeclareMiningJob { request_id, mining_job_token, version, coinbase_tx_prefix, coinbase_tx_suffix, wtxid_list, excess_data };
            SV2_MSG_DECLARE_MINING_JOB_SUCCESS, declare_mining_job_success: Sv2DeclareMiningJobSuccess, job_declaration_sv2::DeclareMiningJobSuccess { request_id, new_mining_job_token };
            SV2_MSG_DECLARE_MINING_JOB_ERROR, declare_mining_job_error: Sv2DeclareMiningJobError, job_declaration_sv2::DeclareMiningJobError { request_id, error_code, error_details };
            SV2_MSG_PUSH_SOLUTION, push_solution: Sv2PushSolution, job_declaration_sv2::PushSolution { extranonce, prev_hash, nonce, ntime, nbits, version };
        }
    };
}

/// Something that turns a Rust message into frame bytes (the plain or the noise encoder).
pub(crate) trait FrameSink {
    fn encode<M: framing_sv2::Sv2Message>(&mut self, m: &M) -> Result<(), FfiError>;
}

/// The storage a decoded [`Sv2Message`] owns: its payload, and the arena of what its fields
/// needed besides (NUL-terminated strings, lists in host byte order).
pub(crate) struct Owned {
    payload: Box<[u8]>,
    arena: Arena,
}

fn decode_error(name: &str, e: impl std::fmt::Display) -> FfiError {
    FfiError::new(SV2_ERR_DECODE, format!("{name}: {e}"))
}

macro_rules! ffi_messages {
    ($( $tag:ident, $field:ident: $cty:ident, $krate:ident :: $name:ident { $($f:ident),* }; )*) => {
        /// Decode `payload` as message `msg_type` (extension_type 0) into a C message that
        /// owns its memory.
        pub(crate) fn decode_message(msg_type: u8, payload: &[u8]) -> Result<Sv2Message, FfiError> {
            let mut owned = Box::new(Owned { payload: payload.into(), arena: Arena::new(&[]) });
            owned.arena = Arena::new(&owned.payload);
            let o = &mut *owned;
            let body = match msg_type {
                $( t if t == Sv2MessageType::$tag as u8 => {
                    let m = <$krate::$name as Decodable>::decode(&o.payload)
                        .map_err(|e| decode_error(<$krate::$name>::NAME, e))?;
                    Sv2MessageBody { $field: $cty { $( $f: CField::to_c(&m.$f, &mut o.arena), )* } }
                } )*
                other => {
                    return Err(FfiError::new(
                        SV2_ERR_UNKNOWN_MESSAGE,
                        format!("unknown message type 0x{other:02x}"),
                    ))
                }
            };
            Ok(Sv2Message { msg_type, body, storage: Box::into_raw(owned).cast() })
        }

        /// Encode the C message into `sink`.
        ///
        /// # Safety
        /// The pointers of `msg`'s valid body member must be valid for their lengths.
        pub(crate) unsafe fn encode_message(
            msg: &Sv2Message,
            sink: &mut impl FrameSink,
        ) -> Result<(), FfiError> {
            match msg.msg_type {
                $( t if t == Sv2MessageType::$tag as u8 => {
                    // SAFETY: the tag says this member is the one the caller set.
                    let c = unsafe { msg.body.$field };
                    // SAFETY: the caller's promise about the pointers, passed on.
                    let m = $krate::$name { $( $f: unsafe { c.$f.to_rust(stringify!($f))? }, )* };
                    sink.encode(&m)
                } )*
                other => Err(FfiError::invalid(format!(
                    "msg_type 0x{other:02x} is not a message this library can encode"
                ))),
            }
        }

        /// Every message: our tag, the Rust type's msg_type, and its name as
        /// 08-Message-Types.md writes it.
        pub(crate) fn message_table() -> Vec<(u8, u8, &'static str)> {
            vec![ $( (Sv2MessageType::$tag as u8, <$krate::$name>::MSG_TYPE, <$krate::$name>::NAME), )* ]
        }
    };
}

with_messages!(ffi_messages);

/// Release what a message returned by `sv2_codec_next` owns, and zero it (so a second call
/// does nothing). A message you built yourself (storage NULL) is only zeroed; your memory is
/// not touched. NULL is ignored.
///
/// # Safety
/// `msg` is NULL or points to an `Sv2Message` whose `storage` is NULL or was set by this
/// library and not freed since.
#[no_mangle]
pub unsafe extern "C" fn sv2_message_free(msg: *mut Sv2Message) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: NULL or a valid message, by the contract above.
        let Some(m) = (unsafe { msg.as_mut() }) else {
            return;
        };
        let storage = std::mem::replace(&mut m.storage, std::ptr::null_mut());
        if !storage.is_null() {
            // SAFETY: storage came from Box::into_raw in decode_message and is freed once.
            drop(unsafe { Box::from_raw(storage.cast::<Owned>()) });
        }
        m.msg_type = 0;
        // SAFETY: every member is plain old data, for which all-zero bytes are valid.
        m.body = unsafe { std::mem::zeroed() };
    }));
}

/// The name of a message type as the spec writes it (e.g. "SetupConnection.Success"), or
/// NULL for a type this library does not know.
///
/// Ownership: a static string; do not free it.
#[no_mangle]
pub extern "C" fn sv2_message_type_name(msg_type: u8) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<(u8, std::ffi::CString)>> = std::sync::OnceLock::new();
    std::panic::catch_unwind(|| {
        let names = NAMES.get_or_init(|| {
            message_table()
                .into_iter()
                .filter_map(|(t, _, n)| Some((t, std::ffi::CString::new(n).ok()?)))
                .collect()
        });
        names
            .iter()
            .find(|(t, _)| *t == msg_type)
            .map_or(std::ptr::null(), |(_, n)| n.as_ptr())
    })
    .unwrap_or(std::ptr::null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_is_the_message_types_spec_value() {
        let table = message_table();
        assert_eq!(table.len(), 41);
        for (tag, msg_type, name) in table {
            assert_eq!(tag, msg_type, "{name}");
        }
    }
}
