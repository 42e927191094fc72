//! Job declaration end to end over loopback: a template provider that is also the node (its
//! RPC serves the pool's JDS), the pool with `[jds]`, and the JD client with devices, a mining
//! proxy and a translator behind it.

use integration_tests::mitm::{Fault, Mitm};
use integration_tests::*;
use jd_client_sv2::config::JdClientConfig;
use jd_client_sv2::{JdClient, JdEvent, Mining};
use mining_device::ChannelKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use template_provider::{TemplateProvider, TpEvent};

const BLOCK_DIFFICULTY: f64 = 0.0005;
const LONG: Duration = Duration::from_secs(120);

/// The node: templates over Sv2, mempool and submitblock over RPC; a few transactions the RPC
/// does not show, so the JDS must ask the JD client for them.
async fn node(private: usize) -> TemplateProvider {
    node_at(free_addr(), free_addr(), private).await
}

async fn node_at(listen: SocketAddr, rpc: SocketAddr, private: usize) -> TemplateProvider {
    node_with(listen, rpc, private, BLOCK_DIFFICULTY).await
}

async fn node_with(
    listen: SocketAddr,
    rpc: SocketAddr,
    private: usize,
    block_difficulty: f64,
) -> TemplateProvider {
    // A node stopped just before on these addresses frees them once its tasks have ended.
    for _ in 0..50 {
        match try_node_at(listen, rpc, private, block_difficulty).await {
            Ok(tp) => return tp,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("template provider starts: {e}"),
        }
    }
    panic!("the template provider's addresses stay in use");
}

async fn try_node_at(
    listen: SocketAddr,
    rpc: SocketAddr,
    private: usize,
    block_difficulty: f64,
) -> std::io::Result<TemplateProvider> {
    TemplateProvider::start(template_provider::Config {
        listen_address: listen,
        authority_secret_key: Some(tp_key()),
        block_difficulty,
        template_interval: Duration::from_secs(2),
        transactions_per_interval: 20,
        private_transactions_per_interval: private,
        rpc_address: Some(rpc),
        rpc_credentials: Some("user:pass".into()),
        ..template_provider::Config::default()
    })
    .await
}

fn jds_pool_config(
    listen: SocketAddr,
    jds: SocketAddr,
    tp: &TemplateProvider,
) -> pool_sv2::config::PoolConfig {
    let mut cfg = pool_config(listen, tp.local_addr());
    cfg.jds = Some(pool_sv2::config::JdsConfig {
        listen_address: jds,
        rpc_url: format!("http://{}", tp.rpc_address().unwrap()),
        rpc_user: Some("user".into()),
        rpc_password: Some("pass".into()),
        rpc_cookie_file: None,
        min_pool_payout_fraction: 1.0,
        coinbase_only: true,
        token_ttl_sec: 600,
        max_tokens: 10_000,
    });
    cfg
}

fn jdc_config(
    upstreams: &[(SocketAddr, SocketAddr, noise_sv2::AuthorityPublicKey)],
    tp: SocketAddr,
    mode: &str,
) -> JdClientConfig {
    let mut cfg = JdClientConfig::default_config();
    cfg.listening_address = free_addr();
    cfg.shares_per_minute = 60.0;
    cfg.retry_primary_sec = 2;
    cfg.mode = mode.into();
    cfg.upstreams = upstreams
        .iter()
        .map(|(pool, jds, key)| jd_client_sv2::config::UpstreamConfig {
            authority_pubkey: key.to_base58(),
            pool_address: pool.ip().to_string(),
            pool_port: Some(pool.port()),
            jds_address: jds.ip().to_string(),
            jds_port: Some(jds.port()),
            user_identity: "farm".into(),
        })
        .collect();
    cfg.template_provider_type = Some(jd_client_sv2::config::TemplateProviderType::Sv2Tp(
        jd_client_sv2::config::Sv2Tp {
            address: tp.to_string(),
            public_key: Some(tp_key().public_key().to_base58()),
        },
    ));
    cfg
}

/// Start a JD client and wait until it mines on its first pool; its key and its events.
async fn start_jdc(
    cfg: JdClientConfig,
) -> (
    JdClient,
    noise_sv2::AuthorityPublicKey,
    tokio::sync::broadcast::Receiver<JdEvent>,
) {
    let key = cfg.authority().unwrap().public_key();
    let jdc = JdClient::start(cfg).await.unwrap();
    let mut events = jdc.subscribe();
    wait_mining(&mut events, true).await;
    (jdc, key, events)
}

async fn wait_mining(events: &mut tokio::sync::broadcast::Receiver<JdEvent>, pool: bool) {
    within("the JD client's mode", LONG, async {
        loop {
            if let Ok(JdEvent::Mining(m)) = events.recv().await {
                if matches!(m, Mining::Pool { .. }) == pool {
                    return;
                }
            }
        }
    })
    .await;
}

/// Devices, a mining proxy and a translator behind the JD client; its templates are
/// declared in full to the pool's JDS (some transactions provided on request), mined as
/// custom jobs, and the blocks they find are accepted by the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_proxy_and_translator_mine_declared_jobs_to_blocks() {
    let tp = node(3).await;
    let mut tp_events = tp.subscribe();
    let jds_addr = free_addr();
    let (pool, pool_key) = start_pool(jds_pool_config(free_addr(), jds_addr, &tp)).await;
    let cfg = jdc_config(
        &[(pool.local_addr(), jds_addr, pool_key)],
        tp.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, mut jd_events) = start_jdc(cfg).await;
    let addr = jdc.local_addr();
    let _devices = [
        device(addr, key, ChannelKind::Extended, "ext"),
        device(addr, key, ChannelKind::Standard, "std"),
    ];
    let (proxy, proxy_key) = start_proxy(proxy_config(&[(addr, key)])).await;
    let _behind_proxy = device(
        proxy.local_addr(),
        proxy_key,
        ChannelKind::Extended,
        "via-proxy",
    );
    let t = translator_sv2::Translator::start(translator_config(addr, key, 1e5))
        .await
        .unwrap();
    let taddr = t.local_addr();
    let sv1 = tokio::spawn(async move {
        let mut m = Sv1Miner::connect(taddr).await;
        m.handshake("sv1.rig", true).await;
        m.mine("sv1.rig", Duration::from_secs(600)).await
    });
    // Blocks the JD client found on declared jobs, and blocks the node accepted (a found
    // block can lose a race with the next one, so the two are matched by hash).
    let (mut declared, mut accepted) = (Vec::new(), Vec::new());
    within(
        "two blocks on declared jobs, accepted by the node",
        LONG,
        async {
            while declared.iter().filter(|h| accepted.contains(*h)).count() < 2 {
                tokio::select! {
                    e = jd_events.recv() => {
                        if let Ok(JdEvent::BlockFound { declared: true, hash, .. }) = e {
                            declared.push(hash);
                        }
                    }
                    e = tp_events.recv() => match e {
                        Ok(TpEvent::BlockAccepted(b)) => accepted.push(b.hash.to_string()),
                        Ok(TpEvent::SolutionRefused { reason, .. }) => assert!(
                            ["no longer the tip", "unknown template", "duplicate"]
                                .iter()
                                .any(|r| reason.contains(r)),
                            "{reason}"
                        ),
                        _ => {}
                    },
                }
            }
        },
    )
    .await;
    let (ps, js) = (pool.stats(), jdc.stats());
    assert!(js.custom_jobs_accepted.load(Ordering::Relaxed) > 0);
    assert!(js.jobs_declared.load(Ordering::Relaxed) > 0);
    assert!(
        ps.shares_accepted.load(Ordering::Relaxed) > 0,
        "shares on custom jobs credited"
    );
    assert_eq!(js.fallbacks.load(Ordering::Relaxed), 0, "never fell back");
    wait_for("shares from the proxy and the translator", LONG, || {
        proxy.stats().upstream_accepted.load(Ordering::Relaxed) > 0
            && t.stats().upstream_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    sv1.abort();
}

/// The pool goes away: the JD client mines solo (blocks to its template provider) with its
/// downstreams still connected; the pool comes back: it mines there again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_to_solo_when_the_pool_goes_and_back_when_it_returns() {
    let tp = node(0).await;
    let pool_addr = free_addr();
    let jds_addr = free_addr();
    let (pool, pool_key) = start_pool(jds_pool_config(pool_addr, jds_addr, &tp)).await;
    let cfg = jdc_config(
        &[(pool_addr, jds_addr, pool_key)],
        tp.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, mut ev) = start_jdc(cfg).await;
    let d = device(jdc.local_addr(), key, ChannelKind::Extended, "d");
    let ds = d.stats();
    wait_for("shares on the pool", LONG, || {
        pool.stats().shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    pool.shutdown();
    wait_mining(&mut ev, false).await;
    let mut tp_events = tp.subscribe();
    within(
        "a solo block accepted by the template provider",
        LONG,
        async {
            loop {
                if let Ok(JdEvent::BlockFound { solo: true, .. }) = ev.recv().await {
                    break;
                }
            }
            while !matches!(tp_events.recv().await, Ok(TpEvent::BlockAccepted(_))) {}
        },
    )
    .await;
    let (pool2, _) = start_pool(jds_pool_config(pool_addr, jds_addr, &tp)).await;
    wait_mining(&mut ev, true).await;
    wait_for("shares on the returned pool", LONG, || {
        pool2.stats().shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(
        ds.connections.load(Ordering::Relaxed),
        1,
        "the device never reconnected"
    );
}

/// The JDS stops answering (its frames dropped): the JD client falls back to the next
/// upstream instead of waiting for ever; the first one is used again when it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jds_that_stops_answering_is_left_for_the_next_upstream() {
    let tp = node(0).await;
    let jds1 = free_addr();
    let (p1, k1) = start_pool(jds_pool_config(free_addr(), jds1, &tp)).await;
    let jds2 = free_addr();
    let (p2, k2) = start_pool(jds_pool_config(free_addr(), jds2, &tp)).await;
    let mitm = Mitm::bytes(jds1).await;
    let cfg = jdc_config(
        &[
            (p1.local_addr(), mitm.local_addr(), k1),
            (p2.local_addr(), jds2, k2),
        ],
        tp.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, _events) = start_jdc(cfg).await;
    let _d = device(jdc.local_addr(), key, ChannelKind::Extended, "d");
    wait_for("shares on the first pool", LONG, || {
        p1.stats().shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    mitm.set_rule(|_| Fault::Drop);
    wait_for("shares on the second pool", LONG, || {
        p2.stats().shares_accepted.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(jdc.stats().fallbacks.load(Ordering::Relaxed) >= 1);
    mitm.set_rule(|_| Fault::Pass);
    mitm.cut();
    let before = p1.stats().shares_accepted.load(Ordering::Relaxed);
    wait_for("back on the first pool", LONG, || {
        p1.stats().shares_accepted.load(Ordering::Relaxed) > before
    })
    .await;
}

/// Reorgs and a template provider restart: the JDS and the JD client go on, and blocks are
/// found on declared jobs afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_and_a_template_provider_restart_are_survived() {
    let tp = node(2).await;
    let jds_addr = free_addr();
    let (pool, pool_key) = start_pool(jds_pool_config(free_addr(), jds_addr, &tp)).await;
    let cfg = jdc_config(
        &[(pool.local_addr(), jds_addr, pool_key)],
        tp.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, mut ev) = start_jdc(cfg).await;
    let _d = device(jdc.local_addr(), key, ChannelKind::Extended, "d");
    let declared_block = |ev: &mut tokio::sync::broadcast::Receiver<JdEvent>| {
        let mut ev = ev.resubscribe();
        async move {
            loop {
                if let Ok(JdEvent::BlockFound { declared: true, .. }) = ev.recv().await {
                    return;
                }
            }
        }
    };
    within(
        "a first block on a declared job",
        LONG,
        declared_block(&mut ev),
    )
    .await;
    wait_for("two blocks to reorganise", LONG, || tp.height() >= 2).await;
    tp.reorg(2).expect("reorg");
    within(
        "a block on a declared job after the reorg",
        LONG,
        declared_block(&mut ev),
    )
    .await;
    assert_eq!(
        jdc.stats().fallbacks.load(Ordering::Relaxed),
        0,
        "a reorg is no reason to fall back"
    );
    // The node restarts (a new chain on the same addresses): the pool, its JDS and the JD
    // client reconnect to it and blocks on declared jobs follow.
    let (listen, rpc) = (tp.local_addr(), tp.rpc_address().unwrap());
    tp.shutdown();
    let tp = node_at(listen, rpc, 2).await;
    let mut tp_events = tp.subscribe();
    let declared_before = jdc.stats().blocks_on_declared_jobs.load(Ordering::Relaxed);
    within(
        "a declared block accepted by the restarted node",
        LONG,
        async {
            loop {
                if let Ok(TpEvent::BlockAccepted(_)) = tp_events.recv().await {
                    if jdc.stats().blocks_on_declared_jobs.load(Ordering::Relaxed) > declared_before
                    {
                        return;
                    }
                }
            }
        },
    )
    .await;
    assert!(tp.height() >= 1);
}

/// A declared job whose coinbase does not pay the pool is refused by its JDS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_refuses_a_declared_job_that_underpays_it() {
    use roles_logic_sv2::job_declaration::{JdcConfig, JdcEvent, JdcSession};
    let tp = node(0).await;
    let jds_addr = free_addr();
    let (_pool, pool_key) = start_pool(jds_pool_config(free_addr(), jds_addr, &tp)).await;
    // A hand-driven JD client: connect, get a token, declare a coinbase paying itself.
    let stream = tokio::net::TcpStream::connect(jds_addr).await.unwrap();
    let conn = network_helpers_sv2::with_tokio::connect(
        stream,
        network_helpers_sv2::Security::NoiseInitiator {
            authority: pool_key.0,
        },
        network_helpers_sv2::ConnectionConfig::default(),
    )
    .await
    .unwrap();
    let setup = roles_utils::setup_connection_message(
        const_sv2::PROTOCOL_JOB_DECLARATION,
        const_sv2::job_declaration_flags::DECLARE_TX_DATA,
        jds_addr,
        "t",
    );
    let mut s = JdcSession::new(JdcConfig::default(), setup, roles_utils::now());
    let mut events = Vec::new();
    // Drive until a token is ready.
    loop {
        while let Some(m) = s.poll_message() {
            roles_utils::send(&conn, m).await.unwrap();
        }
        if s.tokens() > 0 {
            break;
        }
        let f = within("the JDS answers", LONG, conn.receiver.recv())
            .await
            .unwrap();
        let h = f.header();
        s.handle_frame(
            h.extension_type(),
            h.msg_type(),
            f.payload(),
            roles_utils::now(),
        )
        .unwrap();
        events.extend(std::iter::from_fn(|| s.poll_event()));
    }
    let token = s.take_token().unwrap();
    // A coinbase for the next height that pays nothing to the pool's payout output.
    let height = tp.height() + 1;
    let nt = template_distribution_sv2::NewTemplate {
        template_id: 1,
        future_template: false,
        version: 0x2000_0000,
        coinbase_tx_version: 2,
        coinbase_prefix: binary_sv2::B0255::new(template_provider::chain::bip34_prefix(height))
            .unwrap(),
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: 5_000_000_000,
        coinbase_tx_outputs_count: 0,
        coinbase_tx_outputs: binary_sv2::B064K::new(vec![]).unwrap(),
        coinbase_tx_locktime: 0,
        merkle_path: binary_sv2::Seq0255::new(),
    };
    let job = roles_logic_sv2::job::JobTemplate::from_template(
        &nt,
        &roles_logic_sv2::job::CoinbaseConfig {
            payout_outputs: vec![roles_logic_sv2::job::PayoutOutput {
                script_pubkey: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
                weight: 1,
            }],
            pool_tag: b"greedy".to_vec(),
            extranonce_len: 16,
        },
    )
    .unwrap();
    let (prefix, suffix) = job.full_coinbase_parts().unwrap();
    let id = s
        .declare(
            token.token,
            1,
            job.version,
            prefix,
            suffix,
            std::sync::Arc::new(vec![]),
            vec![],
        )
        .unwrap();
    let code = within("the JDS refuses", LONG, async {
        loop {
            while let Some(m) = s.poll_message() {
                roles_utils::send(&conn, m).await.unwrap();
            }
            let f = conn.receiver.recv().await.unwrap();
            let h = f.header();
            s.handle_frame(
                h.extension_type(),
                h.msg_type(),
                f.payload(),
                roles_utils::now(),
            )
            .unwrap();
            while let Some(e) = s.poll_event() {
                if let JdcEvent::DeclareRefused {
                    request_id,
                    error_code,
                    ..
                } = e
                {
                    assert_eq!(request_id, id);
                    return error_code;
                }
                if let JdcEvent::Declared { .. } = e {
                    panic!("an underpaying job was declared");
                }
            }
        }
    })
    .await;
    assert_eq!(code, "invalid-job-param-value-coinbase_tx_suffix");
}

/// The new tip reaches the JD client and the pool in either order, seconds apart (their links
/// to the node are delayed in turn): the JDS waits for a tip it has not seen yet instead of
/// refusing, and the JD client never falls back for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tip_reaching_the_jd_client_and_the_pool_in_either_order_is_no_reason_to_fall_back() {
    use integration_tests::mitm::{Direction, FrameSecurity};
    const SET_NEW_PREV_HASH: u8 = const_sv2::MESSAGE_TYPE_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH;
    // Blocks seconds apart rather than many a second: each tip is seen late by one side.
    let tp = node_with(free_addr(), free_addr(), 1, 0.01).await;
    let security = || FrameSecurity::Noise {
        authority: tp_key(),
    };
    let pool_link = Mitm::frames(tp.local_addr(), security()).await;
    let jdc_link = Mitm::frames(tp.local_addr(), security()).await;
    let delay_tips = |link: &Mitm, on: bool| {
        link.set_rule(move |s| {
            if on && s.direction == Direction::ToClient && s.msg_type == SET_NEW_PREV_HASH {
                Fault::Delay(Duration::from_secs(2))
            } else {
                Fault::Pass
            }
        })
    };
    let jds_addr = free_addr();
    let mut pool_cfg = jds_pool_config(free_addr(), jds_addr, &tp);
    pool_cfg.tp_address = pool_link.local_addr();
    let (pool, pool_key) = start_pool(pool_cfg).await;
    let cfg = jdc_config(
        &[(pool.local_addr(), jds_addr, pool_key)],
        jdc_link.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, _events) = start_jdc(cfg).await;
    let _d = device(jdc.local_addr(), key, ChannelKind::Extended, "d");
    let stats = jdc.stats();
    for (late, early) in [(&pool_link, &jdc_link), (&jdc_link, &pool_link)] {
        delay_tips(late, true);
        delay_tips(early, false);
        let declared = stats.blocks_on_declared_jobs.load(Ordering::Relaxed);
        wait_for("two more blocks on declared jobs", LONG, || {
            stats.blocks_on_declared_jobs.load(Ordering::Relaxed) >= declared + 2
        })
        .await;
    }
    assert_eq!(
        stats.fallbacks.load(Ordering::Relaxed),
        0,
        "never fell back"
    );
    assert!(pool.stats().shares_accepted.load(Ordering::Relaxed) > 0);
}

/// The JD client's template provider misbehaves: a template it cannot read, then a dropped
/// link. The JD client keeps its downstreams, reconnects, and mines declared jobs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_provider_error_does_not_stop_the_jd_client() {
    use integration_tests::mitm::{Direction, FrameSecurity};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    const NEW_TEMPLATE: u8 = const_sv2::MESSAGE_TYPE_NEW_TEMPLATE;
    let tp = node(0).await;
    let link = Mitm::frames(
        tp.local_addr(),
        FrameSecurity::Noise {
            authority: tp_key(),
        },
    )
    .await;
    let jds_addr = free_addr();
    let (pool, pool_key) = start_pool(jds_pool_config(free_addr(), jds_addr, &tp)).await;
    let cfg = jdc_config(
        &[(pool.local_addr(), jds_addr, pool_key)],
        link.local_addr(),
        "FULLTEMPLATE",
    );
    let (jdc, key, _events) = start_jdc(cfg).await;
    let d = device(jdc.local_addr(), key, ChannelKind::Extended, "d");
    let stats = jdc.stats();
    wait_for("a block on a declared job", LONG, || {
        stats.blocks_on_declared_jobs.load(Ordering::Relaxed) > 0
    })
    .await;
    // The next template is cut short (it no longer decodes); the one after closes the link.
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let mut broken = 0;
    link.set_rule(move |s| {
        if s.direction != Direction::ToClient
            || s.msg_type != NEW_TEMPLATE
            || flag.load(Ordering::Relaxed)
        {
            return Fault::Pass;
        }
        broken += 1;
        if broken == 1 {
            Fault::Truncate(3)
        } else {
            flag.store(true, Ordering::Relaxed);
            Fault::Close
        }
    });
    wait_for("the broken template and the closed link", LONG, || {
        done.load(Ordering::Relaxed)
    })
    .await;
    let declared = stats.blocks_on_declared_jobs.load(Ordering::Relaxed);
    wait_for(
        "blocks on declared jobs after the link returns",
        LONG,
        || stats.blocks_on_declared_jobs.load(Ordering::Relaxed) > declared,
    )
    .await;
    assert!(link.connections() >= 2, "the JD client reconnected");
    assert_eq!(
        d.stats().connections.load(Ordering::Relaxed),
        1,
        "the device stayed connected"
    );
}

/// The JD client's templates arrive before its pool is reachable (it mines solo), and the
/// template provider sends no other for an hour: once the pool is up, those templates are
/// declared (their transaction data is asked for then) and mined as custom jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_from_before_the_pool_was_up_are_declared_once_it_is() {
    let tp = TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: Some(tp_key()),
        block_difficulty: 1e6,
        template_interval: Duration::from_secs(3600),
        transactions_per_interval: 20,
        rpc_address: Some(free_addr()),
        rpc_credentials: Some("user:pass".into()),
        ..template_provider::Config::default()
    })
    .await
    .unwrap();
    let (pool_addr, jds_addr) = (free_addr(), free_addr());
    let pool_key = pool_config(pool_addr, tp.local_addr())
        .authority()
        .unwrap()
        .public_key();
    let cfg = jdc_config(
        &[(pool_addr, jds_addr, pool_key)],
        tp.local_addr(),
        "FULLTEMPLATE",
    );
    let jdc = JdClient::start(cfg).await.unwrap();
    let mut ev = jdc.subscribe();
    let stats = jdc.stats();
    wait_for("the first template", LONG, || {
        stats.templates.load(Ordering::Relaxed) > 0
    })
    .await;
    let (pool, _) = start_pool(jds_pool_config(pool_addr, jds_addr, &tp)).await;
    wait_mining(&mut ev, true).await;
    wait_for(
        "the early template declared and accepted as a custom job",
        LONG,
        || {
            stats.jobs_declared.load(Ordering::Relaxed) > 0
                && stats.custom_jobs_accepted.load(Ordering::Relaxed) > 0
        },
    )
    .await;
    assert_eq!(
        stats.templates.load(Ordering::Relaxed),
        1,
        "the template from before the pool is the only one"
    );
    drop(pool);
}
