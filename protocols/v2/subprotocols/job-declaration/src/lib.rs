//! # job_declaration_sv2
//!
//! The Job Declaration Protocol messages (06-Job-Declaration-Protocol.md): a miner's job
//! declarator client (JDC) declares the jobs it built from its own templates to the pool's job
//! declarator server (JDS).
//!
//! ```
//! use binary_sv2::{Decodable, Encodable};
//! use job_declaration_sv2::AllocateMiningJobToken;
//! let req = AllocateMiningJobToken { user_identifier: "farm1".try_into().unwrap(), request_id: 1 };
//! let bytes = req.to_bytes().unwrap();
//! assert_eq!(AllocateMiningJobToken::decode(&bytes).unwrap(), req);
//! ```

use binary_sv2::{
    Decodable, Encodable, IntoStatic, Seq064K, Str0255, B016M, B0255, B032, B064K, U256,
};
use const_sv2::*;
use framing_sv2::impl_sv2_message;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

macro_rules! message {
    ($(#[$meta:meta])* pub struct $name:ident $(<$lt:lifetime>)? { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Encodable, Decodable, IntoStatic)]
        #[cfg_attr(feature = "quickcheck", derive(binary_sv2::Arbitrary))]
        #[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(deny_unknown_fields))]
        pub struct $name $(<$lt>)? { $($body)* }
    };
}

message! {
    /// `AllocateMiningJobToken` (JDC -> JDS): ask for a token to declare a future job with.
    pub struct AllocateMiningJobToken<'a> {
        /// Who the job is for (the pool account).
        pub user_identifier: Str0255<'a>,
        pub request_id: u32,
    }
}

message! {
    /// `AllocateMiningJobToken.Success` (JDS -> JDC): the token, and the outputs the pool
    /// requires in the coinbase.
    pub struct AllocateMiningJobTokenSuccess<'a> {
        pub request_id: u32,
        pub mining_job_token: B0255<'a>,
        /// Serialized outputs the pool requires. Deployed implementations name this field
        /// `coinbase_outputs`; the spec's name is used here and both are accepted in JSON.
        #[cfg_attr(feature = "serde", serde(alias = "coinbase_outputs"))]
        pub coinbase_tx_outputs: B064K<'a>,
    }
}

message! {
    /// `ProvideMissingTransactions` (JDS -> JDC): the JDS lacks some transactions of a declared
    /// job; they are named by position in the job's `wtxid_list`.
    pub struct ProvideMissingTransactions<'a> {
        pub request_id: u32,
        pub unknown_tx_position_list: Seq064K<'a, u16>,
    }
}

message! {
    /// `ProvideMissingTransactions.Success` (JDC -> JDS): the missing transactions, in the
    /// order they were asked for.
    pub struct ProvideMissingTransactionsSuccess<'a> {
        pub request_id: u32,
        pub transaction_list: Seq064K<'a, B016M<'a>>,
    }
}

message! {
    /// `DeclareMiningJob` (JDC -> JDS): the job the miner will work on: its coinbase around the
    /// extranonce, and its transactions by wtxid.
    pub struct DeclareMiningJob<'a> {
        pub request_id: u32,
        /// Token from AllocateMiningJobToken.Success.
        pub mining_job_token: B0255<'a>,
        pub version: u32,
        pub coinbase_tx_prefix: B064K<'a>,
        pub coinbase_tx_suffix: B064K<'a>,
        /// wtxids of the block's transactions, coinbase excluded.
        pub wtxid_list: Seq064K<'a, U256>,
        pub excess_data: B064K<'a>,
    }
}

message! {
    /// `DeclareMiningJob.Success` (JDS -> JDC): the job is accepted; the new token goes into
    /// SetCustomMiningJob.
    pub struct DeclareMiningJobSuccess<'a> {
        pub request_id: u32,
        pub new_mining_job_token: B0255<'a>,
    }
}

message! {
    /// `DeclareMiningJob.Error` (JDS -> JDC): `invalid-mining-job-token` or
    /// `invalid-job-param-value-{field}`.
    pub struct DeclareMiningJobError<'a> {
        pub request_id: u32,
        pub error_code: Str0255<'a>,
        /// Optional details.
        pub error_details: B064K<'a>,
    }
}

message! {
    /// `PushSolution` (JDC -> JDS): a block was found on a declared job; the JDS propagates
    /// it too. (08-Message-Types.md still lists 0x60 as SubmitSolution.)
    pub struct PushSolution<'a> {
        /// The full extranonce (prefix and rolled part).
        pub extranonce: B032<'a>,
        pub prev_hash: U256,
        pub nonce: u32,
        pub ntime: u32,
        pub nbits: u32,
        pub version: u32,
    }
}

impl_sv2_message!(
    AllocateMiningJobToken<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN,
    CHANNEL_BIT_ALLOCATE_MINING_JOB_TOKEN,
    "AllocateMiningJobToken"
);
impl_sv2_message!(
    AllocateMiningJobTokenSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_ALLOCATE_MINING_JOB_TOKEN_SUCCESS,
    CHANNEL_BIT_ALLOCATE_MINING_JOB_TOKEN_SUCCESS,
    "AllocateMiningJobToken.Success"
);
impl_sv2_message!(
    ProvideMissingTransactions<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS,
    CHANNEL_BIT_PROVIDE_MISSING_TRANSACTIONS,
    "ProvideMissingTransactions"
);
impl_sv2_message!(
    ProvideMissingTransactionsSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_PROVIDE_MISSING_TRANSACTIONS_SUCCESS,
    CHANNEL_BIT_PROVIDE_MISSING_TRANSACTIONS_SUCCESS,
    "ProvideMissingTransactions.Success"
);
impl_sv2_message!(
    DeclareMiningJob<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_DECLARE_MINING_JOB,
    CHANNEL_BIT_DECLARE_MINING_JOB,
    "DeclareMiningJob"
);
impl_sv2_message!(
    DeclareMiningJobSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_DECLARE_MINING_JOB_SUCCESS,
    CHANNEL_BIT_DECLARE_MINING_JOB_SUCCESS,
    "DeclareMiningJob.Success"
);
impl_sv2_message!(
    DeclareMiningJobError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_DECLARE_MINING_JOB_ERROR,
    CHANNEL_BIT_DECLARE_MINING_JOB_ERROR,
    "DeclareMiningJob.Error"
);
impl_sv2_message!(
    PushSolution<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_PUSH_SOLUTION,
    CHANNEL_BIT_PUSH_SOLUTION,
    "PushSolution"
);

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
