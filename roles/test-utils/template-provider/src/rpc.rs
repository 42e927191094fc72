//! The Bitcoin Core JSON-RPC subset the simulator answers, over a [`Chain`]: the calls a job
//! declaration server makes of its node, with Core's parameters, result shapes, error codes
//! and messages, plus `reorg`, which only the simulator has. Sans-IO: a call and the time go
//! in, the result and the blocks it connected come out; `bitcoin_rpc::serve` does the HTTP.

use crate::chain::{AcceptedBlock, BlockInfo, Chain, FoundTransaction, MempoolInfo, TxLookupError};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{Block, BlockHash, ScriptBuf, Target, Transaction, Txid};
use bitcoin_rpc::RpcFailure;
use serde_json::{json, Map, Value};
use std::str::FromStr;

// Core's error codes (src/rpc/protocol.h).
const RPC_MISC_ERROR: i64 = -1;
const RPC_TYPE_ERROR: i64 = -3;
const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
const RPC_INVALID_PARAMETER: i64 = -8;
const RPC_DESERIALIZATION_ERROR: i64 = -22;
const RPC_INVALID_REQUEST: i64 = -32600;
const RPC_METHOD_NOT_FOUND: i64 = -32601;

/// What a call returns, and the blocks it made active (to announce to clients).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub result: Value,
    pub connected: Vec<AcceptedBlock>,
}

impl From<Value> for Outcome {
    fn from(result: Value) -> Self {
        Outcome {
            result,
            connected: Vec::new(),
        }
    }
}

/// Answer one call at time `now`.
pub(crate) fn dispatch(
    chain: &mut Chain,
    now: u32,
    method: &str,
    params: &Value,
) -> Result<Outcome, RpcFailure> {
    let usage = |u: &'static str| Call { params, usage: u };
    match method {
        "getbestblockhash" => {
            usage("getbestblockhash").args(&[], 0)?;
            Ok(json!(chain.tip().to_string()).into())
        }
        "getblockcount" => {
            usage("getblockcount").args(&[], 0)?;
            Ok(json!(chain.height()).into())
        }
        "getblockhash" => {
            let a = usage("getblockhash height").args(&["height"], 1)?;
            let height = int(a[0])?;
            let hash = u32::try_from(height)
                .ok()
                .filter(|&h| h <= chain.height())
                .and_then(|h| chain.block_at(h))
                .ok_or_else(|| {
                    RpcFailure::new(RPC_INVALID_PARAMETER, "Block height out of range")
                })?;
            Ok(json!(hash.to_string()).into())
        }
        "getblockheader" => {
            let a = usage("getblockheader \"blockhash\" ( verbose )")
                .args(&["blockhash", "verbose"], 1)?;
            let hash: BlockHash = hash_param(a[0], "hash")?;
            let verbose = boolean(a[1], true)?;
            let info = chain
                .block_info(&hash)
                .ok_or_else(|| RpcFailure::new(RPC_INVALID_ADDRESS_OR_KEY, "Block not found"))?;
            Ok(if verbose {
                header_json(&info)
            } else {
                json!(serialize(&info.header).to_lower_hex_string())
            }
            .into())
        }
        "getrawmempool" => {
            let a = usage("getrawmempool ( verbose mempool_sequence )")
                .args(&["verbose", "mempool_sequence"], 0)?;
            let (verbose, sequence) = (boolean(a[0], false)?, boolean(a[1], false)?);
            if verbose && sequence {
                return Err(RpcFailure::new(
                    RPC_INVALID_PARAMETER,
                    "Verbose results cannot contain mempool sequence values.",
                ));
            }
            let infos = chain.mempool_infos();
            Ok(if verbose {
                let map: Map<String, Value> = infos
                    .iter()
                    .map(|i| (i.txid.to_string(), entry_json(i)))
                    .collect();
                Value::Object(map)
            } else {
                let txids: Vec<String> = infos.iter().map(|i| i.txid.to_string()).collect();
                if sequence {
                    json!({"txids": txids, "mempool_sequence": chain.mempool_sequence()})
                } else {
                    json!(txids)
                }
            }
            .into())
        }
        "getmempoolentry" => {
            let a = usage("getmempoolentry \"txid\"").args(&["txid"], 1)?;
            let txid: Txid = hash_param(a[0], "parameter 1")?;
            let info = chain.mempool_info(&txid).ok_or_else(|| {
                RpcFailure::new(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
            })?;
            Ok(entry_json(&info).into())
        }
        "getrawtransaction" => {
            let a = usage("getrawtransaction \"txid\" ( verbosity \"blockhash\" )")
                .args(&["txid", "verbosity", "blockhash"], 1)?;
            let txid: Txid = hash_param(a[0], "parameter 1")?;
            let verbosity = match a[1] {
                None => 0,
                Some(Value::Bool(b)) => *b as i64,
                Some(v) => int(Some(v))?,
            };
            let block: Option<BlockHash> = match a[2] {
                Some(v) => Some(hash_param(Some(v), "parameter 3")?),
                None => None,
            };
            let found = chain
                .find_transaction(&txid, block.as_ref())
                .map_err(|e| match e {
                    TxLookupError::NotFound => RpcFailure::new(
                        RPC_INVALID_ADDRESS_OR_KEY,
                        "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
                    ),
                    TxLookupError::BlockNotFound => {
                        RpcFailure::new(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found")
                    }
                    TxLookupError::BlockNotAvailable => {
                        RpcFailure::new(RPC_MISC_ERROR, "Block not available")
                    }
                    TxLookupError::NotInBlock => RpcFailure::new(
                        RPC_INVALID_ADDRESS_OR_KEY,
                        "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
                    ),
                })?;
            Ok(if verbosity <= 0 {
                json!(serialize(&found.tx).to_lower_hex_string())
            } else {
                transaction_json(&found, block.is_some())
            }
            .into())
        }
        "submitblock" => {
            let a =
                usage("submitblock \"hexdata\" ( \"dummy\" )").args(&["hexdata", "dummy"], 1)?;
            let hex = string(a[0])?;
            let block: Block = Vec::<u8>::from_hex(hex)
                .ok()
                .and_then(|bytes| deserialize(&bytes).ok())
                .ok_or_else(|| RpcFailure::new(RPC_DESERIALIZATION_ERROR, "Block decode failed"))?;
            Ok(match chain.submit_block(block, now) {
                Ok(connected) => Outcome {
                    result: Value::Null,
                    connected,
                },
                Err(r) => json!(r.reason()).into(),
            })
        }
        "reorg" => {
            let a = usage("reorg depth  (simulator only)").args(&["depth"], 1)?;
            let depth = int(a[0])?;
            let depth = u32::try_from(depth).unwrap_or(u32::MAX);
            let connected = chain
                .reorg(depth, now)
                .map_err(|e| RpcFailure::new(RPC_INVALID_PARAMETER, e.to_string()))?;
            let hashes: Vec<String> = connected.iter().map(|b| b.hash.to_string()).collect();
            Ok(Outcome {
                result: json!(hashes),
                connected,
            })
        }
        _ => Err(RpcFailure::new(RPC_METHOD_NOT_FOUND, "Method not found")),
    }
}

/// The parameters of one call.
struct Call<'a> {
    params: &'a Value,
    usage: &'static str,
}

impl<'a> Call<'a> {
    /// Parameters by position or by name (`names` in order), `required` of them at least;
    /// JSON null counts as absent, as in Core.
    fn args(&self, names: &[&str], required: usize) -> Result<Vec<Option<&'a Value>>, RpcFailure> {
        let wrong_count = || RpcFailure::new(RPC_MISC_ERROR, self.usage);
        let mut out: Vec<Option<&Value>> = match self.params {
            Value::Null => Vec::new(),
            Value::Array(a) => {
                if a.len() > names.len() {
                    return Err(wrong_count());
                }
                a.iter().map(Some).collect()
            }
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| !names.contains(&k.as_str())) {
                    return Err(RpcFailure::new(
                        RPC_INVALID_PARAMETER,
                        format!("Unknown named parameter {k}"),
                    ));
                }
                names.iter().map(|n| o.get(*n)).collect()
            }
            _ => {
                return Err(RpcFailure::new(
                    RPC_INVALID_REQUEST,
                    "Params must be an array or object",
                ))
            }
        };
        out.resize(names.len(), None);
        for v in out.iter_mut() {
            if v.is_some_and(Value::is_null) {
                *v = None;
            }
        }
        if out[..required].iter().any(Option::is_none) {
            return Err(wrong_count());
        }
        Ok(out)
    }
}

fn type_error(v: &Value, expected: &str) -> RpcFailure {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    RpcFailure::new(
        RPC_TYPE_ERROR,
        format!("JSON value of type {got} is not of expected type {expected}"),
    )
}

fn string(v: Option<&Value>) -> Result<&str, RpcFailure> {
    let v = v.unwrap_or(&Value::Null);
    v.as_str().ok_or_else(|| type_error(v, "string"))
}

fn boolean(v: Option<&Value>, default: bool) -> Result<bool, RpcFailure> {
    match v {
        None => Ok(default),
        Some(v) => v.as_bool().ok_or_else(|| type_error(v, "bool")),
    }
}

fn int(v: Option<&Value>) -> Result<i64, RpcFailure> {
    let v = v.unwrap_or(&Value::Null);
    v.as_i64().ok_or_else(|| type_error(v, "number"))
}

/// A 32-byte hash in display hex, checked as Core's ParseHashV does.
fn hash_param<T: FromStr>(v: Option<&Value>, name: &str) -> Result<T, RpcFailure> {
    let s = string(v)?;
    if s.len() != 64 {
        return Err(RpcFailure::new(
            RPC_INVALID_PARAMETER,
            format!("{name} must be of length 64 (not {}, for '{s}')", s.len()),
        ));
    }
    s.parse().map_err(|_| {
        RpcFailure::new(
            RPC_INVALID_PARAMETER,
            format!("{name} must be hexadecimal string (not '{s}')"),
        )
    })
}

/// Satoshis as a JSON number of BTC, as Core prints amounts.
fn btc(sat: u64) -> Value {
    json!(sat as f64 / 1e8)
}

fn header_json(info: &BlockInfo) -> Value {
    let h = &info.header;
    let version = h.version.to_consensus();
    let target = Target::from_compact(h.bits);
    let mut v = json!({
        "hash": info.hash.to_string(),
        "confirmations": info.confirmations,
        "height": info.height,
        "version": version,
        "versionHex": format!("{:08x}", version as u32),
        "merkleroot": h.merkle_root.to_string(),
        "time": h.time,
        "mediantime": info.median_time,
        "nonce": h.nonce,
        "bits": format!("{:08x}", h.bits.to_consensus()),
        "target": target.to_be_bytes().to_lower_hex_string(),
        "difficulty": target.difficulty_float(),
        "chainwork": info.chainwork.to_be_bytes().to_lower_hex_string(),
        "nTx": info.transactions,
    });
    if info.height > 0 {
        v["previousblockhash"] = json!(h.prev_blockhash.to_string());
    }
    if let Some(next) = info.next {
        v["nextblockhash"] = json!(next.to_string());
    }
    v
}

fn entry_json(i: &MempoolInfo) -> Value {
    json!({
        "vsize": i.vsize,
        "weight": i.weight,
        "time": i.time,
        "height": i.height,
        "descendantcount": i.descendant_count,
        "descendantsize": i.descendant_size,
        "ancestorcount": i.ancestor_count,
        "ancestorsize": i.ancestor_size,
        "wtxid": i.wtxid.to_string(),
        "fees": {
            "base": btc(i.fee),
            "modified": btc(i.fee),
            "ancestor": btc(i.ancestor_fees),
            "descendant": btc(i.descendant_fees),
        },
        "depends": i.depends.iter().map(Txid::to_string).collect::<Vec<_>>(),
        "spentby": i.spent_by.iter().map(Txid::to_string).collect::<Vec<_>>(),
        "bip125-replaceable": i.replaceable,
        "unbroadcast": false,
    })
}

/// Core's name for a script's type.
fn script_type(s: &ScriptBuf) -> &'static str {
    if s.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if s.is_p2wsh() {
        "witness_v0_scripthash"
    } else if s.is_p2tr() {
        "witness_v1_taproot"
    } else if s.is_witness_program() {
        "witness_unknown"
    } else if s.is_p2pkh() {
        "pubkeyhash"
    } else if s.is_p2sh() {
        "scripthash"
    } else if s.is_p2pk() {
        "pubkey"
    } else if s.is_multisig() {
        "multisig"
    } else if s.is_op_return() {
        "nulldata"
    } else {
        "nonstandard"
    }
}

/// `getrawtransaction` with verbosity 1: the decoded transaction, without the `asm`,
/// `desc` and `address` fields.
fn transaction_json(found: &FoundTransaction, block_given: bool) -> Value {
    let tx: &Transaction = &found.tx;
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|i| {
            let mut v = if tx.is_coinbase() {
                json!({"coinbase": i.script_sig.as_bytes().to_lower_hex_string()})
            } else {
                json!({
                    "txid": i.previous_output.txid.to_string(),
                    "vout": i.previous_output.vout,
                    "scriptSig": {"hex": i.script_sig.as_bytes().to_lower_hex_string()},
                })
            };
            if !i.witness.is_empty() {
                v["txinwitness"] = i
                    .witness
                    .iter()
                    .map(|w| json!(w.to_lower_hex_string()))
                    .collect();
            }
            v["sequence"] = json!(i.sequence.0);
            v
        })
        .collect();
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, o)| {
            json!({
                "value": btc(o.value.to_sat()),
                "n": n,
                "scriptPubKey": {
                    "hex": o.script_pubkey.as_bytes().to_lower_hex_string(),
                    "type": script_type(&o.script_pubkey),
                },
            })
        })
        .collect();
    let mut v = json!({
        "txid": tx.compute_txid().to_string(),
        "hash": tx.compute_wtxid().to_string(),
        "version": tx.version.0,
        "size": tx.total_size(),
        "vsize": tx.vsize(),
        "weight": tx.weight().to_wu(),
        "locktime": tx.lock_time.to_consensus_u32(),
        "vin": vin,
        "vout": vout,
        "hex": serialize(tx).to_lower_hex_string(),
    });
    if let Some(b) = &found.block {
        if block_given {
            v["in_active_chain"] = json!(b.confirmations > 0);
        }
        v["blockhash"] = json!(b.hash.to_string());
        if b.confirmations > 0 {
            v["confirmations"] = json!(b.confirmations);
            v["time"] = json!(b.time);
            v["blocktime"] = json!(b.time);
        } else {
            v["confirmations"] = json!(0);
        }
    }
    v
}
