//! The client against the server over loopback: each call, credentials, errors.

use bitcoin_rpc::{serve, Auth, Handler, RpcClient, RpcError, RpcFailure};
use serde_json::{json, Value};
use std::sync::Arc;

async fn node(credentials: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(|method: &str, params: &Value| match method {
        "getbestblockhash" => Ok(json!("00".repeat(32))),
        "getblockcount" => Ok(json!(42)),
        "getblockheader" => match params[0].as_str() {
            Some(h) if h == "11".repeat(32) => Ok(json!({
                "hash": h, "height": 41, "previousblockhash": "22".repeat(32), "bits": "207fffff"
            })),
            _ => Err(RpcFailure::new(-5, "Block not found")),
        },
        "getrawmempool" => Ok(json!({
            "aa": {"wtxid": "bb", "weight": 561, "fees": {"base": 0.00002250}}
        })),
        "getrawtransaction" => match params[0].as_str() {
            Some("missing") => Err(RpcFailure::new(-5, "No such mempool transaction")),
            _ => Ok(json!("0102ff")),
        },
        "submitblock" => match params[0].as_str() {
            Some("00") => Ok(Value::Null),
            _ => Ok(json!("bad-txnmrklroot")),
        },
        _ => Err(RpcFailure::new(-32601, "Method not found")),
    });
    tokio::spawn(serve(listener, credentials.map(String::from), handler));
    format!("http://{addr}")
}

#[tokio::test]
async fn every_call_round_trips() {
    let url = node(Some("u:p")).await;
    let c = RpcClient::new(
        &url,
        Auth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
    )
    .unwrap();
    assert_eq!(c.get_best_block_hash().await.unwrap(), "00".repeat(32));
    assert_eq!(c.get_block_count().await.unwrap(), 42);
    let h = c.get_block_header(&"11".repeat(32)).await.unwrap();
    assert_eq!(
        (h.height, h.previous_block_hash),
        (41, Some("22".repeat(32)))
    );
    match c.get_block_header("ff").await {
        Err(RpcError::Rpc { code: -5, .. }) => {}
        other => panic!("{other:?}"),
    }
    let m = c.get_raw_mempool_verbose().await.unwrap();
    assert_eq!(m["aa"].fees.base_sat(), 2250);
    assert_eq!(m["aa"].weight, 561);
    assert_eq!(c.get_raw_transaction("aa").await.unwrap(), vec![1, 2, 0xff]);
    let batch = c
        .get_raw_transactions(&["aa".into(), "missing".into(), "bb".into()])
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0].as_ref().unwrap(), &vec![1, 2, 0xff]);
    assert!(matches!(batch[1], Err(RpcError::Rpc { code: -5, .. })));
    assert!(batch[2].is_ok());
    assert_eq!(c.submit_block(&[0]).await.unwrap(), None);
    assert_eq!(
        c.submit_block(&[1]).await.unwrap().as_deref(),
        Some("bad-txnmrklroot")
    );
    match c.call::<Value>("nosuchmethod", json!([])).await {
        Err(RpcError::Rpc { code: -32601, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn credentials_are_checked_and_cookie_files_read() {
    let url = node(Some("__cookie__:secret")).await;
    let wrong = RpcClient::new(
        &url,
        Auth::UserPass {
            user: "u".into(),
            password: "x".into(),
        },
    )
    .unwrap();
    assert!(matches!(
        wrong.get_block_count().await,
        Err(RpcError::Unauthorized)
    ));
    let dir = std::env::temp_dir().join(format!("rpc-cookie-{}", std::process::id()));
    std::fs::write(&dir, "__cookie__:secret\n").unwrap();
    let c = RpcClient::new(&url, Auth::CookieFile(dir.clone())).unwrap();
    assert_eq!(c.get_block_count().await.unwrap(), 42);
    std::fs::remove_file(&dir).unwrap();
    assert!(matches!(
        c.get_block_count().await,
        Err(RpcError::Cookie { .. })
    ));
}

#[tokio::test]
async fn bad_urls_and_dead_nodes_are_errors_not_panics() {
    assert!(matches!(
        RpcClient::new("https://x:1", Auth::None),
        Err(RpcError::Url(_))
    ));
    assert!(matches!(
        RpcClient::new("http://nohost", Auth::None),
        Err(RpcError::Url(_))
    ));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = RpcClient::new(&format!("http://{dead}"), Auth::None).unwrap();
    assert!(matches!(c.get_block_count().await, Err(RpcError::Io(_))));
}
