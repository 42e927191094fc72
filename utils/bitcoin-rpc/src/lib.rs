//! # bitcoin_rpc
//!
//! The Bitcoin Core JSON-RPC calls a job declarator server needs, as an async client
//! ([`RpcClient`]), and a server of the same calls ([`serve`]) so that a simulator can stand in
//! for a node in tests. Only RPCs current Bitcoin Core has are used: `getbestblockhash`,
//! `getblockcount`, `getblockheader`, `getrawmempool` (verbose), `getmempoolentry`,
//! `getrawtransaction` and `submitblock`.
//!
//! Authentication is HTTP basic, with a user and password or with the node's cookie file
//! (read again when the node answers 401, as it does after a restart writes a new cookie).
//!
//! ```no_run
//! # async fn example() -> Result<(), bitcoin_rpc::RpcError> {
//! use bitcoin_rpc::{Auth, RpcClient};
//! let node = RpcClient::new("http://127.0.0.1:8332", Auth::CookieFile("/home/me/.bitcoin/.cookie".into()))?;
//! println!("tip {} at height {}", node.get_best_block_hash().await?, node.get_block_count().await?);
//! # Ok(()) }
//! ```

mod client;
mod server;

pub use client::{Auth, RpcClient};
pub use server::{serve, Handler, RpcFailure};

use serde::{Deserialize, Serialize};
use std::fmt;

/// One `getrawmempool true` / `getmempoolentry` entry, the fields used here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MempoolEntry {
    /// Hex, as displayed (byte-reversed).
    pub wtxid: String,
    /// Transaction weight (BIP141).
    pub weight: u64,
    pub fees: MempoolFees,
}

/// The fees of a mempool entry, in BTC as Core reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MempoolFees {
    /// The transaction's own fee. Kept as Core's decimal text; see [`MempoolFees::base_sat`].
    #[serde(with = "btc_amount")]
    pub base: u64,
}

impl MempoolFees {
    pub fn base_sat(&self) -> u64 {
        self.base
    }
}

/// `getblockheader <hash> true`, the fields used here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeaderInfo {
    pub hash: String,
    pub height: u64,
    /// Absent for the genesis block.
    #[serde(rename = "previousblockhash", default)]
    pub previous_block_hash: Option<String>,
    /// Compact target, hex.
    pub bits: String,
}

/// BTC amounts as JSON numbers, held as satoshis. Core prints at most 8 decimals, and every
/// amount up to 21 million BTC is below 2^53 satoshis, so going through an f64 and rounding
/// gives the exact satoshi count.
mod btc_amount {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sat: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(*sat as f64 / 1e8)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let btc = f64::deserialize(d)?;
        super::btc_to_sat(btc).ok_or_else(|| serde::de::Error::custom("not a BTC amount"))
    }
}

/// A BTC amount as satoshis; `None` when negative, not finite or over 21 million BTC.
pub fn btc_to_sat(btc: f64) -> Option<u64> {
    if !(btc.is_finite() && (0.0..=21e6).contains(&btc)) {
        return None;
    }
    Some((btc * 1e8).round() as u64)
}

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RpcError {
    /// The URL is not `http://host:port[/path]`.
    Url(String),
    Io(std::io::Error),
    Http(String),
    /// The node refused the credentials (HTTP 401).
    Unauthorized,
    /// The cookie file could not be read.
    Cookie {
        path: String,
        error: std::io::Error,
    },
    /// The node answered with an error object.
    Rpc {
        code: i64,
        message: String,
    },
    /// The answer was not the JSON expected.
    Json(String),
    /// No answer in time.
    Timeout,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Url(u) => write!(f, "bad RPC URL {u:?}: expected http://host:port"),
            RpcError::Io(e) => write!(f, "RPC connection: {e}"),
            RpcError::Http(e) => write!(f, "RPC HTTP: {e}"),
            RpcError::Unauthorized => f.write_str("the node refused the RPC credentials"),
            RpcError::Cookie { path, error } => write!(f, "RPC cookie file {path}: {error}"),
            RpcError::Rpc { code, message } => write!(f, "RPC error {code}: {message}"),
            RpcError::Json(e) => write!(f, "unexpected RPC answer: {e}"),
            RpcError::Timeout => f.write_str("the node did not answer in time"),
        }
    }
}

impl std::error::Error for RpcError {}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btc_amounts_are_exact_satoshis() {
        assert_eq!(btc_to_sat(0.00012345), Some(12_345));
        assert_eq!(btc_to_sat(21.0), Some(2_100_000_000));
        assert_eq!(btc_to_sat(20_999_999.976_9), Some(2_099_999_997_690_000));
        assert_eq!(btc_to_sat(-1.0), None);
        assert_eq!(btc_to_sat(f64::NAN), None);
        let e: MempoolFees = serde_json::from_str(r#"{"base": 0.00001000}"#).unwrap();
        assert_eq!(e.base_sat(), 1000);
        let back: MempoolFees = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        // Every satoshi count survives the trip through Core's decimal form.
        for sat in [1u64, 99_999_999, 123_456_789, 2_100_000_000_000_000] {
            let text = format!("{}.{:08}", sat / 100_000_000, sat % 100_000_000);
            assert_eq!(btc_to_sat(text.parse().unwrap()), Some(sat), "{text}");
        }
    }
}
