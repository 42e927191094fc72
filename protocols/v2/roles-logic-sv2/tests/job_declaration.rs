//! A job declarator client and server wired back to back, no sockets: tokens, declarations
//! with known and missing transactions, the pool's check of SetCustomMiningJob, PushSolution,
//! tips that move (and move back), coinbase-only mode, floods and bad input.

#[path = "common/jd.rs"]
mod jd;

use binary_sv2::{Str0255, U256};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::Block;
use job_declaration_sv2::PushSolution;
use quickcheck::quickcheck;
use roles_logic_sv2::job_declaration::*;
use roles_logic_sv2::{sha256d, target, Now};
use std::sync::Arc;

use jd::*;

#[test]
fn a_full_template_job_with_missing_transactions_is_declared_checked_and_mined() {
    let mut p = Pair::new(true, false);
    let txs = transactions(10, 1);
    // The node knows 7 of the 10.
    p.mempool = Mempool(txs[..7].to_vec());
    let j = job(&txs, HEIGHT, 1.0, 16);
    let id = p.declare(&j, &txs);
    assert!(p.jdc_events.contains(&JdcEvent::ProvidedTransactions {
        request_id: id,
        count: 3
    }));
    let token = p.declared_token(id).expect("declared");
    assert!(p.jds_events.iter().any(|e| matches!(
        e,
        JdsEvent::Declared {
            transactions: 10,
            provided: 3,
            ..
        }
    )));

    // The pool's check of the SetCustomMiningJob built from the same job.
    let m = custom_job(&j, token.clone(), tip(HEIGHT, 1));
    let check = p.registry.check_custom_job(&m, 16).unwrap();
    let CustomJobCheck::Accepted {
        job: pool_job,
        declared,
        ..
    } = check
    else {
        panic!("accepted");
    };
    assert_eq!(
        pool_job.coinbase(&[4; 16]).unwrap(),
        j.coinbase(&[4; 16]).unwrap()
    );
    assert!(declared.is_some());
    // A token works once.
    assert_eq!(
        p.registry.check_custom_job(&m, 16).unwrap_err().code(),
        "invalid-mining-job-token"
    );

    // A block found on it: PushSolution makes a whole, valid block.
    let en = [9u8; 16];
    let root = j.merkle_root(&en).unwrap();
    let nbits = 0x207f_ffff;
    let nonce = (0u32..)
        .find(|&n| {
            let h = roles_logic_sv2::job::block_header(j.version, &[1; 32], &root, 5, nbits, n);
            target::hash_meets_target(&sha256d(&h), &target::from_nbits(nbits))
        })
        .unwrap();
    p.jdc.push_solution(PushSolution {
        extranonce: binary_sv2::B032::new(en.to_vec()).unwrap(),
        prev_hash: U256([1; 32]),
        nonce,
        ntime: 5,
        nbits,
        version: j.version,
    });
    p.drive();
    let block = p
        .jds_events
        .iter()
        .find_map(|e| match e {
            JdsEvent::SubmitBlock { block, height, .. } => {
                assert_eq!(*height, HEIGHT);
                Some(block.clone())
            }
            _ => None,
        })
        .expect("a block to submit");
    let b: Block = deserialize(&block).unwrap();
    assert_eq!(b.txdata.len(), 11);
    assert!(b.check_merkle_root());
    assert!(b.check_witness_commitment());
    assert_eq!(
        b.txdata[0].input[0].witness.len(),
        1,
        "witness reserved value"
    );
}

#[test]
fn a_job_that_underpays_the_pool_is_refused() {
    let mut p = Pair::new(true, false);
    let txs = transactions(3, 2);
    p.mempool = Mempool(txs.clone());
    let id = p.declare(&job(&txs, HEIGHT, 0.9, 16), &txs);
    assert_eq!(
        p.refusal(id).as_deref(),
        Some("invalid-job-param-value-coinbase_tx_suffix")
    );
    // Paying everything passes.
    let id = p.declare(&job(&txs, HEIGHT, 1.0, 16), &txs);
    assert!(p.declared_token(id).is_some());
}

#[test]
fn custom_jobs_that_differ_from_the_declared_one_are_refused() {
    let mut p = Pair::new(true, false);
    let txs = transactions(4, 3);
    p.mempool = Mempool(txs.clone());
    let j = job(&txs, HEIGHT, 1.0, 16);
    let id = p.declare(&j, &txs);
    let token = p.declared_token(id).unwrap();
    // Other transactions (merkle path).
    let other = job(&transactions(4, 9), HEIGHT, 1.0, 16);
    let mut m = custom_job(&j, token.clone(), tip(HEIGHT, 1));
    m.merkle_path = custom_job(&other, token.clone(), tip(HEIGHT, 1)).merkle_path;
    assert_eq!(
        p.registry.check_custom_job(&m, 16).unwrap_err().code(),
        "invalid-job-param-value-merkle_path"
    );
    // Another extranonce size than declared.
    let m = custom_job(&j, token.clone(), tip(HEIGHT, 1));
    assert_eq!(
        p.registry.check_custom_job(&m, 20).unwrap_err().code(),
        "invalid-job-param-value-coinbase_prefix"
    );
    // Unknown token.
    let m = custom_job(&j, vec![1, 2, 3], tip(HEIGHT, 1));
    assert_eq!(
        p.registry.check_custom_job(&m, 16).unwrap_err().code(),
        "invalid-mining-job-token"
    );
    // Not checked, so the real one still passes.
    let m = custom_job(&j, token, tip(HEIGHT, 1));
    assert!(matches!(
        p.registry.check_custom_job(&m, 16),
        Ok(CustomJobCheck::Accepted { .. })
    ));
}

/// The client sees a new block before the pool does: its job waits for the pool's tip
/// instead of being refused, and is declared once the tip arrives. Then a reorg replaces
/// that tip: nothing panics, and the job for the replaced tip is refused as stale.
#[test]
fn a_tip_the_pool_has_not_seen_waits_and_a_reorg_is_handled() {
    let mut p = Pair::new(true, false);
    let txs = transactions(2, 4);
    p.mempool = Mempool(txs.clone());
    let j = job(&txs, HEIGHT + 1, 1.0, 16);
    let id = p.declare(&j, &txs);
    assert!(
        p.declared_token(id).is_none() && p.refusal(id).is_none(),
        "waiting"
    );
    assert_eq!(p.jds.pending(), 1);
    p.registry.set_tip(tip(HEIGHT + 1, 2));
    p.now += 1_000;
    p.jds.handle_timeout(p.t(), &mut p.registry);
    p.drive();
    let token = p.declared_token(id).expect("declared once the tip came");
    let m = custom_job(&j, token.clone(), tip(HEIGHT + 1, 2));
    // A custom job on a tip the pool has not seen yet waits too (and keeps its token).
    let ahead = custom_job(&j, token.clone(), tip(HEIGHT + 1, 9));
    assert!(matches!(
        p.registry.check_custom_job(&ahead, 16),
        Ok(CustomJobCheck::WaitForTip)
    ));
    // Reorg: another block at the same height replaces tip 2.
    p.registry.set_tip(tip(HEIGHT + 1, 3));
    assert_eq!(
        p.registry.check_custom_job(&m, 16).unwrap_err().code(),
        "invalid-job-param-value-prev_hash"
    );
    // A declaration for a height below the tip is stale.
    let old = job(&txs, HEIGHT, 1.0, 16);
    let id = p.declare(&old, &txs);
    assert_eq!(
        p.refusal(id).as_deref(),
        Some("invalid-job-param-value-coinbase_tx_prefix")
    );
    // One that never sees its tip is refused when it has waited too long.
    let ahead = job(&txs, HEIGHT + 5, 1.0, 16);
    let id = p.declare(&ahead, &txs);
    p.now += 60_000;
    p.jds.handle_timeout(p.t(), &mut p.registry);
    p.drive();
    assert!(p.refusal(id).is_some());
    assert_eq!(p.jds.pending(), 0);
}

#[test]
fn coinbase_only_tokens_are_used_in_set_custom_mining_job_directly() {
    let mut p = Pair::new(false, true);
    let txs = transactions(2, 5);
    let token = p.jdc.take_token().unwrap();
    // Declaring is full-template only.
    let j = job(&txs, HEIGHT, 1.0, 16);
    let (prefix, suffix) = j.full_coinbase_parts().unwrap();
    let id = p
        .jdc
        .declare(
            token.token.clone(),
            1,
            j.version,
            prefix,
            suffix,
            Arc::new(vec![]),
            vec![],
        )
        .unwrap();
    p.drive();
    assert_eq!(
        p.refusal(id).as_deref(),
        Some("declare-tx-data-not-negotiated")
    );
    // The token itself goes to the pool (it was consumed by the refused declaration: take
    // another).
    let token = p.jdc.take_token().unwrap().token;
    let m = custom_job(&j, token, tip(HEIGHT, 1));
    assert!(matches!(
        p.registry.check_custom_job(&m, 16),
        Ok(CustomJobCheck::Accepted { declared: None, .. })
    ));
    // Underpaying the subsidy is refused.
    let token = p.jdc.take_token().unwrap().token;
    let cheap = job(&txs, HEIGHT, 0.5, 16);
    let m = custom_job(&cheap, token, tip(HEIGHT, 1));
    assert_eq!(
        p.registry.check_custom_job(&m, 16).unwrap_err().code(),
        "invalid-job-param-value-coinbase_tx_outputs"
    );
}

/// Thousands of transactions, all missing from the node: ProvideMissingTransactions and its
/// answer fit their frames and the job is declared.
#[test]
fn a_large_block_of_missing_transactions_is_provided_within_frame_limits() {
    let mut p = Pair::new(true, false);
    let txs = transactions(3_000, 6);
    let j = job(&txs, HEIGHT, 1.0, 16);
    let token = p.jdc.take_token().unwrap();
    let (prefix, suffix) = j.full_coinbase_parts().unwrap();
    let raw = Arc::new(txs.iter().map(serialize).collect::<Vec<_>>());
    let id = p
        .jdc
        .declare(token.token, 5, j.version, prefix, suffix, raw, vec![])
        .unwrap();
    // Move frames by hand to look at their sizes.
    let mut largest = 0;
    for _ in 0..10 {
        while let Some(m) = p.jdc.poll_message() {
            let (e, t, pl) = frame(m);
            largest = largest.max(pl.len());
            p.jds
                .handle_frame(e, t, &pl, p.t(), &mut p.registry)
                .unwrap();
        }
        while let Some(e) = p.jds.poll_event() {
            if let JdsEvent::LookupTransactions { request_id, wtxids } = &e {
                p.jds
                    .mempool_answer(*request_id, vec![None; wtxids.len()], &mut p.registry);
            }
            p.jds_events.push(e);
        }
        while let Some(m) = p.jds.poll_message() {
            let (e, t, pl) = frame(m);
            largest = largest.max(pl.len());
            p.jdc.handle_frame(e, t, &pl, p.t()).unwrap();
        }
        p.jdc_events
            .extend(std::iter::from_fn(|| p.jdc.poll_event()));
    }
    assert!(p.declared_token(id).is_some());
    assert!(largest < const_sv2::SV2_MAX_PAYLOAD_SIZE, "{largest}");
    assert!(p.jdc_events.contains(&JdcEvent::ProvidedTransactions {
        request_id: id,
        count: 3_000
    }));
}

#[test]
fn a_client_that_floods_token_requests_is_closed_and_tokens_stay_bounded() {
    let mut p = Pair::new(true, false);
    let mut closed = false;
    for i in 0..200u32 {
        let m = job_declaration_sv2::AllocateMiningJobToken {
            user_identifier: Str0255::new(b"x".to_vec()).unwrap(),
            request_id: 1000 + i,
        };
        let (e, t, pl) =
            frame(roles_logic_sv2::parsers::JobDeclaration::AllocateMiningJobToken(m).into());
        if p.jds
            .handle_frame(e, t, &pl, p.t(), &mut p.registry)
            .is_err()
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a burst far over the rate is refused");
    assert!(
        p.registry.len() <= 16,
        "per-connection token cap: {}",
        p.registry.len()
    );
    p.registry.release_connection(1);
    assert_eq!(p.registry.len(), 0);
}

#[test]
fn bad_input_is_refused_without_panicking() {
    let mut reg = registry(false);
    let mut s = JdsSession::new(9, Now::from_unix_ms(0));
    // Before setup.
    let m = job_declaration_sv2::AllocateMiningJobToken {
        user_identifier: Str0255::new(vec![]).unwrap(),
        request_id: 1,
    };
    let (e, t, pl) =
        frame(roles_logic_sv2::parsers::JobDeclaration::AllocateMiningJobToken(m).into());
    assert!(matches!(
        s.handle_frame(e, t, &pl, Now::default(), &mut reg),
        Err(JdsError::NotSetUp { .. })
    ));
    // Wrong protocol.
    let mut bad = setup(0);
    bad.protocol = 0;
    let (e, t, pl) = frame(roles_logic_sv2::parsers::CommonMessages::SetupConnection(bad).into());
    assert!(matches!(
        s.handle_frame(e, t, &pl, Now::default(), &mut reg),
        Err(JdsError::SetupRefused { .. })
    ));
    // Provided transactions that are not the ones asked for.
    let mut p = Pair::new(true, false);
    let txs = transactions(2, 7);
    let j = job(&txs, HEIGHT, 1.0, 16);
    let token = p.jdc.take_token().unwrap();
    let (prefix, suffix) = j.full_coinbase_parts().unwrap();
    let real = Arc::new(txs.iter().map(serialize).collect::<Vec<_>>());
    let id = p
        .jdc
        .declare(token.token, 5, j.version, prefix, suffix, real, vec![])
        .unwrap();
    while let Some(m) = p.jdc.poll_message() {
        let (e, t, pl) = frame(m);
        p.jds
            .handle_frame(e, t, &pl, p.t(), &mut p.registry)
            .unwrap();
    }
    while let Some(e) = p.jds.poll_event() {
        if let JdsEvent::LookupTransactions { request_id, wtxids } = e {
            p.jds
                .mempool_answer(request_id, vec![None; wtxids.len()], &mut p.registry);
        }
    }
    assert!(p.jds.poll_message().is_some(), "ProvideMissingTransactions");
    let wrong = job_declaration_sv2::ProvideMissingTransactionsSuccess {
        request_id: id,
        transaction_list: binary_sv2::Seq064K::from_items(
            transactions(2, 8)
                .iter()
                .map(|t| binary_sv2::B016M::new(serialize(t)).unwrap()),
        )
        .unwrap(),
    };
    let (e, t, pl) = frame(
        roles_logic_sv2::parsers::JobDeclaration::ProvideMissingTransactionsSuccess(wrong).into(),
    );
    p.jds
        .handle_frame(e, t, &pl, p.t(), &mut p.registry)
        .unwrap();
    assert!(p.jds.poll_event().is_some_and(|e| matches!(
        e,
        JdsEvent::Refused { refusal, .. } if refusal.code() == "invalid-job-param-value-transaction_list"
    )));
}

quickcheck! {
    fn random_frames_never_panic_either_end(frames: Vec<(u8, Vec<u8>)>) -> bool {
        let mut p = Pair::new(true, false);
        for (t, payload) in frames {
            let _ = p.jds.handle_frame(0, t, &payload, p.t(), &mut p.registry);
            let _ = p.jdc.handle_frame(0, t, &payload, p.t());
            while p.jds.poll_event().is_some() {}
            while p.jdc.poll_event().is_some() {}
        }
        p.jds.handle_timeout(Now::from_unix_ms(10_000_000), &mut p.registry);
        p.jdc.handle_timeout(Now::from_unix_ms(10_000_000));
        true
    }
}
