//! The translator against miners that try to make it hold too much, and the mining policy real
//! firmware needs: a cap on worker names per connection, disconnected workers forgotten on a
//! timer and a cap on all of them, powers-of-two difficulty, mining.suggest_difficulty and
//! BIP310 minimum-difficulty, the nTime bound, and mining.set_version_mask after a failover to
//! an upstream with other version-rolling rules.

use integration_tests::*;
use std::time::Duration;
use sv1_api::client::ClientEvent;
use sv1_api::codes;
use translator_sv2::config::TranslatorConfig;
use translator_sv2::Translator;

const LONG: Duration = Duration::from_secs(120);

/// Template provider and pool (easy shares, no blocks), and a translator made from
/// `translator_config` by `edit`. Miners start near 1,000 h/s (difficulty about 2.3e-7).
async fn stack(
    edit: impl FnOnce(&mut TranslatorConfig),
) -> (
    template_provider::TemplateProvider,
    pool_sv2::Pool,
    Translator,
) {
    let tp = start_tp(free_addr(), 1e6).await;
    let (pool, key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
    let mut cfg = translator_config(pool.local_addr(), key, 1e3);
    edit(&mut cfg);
    let t = Translator::start(cfg).await.expect("translator starts");
    (tp, pool, t)
}

/// The difficulty of the next mining.set_difficulty the miner receives.
async fn next_difficulty(m: &mut Sv1Miner) -> f64 {
    match m
        .until(|e| matches!(e, ClientEvent::DifficultyChanged(_)))
        .await
    {
        ClientEvent::DifficultyChanged(d) => d,
        _ => unreachable!(),
    }
}

/// Send `line`, then re-authorize `worker` (already authorized) as a barrier: the events
/// that came in between.
async fn events_before_barrier(m: &mut Sv1Miner, line: &str, worker: &str) -> Vec<ClientEvent> {
    m.send(line).await;
    let a = m.client.authorize(worker, "x");
    m.send(&a).await;
    let mut seen = vec![];
    loop {
        let e = m.next_event().await;
        if matches!(&e, ClientEvent::Authorized { worker: w, .. } if w == worker) {
            return seen;
        }
        seen.push(e);
    }
}

fn changed_difficulty(events: &[ClientEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, ClientEvent::DifficultyChanged(_)))
}

fn is_power_of_two(d: f64) -> bool {
    d > 0.0 && d.log2().fract() == 0.0
}

/// 100,000 distinct worker names on one connection: 64 are authorized, the rest refused, and
/// neither the metrics nor the remembered difficulties grow past 64 entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_cannot_make_the_translator_hold_more_worker_names_than_the_cap() {
    let (_tp, _pool, t) = stack(|_| {}).await;
    let mut m = Sv1Miner::connect(t.local_addr()).await;
    m.handshake("w", true).await;
    let (mut ok, mut refused) = (1, 0);
    within("100,000 answers", LONG, async {
        for batch in 0..100 {
            let mut lines = String::new();
            for i in 0..1000 {
                lines.push_str(&m.client.authorize(&format!("farm.rig{batch}.{i}"), "x"));
            }
            m.send(&lines).await;
            let mut answered = 0;
            while answered < 1000 {
                if let ClientEvent::Authorized { ok: o, .. } = m.next_event().await {
                    answered += 1;
                    if o {
                        ok += 1
                    } else {
                        refused += 1
                    }
                }
            }
        }
    })
    .await;
    assert_eq!((ok, refused), (64, 100_000 - 63));
    assert!(
        m.lines
            .iter()
            .any(|l| l.contains("\"result\":false") && l.contains("[24,\"too many workers")),
        "refused with result false and error 24"
    );
    assert_eq!(t.registry().workers_listed(), 64);
    assert_eq!(t.remembered_worker_names(), 64);
    // The connection still mines.
    let target = m.client.target();
    let s = m.find_share("w", &target, true);
    assert_eq!(m.submit(s).await, (true, None));
}

/// Miners that come and go with fresh names: the maps stay at `max_tracked_workers`, a
/// worker beyond it (all entries connected) is served but not listed, and disconnected
/// workers are forgotten `worker_expiry_sec` after they left, with nobody scraping /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_miners_with_fresh_names_cannot_grow_the_maps() {
    let (_tp, _pool, t) = stack(|c| {
        c.max_tracked_workers = 10;
        c.worker_expiry_sec = 2;
    })
    .await;
    let r = t.registry();
    for i in 0..30 {
        let mut m = Sv1Miner::connect(t.local_addr()).await;
        m.handshake(&format!("fresh.{i}"), true).await;
        assert!(r.workers_listed() <= 10 && t.remembered_worker_names() <= 10);
        drop(m);
    }
    // Ten connected miners fill the maps; an eleventh still mines, unlisted.
    let mut held = Vec::new();
    for i in 0..10 {
        let mut m = Sv1Miner::connect(t.local_addr()).await;
        m.handshake(&format!("held.{i}"), true).await;
        held.push(m);
    }
    wait_for("the connected miners to fill the registry", LONG, || {
        r.workers_listed() == 10 && r.workers_untracked() == 0
    })
    .await;
    let mut extra = Sv1Miner::connect(t.local_addr()).await;
    extra.handshake("extra", true).await;
    let target = extra.client.target();
    let s = extra.find_share("extra", &target, true);
    assert_eq!(extra.submit(s).await, (true, None));
    assert_eq!(r.workers_untracked(), 1);
    assert_eq!(r.workers_listed(), 10);
    assert_eq!(t.remembered_worker_names(), 10);
    // Everybody leaves: all of it expires on the timer.
    drop(held);
    drop(extra);
    wait_for(
        "disconnected workers to expire",
        Duration::from_secs(15),
        || r.workers_listed() == 0 && t.remembered_worker_names() == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn difficulty_stays_a_power_of_two_when_configured() {
    let (_tp, _pool, t) = stack(|c| {
        c.downstream_difficulty_config.difficulty_power_of_two = true;
    })
    .await;
    let mut m = Sv1Miner::connect(t.local_addr()).await;
    m.handshake("farm.asic", true).await;
    let start = m.client.difficulty();
    // The floor (about 2.3e-7) rounded up: 2^-22.
    assert_eq!(start, 2f64.powi(-22));
    within("vardiff to raise the difficulty", LONG, async {
        while m.client.difficulty() <= start {
            m.mine("farm.asic", Duration::from_millis(500)).await;
        }
    })
    .await;
    let sent: Vec<f64> = m
        .lines
        .iter()
        .filter(|l| l.contains("\"method\":\"mining.set_difficulty\""))
        .map(|l| match sv1_api::Message::parse(l).unwrap() {
            sv1_api::Message::Request { params, .. } => params[0].as_f64().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(sent.len() >= 2, "{sent:?}");
    assert!(sent.iter().all(|d| is_power_of_two(*d)), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_starts_at_its_suggestion_and_never_goes_below_its_minimum() {
    let (_tp, _pool, t) = stack(|_| {}).await;
    // The floor is a fresh miner's first difficulty.
    let mut m = Sv1Miner::connect(t.local_addr()).await;
    m.handshake("probe", false).await;
    let floor = m.client.difficulty();
    let l = m.client.suggest_difficulty(1e-5);
    m.send(&l).await;
    assert_eq!(next_difficulty(&mut m).await, 1e-5);
    // Outside the bounds: clamped, as deployed pools do, and still answered true.
    let l = m.client.suggest_difficulty(1e-12);
    m.send(&l).await;
    assert_eq!(next_difficulty(&mut m).await, floor);
    let l = m.client.suggest_difficulty(1e30);
    m.send(&l).await;
    let ceiling = next_difficulty(&mut m).await;
    assert!(ceiling < 1e30 && ceiling > 1e-5, "{ceiling}");
    let l = m.client.suggest_difficulty(1e31);
    let between = events_before_barrier(&mut m, &l, "probe").await;
    assert!(!changed_difficulty(&between), "no change: {between:?}");
    assert_eq!(m.client.difficulty(), ceiling);
    assert!(!m
        .lines
        .iter()
        .any(|l| l.contains("\"error\":[") && !l.contains("\"error\":null")));

    // Suggested before authorize: the first difficulty is the suggestion.
    let mut s = Sv1Miner::connect(t.local_addr()).await;
    let l = s.client.subscribe();
    s.send(&l).await;
    let l = s.client.suggest_difficulty(4e-6);
    s.send(&l).await;
    s.handshake("suggests", false).await;
    assert_eq!(s.client.difficulty(), 4e-6);

    // BIP310 minimum-difficulty: a floor of the miner's own.
    let mut b = Sv1Miner::connect(t.local_addr()).await;
    b.send(
        "{\"id\":900,\"method\":\"mining.configure\",\"params\":[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":1e-5}]}\n",
    )
    .await;
    b.handshake("bip310", false).await;
    assert_eq!(b.client.difficulty(), 1e-5);
    let l = b.client.suggest_difficulty(1e-6);
    let between = events_before_barrier(&mut b, &l, "bip310").await;
    assert!(!changed_difficulty(&between), "{between:?}");
    assert_eq!(b.client.difficulty(), 1e-5);
    let target = b.client.target();
    let share = tokio::task::block_in_place(|| b.find_share("bip310", &target, true));
    assert_eq!(b.submit(share).await, (true, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_with_ntime_out_of_range_are_refused() {
    let (_tp, _pool, t) = stack(|_| {}).await;
    let mut m = Sv1Miner::connect(t.local_addr()).await;
    m.handshake("w", true).await;
    let job_ntime = m.client.current_job().unwrap().ntime;
    let target = m.client.target();
    let now = roles_utils::now_ms() / 1000;
    for (ntime, want) in [
        (job_ntime - 1, (false, Some(codes::UNKNOWN))),
        ((now + 3 * 3600) as u32, (false, Some(codes::UNKNOWN))),
        (job_ntime + 60, (true, None)),
        (job_ntime, (true, None)),
    ] {
        let s = m.find_share_at("w", &target, true, ntime);
        assert_eq!(m.submit(s).await, want, "ntime {ntime} (job {job_ntime})");
    }
    assert!(m.lines.iter().any(|l| l.contains("ntime out of range")));
}

/// Primary pool allows version rolling, the backup requires a fixed version: on failover,
/// miners that negotiated rolling get mining.set_version_mask 00000000 and rolled shares are
/// refused; back on the primary they get BIP320's mask again. Miners that never negotiated
/// rolling get no set_version_mask at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_failover_miners_get_the_new_upstreams_version_mask() {
    let tp = start_tp(free_addr(), 1e6).await;
    let pool_addr = free_addr();
    let (pool, key) = start_pool(pool_config(pool_addr, tp.local_addr())).await;
    let (backup, backup_task) =
        start_fake_upstream(const_sv2::mining_flags::SUCCESS_REQUIRES_FIXED_VERSION).await;
    let mut cfg = translator_config(pool_addr, key, 1e3);
    cfg.upstreams.push(roles_utils::upstream::UpstreamConfig {
        address: backup.ip().to_string(),
        port: backup.port(),
        authority_pubkey: None,
        priority: 1,
    });
    let t = Translator::start(cfg).await.unwrap();
    let mut rolling = Sv1Miner::connect(t.local_addr()).await;
    rolling.handshake("rolls", true).await;
    assert_eq!(rolling.client.version_mask(), Some(0x1fff_e000));
    let mut fixed = Sv1Miner::connect(t.local_addr()).await;
    fixed.handshake("fixed", false).await;

    let old_job = rolling.client.current_job().unwrap().job_id.clone();
    pool.shutdown();
    let ev = rolling
        .until(|e| matches!(e, ClientEvent::VersionMaskChanged(_)))
        .await;
    assert_eq!(ev, ClientEvent::VersionMaskChanged(0));
    rolling
        .until(|e| matches!(e, ClientEvent::NewJob(n) if n.job_id != old_job && n.clean_jobs))
        .await;
    let target = rolling.client.target();
    let s = rolling.find_share("rolls", &target, true);
    assert_eq!(s.version_bits, Some(0), "the miner rolls nothing now");
    assert_eq!(rolling.submit(s).await, (true, None));
    let mut s = rolling.find_share("rolls", &target, true);
    s.version_bits = Some(0x0000_2000);
    assert_eq!(rolling.submit(s).await, (false, Some(codes::UNKNOWN)));

    // The primary comes back: rolling again.
    let (_pool2, _) = start_pool(pool_config(pool_addr, tp.local_addr())).await;
    let ev = rolling
        .until(|e| matches!(e, ClientEvent::VersionMaskChanged(_)))
        .await;
    assert_eq!(ev, ClientEvent::VersionMaskChanged(0x1fff_e000));
    backup_task.abort();
    // The miner without rolling was never sent a mask.
    while !fixed.silent_for(Duration::from_millis(200)).await {
        fixed.next_event().await;
    }
    assert!(
        !fixed.lines.iter().any(|l| l.contains("set_version_mask")),
        "{:?}",
        fixed.lines
    );
    assert_eq!(fixed.client.version_mask(), None);
}
