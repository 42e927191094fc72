//! The client: one HTTP/1.1 POST per call (calls are rare: tips, mempool refreshes, blocks),
//! on hyper.

use crate::{BlockHeaderInfo, MempoolEntry, RpcError};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum Auth {
    UserPass {
        user: String,
        password: String,
    },
    /// The node's `.cookie` file (`__cookie__:<random>`), read for each new connection.
    CookieFile(PathBuf),
    None,
}

/// A Bitcoin Core JSON-RPC client.
#[derive(Debug)]
pub struct RpcClient {
    host: String,
    path: String,
    auth: Auth,
    timeout: Duration,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client of the node at `url` (`http://host:port`, optionally with a path such as a
    /// wallet's `/wallet/name`).
    pub fn new(url: &str, auth: Auth) -> Result<RpcClient, RpcError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| RpcError::Url(url.into()))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if host.is_empty() || !host.contains(':') {
            return Err(RpcError::Url(url.into()));
        }
        Ok(RpcClient {
            host: host.to_string(),
            path: path.to_string(),
            auth,
            timeout: Duration::from_secs(30),
            next_id: AtomicU64::new(1),
        })
    }

    fn authorization(&self) -> Result<Option<String>, RpcError> {
        let pair = match &self.auth {
            Auth::None => return Ok(None),
            Auth::UserPass { user, password } => format!("{user}:{password}"),
            Auth::CookieFile(p) => std::fs::read_to_string(p)
                .map_err(|error| RpcError::Cookie {
                    path: p.display().to_string(),
                    error,
                })?
                .trim()
                .to_string(),
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
        Ok(Some(format!("Basic {b64}")))
    }

    /// Call `method` with `params` and read its result as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params});
        let bytes = tokio::time::timeout(self.timeout, self.post(body.to_string()))
            .await
            .map_err(|_| RpcError::Timeout)??;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| RpcError::Json(e.to_string()))?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(RpcError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        let result = v.get("result").cloned().unwrap_or(Value::Null);
        serde_json::from_value(result).map_err(|e| RpcError::Json(format!("{method}: {e}")))
    }

    async fn post(&self, body: String) -> Result<Bytes, RpcError> {
        let stream = TcpStream::connect(&self.host).await.map_err(RpcError::Io)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| RpcError::Http(e.to_string()))?;
        // The connection task ends with the one request.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::post(&self.path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(a) = self.authorization()? {
            req = req.header(hyper::header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RpcError::Http(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| RpcError::Http(e.to_string()))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RpcError::Unauthorized);
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| RpcError::Http(e.to_string()))?
            .to_bytes();
        // Core answers errors with 404/500 and a JSON body that says why.
        if !status.is_success() && bytes.is_empty() {
            return Err(RpcError::Http(format!("HTTP {status}")));
        }
        Ok(bytes)
    }

    /// The tip's hash (display hex).
    pub async fn get_best_block_hash(&self) -> Result<String, RpcError> {
        self.call("getbestblockhash", json!([])).await
    }

    /// The tip's height.
    pub async fn get_block_count(&self) -> Result<u64, RpcError> {
        self.call("getblockcount", json!([])).await
    }

    /// A block's header by hash; `Rpc { code: -5 }` when the node does not know it.
    pub async fn get_block_header(&self, hash: &str) -> Result<BlockHeaderInfo, RpcError> {
        self.call("getblockheader", json!([hash, true])).await
    }

    /// Every mempool transaction (txid, display hex) with its wtxid, weight and fee.
    pub async fn get_raw_mempool_verbose(&self) -> Result<HashMap<String, MempoolEntry>, RpcError> {
        self.call("getrawmempool", json!([true])).await
    }

    pub async fn get_mempool_entry(&self, txid: &str) -> Result<MempoolEntry, RpcError> {
        self.call("getmempoolentry", json!([txid])).await
    }

    /// A transaction's serialization (with witness).
    pub async fn get_raw_transaction(&self, txid: &str) -> Result<Vec<u8>, RpcError> {
        let hex: String = self.call("getrawtransaction", json!([txid, false])).await?;
        hex::decode(hex).map_err(|e| RpcError::Json(format!("getrawtransaction: {e}")))
    }

    /// Many transactions in one JSON-RPC batch (one HTTP request): each one's serialization,
    /// or the node's error for it (-5 when it does not have it).
    pub async fn get_raw_transactions(
        &self,
        txids: &[String],
    ) -> Result<Vec<Result<Vec<u8>, RpcError>>, RpcError> {
        if txids.is_empty() {
            return Ok(Vec::new());
        }
        let first = self
            .next_id
            .fetch_add(txids.len() as u64, Ordering::Relaxed);
        let batch: Vec<Value> = txids
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({"jsonrpc": "1.0", "id": first + i as u64, "method": "getrawtransaction", "params": [t, false]})
            })
            .collect();
        let bytes = tokio::time::timeout(self.timeout, self.post(Value::Array(batch).to_string()))
            .await
            .map_err(|_| RpcError::Timeout)??;
        let answers: Vec<Value> =
            serde_json::from_slice(&bytes).map_err(|e| RpcError::Json(e.to_string()))?;
        // Answers may come in any order: match them by id.
        let mut out: Vec<Result<Vec<u8>, RpcError>> = (0..txids.len())
            .map(|_| Err(RpcError::Json("no answer in the batch".into())))
            .collect();
        for a in answers {
            let Some(i) = a
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| id.checked_sub(first))
                .filter(|&i| (i as usize) < txids.len())
            else {
                continue;
            };
            out[i as usize] = match (a.get("error").filter(|e| !e.is_null()), a.get("result")) {
                (Some(e), _) => Err(RpcError::Rpc {
                    code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                }),
                (None, Some(Value::String(h))) => {
                    hex::decode(h).map_err(|e| RpcError::Json(e.to_string()))
                }
                _ => Err(RpcError::Json("getrawtransaction: not a string".into())),
            };
        }
        Ok(out)
    }

    /// Submit a whole block; `Ok(None)` when the node took it, `Ok(Some(reason))` when it
    /// refused it (`duplicate`, `inconclusive`, `bad-txnmrklroot`...).
    pub async fn submit_block(&self, block: &[u8]) -> Result<Option<String>, RpcError> {
        self.call("submitblock", json!([hex::encode(block)])).await
    }
}
