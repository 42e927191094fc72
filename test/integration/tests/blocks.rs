//! A found block is never lost: not when the template provider link dies right after it, and
//! not while there is no link at all.

use const_sv2::MESSAGE_TYPE_SUBMIT_SOLUTION;
use integration_tests::mitm::{Direction, Fault, FrameSecurity, Mitm};
use integration_tests::*;
use mining_device::ChannelKind;
use pool_sv2::PoolEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use template_provider::TpEvent;

const BLOCK_DIFFICULTY: f64 = 0.0002;

/// The link to the template provider is cut the moment the pool writes its first block
/// solution (which is dropped with it). The pool notices no confirmation, reconnects, writes
/// the block again, and the template provider accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_survives_the_template_provider_link_dying_as_it_is_submitted() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mitm = Mitm::frames(
        tp.local_addr(),
        FrameSecurity::Noise {
            authority: tp_key(),
        },
    )
    .await;
    let cut_once = Arc::new(AtomicBool::new(false));
    let c = cut_once.clone();
    mitm.set_rule(move |seen| {
        if seen.direction == Direction::ToServer
            && seen.msg_type == MESSAGE_TYPE_SUBMIT_SOLUTION
            && !c.swap(true, Ordering::SeqCst)
        {
            Fault::Close
        } else {
            Fault::Pass
        }
    });
    let mut tp_events = tp.subscribe();
    let (pool, key) = start_pool(pool_config(free_addr(), mitm.local_addr())).await;
    let mut pool_events = pool.subscribe();
    let _d = device(pool.local_addr(), key, ChannelKind::Extended, "miner");

    // The first block found is the one whose submission is cut.
    let first = within("a block found", Duration::from_secs(60), async {
        loop {
            if let Ok(PoolEvent::BlockFound { hash, .. }) = pool_events.recv().await {
                return hash;
            }
        }
    })
    .await;
    within(
        "the template provider accepts that very block",
        Duration::from_secs(30),
        async {
            loop {
                match tp_events.recv().await {
                    Ok(TpEvent::BlockAccepted(b)) if b.hash.to_string() == first => return,
                    _ => {}
                }
            }
        },
    )
    .await;
    assert!(cut_once.load(Ordering::SeqCst), "the link was cut");
    assert!(mitm.connections() >= 2, "the pool reconnected");
    let stats = pool.stats();
    wait_for(
        "the pool counts it confirmed",
        Duration::from_secs(10),
        || stats.blocks_confirmed.load(Ordering::Relaxed) >= 1,
    )
    .await;
    assert!(
        stats.blocks_submitted.load(Ordering::Relaxed) >= 2,
        "written twice"
    );
    // (Other blocks may fail: at this difficulty the device finds blocks on a tip that
    // another of its blocks just replaced, and the provider rightly refuses those.)
}

/// Blocks found while no template provider is reachable wait for the next link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_found_while_no_link_is_up_are_submitted_when_it_returns() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mitm = Mitm::frames(
        tp.local_addr(),
        FrameSecurity::Noise {
            authority: tp_key(),
        },
    )
    .await;
    let (pool, key) = start_pool(pool_config(free_addr(), mitm.local_addr())).await;
    let mut pool_events = pool.subscribe();
    let _d = device(pool.local_addr(), key, ChannelKind::Extended, "miner");
    within("work and a first block", Duration::from_secs(60), async {
        while !matches!(
            pool_events.recv().await,
            Ok(PoolEvent::BlockConfirmed { .. })
        ) {}
    })
    .await;
    // Every link now dies at once, and every new one is closed before it carries anything.
    let down = Arc::new(AtomicBool::new(true));
    let d = down.clone();
    mitm.set_rule(move |_| {
        if d.load(Ordering::SeqCst) {
            Fault::Close
        } else {
            Fault::Pass
        }
    });
    mitm.cut();
    let stats = pool.stats();
    let found_before = stats.blocks_found.load(Ordering::Relaxed);
    wait_for(
        "a block found while the link is down",
        Duration::from_secs(60),
        || stats.blocks_found.load(Ordering::Relaxed) > found_before,
    )
    .await;
    let confirmed_before = stats.blocks_confirmed.load(Ordering::Relaxed);
    let mut tp_events = tp.subscribe();
    down.store(false, Ordering::SeqCst);
    within(
        "the waiting block reaches the template provider",
        Duration::from_secs(30),
        async { while !matches!(tp_events.recv().await, Ok(TpEvent::BlockAccepted(_))) {} },
    )
    .await;
    wait_for("confirmed", Duration::from_secs(10), || {
        stats.blocks_confirmed.load(Ordering::Relaxed) > confirmed_before
    })
    .await;
}
