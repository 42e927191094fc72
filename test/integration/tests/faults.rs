//! Faults injected between two roles by a man in the middle (test/integration/src/mitm.rs):
//! frames delayed, duplicated, dropped, truncated and corrupted, and links cut. In every case
//! mining resumes once the faults stop, and a share is never reported accepted to a miner
//! unless the pool accepted it: `upstream_accepted` of the role in the middle never exceeds
//! what the pool accepted.

use integration_tests::mitm::{Direction, Fault, FrameSecurity, Mitm, Seen};
use integration_tests::*;
use mining_device::ChannelKind;
use std::sync::atomic::Ordering;
use std::time::Duration;
use template_provider::TpEvent;

const BLOCK_DIFFICULTY: f64 = 0.0005;
const LONG: Duration = Duration::from_secs(120);
/// How long faults are injected.
const STORM: Duration = Duration::from_secs(8);

/// A rule that, for about one frame in `one_in` either way, picks a fault at random
/// (deterministically from `seed`); every `cut_every`th faulty frame closes the link.
fn storm(seed: u64, one_in: u64) -> impl FnMut(Seen) -> Fault + Send + 'static {
    let mut x = seed | 1;
    let mut faults = 0u64;
    move |_seen| {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if !x.is_multiple_of(one_in) {
            return Fault::Pass;
        }
        faults += 1;
        match (x >> 8) % 7 {
            0 => Fault::Delay(Duration::from_millis(30 + (x >> 16) % 200)),
            1 => Fault::Duplicate,
            2 => Fault::Drop,
            3 => Fault::Truncate(((x >> 16) % 8) as usize),
            4 => Fault::Corrupt(((x >> 16) % 16) as usize),
            5 if faults.is_multiple_of(3) => Fault::Close,
            _ => Fault::Delay(Duration::from_millis(5)),
        }
    }
}

/// A pool whose channel targets are easy: a role in the middle forwards a share every few
/// hundred thousand hashes, so many answers cross the faults.
async fn easy_pool(tp: std::net::SocketAddr) -> (pool_sv2::Pool, noise_sv2::AuthorityPublicKey) {
    let mut cfg = pool_config(free_addr(), tp);
    cfg.shares_per_minute = 600.0;
    cfg.min_share_difficulty = 0.0;
    start_pool(cfg).await
}

fn pool_secret() -> noise_sv2::AuthoritySecretKey {
    pool_sv2::config::PoolConfig::default_config()
        .authority()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_to_pool_faults_never_turn_into_false_accepts() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let (pool, pool_key) = easy_pool(tp.local_addr()).await;
    let mitm = Mitm::frames(
        pool.local_addr(),
        FrameSecurity::Noise {
            authority: pool_secret(),
        },
    )
    .await;
    let mut pcfg = proxy_config(&[(mitm.local_addr(), pool_key)]);
    pcfg.upstream_answer_timeout_sec = 2;
    // Every share the devices find also goes to the pool, so every answer crosses the faults.
    pcfg.shares_per_minute = 120.0;
    let (proxy, key) = start_proxy(pcfg).await;
    let _devices = [
        device(proxy.local_addr(), key, ChannelKind::Extended, "ext"),
        device(proxy.local_addr(), key, ChannelKind::Standard, "std"),
    ];
    let (ps, us) = (pool.stats(), proxy.stats());
    wait_for("shares through the proxy", LONG, || {
        us.upstream_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    mitm.set_rule(storm(0x5eed_1234, 6));
    tokio::time::sleep(STORM).await;
    mitm.set_rule(|_| Fault::Pass);
    let after = ps.shares_accepted.load(Ordering::Relaxed);
    wait_for("mining resumes through the proxy", LONG, || {
        ps.shares_accepted.load(Ordering::Relaxed) > after + 5
    })
    .await;
    let (told, credited) = (
        us.upstream_accepted.load(Ordering::Relaxed),
        ps.shares_accepted.load(Ordering::Relaxed),
    );
    assert!(
        told <= credited,
        "the proxy told its devices {told} forwarded shares were accepted; the pool accepted {credited}"
    );
    assert!(
        mitm.connections() >= 2,
        "the storm cut the link at least once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translator_to_pool_faults_never_turn_into_false_accepts() {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let (pool, pool_key) = easy_pool(tp.local_addr()).await;
    let mitm = Mitm::frames(
        pool.local_addr(),
        FrameSecurity::Noise {
            authority: pool_secret(),
        },
    )
    .await;
    let mut tcfg = translator_config(mitm.local_addr(), pool_key, 1e5);
    // The test's Sv1 miners wait for each answer; a share lost in the storm is answered
    // (not accepted) after this.
    tcfg.upstream_answer_timeout_sec = 2;
    let t = translator_sv2::Translator::start(tcfg).await.unwrap();
    let addr = t.local_addr();
    let miners: Vec<_> = (0..2)
        .map(|i| {
            tokio::spawn(async move {
                let worker = format!("w.{i}");
                let mut m = Sv1Miner::connect(addr).await;
                m.handshake(&worker, true).await;
                m.mine(&worker, Duration::from_secs(600)).await
            })
        })
        .collect();
    let (ps, ts) = (pool.stats(), t.stats());
    wait_for("shares through the translator", LONG, || {
        ts.upstream_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    mitm.set_rule(storm(0xfeed_beef, 5));
    tokio::time::sleep(STORM).await;
    mitm.set_rule(|_| Fault::Pass);
    let after = ps.shares_accepted.load(Ordering::Relaxed);
    wait_for("mining resumes through the translator", LONG, || {
        ps.shares_accepted.load(Ordering::Relaxed) > after + 5
    })
    .await;
    let (told, credited) = (
        ts.upstream_accepted.load(Ordering::Relaxed),
        ps.shares_accepted.load(Ordering::Relaxed),
    );
    assert!(
        told <= credited,
        "told {told} accepted, the pool accepted {credited}"
    );
    for m in miners {
        m.abort();
    }
}

/// Templates and tips delayed, duplicated, dropped or mangled, and the link cut, between the
/// pool and its template provider: blocks are still found and accepted afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_to_template_provider_faults_and_mining_resumes() {
    let tp = template_provider::TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: Some(tp_key()),
        block_difficulty: BLOCK_DIFFICULTY,
        template_interval: Duration::from_millis(300),
        ..template_provider::Config::default()
    })
    .await
    .unwrap();
    let mitm = Mitm::frames(
        tp.local_addr(),
        FrameSecurity::Noise {
            authority: tp_key(),
        },
    )
    .await;
    let (pool, key) = start_pool(pool_config(free_addr(), mitm.local_addr())).await;
    let _d = device(pool.local_addr(), key, ChannelKind::Extended, "d");
    let ps = pool.stats();
    wait_for("a first block", LONG, || {
        ps.blocks_confirmed.load(Ordering::Relaxed) > 0
    })
    .await;
    mitm.set_rule(storm(0xabcd_0001, 3));
    tokio::time::sleep(STORM).await;
    mitm.set_rule(|_| Fault::Pass);
    let mut events = tp.subscribe();
    within("a block accepted after the faults", LONG, async {
        while !matches!(events.recv().await, Ok(TpEvent::BlockAccepted(_))) {}
    })
    .await;
    assert!(mitm.connections() >= 2, "the link was cut and came back");
}

/// Bytes split into small pieces and delayed on an encrypted link: nothing breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_delayed_bytes_on_a_noise_link_change_nothing() {
    // No blocks: no tip change that could make a share stale.
    let tp = start_tp(free_addr(), 1.0).await;
    let (pool, key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let mitm = Mitm::bytes(pool.local_addr()).await;
    mitm.set_rule(|s| match s.direction {
        Direction::ToServer => Fault::Split(3),
        Direction::ToClient if s.index % 4 == 0 => Fault::Delay(Duration::from_millis(20)),
        Direction::ToClient => Fault::Split(7),
    });
    let d = device(mitm.local_addr(), key, ChannelKind::Extended, "d");
    let ds = d.stats();
    wait_for("shares accepted through a slicing relay", LONG, || {
        ds.accepted.load(Ordering::Relaxed) > 3
    })
    .await;
    assert_eq!(
        ds.connections.load(Ordering::Relaxed),
        1,
        "never reconnected"
    );
    assert_eq!(pool.stats().shares_rejected.load(Ordering::Relaxed), 0);
}
