//! Template provider, pool, mining proxy and devices over loopback: blocks found behind the
//! proxy on every channel kind, bad shares stopped at the proxy, and failover between pools.

use integration_tests::*;
use mining_device::ChannelKind;
use mining_proxy_sv2::ProxyEvent;
use mining_sv2::SubmitSharesExtended;
use roles_logic_sv2::mining_client::Work;
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
async fn devices_behind_the_proxy_find_blocks_on_every_channel_kind() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mut tp_events = tp.subscribe();
    let (pool, pool_key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let (proxy, key) = start_proxy(proxy_config(&[(pool.local_addr(), pool_key)])).await;
    let mut proxy_events = proxy.subscribe();
    let addr = proxy.local_addr();
    let _devices = [
        device(addr, key, ChannelKind::Standard, "std"),
        device(addr, key, ChannelKind::Grouped, "grp"),
        device(addr, key, ChannelKind::Extended, "ext"),
    ];
    let mut finders = HashSet::new();
    let mut accepted = HashSet::new();
    within(
        "blocks from every channel kind, accepted by the template provider",
        LONG,
        async {
            while finders.len() < 3 || accepted.len() < 3 {
                tokio::select! {
                    e = proxy_events.recv() => {
                        if let Ok(ProxyEvent::BlockFound { user_identity, .. }) = e {
                            finders.insert(user_identity.to_string());
                        }
                    }
                    e = tp_events.recv() => match e {
                        Ok(TpEvent::BlockAccepted(b)) => { accepted.insert(b.hash); }
                        Ok(TpEvent::SolutionRefused { reason, .. }) => panic!("template provider refused a block: {reason}"),
                        Err(_) => {}
                    }
                }
            }
        },
    )
    .await;
    let (ps, us) = (pool.stats(), proxy.stats());
    assert!(us.shares_forwarded.load(Ordering::Relaxed) > 0);
    assert!(us.upstream_accepted.load(Ordering::Relaxed) > 0);
    // Everything the pool saw came through the proxy, which forwarded only what it checked.
    assert!(
        ps.shares_accepted.load(Ordering::Relaxed) <= us.shares_forwarded.load(Ordering::Relaxed)
    );
    assert_eq!(us.channels.load(Ordering::Relaxed), 3);
    assert_eq!(
        ps.connections.load(Ordering::Relaxed),
        1,
        "one upstream connection"
    );
}

fn hash(w: &Work, en: &[u8], nonce: u32, version: u32) -> [u8; 32] {
    let root = w.merkle_root(en).unwrap();
    sha256d(&w.header(&root, w.min_ntime, nonce, version))
}

/// A nonce from `from` whose hash meets `easy` and meets `hard` or not, as asked.
fn find(
    w: &Work,
    en: &[u8],
    easy: &target::Target,
    hard: &target::Target,
    meets_hard: bool,
    from: u32,
) -> u32 {
    (from..)
        .find(|&n| {
            let h = hash(w, en, n, w.version);
            target::hash_meets_target(&h, easy) && target::hash_meets_target(&h, hard) == meets_hard
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
async fn the_proxy_refuses_bad_shares_without_forwarding_them() {
    let tp = start_tp(free_addr(), 1e6).await;
    let (pool, pool_key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let mut cfg = proxy_config(&[(pool.local_addr(), pool_key)]);
    cfg.share_batch_size = 1;
    let (proxy, key) = start_proxy(cfg).await;
    let (ps, us) = (pool.stats(), proxy.stats());
    wait_for("the upstream channel", LONG, || {
        us.upstream_up.load(Ordering::Relaxed)
    })
    .await;
    // The pool's target for the proxy (its default hashrate, 1 share/s) is far harder than
    // this client's, so most of its shares stay at the proxy.
    let mut c = TestClient::connect(proxy.local_addr(), key, 1_666.0).await;
    let w = c.wait_work().await;
    let en = vec![0x42; c.channel.extranonce_size];
    let channel_id = c.channel.channel_id;
    let easy = c.channel.target;
    // What the pool gives a channel that declares no hashrate (the proxy's, at first).
    let upstream = target::from_hashrate(
        roles_logic_sv2::mining_server::ServerConfig::default().default_hashrate,
        60.0,
    );
    let share = |job_id: u32, nonce: u32, version: u32, extranonce: Vec<u8>, seq: u32| {
        Mining::SubmitSharesExtended(SubmitSharesExtended {
            channel_id,
            sequence_number: seq,
            job_id,
            nonce,
            ntime: w.min_ntime,
            version,
            extranonce: binary_sv2::B032::new(extranonce).unwrap(),
        })
    };

    // Meets the client's target only: answered by the proxy, the pool sees nothing.
    let local = find(&w, &en, &easy, &upstream, false, 0);
    c.send(share(w.job_id, local, w.version, en.clone(), 1))
        .await;
    match c.next_answer().await {
        AnyMessage::Mining(Mining::SubmitSharesSuccess(s)) => assert_eq!(s.last_sequence_number, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(us.shares_forwarded.load(Ordering::Relaxed), 0);

    // Meets the upstream target too: the answer is the pool's.
    let up = find(&w, &en, &easy, &upstream, true, 0);
    c.send(share(w.job_id, up, w.version, en.clone(), 2)).await;
    match c.next_answer().await {
        AnyMessage::Mining(Mining::SubmitSharesSuccess(s)) => assert_eq!(s.last_sequence_number, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(us.shares_forwarded.load(Ordering::Relaxed), 1);
    assert_eq!(us.upstream_accepted.load(Ordering::Relaxed), 1);
    assert_eq!(ps.shares_accepted.load(Ordering::Relaxed), 1);

    let low = (0..)
        .find(|&n| !target::hash_meets_target(&hash(&w, &en, n, w.version), &easy))
        .unwrap();
    let cases: Vec<(Mining<'static>, &str)> = vec![
        (
            share(w.job_id, up, w.version, en.clone(), 3),
            "duplicate-share",
        ),
        (
            share(w.job_id, low, w.version, en.clone(), 4),
            "difficulty-too-low",
        ),
        (
            share(w.job_id + 1000, up, w.version, en.clone(), 5),
            "invalid-job-id",
        ),
        (
            share(w.job_id, up, w.version, vec![1; en.len() + 1], 6),
            "bad-extranonce-size",
        ),
        (
            share(w.job_id, up, w.version ^ 0x8000_0000, en.clone(), 7),
            "version-rolling-not-allowed",
        ),
    ];
    for (m, want) in cases {
        c.send(m).await;
        assert_eq!(code(&c.next_answer().await), want);
    }
    c.send(Mining::SubmitSharesExtended(SubmitSharesExtended {
        channel_id: channel_id + 77,
        sequence_number: 8,
        job_id: w.job_id,
        nonce: up,
        ntime: w.min_ntime,
        version: w.version,
        extranonce: binary_sv2::B032::new(en.clone()).unwrap(),
    }))
    .await;
    assert_eq!(code(&c.next_answer().await), "invalid-channel-id");

    // None of them reached the pool; the proxy counted each.
    assert_eq!(us.shares_forwarded.load(Ordering::Relaxed), 1);
    assert_eq!(us.shares_rejected.load(Ordering::Relaxed), 6);
    assert_eq!(ps.shares_accepted.load(Ordering::Relaxed), 1);
    assert_eq!(ps.shares_rejected.load(Ordering::Relaxed), 0);
    // The connection is still served.
    let next = find(&w, &en, &easy, &upstream, false, local + 1);
    c.send(share(w.job_id, next, w.version, en.clone(), 9))
        .await;
    assert!(matches!(
        c.next_answer().await,
        AnyMessage::Mining(Mining::SubmitSharesSuccess(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_fails_over_to_the_next_pool_and_comes_back() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let a_addr = free_addr();
    let (a, a_key) = start_pool(pool_config(a_addr, tp.local_addr())).await;
    let (b, b_key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let (proxy, key) = start_proxy(proxy_config(&[(a_addr, a_key), (b.local_addr(), b_key)])).await;
    let d = device(proxy.local_addr(), key, ChannelKind::Extended, "d");
    let ds = d.stats();
    let (a_stats, b_stats) = (a.stats(), b.stats());
    wait_for("shares accepted by the first pool", LONG, || {
        a_stats.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(b_stats.connections.load(Ordering::Relaxed), 0);

    a.shutdown();
    wait_for("shares accepted by the second pool", LONG, || {
        b_stats.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    let accepted = ds.accepted.load(Ordering::Relaxed);
    wait_for("the device to keep mining", LONG, || {
        ds.accepted.load(Ordering::Relaxed) > accepted + 2
    })
    .await;

    // The preferred pool returns: the proxy moves back to it.
    let (a2, _) = start_pool(pool_config(a_addr, tp.local_addr())).await;
    let a2_stats = a2.stats();
    wait_for("shares accepted by the returning pool", LONG, || {
        a2_stats.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    wait_for("the second pool to be left", LONG, || {
        b_stats.connections.load(Ordering::Relaxed) == 0
    })
    .await;
    assert_eq!(
        ds.connections.load(Ordering::Relaxed),
        1,
        "the device never reconnected"
    );
    assert!(ds.connected.load(Ordering::Relaxed));
    assert_eq!(
        proxy
            .stats()
            .upstream_channels_opened
            .load(Ordering::Relaxed),
        3
    );
}

/// The deployed case that failed before: a translator behind the proxy needs its own
/// extranonce1 (3 bytes) plus 4 bytes of extranonce2 per miner; the proxy passes on what the
/// pool grants, so it opens, and its Sv1 miners find blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_translator_behind_the_proxy_mines_blocks_with_4_byte_extranonce2() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mut tp_events = tp.subscribe();
    let (pool, pool_key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let (proxy, proxy_key) = start_proxy(proxy_config(&[(pool.local_addr(), pool_key)])).await;
    let ps = proxy.stats();
    wait_for("the proxy's upstream channel", LONG, || {
        ps.upstream_up.load(Ordering::Relaxed)
    })
    .await;
    let mut cfg = translator_config(proxy.local_addr(), proxy_key, 1e5);
    cfg.downstream_extranonce2_size = 4;
    let t = translator_sv2::Translator::start(cfg).await.unwrap();
    let addr = t.local_addr();
    let miners: Vec<_> = (0..2)
        .map(|i| {
            tokio::spawn(async move {
                let worker = format!("farm.rig{i}");
                let mut m = Sv1Miner::connect(addr).await;
                m.handshake(&worker, true).await;
                assert_eq!(m.client.extranonce().map(|e| e.1), Some(4));
                m.mine(&worker, Duration::from_secs(600)).await
            })
        })
        .collect();
    within(
        "a block from an Sv1 miner behind translator and proxy",
        LONG,
        async {
            loop {
                match tp_events.recv().await {
                    Ok(TpEvent::BlockAccepted(_)) => break,
                    Ok(TpEvent::SolutionRefused { reason, .. }) => panic!("refused: {reason}"),
                    _ => {}
                }
            }
        },
    )
    .await;
    assert!(t.stats().upstream_accepted.load(Ordering::Relaxed) > 0);
    assert!(ps.upstream_accepted.load(Ordering::Relaxed) > 0);
    for m in miners {
        m.abort();
    }
}

/// Failover from a pool that grants 26 extranonce bytes to a proxy that grants 22: devices
/// laid out for 26 cannot mine there, so they are asked to reconnect, and mine again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_an_upstream_that_grants_less_reconnects_the_downstreams() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let (p1, k1) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let (p2, k2) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let (smaller, smaller_key) = start_proxy(proxy_config(&[(p2.local_addr(), k2)])).await;
    let ss = smaller.stats();
    wait_for("the second proxy's channel", LONG, || {
        ss.upstream_up.load(Ordering::Relaxed)
    })
    .await;
    let (proxy, key) = start_proxy(proxy_config(&[
        (p1.local_addr(), k1),
        (smaller.local_addr(), smaller_key),
    ]))
    .await;
    let ps = proxy.stats();
    wait_for("the proxy on the first pool", LONG, || {
        ps.upstream_up.load(Ordering::Relaxed)
    })
    .await;
    // Connected after the first grant: laid out in all 26 bytes.
    let d = device(proxy.local_addr(), key, ChannelKind::Extended, "d");
    let ds = d.stats();
    let s1 = p1.stats();
    wait_for("shares on the first pool", LONG, || {
        s1.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    p1.shutdown();
    let s2 = p2.stats();
    wait_for("shares through the smaller upstream", LONG, || {
        s2.shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(
        ds.connections.load(Ordering::Relaxed) >= 2,
        "the device was asked to reconnect"
    );
    let before = ds.accepted.load(Ordering::Relaxed);
    wait_for("the device mining again", LONG, || {
        ds.accepted.load(Ordering::Relaxed) > before + 2
    })
    .await;
}
