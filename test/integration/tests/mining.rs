//! Template provider, pool and devices over loopback, with the real role code: blocks on
//! both channel kinds, every kind of bad share refused with its code, and restarts.

use integration_tests::*;
use mining_device::ChannelKind;
use mining_sv2::{SubmitSharesExtended, SubmitSharesStandard};
use pool_sv2::PoolEvent;
use roles_logic_sv2::parsers::{AnyMessage, Mining};
use roles_logic_sv2::{sha256d, target};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;
use template_provider::TpEvent;

/// About 860,000 hashes per block: a debug-build CPU device finds one in about a second.
const BLOCK_DIFFICULTY: f64 = 0.0002;
const LONG: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_standard_and_extended_channels_find_accepted_blocks() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mut tp_events = tp.subscribe();
    let (pool, key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let mut pool_events = pool.subscribe();
    let _std = device(pool.local_addr(), key, ChannelKind::Standard, "std");
    let _ext = device(pool.local_addr(), key, ChannelKind::Extended, "ext");
    let mut finders = HashSet::new();
    let mut accepted = HashSet::new();
    within("blocks from both channel kinds, accepted by the template provider", LONG, async {
        while !(finders.contains("std") && finders.contains("ext") && accepted.len() >= 2) {
            tokio::select! {
                e = pool_events.recv() => {
                    if let Ok(PoolEvent::BlockFound { user_identity, hash, .. }) = e {
                        finders.insert(user_identity.to_string());
                        let _ = hash;
                    }
                }
                e = tp_events.recv() => match e {
                    Ok(TpEvent::BlockAccepted(b)) => { accepted.insert(b.hash); }
                    // Two devices may solve the same tip at once; the later one is stale.
                    Ok(TpEvent::SolutionRefused { reason, .. }) if !reason.contains("no longer the tip") => panic!("template provider refused a block: {reason}"),
                    Ok(TpEvent::SolutionRefused { .. }) => {}
                    Err(_) => {}
                }
            }
        }
    })
    .await;
    assert!(tp.height() >= 2);
    assert_eq!(pool.stats().shares_rejected.load(Ordering::Relaxed), 0);
}

fn find_nonce(
    w: &roles_logic_sv2::mining_client::Work,
    en: &[u8],
    t: &target::Target,
    meets: bool,
    from: u32,
) -> u32 {
    let root = w.merkle_root(en).unwrap();
    (from..)
        .find(|&n| {
            target::hash_meets_target(&sha256d(&w.header(&root, w.min_ntime, n, w.version)), t)
                == meets
        })
        .unwrap()
}

fn code(m: &AnyMessage<'_>) -> String {
    match m {
        AnyMessage::Mining(Mining::SubmitSharesError(e)) => {
            e.error_code.to_string_lossy().into_owned()
        }
        other => panic!("expected SubmitShares.Error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shares_get_their_error_codes_and_the_connection_stays() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mut cfg = pool_config(free_addr(), tp.local_addr());
    cfg.share_batch_size = 1;
    let (pool, key) = start_pool(cfg).await;
    // About 100,000 hashes per share at this declared rate.
    let mut c = TestClient::connect(pool.local_addr(), key, 1_666.0).await;
    let w = c.wait_work().await;
    let en = vec![0x42; c.channel.extranonce_size];
    let t = c.channel.target;
    let channel_id = c.channel.channel_id;
    let share =
        |job_id: u32, nonce: u32, ntime: u32, version: u32, extranonce: Vec<u8>, seq: u32| {
            Mining::SubmitSharesExtended(SubmitSharesExtended {
                channel_id,
                sequence_number: seq,
                job_id,
                nonce,
                ntime,
                version,
                extranonce: binary_sv2::B032::new(extranonce).unwrap(),
            })
        };
    // A good share that is not also a block (a block would move the tip under the cases).
    let net = target::harder(t, target::from_difficulty(BLOCK_DIFFICULTY));
    let root = w.merkle_root(&en).unwrap();
    let good = (0..)
        .find(|&n| {
            let h = sha256d(&w.header(&root, w.min_ntime, n, w.version));
            target::hash_meets_target(&h, &t) && !target::hash_meets_target(&h, &net)
        })
        .unwrap();
    let low = find_nonce(&w, &en, &t, false, 0);

    c.send(share(w.job_id, good, w.min_ntime, w.version, en.clone(), 1))
        .await;
    match c.next_answer().await {
        AnyMessage::Mining(Mining::SubmitSharesSuccess(s)) => assert_eq!(s.last_sequence_number, 1),
        other => panic!("{other:?}"),
    }
    let cases: Vec<(Mining<'static>, &str)> = vec![
        (
            share(w.job_id, good, w.min_ntime, w.version, en.clone(), 2),
            "duplicate-share",
        ),
        (
            share(w.job_id, low, w.min_ntime, w.version, en.clone(), 3),
            "difficulty-too-low",
        ),
        (
            share(w.job_id + 1000, good, w.min_ntime, w.version, en.clone(), 4),
            "invalid-job-id",
        ),
        (
            share(w.job_id, good, w.min_ntime, w.version, en[1..].to_vec(), 5),
            "bad-extranonce-size",
        ),
        (
            share(
                w.job_id,
                good,
                w.min_ntime,
                w.version ^ 0x8000_0000,
                en.clone(),
                6,
            ),
            "version-rolling-not-allowed",
        ),
        (
            share(w.job_id, good, w.min_ntime - 1, w.version, en.clone(), 7),
            "invalid-share",
        ),
        (
            share(
                w.job_id,
                good,
                w.min_ntime + 100_000,
                w.version,
                en.clone(),
                8,
            ),
            "invalid-share",
        ),
        (
            Mining::SubmitSharesStandard(SubmitSharesStandard {
                channel_id: 999,
                sequence_number: 9,
                job_id: w.job_id,
                nonce: good,
                ntime: w.min_ntime,
                version: w.version,
            }),
            "invalid-channel-id",
        ),
    ];
    for (m, expected) in cases {
        c.send(m).await;
        assert_eq!(code(&c.next_answer().await), expected);
    }
    // Still connected and served: a block-winning share moves the tip, and then a share on
    // the old job is stale.
    let block = find_nonce(&w, &en, &net, true, good + 1);
    c.send(share(
        w.job_id,
        block,
        w.min_ntime,
        w.version,
        en.clone(),
        10,
    ))
    .await;
    match c.next_answer().await {
        AnyMessage::Mining(Mining::SubmitSharesSuccess(_)) => {}
        other => panic!("{other:?}"),
    }
    // A template refresh on the same tip is new work too: wait for the new prev_hash.
    within("the new tip", LONG, async {
        let mut last = w.job_id;
        loop {
            let nw = c.wait_new_work(last).await;
            if nw.prev_hash != w.prev_hash {
                break;
            }
            last = nw.job_id;
        }
    })
    .await;
    let stale = find_nonce(&w, &en, &t, true, block + 1);
    c.send(share(
        w.job_id,
        stale,
        w.min_ntime,
        w.version,
        en.clone(),
        11,
    ))
    .await;
    assert_eq!(code(&c.next_answer().await), "stale-share");
    assert_eq!(pool.stats().blocks_found.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mining_resumes_after_the_template_provider_restarts() {
    let tp_addr = free_addr();
    let tp = start_tp(tp_addr, BLOCK_DIFFICULTY).await;
    let (pool, key) = start_pool(pool_config(free_addr(), tp_addr)).await;
    let mut pool_events = pool.subscribe();
    let _d = device(pool.local_addr(), key, ChannelKind::Extended, "d");
    let mut tp_events = tp.subscribe();
    within("a first block", LONG, async {
        while !matches!(tp_events.recv().await, Ok(TpEvent::BlockAccepted(_))) {}
    })
    .await;
    tp.shutdown();
    within("the pool to see the template provider go", LONG, async {
        while !matches!(
            pool_events.recv().await,
            Ok(PoolEvent::TemplateProviderDown { .. })
        ) {}
    })
    .await;
    let tp2 = start_tp(tp_addr, BLOCK_DIFFICULTY).await;
    let mut tp2_events = tp2.subscribe();
    // Blocks found while no template provider was up are written to the new one too (a node
    // that only lost its link would take them). This simulated one is a new chain whose
    // template ids start again, so it refuses them for one reason or another; a block found
    // on it is what this test waits for.
    within("a block on the restarted template provider", LONG, async {
        while !matches!(tp2_events.recv().await, Ok(TpEvent::BlockAccepted(_))) {}
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_reconnect_after_the_pool_restarts() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let pool_addr = free_addr();
    let (pool, key) = start_pool(pool_config(pool_addr, tp.local_addr())).await;
    let d = device(pool_addr, key, ChannelKind::Standard, "d");
    let stats = d.stats();
    wait_for("a first accepted share", LONG, || {
        stats.accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    pool.shutdown();
    wait_for("the device to notice", LONG, || {
        !stats.connected.load(Ordering::Relaxed)
    })
    .await;
    let (pool2, _) = start_pool(pool_config(pool_addr, tp.local_addr())).await;
    let p2 = pool2.stats();
    wait_for("shares accepted by the new pool", LONG, || {
        p2.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(stats.connections.load(Ordering::Relaxed) >= 2);
}
