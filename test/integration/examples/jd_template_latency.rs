//! How long the JD client takes from a new template to the first downstream job built on it.
//!
//! A template provider refreshes its template every 250 ms (new transactions, no new block);
//! a relay on the JD client's template provider link notes when each NewTemplate passes; a
//! client on an extended channel notes when the job built on it arrives. Both clocks are this
//! process's, so the difference is the JD client's work plus two loopback hops.
//!
//! `cargo run --release -p integration-tests --example jd_template_latency`

use integration_tests::mitm::{Direction, Fault, FrameSecurity, Mitm};
use integration_tests::*;
use jd_client_sv2::config::{JdClientConfig, Sv2Tp, TemplateProviderType, UpstreamConfig};
use jd_client_sv2::JdClient;
use roles_logic_sv2::parsers::{AnyMessage, Mining};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLES: usize = 80;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tp = template_provider::TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: Some(tp_key()),
        block_difficulty: 1e12,
        template_interval: Duration::from_millis(250),
        transactions_per_interval: 20,
        rpc_address: Some(free_addr()),
        ..template_provider::Config::default()
    })
    .await
    .expect("template provider");
    let link = Mitm::frames(
        tp.local_addr(),
        FrameSecurity::Noise {
            authority: tp_key(),
        },
    )
    .await;
    let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let s = sent.clone();
    link.set_rule(move |seen| {
        if seen.direction == Direction::ToClient
            && seen.msg_type == const_sv2::MESSAGE_TYPE_NEW_TEMPLATE
        {
            let mut s = s.lock().unwrap();
            s.push_back(Instant::now());
            if s.len() > 16 {
                s.pop_front();
            }
        }
        Fault::Pass
    });
    let mut pool_cfg = pool_config(free_addr(), tp.local_addr());
    let jds = free_addr();
    pool_cfg.jds = Some(pool_sv2::config::JdsConfig {
        listen_address: jds,
        rpc_url: format!("http://{}", tp.rpc_address().unwrap()),
        rpc_user: None,
        rpc_password: None,
        rpc_cookie_file: None,
        min_pool_payout_fraction: 1.0,
        coinbase_only: true,
        token_ttl_sec: 600,
        max_tokens: 10_000,
    });
    let (pool, pool_key) = start_pool(pool_cfg).await;
    let mut cfg = JdClientConfig::default_config();
    cfg.listening_address = free_addr();
    cfg.upstreams = vec![UpstreamConfig {
        authority_pubkey: pool_key.to_base58(),
        pool_address: pool.local_addr().ip().to_string(),
        pool_port: Some(pool.local_addr().port()),
        jds_address: jds.ip().to_string(),
        jds_port: Some(jds.port()),
        user_identity: "latency".into(),
    }];
    cfg.template_provider_type = Some(TemplateProviderType::Sv2Tp(Sv2Tp {
        address: link.local_addr().to_string(),
        public_key: Some(tp_key().public_key().to_base58()),
    }));
    let key = cfg.authority().unwrap().public_key();
    let jdc = JdClient::start(cfg).await.expect("jd-client");
    let stats = jdc.stats();
    wait_for("the JD client on the pool", Duration::from_secs(30), || {
        stats.on_pool.load(std::sync::atomic::Ordering::Relaxed)
    })
    .await;
    let client = TestClient::connect(jdc.local_addr(), key, 1e9).await;
    let mut lat_us: Vec<u64> = Vec::with_capacity(SAMPLES);
    while lat_us.len() < SAMPLES {
        if let AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) = client.recv().await {
            let arrived = Instant::now();
            if j.min_ntime.is_none() {
                continue; // a future job: it waits for a prev hash
            }
            if let Some(t) = sent.lock().unwrap().iter().rev().find(|t| **t <= arrived) {
                lat_us.push(arrived.duration_since(*t).as_micros() as u64);
            }
        }
    }
    lat_us.sort_unstable();
    let p = |q: f64| lat_us[((lat_us.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "new template -> first downstream job, {} templates: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat_us.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        p(1.0)
    );
}
