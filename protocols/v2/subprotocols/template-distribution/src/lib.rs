//! # template_distribution_sv2
//!
//! The Template Distribution Protocol messages (07-Template-Distribution-Protocol.md): how a
//! template provider (a Bitcoin node) hands block templates to a pool or job declarator, and
//! takes solutions back.
//!
//! ```
//! use binary_sv2::{Decodable, Encodable};
//! use template_distribution_sv2::RequestTransactionData;
//! let bytes = RequestTransactionData { template_id: 7 }.to_bytes().unwrap();
//! assert_eq!(bytes, [7, 0, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(RequestTransactionData::decode(&bytes).unwrap().template_id, 7);
//! ```

use binary_sv2::{
    Decodable, Encodable, IntoStatic, Seq0255, Seq064K, Str0255, B016M, B0255, B064K, U256,
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
    /// `CoinbaseOutputConstraints` (Client -> Server): how much room the client needs in the
    /// coinbase for its own outputs, so that templates leave space for them.
    pub struct CoinbaseOutputConstraints {
        /// Additional serialized bytes of outputs the client will add.
        pub coinbase_output_max_additional_size: u32,
        /// Additional sigops of those outputs.
        pub coinbase_output_max_additional_sigops: u16,
    }
}

message! {
    /// `NewTemplate` (Server -> Client): a block template, described by its coinbase pieces and
    /// the merkle path; `future_template` templates wait for a SetNewPrevHash.
    pub struct NewTemplate<'a> {
        /// Server's id of the template.
        pub template_id: u64,
        /// True if the template is for a future prev hash.
        pub future_template: bool,
        /// Block header version.
        pub version: u32,
        pub coinbase_tx_version: u32,
        /// Start of the coinbase scriptSig (BIP34 height); the client appends its own bytes.
        pub coinbase_prefix: B0255<'a>,
        /// nSequence of the coinbase input.
        pub coinbase_tx_input_sequence: u32,
        /// Satoshis left for the client's outputs (subsidy plus fees minus the template's
        /// outputs).
        pub coinbase_tx_value_remaining: u64,
        /// Number of outputs in `coinbase_tx_outputs`.
        pub coinbase_tx_outputs_count: u32,
        /// Outputs the coinbase must contain (e.g. the witness commitment), serialized.
        pub coinbase_tx_outputs: B064K<'a>,
        pub coinbase_tx_locktime: u32,
        /// Merkle path of the coinbase.
        pub merkle_path: Seq0255<'a, U256>,
    }
}

message! {
    /// `SetNewPrevHash` (Server -> Client, template distribution): the chain tip moved; the
    /// named future template becomes active.
    pub struct SetNewPrevHash {
        pub template_id: u64,
        pub prev_hash: U256,
        /// Block header timestamp to start with.
        pub header_timestamp: u32,
        /// Network target in compact form (the spec writes `nBits`).
        pub n_bits: u32,
        /// Network target, expanded.
        pub target: U256,
    }
}

message! {
    /// `RequestTransactionData` (Client -> Server): ask for a template's transactions (job
    /// declaration needs them).
    pub struct RequestTransactionData {
        pub template_id: u64,
    }
}

message! {
    /// `RequestTransactionData.Success` (Server -> Client): the template's transactions.
    pub struct RequestTransactionDataSuccess<'a> {
        pub template_id: u64,
        /// Extra data for future use.
        pub excess_data: B064K<'a>,
        /// The serialized transactions, coinbase excluded, in block order.
        pub transaction_list: Seq064K<'a, B016M<'a>>,
    }
}

message! {
    /// `RequestTransactionData.Error` (Server -> Client): `template-id-not-found` or
    /// `stale-template-id`.
    pub struct RequestTransactionDataError<'a> {
        pub template_id: u64,
        pub error_code: Str0255<'a>,
    }
}

message! {
    /// `SubmitSolution` (Client -> Server): a block was found on this template; the server
    /// builds and broadcasts it.
    pub struct SubmitSolution<'a> {
        pub template_id: u64,
        pub version: u32,
        pub header_timestamp: u32,
        pub header_nonce: u32,
        /// The full serialized coinbase transaction.
        pub coinbase_tx: B064K<'a>,
    }
}

impl_sv2_message!(
    CoinbaseOutputConstraints,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_COINBASE_OUTPUT_CONSTRAINTS,
    CHANNEL_BIT_COINBASE_OUTPUT_CONSTRAINTS,
    "CoinbaseOutputConstraints"
);
impl_sv2_message!(
    NewTemplate<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_NEW_TEMPLATE,
    CHANNEL_BIT_NEW_TEMPLATE,
    "NewTemplate"
);
impl_sv2_message!(
    SetNewPrevHash,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH,
    CHANNEL_BIT_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH,
    "SetNewPrevHash"
);
impl_sv2_message!(
    RequestTransactionData,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_REQUEST_TRANSACTION_DATA,
    CHANNEL_BIT_REQUEST_TRANSACTION_DATA,
    "RequestTransactionData"
);
impl_sv2_message!(
    RequestTransactionDataSuccess<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_SUCCESS,
    CHANNEL_BIT_REQUEST_TRANSACTION_DATA_SUCCESS,
    "RequestTransactionData.Success"
);
impl_sv2_message!(
    RequestTransactionDataError<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_REQUEST_TRANSACTION_DATA_ERROR,
    CHANNEL_BIT_REQUEST_TRANSACTION_DATA_ERROR,
    "RequestTransactionData.Error"
);
impl_sv2_message!(
    SubmitSolution<'a>,
    EXTENSION_TYPE_NO_EXTENSION,
    MESSAGE_TYPE_SUBMIT_SOLUTION,
    CHANNEL_BIT_SUBMIT_SOLUTION,
    "SubmitSolution"
);

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
