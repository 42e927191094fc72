//! Fixtures shared by the job declaration tests and benchmark: a pool registry, segwit
//! transactions, the job a JD client builds for them, and a client and server wired back to
//! back.
#![allow(dead_code)] // each user takes what it needs

use binary_sv2::{Seq0255, Str0255, B0255, B064K, U256};
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Witness,
};
use common_messages_sv2::SetupConnection;
use const_sv2::{job_declaration_flags, PROTOCOL_JOB_DECLARATION};
use roles_logic_sv2::job::{coinbase_merkle_path, CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::job_declaration::*;
use roles_logic_sv2::parsers::AnyMessage;
use roles_logic_sv2::Now;
use std::sync::Arc;

pub const HEIGHT: u32 = 840_001;
pub const FEE: u64 = 1_000;

pub fn pool_script() -> ScriptBuf {
    let mut s = vec![0x00, 0x14];
    s.extend([0xab; 20]);
    ScriptBuf::from_bytes(s)
}

pub fn registry(coinbase_only: bool) -> JobRegistry {
    let mut r = JobRegistry::new(
        RegistryConfig {
            pool_payout: pool_script(),
            extra_outputs: vec![],
            min_pool_payout_fraction: 1.0,
            max_tokens: 1000,
            max_tokens_per_connection: 16,
            token_ttl_ms: 600_000,
            coinbase_only,
        },
        [7; 32],
    );
    r.set_tip(tip(HEIGHT, 1));
    r
}

pub fn tip(height: u32, tag: u8) -> Tip {
    Tip {
        prev_hash: [tag; 32],
        height,
        nbits: 0x207f_ffff,
    }
}

/// `n` distinct segwit transactions.
pub fn transactions(n: usize, seed: u8) -> Vec<Transaction> {
    (0..n)
        .map(|i| Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: bitcoin::Txid::from_byte_array([seed; 32]),
                    vout: i as u32,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![seed; 72], vec![2; 33]]),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(10_000),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
            }],
        })
        .collect()
}

pub fn commitment(txs: &[Transaction]) -> TxOut {
    let wtxids = std::iter::once([0u8; 32])
        .chain(txs.iter().map(|t| t.compute_wtxid().to_byte_array()))
        .map(bitcoin::WitnessMerkleNode::from_byte_array);
    let root = bitcoin::merkle_tree::calculate_root(wtxids).unwrap();
    let c = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(c.as_byte_array());
    TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(script),
    }
}

/// The job a JDC builds for `txs` at `height`, paying `pool_share` of the reward to the pool
/// and the rest to itself.
pub fn job(
    txs: &[Transaction],
    height: u32,
    pool_share: f64,
    extranonce_len: usize,
) -> JobTemplate {
    let reward = block_subsidy(height) + FEE * txs.len() as u64;
    let txids: Vec<[u8; 32]> = txs
        .iter()
        .map(|t| t.compute_txid().to_byte_array())
        .collect();
    let t = template_distribution_sv2::NewTemplate {
        template_id: 5,
        future_template: false,
        version: 0x2000_0000,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(
            bitcoin::script::Builder::new()
                .push_int(height as i64)
                .into_script()
                .into_bytes(),
        )
        .unwrap(),
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: reward,
        coinbase_tx_outputs_count: 1,
        coinbase_tx_outputs: B064K::new(serialize(&commitment(txs))).unwrap(),
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::from_items(coinbase_merkle_path(&txids).into_iter().map(U256))
            .unwrap(),
    };
    let mut payouts = vec![PayoutOutput {
        script_pubkey: pool_script(),
        weight: (pool_share * 1000.0) as u32,
    }];
    if pool_share < 1.0 {
        payouts.push(PayoutOutput {
            script_pubkey: ScriptBuf::from_bytes(vec![0x52]),
            weight: ((1.0 - pool_share) * 1000.0) as u32,
        });
    }
    let cfg = CoinbaseConfig {
        payout_outputs: payouts,
        pool_tag: b"jdc".to_vec(),
        extranonce_len,
    };
    JobTemplate::from_template(&t, &cfg).unwrap()
}

pub fn frame(m: AnyMessage<'static>) -> (u16, u8, Vec<u8>) {
    let f = m.to_frame().unwrap();
    let h = f.header();
    (h.extension_type(), h.msg_type(), f.payload().to_vec())
}

pub fn setup(flags: u32) -> SetupConnection<'static> {
    let s = |v: &str| Str0255::new(v.as_bytes().to_vec()).unwrap();
    SetupConnection {
        protocol: PROTOCOL_JOB_DECLARATION,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: s("jds"),
        endpoint_port: 1,
        vendor: s("t"),
        hardware_version: s(""),
        firmware: s(""),
        device_id: s(""),
    }
}

/// The node's mempool as the JDS shell would hold it.
pub struct Mempool(pub Vec<Transaction>);

impl Mempool {
    pub fn lookup(&self, wtxids: &[[u8; 32]]) -> Vec<Option<KnownTransaction>> {
        wtxids
            .iter()
            .map(|w| {
                self.0
                    .iter()
                    .find(|t| &t.compute_wtxid().to_byte_array() == w)
                    .map(|t| KnownTransaction {
                        tx: Arc::new(serialize(t)),
                        fee: Some(FEE),
                    })
            })
            .collect()
    }
}

pub struct Pair {
    pub jdc: JdcSession,
    pub jds: JdsSession,
    pub registry: JobRegistry,
    pub mempool: Mempool,
    pub now: u64,
    pub jdc_events: Vec<JdcEvent>,
    pub jds_events: Vec<JdsEvent>,
}

impl Pair {
    pub fn new(full_template: bool, coinbase_only: bool) -> Pair {
        let now = Now::from_unix_ms(1_000);
        let flags = if full_template {
            job_declaration_flags::DECLARE_TX_DATA
        } else {
            0
        };
        let mut p = Pair {
            jdc: JdcSession::new(
                JdcConfig {
                    user_identifier: "farm".into(),
                    ..JdcConfig::default()
                },
                setup(flags),
                now,
            ),
            jds: JdsSession::new(1, now),
            registry: registry(coinbase_only),
            mempool: Mempool(vec![]),
            now: 1_000,
            jdc_events: vec![],
            jds_events: vec![],
        };
        p.drive();
        assert!(p.jdc.is_set_up());
        p
    }

    pub fn t(&self) -> Now {
        Now::from_unix_ms(self.now)
    }

    pub fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(m) = self.jdc.poll_message() {
                let (e, t, pl) = frame(m);
                self.jds
                    .handle_frame(e, t, &pl, self.t(), &mut self.registry)
                    .unwrap();
                moved = true;
            }
            while let Some(e) = self.jds.poll_event() {
                if let JdsEvent::LookupTransactions { request_id, wtxids } = &e {
                    let found = self.mempool.lookup(wtxids);
                    self.jds
                        .mempool_answer(*request_id, found, &mut self.registry);
                    moved = true;
                }
                self.jds_events.push(e);
            }
            while let Some(m) = self.jds.poll_message() {
                let (e, t, pl) = frame(m);
                self.jdc.handle_frame(e, t, &pl, self.t()).unwrap();
                moved = true;
            }
            self.jdc_events
                .extend(std::iter::from_fn(|| self.jdc.poll_event()));
            if !moved {
                return;
            }
        }
    }

    pub fn declare(&mut self, j: &JobTemplate, txs: &[Transaction]) -> u32 {
        let token = self.jdc.take_token().expect("a token ready");
        assert_eq!(
            token.outputs[0].script_pubkey,
            pool_script(),
            "pool payout first"
        );
        let (prefix, suffix) = j.full_coinbase_parts().unwrap();
        let raw = Arc::new(txs.iter().map(serialize).collect::<Vec<_>>());
        let id = self
            .jdc
            .declare(token.token, 5, j.version, prefix, suffix, raw, vec![])
            .unwrap();
        self.drive();
        id
    }

    pub fn declared_token(&self, request_id: u32) -> Option<Vec<u8>> {
        self.jdc_events.iter().find_map(|e| match e {
            JdcEvent::Declared {
                request_id: r,
                token,
                ..
            } if *r == request_id => Some(token.clone()),
            _ => None,
        })
    }

    pub fn refusal(&self, request_id: u32) -> Option<String> {
        self.jdc_events.iter().find_map(|e| match e {
            JdcEvent::DeclareRefused {
                request_id: r,
                error_code,
                ..
            } if *r == request_id => Some(error_code.clone()),
            _ => None,
        })
    }
}

pub fn custom_job(
    j: &JobTemplate,
    token: Vec<u8>,
    tip: Tip,
) -> mining_sv2::SetCustomMiningJob<'static> {
    let (v, seq, outputs, lock) = j.coinbase_fields().unwrap();
    mining_sv2::SetCustomMiningJob {
        channel_id: 2,
        request_id: 1,
        mining_job_token: B0255::new(token).unwrap(),
        version: j.version,
        prev_hash: U256(tip.prev_hash),
        min_ntime: 1,
        nbits: tip.nbits,
        coinbase_tx_version: v,
        coinbase_prefix: B0255::new(j.script_sig_prefix().to_vec()).unwrap(),
        coinbase_tx_input_n_sequence: seq,
        coinbase_tx_outputs: B064K::new(outputs).unwrap(),
        coinbase_tx_locktime: lock,
        merkle_path: Seq0255::from_items(j.merkle_path.iter().map(|h| U256(*h))).unwrap(),
    }
}
