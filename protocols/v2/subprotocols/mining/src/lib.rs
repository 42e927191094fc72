//! # mining_sv2
//!
//! The Mining Protocol messages (05-Mining-Protocol.md), one struct per message with the
//! spec's field names and types. Decoding borrows from the input; `into_static()` gives an
//! owned value.
//!
//! ```
//! use binary_sv2::{Decodable, Encodable, IntoStatic, B032};
//! use mining_sv2::SubmitSharesExtended;
//!
//! let share = SubmitSharesExtended {
//!     channel_id: 1,
//!     sequence_number: 42,
//!     job_id: 3,
//!     nonce: 0xdeadbeef,
//!     ntime: 1_700_000_000,
//!     version: 0x2000_0000,
//!     extranonce: B032::new(&[0u8; 8][..]).unwrap(),
//! };
//! let bytes = share.to_bytes().unwrap();
//! let borrowed = SubmitSharesExtended::decode(&bytes).unwrap();
//! let owned: SubmitSharesExtended<'static> = borrowed.into_static();
//! assert_eq!(owned, share);
//! ```

use binary_sv2::{
    Decodable, Encodable, IntoStatic, Seq0255, Seq064K, Str0255, B0255, B032, B064K, U256,
};
use const_sv2::*;
use framing_sv2::impl_sv2_message;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

macro_rules! message {
    ($(#[$meta:meta])* pub struct $name:ident $(<$lt:lifetime>)? { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
        #[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
        #[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(deny_unknown_fields))]
        pub struct $name $(<$lt>)? { $($body)* }
    };
}

message! {
    /// `OpenStandardMiningChannel` (Client -> Server): open a standard channel, where the
    /// server gives the whole header except nonce, ntime and version bits (header-only mining).
    pub struct OpenStandardMiningChannel<'a> {
        /// Client-chosen id to match the answer to this request.
        pub request_id: u32,
        /// Identity of the user or worker the shares are accounted to.
        pub user_identity: Str0255<'a>,
        /// Expected hash rate of the device in h/s (IEEE-754 binary32).
        #[cfg_attr(feature = "serde", serde(with = "binary_sv2::f32_json"))]
        pub nominal_hash_rate: f32,
        /// The largest target the device accepts (its minimum difficulty).
        pub max_target: U256,
    }
}

message! {
    /// `OpenStandardMiningChannel.Success` (Server -> Client).
    pub struct OpenStandardMiningChannelSuccess<'a> {
        pub request_id: u32,
        /// Id of the new channel; channel messages carry it first.
        pub channel_id: u32,
        /// Initial target of the channel.
        pub target: U256,
        /// Bytes the server puts before the device's (empty) extranonce in the coinbase.
        pub extranonce_prefix: B032<'a>,
        /// Group channel the channel belongs to.
        pub group_channel_id: u32,
    }
}

message! {
    /// `OpenMiningChannel.Error` (Server -> Client): a standard or extended channel could
    /// not be opened (`unknown-user`, `max-target-out-of-range`).
    pub struct OpenMiningChannelError<'a> {
        pub request_id: u32,
        pub error_code: Str0255<'a>,
    }
}

message! {
    /// `OpenExtendedMiningChannel` (Client -> Server): open an extended channel, where the
    /// client rolls its own extranonce and so can build merkle roots itself (proxies).
    pub struct OpenExtendedMiningChannel<'a> {
        pub request_id: u32,
        pub user_identity: Str0255<'a>,
        #[cfg_attr(feature = "serde", serde(with = "binary_sv2::f32_json"))]
        pub nominal_hash_rate: f32,
        pub max_target: U256,
        /// The smallest extranonce the client needs to roll, in bytes.
        pub min_extranonce_size: u16,
    }
}

message! {
    /// `OpenExtendedMiningChannel.Success` (Server -> Client).
    pub struct OpenExtendedMiningChannelSuccess<'a> {
        pub request_id: u32,
        pub channel_id: u32,
        pub target: U256,
        /// Extranonce size the client rolls, in bytes.
        pub extranonce_size: u16,
        /// Bytes the server reserves before the client's extranonce.
        pub extranonce_prefix: B032<'a>,
        /// Group channel the channel belongs to.
        pub group_channel_id: u32,
    }
}

message! {
    /// `NewMiningJob` (Server -> Client): a job for a standard channel, with its merkle root
    /// already computed.
    pub struct NewMiningJob {
        pub channel_id: u32,
        /// Server's id of the job, used in shares.
        pub job_id: u32,
        /// Smallest ntime for the job; absent for a future job, which starts with the next
        /// SetNewPrevHash.
        pub min_ntime: Option<u32>,
        /// Version field of the header (the BIP320 bits may be rolled if allowed).
        pub version: u32,
        /// Merkle root of the block header.
        pub merkle_root: U256,
    }
}

message! {
    /// `UpdateChannel` (Client -> Server): the device's hash rate or maximum target changed.
    pub struct UpdateChannel {
        pub channel_id: u32,
        #[cfg_attr(feature = "serde", serde(with = "binary_sv2::f32_json"))]
        pub nominal_hash_rate: f32,
        pub maximum_target: U256,
    }
}

message! {
    /// `UpdateChannel.Error` (Server -> Client): `max-target-out-of-range` or
    /// `invalid-channel-id`.
    pub struct UpdateChannelError<'a> {
        pub channel_id: u32,
        pub error_code: Str0255<'a>,
    }
}

message! {
    /// `CloseChannel` (both directions): the channel ends.
    pub struct CloseChannel<'a> {
        pub channel_id: u32,
        /// Why, for people reading logs.
        pub reason_code: Str0255<'a>,
    }
}

message! {
    /// `SetExtranoncePrefix` (Server -> Client): a new extranonce prefix for the channel, used
    /// from the next job on.
    pub struct SetExtranoncePrefix<'a> {
        pub channel_id: u32,
        pub extranonce_prefix: B032<'a>,
    }
}

message! {
    /// `SubmitSharesStandard` (Client -> Server): a share found on a standard channel.
    pub struct SubmitSharesStandard {
        pub channel_id: u32,
        /// Sequential id of the submit within the channel; acknowledgements refer to it.
        pub sequence_number: u32,
        pub job_id: u32,
        pub nonce: u32,
        pub ntime: u32,
        /// Full nVersion field.
        pub version: u32,
    }
}

message! {
    /// `SubmitSharesExtended` (Client -> Server): a share found on an extended channel, with
    /// the extranonce the client rolled. With extension 0x0002 negotiated, a `user_identity`
    /// TLV follows the message (see `extensions_sv2`).
    pub struct SubmitSharesExtended<'a> {
        pub channel_id: u32,
        pub sequence_number: u32,
        pub job_id: u32,
        pub nonce: u32,
        pub ntime: u32,
        pub version: u32,
        /// The client's extranonce; its size is the channel's negotiated extranonce size.
        pub extranonce: B032<'a>,
    }
}

message! {
    /// `SubmitShares.Success` (Server -> Client): shares accepted, acknowledged in batches.
    pub struct SubmitSharesSuccess {
        pub channel_id: u32,
        /// Sequence number of the last share acknowledged.
        pub last_sequence_number: u32,
        /// Shares accepted since the previous acknowledgement.
        pub new_submits_accepted_count: u32,
        /// Sum of the difficulty of those shares.
        pub new_shares_sum: u64,
    }
}

message! {
    /// `SubmitShares.Error` (Server -> Client): one share refused (`invalid-channel-id`,
    /// `stale-share`, `difficulty-too-low`, `invalid-job-id`).
    pub struct SubmitSharesError<'a> {
        pub channel_id: u32,
        pub sequence_number: u32,
        pub error_code: Str0255<'a>,
    }
}

message! {
    /// `NewExtendedMiningJob` (Server -> Client): a job for an extended (or group) channel:
    /// the coinbase split around the extranonce, and the merkle path.
    pub struct NewExtendedMiningJob<'a> {
        pub channel_id: u32,
        pub job_id: u32,
        /// Absent for a future job.
        pub min_ntime: Option<u32>,
        pub version: u32,
        /// Whether the client may roll the BIP320 version bits.
        pub version_rolling_allowed: bool,
        /// Merkle path of the coinbase, hashes in wire order.
        pub merkle_path: Seq0255<'a, U256>,
        /// Coinbase bytes before the extranonce (prefix + client extranonce go after it).
        pub coinbase_tx_prefix: B064K<'a>,
        /// Coinbase bytes after the extranonce.
        pub coinbase_tx_suffix: B064K<'a>,
    }
}

message! {
    /// `SetNewPrevHash` (Server -> Client, mining): the chain tip moved; the named (future)
    /// job becomes active and every older job is stale.
    pub struct SetNewPrevHash {
        pub channel_id: u32,
        /// The future job this prev hash activates.
        pub job_id: u32,
        pub prev_hash: U256,
        /// Smallest ntime allowed from now on.
        pub min_ntime: u32,
        /// Network target in compact form.
        pub nbits: u32,
    }
}

message! {
    /// `SetTarget` (Server -> Client): a new maximum target (difficulty) for the channel.
    pub struct SetTarget {
        pub channel_id: u32,
        pub maximum_target: U256,
    }
}

message! {
    /// `SetCustomMiningJob` (Client -> Server): a job the client built itself (work
    /// selection), declared beforehand through the Job Declaration Protocol.
    pub struct SetCustomMiningJob<'a> {
        pub channel_id: u32,
        pub request_id: u32,
        /// Token from the job declarator. Deployed implementations name this field `token`;
        /// the spec's name is used here and both are accepted in JSON.
        #[cfg_attr(feature = "serde", serde(alias = "token"))]
        pub mining_job_token: B0255<'a>,
        pub version: u32,
        pub prev_hash: U256,
        pub min_ntime: u32,
        pub nbits: u32,
        pub coinbase_tx_version: u32,
        /// Coinbase scriptSig prefix (BIP34 height first).
        pub coinbase_prefix: B0255<'a>,
        /// The spec writes `coinbase_tx_input_nSequence`.
        pub coinbase_tx_input_n_sequence: u32,
        /// Serialized coinbase outputs.
        pub coinbase_tx_outputs: B064K<'a>,
        pub coinbase_tx_locktime: u32,
        pub merkle_path: Seq0255<'a, U256>,
    }
}

message! {
    /// `SetCustomMiningJob.Success` (Server -> Client): the custom job is accepted as `job_id`.
    pub struct SetCustomMiningJobSuccess {
        pub channel_id: u32,
        pub request_id: u32,
        pub job_id: u32,
    }
}

message! {
    /// `SetCustomMiningJob.Error` (Server -> Client): `invalid-channel-id`,
    /// `invalid-mining-job-token`, or `invalid-job-param-value-{field}`.
    pub struct SetCustomMiningJobError<'a> {
        pub channel_id: u32,
        pub request_id: u32,
        pub error_code: Str0255<'a>,
    }
}

message! {
    /// `SetGroupChannel` (Server -> Client): these channels now belong to a group channel and
    /// receive its jobs.
    pub struct SetGroupChannel<'a> {
        pub group_channel_id: u32,
        pub channel_ids: Seq064K<'a, u32>,
    }
}

impl_sv2_message!(
    OpenStandardMiningChannel<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL,
    CHANNEL_BIT_OPEN_STANDARD_MINING_CHANNEL,
    "OpenStandardMiningChannel"
);
impl_sv2_message!(
    OpenStandardMiningChannelSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS,
    CHANNEL_BIT_OPEN_STANDARD_MINING_CHANNEL_SUCCESS,
    "OpenStandardMiningChannel.Success"
);
impl_sv2_message!(
    OpenMiningChannelError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_OPEN_MINING_CHANNEL_ERROR,
    CHANNEL_BIT_OPEN_MINING_CHANNEL_ERROR,
    "OpenMiningChannel.Error"
);
impl_sv2_message!(
    OpenExtendedMiningChannel<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL,
    CHANNEL_BIT_OPEN_EXTENDED_MINING_CHANNEL,
    "OpenExtendedMiningChannel"
);
impl_sv2_message!(
    OpenExtendedMiningChannelSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
    CHANNEL_BIT_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
    "OpenExtendedMiningChannel.Success"
);
impl_sv2_message!(
    NewMiningJob,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_NEW_MINING_JOB,
    CHANNEL_BIT_NEW_MINING_JOB,
    "NewMiningJob"
);
impl_sv2_message!(
    UpdateChannel,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_UPDATE_CHANNEL,
    CHANNEL_BIT_UPDATE_CHANNEL,
    "UpdateChannel"
);
impl_sv2_message!(
    UpdateChannelError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_UPDATE_CHANNEL_ERROR,
    CHANNEL_BIT_UPDATE_CHANNEL_ERROR,
    "UpdateChannel.Error"
);
impl_sv2_message!(
    CloseChannel<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_CLOSE_CHANNEL,
    CHANNEL_BIT_CLOSE_CHANNEL,
    "CloseChannel"
);
impl_sv2_message!(
    SetExtranoncePrefix<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_EXTRANONCE_PREFIX,
    CHANNEL_BIT_SET_EXTRANONCE_PREFIX,
    "SetExtranoncePrefix"
);
impl_sv2_message!(
    SubmitSharesStandard,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SUBMIT_SHARES_STANDARD,
    CHANNEL_BIT_SUBMIT_SHARES_STANDARD,
    "SubmitSharesStandard"
);
impl_sv2_message!(
    SubmitSharesExtended<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED,
    CHANNEL_BIT_SUBMIT_SHARES_EXTENDED,
    "SubmitSharesExtended"
);
impl_sv2_message!(
    SubmitSharesSuccess,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS,
    CHANNEL_BIT_SUBMIT_SHARES_SUCCESS,
    "SubmitShares.Success"
);
impl_sv2_message!(
    SubmitSharesError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SUBMIT_SHARES_ERROR,
    CHANNEL_BIT_SUBMIT_SHARES_ERROR,
    "SubmitShares.Error"
);
impl_sv2_message!(
    NewExtendedMiningJob<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB,
    CHANNEL_BIT_NEW_EXTENDED_MINING_JOB,
    "NewExtendedMiningJob"
);
impl_sv2_message!(
    SetNewPrevHash,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH,
    CHANNEL_BIT_MINING_SET_NEW_PREV_HASH,
    "SetNewPrevHash"
);
impl_sv2_message!(
    SetTarget,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_TARGET,
    CHANNEL_BIT_SET_TARGET,
    "SetTarget"
);
impl_sv2_message!(
    SetCustomMiningJob<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_CUSTOM_MINING_JOB,
    CHANNEL_BIT_SET_CUSTOM_MINING_JOB,
    "SetCustomMiningJob"
);
impl_sv2_message!(
    SetCustomMiningJobSuccess,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_SUCCESS,
    CHANNEL_BIT_SET_CUSTOM_MINING_JOB_SUCCESS,
    "SetCustomMiningJob.Success"
);
impl_sv2_message!(
    SetCustomMiningJobError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_CUSTOM_MINING_JOB_ERROR,
    CHANNEL_BIT_SET_CUSTOM_MINING_JOB_ERROR,
    "SetCustomMiningJob.Error"
);
impl_sv2_message!(
    SetGroupChannel<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SET_GROUP_CHANNEL,
    CHANNEL_BIT_SET_GROUP_CHANNEL,
    "SetGroupChannel"
);

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
