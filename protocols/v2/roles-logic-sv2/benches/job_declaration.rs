//! What a pool's JDS spends checking one DeclareMiningJob of a 3,000-transaction template,
//! every transaction known to the node: decoding the frame, parsing the declared coinbase,
//! deserialising the transactions, their txids, weight and sigops, the merkle path and the
//! coinbase's payout. The node lookup itself (the pool's RPC cache) is outside the measure:
//! its answer is prepared in the setup.
//!
//! `cargo bench -p roles_logic_sv2 --bench job_declaration`

#[path = "../tests/common/jd.rs"]
mod jd;

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use jd::*;
use roles_logic_sv2::job_declaration::{JdsEvent, KnownTransaction};
use std::collections::HashMap;
use std::sync::Arc;

fn declare(c: &mut Criterion) {
    let mut g = c.benchmark_group("job_declaration");
    g.sample_size(20);
    for n in [300usize, 3_000] {
        let txs = transactions(n, 9);
        let j = job(&txs, HEIGHT, 1.0, 16);
        let (prefix, suffix) = j.full_coinbase_parts().unwrap();
        let raw = Arc::new(txs.iter().map(serialize).collect::<Vec<_>>());
        let node: HashMap<[u8; 32], KnownTransaction> = txs
            .iter()
            .map(|t| {
                let k = KnownTransaction {
                    tx: Arc::new(serialize(t)),
                    fee: Some(FEE),
                };
                (t.compute_wtxid().to_byte_array(), k)
            })
            .collect();
        g.bench_function(format!("declare_{n}_known_transactions"), |b| {
            b.iter_batched(
                || {
                    // A fresh pair with a token, and the client's DeclareMiningJob frame.
                    let mut p = Pair::new(true, false);
                    let token = p.jdc.take_token().expect("a token");
                    p.jdc
                        .declare(
                            token.token,
                            5,
                            j.version,
                            prefix.clone(),
                            suffix.clone(),
                            raw.clone(),
                            vec![],
                        )
                        .unwrap();
                    // The client also asks for its next token: the server answers that here.
                    let mut declaration = None;
                    while let Some(m) = p.jdc.poll_message() {
                        let f = frame(m);
                        if f.1 == const_sv2::MESSAGE_TYPE_DECLARE_MINING_JOB {
                            declaration = Some(f);
                        } else {
                            let now = p.t();
                            p.jds
                                .handle_frame(f.0, f.1, &f.2, now, &mut p.registry)
                                .unwrap();
                        }
                    }
                    while p.jds.poll_event().is_some() {}
                    (p, declaration.expect("the declaration"))
                },
                |(mut p, (ext, ty, payload))| {
                    let now = p.t();
                    p.jds
                        .handle_frame(ext, ty, &payload, now, &mut p.registry)
                        .unwrap();
                    let (request_id, wtxids) = std::iter::from_fn(|| p.jds.poll_event())
                        .find_map(|e| match e {
                            JdsEvent::LookupTransactions { request_id, wtxids } => {
                                Some((request_id, wtxids))
                            }
                            _ => None,
                        })
                        .expect("the JDS looks the transactions up");
                    let found = wtxids.iter().map(|w| node.get(w).cloned()).collect();
                    p.jds.mempool_answer(request_id, found, &mut p.registry);
                    let transactions = std::iter::from_fn(|| p.jds.poll_event())
                        .find_map(|e| match e {
                            JdsEvent::Declared { transactions, .. } => Some(transactions),
                            _ => None,
                        })
                        .expect("the job is declared");
                    assert_eq!(transactions, n);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, declare);
criterion_main!(benches);
