//! The Bitcoin Core RPC subset over loopback, with the client a job declaration server uses:
//! each call's answers and errors, blocks built from RPC data alone, the same chain seen by
//! Template Distribution clients, private transactions, reorganisations, large mempools.

mod common;

use bitcoin::block::{Header, Version};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, ScriptBuf, Target, Transaction, TxMerkleNode, TxOut,
    Txid, WitnessMerkleNode,
};
use bitcoin_rpc::{Auth, RpcClient, RpcError};
use common::{next_tip, noise_client, set_up, template_client, template_transactions};
use serde_json::{json, Value};
use std::time::Duration;
use template_provider::chain::{bip34_prefix, segwit_coinbase, subsidy};
use template_provider::{Config, TemplateProvider, TpEvent};

fn config() -> Config {
    Config {
        listen_address: "127.0.0.1:0".parse().unwrap(),
        rpc_address: Some("127.0.0.1:0".parse().unwrap()),
        rpc_credentials: Some("user:pass".into()),
        // A few hashes per block.
        block_difficulty: 1e-9,
        // Nothing changes under the tests but what they do.
        template_interval: Duration::from_secs(3600),
        ..Config::default()
    }
}

fn rpc(tp: &TemplateProvider) -> RpcClient {
    rpc_as(tp, "user", "pass")
}

fn rpc_as(tp: &TemplateProvider, user: &str, password: &str) -> RpcClient {
    let url = format!("http://{}", tp.rpc_address().unwrap());
    RpcClient::new(
        &url,
        Auth::UserPass {
            user: user.into(),
            password: password.into(),
        },
    )
    .unwrap()
}

/// The error code and message of a failed call.
async fn error(node: &RpcClient, method: &str, params: Value) -> (i64, String) {
    match node.call::<Value>(method, params).await {
        Err(RpcError::Rpc { code, message }) => (code, message),
        other => panic!("{method}: {other:?}"),
    }
}

async fn call(node: &RpcClient, method: &str, params: Value) -> Value {
    node.call(method, params).await.unwrap()
}

/// A block on `prev` (height `height`, parent time `prev_time`) with `txs` whose fees are
/// `fees`, mined at the target of `bits`.
fn make_block(
    prev: BlockHash,
    height: u32,
    prev_time: u32,
    bits: CompactTarget,
    txs: Vec<Transaction>,
    fees: u64,
    tag: u8,
) -> Block {
    let mut script_sig = bip34_prefix(height);
    script_sig.extend_from_slice(&[0x01, tag]);
    let wtxids =
        std::iter::once([0u8; 32]).chain(txs.iter().map(|t| t.compute_wtxid().to_byte_array()));
    let root = bitcoin::merkle_tree::calculate_root(wtxids.map(WitnessMerkleNode::from_byte_array))
        .unwrap();
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut commitment_script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    commitment_script.extend_from_slice(commitment.as_byte_array());
    let coinbase = segwit_coinbase(
        script_sig,
        vec![
            TxOut {
                value: Amount::from_sat(subsidy(height) + fees),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
            },
            TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::from_bytes(commitment_script),
            },
        ],
    );
    let mut txdata = vec![coinbase];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: prev_time + 1,
            bits,
            nonce: 0,
        },
        txdata,
    };
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    let target = Target::from_compact(bits);
    while !target.is_met_by(block.block_hash()) {
        block.header.nonce += 1;
    }
    block
}

/// An empty block on the tip.
async fn empty_block(node: &RpcClient, tag: u8) -> Block {
    let best = node.get_best_block_hash().await.unwrap();
    let tip = call(node, "getblockheader", json!([best])).await;
    let bits = u32::from_str_radix(tip["bits"].as_str().unwrap(), 16).unwrap();
    make_block(
        best.parse().unwrap(),
        tip["height"].as_u64().unwrap() as u32 + 1,
        tip["time"].as_u64().unwrap() as u32,
        CompactTarget::from_consensus(bits),
        vec![],
        0,
        tag,
    )
}

/// A block on the tip with every transaction the RPC shows, built from RPC answers only, as
/// a job declaration server would.
async fn block_from_rpc(node: &RpcClient, tag: u8) -> Block {
    let best = node.get_best_block_hash().await.unwrap();
    let tip = call(node, "getblockheader", json!([best])).await;
    let mempool = node.get_raw_mempool_verbose().await.unwrap();
    // Parents before children: follow `depends`.
    let verbose = call(node, "getrawmempool", json!([true])).await;
    let entries = verbose.as_object().unwrap();
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < entries.len() {
        for (t, e) in entries {
            let deps: Vec<String> = serde_json::from_value(e["depends"].clone()).unwrap();
            if !ordered.contains(t) && deps.iter().all(|d| ordered.contains(d)) {
                ordered.push(t.clone());
            }
        }
    }
    let mut txs = Vec::new();
    for t in &ordered {
        let raw = node.get_raw_transaction(t).await.unwrap();
        txs.push(deserialize::<Transaction>(&raw).unwrap());
    }
    let fees = mempool.values().map(|e| e.fees.base_sat()).sum();
    let bits = u32::from_str_radix(tip["bits"].as_str().unwrap(), 16).unwrap();
    make_block(
        best.parse().unwrap(),
        tip["height"].as_u64().unwrap() as u32 + 1,
        tip["time"].as_u64().unwrap() as u32,
        CompactTarget::from_consensus(bits),
        txs,
        fees,
        tag,
    )
}

#[tokio::test]
async fn every_call_answers_as_core_does() {
    let tp = TemplateProvider::start(config()).await.unwrap();
    let node = rpc(&tp);
    let (td, _, _) = template_client(&tp).await;
    let mut events = tp.subscribe();

    let genesis = node.get_best_block_hash().await.unwrap();
    assert_eq!(genesis, tp.tip().to_string());
    assert_eq!(node.get_block_count().await.unwrap(), 0);
    assert_eq!(
        call(&node, "getblockhash", json!([0])).await,
        json!(genesis)
    );
    assert_eq!(
        error(&node, "getblockhash", json!([1])).await,
        (-8, "Block height out of range".into())
    );
    let h = call(&node, "getblockheader", json!([genesis])).await;
    assert_eq!(
        (h["height"].clone(), h["confirmations"].clone()),
        (json!(0), json!(1))
    );
    assert!(h.get("previousblockhash").is_none());
    assert_eq!(h["versionHex"], json!("20000000"));
    assert_eq!(h["chainwork"].as_str().unwrap().len(), 64);
    let raw = call(&node, "getblockheader", json!([genesis, false])).await;
    let bytes: Vec<u8> = FromHex::from_hex(raw.as_str().unwrap()).unwrap();
    let header: Header = deserialize(&bytes).unwrap();
    assert_eq!(header.block_hash().to_string(), genesis);
    // Named parameters work as well.
    let named = call(&node, "getblockheader", json!({"blockhash": genesis})).await;
    assert_eq!(named, h);
    assert_eq!(
        error(&node, "getblockheader", json!(["ff"])).await,
        (-8, "hash must be of length 64 (not 2, for 'ff')".into())
    );
    assert_eq!(
        error(&node, "getblockheader", json!(["zz".repeat(32)]))
            .await
            .0,
        -8
    );
    assert_eq!(
        error(&node, "getblockheader", json!(["11".repeat(32)])).await,
        (-5, "Block not found".into())
    );
    assert_eq!(error(&node, "getblockheader", json!([])).await.0, -1);
    assert_eq!(
        error(&node, "getblockheader", json!([genesis, 1])).await,
        (
            -3,
            "JSON value of type number is not of expected type bool".into()
        )
    );

    // The mempool: the five transactions of the first interval.
    let listed: Vec<String> = node.call("getrawmempool", json!([])).await.unwrap();
    let verbose = node.get_raw_mempool_verbose().await.unwrap();
    assert_eq!(listed.len(), 5);
    assert_eq!(verbose.len(), 5);
    let seq = call(&node, "getrawmempool", json!([false, true])).await;
    assert_eq!(seq["txids"], json!(listed));
    assert!(seq["mempool_sequence"].as_u64().unwrap() >= 5);
    assert_eq!(
        error(&node, "getrawmempool", json!([true, true])).await.0,
        -8
    );
    let first = &listed[0];
    let entry = node.get_mempool_entry(first).await.unwrap();
    assert_eq!(entry, verbose[first]);
    assert_eq!(entry.fees.base_sat(), 1000);
    let full = call(&node, "getmempoolentry", json!([first])).await;
    assert_eq!(full["vsize"], json!(entry.weight.div_ceil(4)));
    assert_eq!(full["ancestorcount"], json!(1));
    assert_eq!(full["bip125-replaceable"], json!(true));
    assert_eq!(
        error(&node, "getmempoolentry", json!(["22".repeat(32)])).await,
        (-5, "Transaction not in mempool".into())
    );
    let raw = node.get_raw_transaction(first).await.unwrap();
    let tx: Transaction = deserialize(&raw).unwrap();
    assert_eq!(tx.compute_txid().to_string(), *first);
    assert_eq!(tx.compute_wtxid().to_string(), entry.wtxid);
    let decoded = call(&node, "getrawtransaction", json!([first, true])).await;
    assert_eq!(decoded["txid"], json!(first));
    assert_eq!(decoded["hash"], json!(entry.wtxid));
    assert_eq!(
        decoded["vout"][0]["scriptPubKey"]["type"],
        json!("witness_v0_keyhash")
    );
    assert!(decoded.get("blockhash").is_none());
    let missing = error(&node, "getrawtransaction", json!(["33".repeat(32)])).await;
    assert_eq!(missing.0, -5);
    assert!(missing
        .1
        .starts_with("No such mempool or blockchain transaction"));

    // A block made from RPC answers alone is accepted like a SubmitSolution.
    let block = block_from_rpc(&node, 1).await;
    let hash = block.block_hash();
    assert_eq!(node.submit_block(&serialize(&block)).await.unwrap(), None);
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Ok(TpEvent::BlockAccepted(b))) => {
            assert_eq!((b.hash, b.height, b.transactions), (hash, 1, 5));
            assert!(b.submitted);
        }
        other => panic!("{other:?}"),
    }
    let (_, p) = next_tip(&td).await;
    assert_eq!(
        p.prev_hash.0,
        hash.to_byte_array(),
        "clients moved to the new tip"
    );
    assert_eq!(node.get_best_block_hash().await.unwrap(), hash.to_string());
    assert_eq!(node.get_block_count().await.unwrap(), 1);
    let new = node.get_block_header(&hash.to_string()).await.unwrap();
    assert_eq!(new.previous_block_hash.as_deref(), Some(genesis.as_str()));
    let old = call(&node, "getblockheader", json!([genesis])).await;
    assert_eq!(old["nextblockhash"], json!(hash.to_string()));
    assert_eq!(old["confirmations"], json!(2));
    assert!(node.get_raw_mempool_verbose().await.unwrap().is_empty());
    // Its transactions are found in it.
    assert_eq!(node.get_raw_transaction(first).await.unwrap(), raw);
    let mined = call(
        &node,
        "getrawtransaction",
        json!([first, 1, hash.to_string()]),
    )
    .await;
    assert_eq!(mined["blockhash"], json!(hash.to_string()));
    assert_eq!(mined["confirmations"], json!(1));
    assert_eq!(mined["in_active_chain"], json!(true));
    let coinbase = block.txdata[0].compute_txid().to_string();
    assert_eq!(
        error(&node, "getrawtransaction", json!([coinbase, 0, genesis])).await,
        (-1, "Block not available".into())
    );

    // Submitting it again, or another block at the same height, or bad data.
    assert_eq!(
        node.submit_block(&serialize(&block))
            .await
            .unwrap()
            .as_deref(),
        Some("duplicate")
    );
    let g = call(&node, "getblockheader", json!([genesis])).await;
    let sibling = make_block(
        genesis.parse().unwrap(),
        1,
        g["time"].as_u64().unwrap() as u32,
        block.header.bits,
        vec![],
        0,
        2,
    );
    assert_eq!(
        node.submit_block(&serialize(&sibling))
            .await
            .unwrap()
            .as_deref(),
        Some("inconclusive")
    );
    let stale = call(
        &node,
        "getblockheader",
        json!([sibling.block_hash().to_string()]),
    )
    .await;
    assert_eq!(stale["confirmations"], json!(-1));
    assert_eq!(
        error(&node, "submitblock", json!(["zz"])).await,
        (-22, "Block decode failed".into())
    );
    let bytes = serialize(&block);
    assert_eq!(
        error(
            &node,
            "submitblock",
            json!([bytes[..bytes.len() - 15].to_lower_hex_string()])
        )
        .await,
        (-22, "Block decode failed".into())
    );
    let mut unknown = tx.clone();
    unknown.input[0].previous_output.txid = Txid::from_byte_array([5; 32]);
    let bad = make_block(
        hash,
        2,
        block.header.time,
        block.header.bits,
        vec![unknown],
        1000,
        3,
    );
    assert_eq!(
        node.submit_block(&serialize(&bad))
            .await
            .unwrap()
            .as_deref(),
        Some("bad-txns-inputs-missingorspent")
    );
    let greedy = make_block(hash, 2, block.header.time, block.header.bits, vec![], 1, 4);
    assert_eq!(
        node.submit_block(&serialize(&greedy))
            .await
            .unwrap()
            .as_deref(),
        Some("bad-cb-amount")
    );
    assert_eq!(node.get_block_count().await.unwrap(), 1);
    assert_eq!(
        error(&node, "getblocktemplate", json!([])).await,
        (-32601, "Method not found".into())
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let tp = TemplateProvider::start(config()).await.unwrap();
    for node in [
        rpc_as(&tp, "user", "wrong"),
        rpc_as(&tp, "other", "pass"),
        RpcClient::new(&format!("http://{}", tp.rpc_address().unwrap()), Auth::None).unwrap(),
    ] {
        assert!(matches!(
            node.get_block_count().await,
            Err(RpcError::Unauthorized)
        ));
    }
    assert_eq!(rpc(&tp).get_block_count().await.unwrap(), 0);
    // Without credentials configured, none are asked for.
    let open = TemplateProvider::start(Config {
        rpc_credentials: None,
        ..config()
    })
    .await
    .unwrap();
    let node = RpcClient::new(
        &format!("http://{}", open.rpc_address().unwrap()),
        Auth::None,
    )
    .unwrap();
    assert_eq!(node.get_block_count().await.unwrap(), 0);
}

/// The serialization of the transaction `txid` among `txs`.
fn raw_of(txs: &[Transaction], txid: &str) -> Option<Vec<u8>> {
    txs.iter()
        .find(|t| t.compute_txid().to_string() == txid)
        .map(serialize)
}

#[tokio::test]
async fn private_transactions_are_in_templates_only_until_mined() {
    let tp = TemplateProvider::start(Config {
        transactions_per_interval: 2,
        private_transactions_per_interval: 3,
        ..config()
    })
    .await
    .unwrap();
    let node = rpc(&tp);
    let (td, t, p) = template_client(&tp).await;
    let raw = template_transactions(&td, t.template_id).await;
    assert_eq!(raw.len(), 5);
    let public: Vec<String> = node.call("getrawmempool", json!([])).await.unwrap();
    assert_eq!(public.len(), 2);
    let txs: Vec<Transaction> = raw.iter().map(|r| deserialize(r).unwrap()).collect();
    let private: Vec<String> = txs
        .iter()
        .map(|t| t.compute_txid().to_string())
        .filter(|t| !public.contains(t))
        .collect();
    assert_eq!(private.len(), 3);
    for t in &private {
        assert_eq!(error(&node, "getmempoolentry", json!([t])).await.0, -5);
        assert_eq!(error(&node, "getrawtransaction", json!([t])).await.0, -5);
    }
    // In one batch, as a job declaration server asks: public ones found, private ones -5.
    let asked: Vec<String> = public.iter().chain(&private).cloned().collect();
    let answers = node.get_raw_transactions(&asked).await.unwrap();
    assert_eq!(answers.len(), 5);
    for (i, a) in answers.iter().enumerate() {
        match (i < 2, a) {
            (true, Ok(raw)) => assert!(raw_of(&txs, &asked[i]).is_some_and(|r| r == *raw)),
            (false, Err(RpcError::Rpc { code: -5, .. })) => {}
            other => panic!("{i}: {other:?}"),
        }
    }
    // A block with them, from what the template provider gave its client, is valid.
    let tip = call(
        &node,
        "getblockheader",
        json!([node.get_best_block_hash().await.unwrap()]),
    )
    .await;
    let block = make_block(
        BlockHash::from_byte_array(p.prev_hash.0),
        1,
        tip["time"].as_u64().unwrap() as u32,
        CompactTarget::from_consensus(p.n_bits),
        txs,
        5 * 1000,
        1,
    );
    assert_eq!(node.submit_block(&serialize(&block)).await.unwrap(), None);
    for t in &private {
        let found = call(&node, "getrawtransaction", json!([t, true])).await;
        assert_eq!(found["blockhash"], json!(block.block_hash().to_string()));
    }
}

#[tokio::test]
async fn reorganisations_on_command_and_over_rpc() {
    let tp = TemplateProvider::start(config()).await.unwrap();
    let node = rpc(&tp);
    let (td, _, _) = template_client(&tp).await;
    assert!(tp.reorg(1).is_err(), "nothing to replace at height 0");
    // An empty block, then one with the mempool's five transactions.
    let mut mined = Vec::new();
    for tag in 1..=2 {
        let b = if tag == 1 {
            empty_block(&node, tag).await
        } else {
            block_from_rpc(&node, tag).await
        };
        assert_eq!(node.submit_block(&serialize(&b)).await.unwrap(), None);
        next_tip(&td).await;
        mined.push(b);
    }
    assert_eq!(mined[1].txdata.len(), 6);
    let old_tip = mined[1].block_hash();
    let fork = mined[0].block_hash();
    let mut events = tp.subscribe();

    let new = tp.reorg(1).unwrap();
    assert_eq!(new.len(), 2);
    let new_tip = new[1].hash;
    let (_, p) = next_tip(&td).await;
    assert_eq!(p.prev_hash.0, new_tip.to_byte_array());
    for b in &new {
        match events.recv().await {
            Ok(TpEvent::BlockAccepted(e)) => assert_eq!(&e, b),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        node.get_best_block_hash().await.unwrap(),
        new_tip.to_string()
    );
    assert_eq!(node.get_block_count().await.unwrap(), 3);
    // The new tip's ancestors lead back to the fork point.
    let h = node.get_block_header(&new_tip.to_string()).await.unwrap();
    assert_eq!(h.height, 3);
    let parent = node
        .get_block_header(h.previous_block_hash.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(parent.height, 2);
    assert_eq!(parent.previous_block_hash, Some(fork.to_string()));
    assert_eq!(
        call(&node, "getblockhash", json!([1])).await,
        json!(fork.to_string())
    );
    // Core keeps stale blocks: the old tip is still answered, off the active chain.
    let stale = call(&node, "getblockheader", json!([old_tip.to_string()])).await;
    assert_eq!(
        (stale["height"].clone(), stale["confirmations"].clone()),
        (json!(2), json!(-1))
    );
    assert!(stale.get("nextblockhash").is_none());
    // Its transactions are back in the mempool (the new blocks are empty).
    let mut back: Vec<String> = node.call("getrawmempool", json!([])).await.unwrap();
    let mut replaced: Vec<String> = mined[1].txdata[1..]
        .iter()
        .map(|t| t.compute_txid().to_string())
        .collect();
    back.sort();
    replaced.sort();
    assert_eq!(back, replaced);
    // A block on the stale tip has no more work than the new tip.
    let on_stale = make_block(
        old_tip,
        3,
        mined[1].header.time,
        mined[1].header.bits,
        vec![],
        0,
        9,
    );
    assert_eq!(
        node.submit_block(&serialize(&on_stale))
            .await
            .unwrap()
            .as_deref(),
        Some("inconclusive")
    );
    assert_eq!(
        node.submit_block(&serialize(&mined[1]))
            .await
            .unwrap()
            .as_deref(),
        Some("duplicate")
    );

    // The same over RPC.
    let hashes: Vec<String> = node.call("reorg", json!([2])).await.unwrap();
    assert_eq!(hashes.len(), 3);
    let (_, p) = next_tip(&td).await;
    assert_eq!(
        p.prev_hash.0,
        hashes[2].parse::<BlockHash>().unwrap().to_byte_array()
    );
    assert_eq!(node.get_block_count().await.unwrap(), 4);
    assert_eq!(node.get_best_block_hash().await.unwrap(), hashes[2]);
    assert_eq!(
        error(&node, "reorg", json!([0])).await,
        (
            -8,
            "cannot replace 0 blocks: between 1 and 4 can be replaced".into()
        )
    );
    assert_eq!(error(&node, "reorg", json!(["x"])).await.0, -3);
    assert_eq!(error(&node, "reorg", json!([])).await.0, -1);
}

#[tokio::test]
async fn thousands_of_transactions_per_interval() {
    let authority = noise_sv2::AuthoritySecretKey::generate().unwrap();
    let tp = TemplateProvider::start(Config {
        transactions_per_interval: 3000,
        authority_secret_key: Some(authority),
        ..config()
    })
    .await
    .unwrap();
    let node = rpc(&tp);
    // Over noise: the transaction data (about 700 kB) spans many noise messages.
    let (td, t, _) = set_up(noise_client(&tp, authority.public_key()).await).await;
    assert_eq!(t.merkle_path.len(), 12);
    let raw = template_transactions(&td, t.template_id).await;
    assert_eq!(raw.len(), 3000);
    let mempool = node.get_raw_mempool_verbose().await.unwrap();
    assert_eq!(mempool.len(), 3000);
    // The block of that template, its transactions as the client received them.
    let tip = call(
        &node,
        "getblockheader",
        json!([node.get_best_block_hash().await.unwrap()]),
    )
    .await;
    let block = make_block(
        tp.tip(),
        1,
        tip["time"].as_u64().unwrap() as u32,
        CompactTarget::from_consensus(
            u32::from_str_radix(tip["bits"].as_str().unwrap(), 16).unwrap(),
        ),
        raw.iter().map(|r| deserialize(r).unwrap()).collect(),
        3000 * 1000,
        1,
    );
    assert_eq!(node.submit_block(&serialize(&block)).await.unwrap(), None);
    let (t, _) = next_tip(&td).await;
    assert!(t.merkle_path.is_empty(), "an empty mempool after the block");
}
