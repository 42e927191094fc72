//! Helpers for the end-to-end tests: start roles on free loopback ports, and a hand-driven
//! Sv2 client that sends exactly the shares a test wants.

use binary_sv2::{IntoStatic, Str0255, U256};
use common_messages_sv2::SetupConnection;
use const_sv2::{PROTOCOL_MINING, SV2_PROTOCOL_VERSION};
use mining_sv2::OpenExtendedMiningChannel;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey};
use pool_sv2::config::PoolConfig;
use pool_sv2::Pool;
use roles_logic_sv2::mining_client::{ClientChannel, Work};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, Mining};
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};
use template_provider::TemplateProvider;

pub const TP_SECRET_KEY: &str = "2ZeiGcThzCtWLmFbZZNTnPyPkyKsAhLqEmeuY5wnHv2fgUHuDg";

/// A loopback address with a port nobody listens on right now.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

pub fn tp_key() -> AuthoritySecretKey {
    AuthoritySecretKey::from_str(TP_SECRET_KEY).expect("valid key")
}

pub async fn start_tp(addr: SocketAddr, block_difficulty: f64) -> TemplateProvider {
    TemplateProvider::start(template_provider::Config {
        listen_address: addr,
        authority_secret_key: Some(tp_key()),
        block_difficulty,
        template_interval: Duration::from_secs(2),
        ..template_provider::Config::default()
    })
    .await
    .expect("template provider starts")
}

pub fn pool_config(listen: SocketAddr, tp: SocketAddr) -> PoolConfig {
    let mut cfg = PoolConfig::default_config();
    cfg.listen_address = listen;
    cfg.tp_address = tp;
    cfg.tp_authority_public_key = Some(tp_key().public_key().to_base58());
    cfg.shares_per_minute = 60.0;
    cfg
}

pub async fn start_pool(cfg: PoolConfig) -> (Pool, AuthorityPublicKey) {
    let key = cfg.authority().expect("key").public_key();
    (Pool::start(cfg).await.expect("pool starts"), key)
}

/// A proxy on a free port in front of `upstreams` (in priority order), trying a better
/// upstream every second.
pub fn proxy_config(
    upstreams: &[(SocketAddr, AuthorityPublicKey)],
) -> mining_proxy_sv2::config::ProxyConfig {
    let mut cfg = mining_proxy_sv2::config::ProxyConfig::default_config();
    cfg.listen_address = free_addr();
    cfg.shares_per_minute = 60.0;
    cfg.retry_primary_sec = 1;
    cfg.upstreams = upstreams
        .iter()
        .enumerate()
        .map(|(i, (a, k))| roles_utils::upstream::UpstreamConfig {
            address: a.ip().to_string(),
            port: a.port(),
            authority_pubkey: Some(k.to_base58()),
            priority: i as u32,
        })
        .collect();
    cfg
}

pub async fn start_proxy(
    cfg: mining_proxy_sv2::config::ProxyConfig,
) -> (mining_proxy_sv2::MiningProxy, AuthorityPublicKey) {
    let key = cfg.authority().expect("key").public_key();
    let p = mining_proxy_sv2::MiningProxy::start(cfg)
        .await
        .expect("proxy starts");
    (p, key)
}

/// Poll `f` until it is true or `timeout` passes.
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Run `fut` with a deadline.
pub async fn within<T>(what: &str, timeout: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {timeout:?}: {what}"))
}

/// A client driven by the test, one extended channel.
pub struct TestClient {
    pub conn: Connection,
    pub channel: ClientChannel,
    pub work: Option<Work>,
}

impl TestClient {
    pub async fn connect(pool: SocketAddr, key: AuthorityPublicKey, hashrate: f32) -> TestClient {
        let stream = tokio::net::TcpStream::connect(pool).await.expect("connect");
        let conn = with_tokio::connect(
            stream,
            Security::NoiseInitiator { authority: key.0 },
            ConnectionConfig::default(),
        )
        .await
        .expect("handshake");
        let s = |v: &str| Str0255::new(v.as_bytes().to_vec()).unwrap();
        let mut c = TestClient {
            conn,
            channel: ClientChannel::extended(0, 0, [0; 32], &[], 0),
            work: None,
        };
        c.send(CommonMessages::SetupConnection(SetupConnection {
            protocol: PROTOCOL_MINING,
            min_version: SV2_PROTOCOL_VERSION,
            max_version: SV2_PROTOCOL_VERSION,
            flags: 0,
            endpoint_host: s("127.0.0.1"),
            endpoint_port: pool.port(),
            vendor: s("test"),
            hardware_version: s(""),
            firmware: s(""),
            device_id: s("t"),
        }))
        .await;
        assert!(matches!(
            c.recv().await,
            AnyMessage::Common(CommonMessages::SetupConnectionSuccess(_))
        ));
        c.send(Mining::OpenExtendedMiningChannel(
            OpenExtendedMiningChannel {
                request_id: 1,
                user_identity: s("tester"),
                nominal_hash_rate: hashrate,
                max_target: U256([0xff; 32]),
                min_extranonce_size: 4,
            },
        ))
        .await;
        match c.recv().await {
            AnyMessage::Mining(Mining::OpenExtendedMiningChannelSuccess(m)) => {
                c.channel = ClientChannel::extended(
                    m.channel_id,
                    m.group_channel_id,
                    m.target.0,
                    m.extranonce_prefix.as_bytes(),
                    m.extranonce_size as usize,
                );
            }
            other => panic!("{other:?}"),
        }
        c
    }

    pub async fn send(&self, m: impl Into<AnyMessage<'static>>) {
        let m: AnyMessage = m.into();
        self.conn
            .sender
            .send(m.to_frame().unwrap())
            .await
            .expect("send");
    }

    pub async fn recv(&self) -> AnyMessage<'static> {
        let f = within(
            "a message from the pool",
            Duration::from_secs(30),
            self.conn.receiver.recv(),
        )
        .await
        .expect("connection open");
        AnyMessage::parse_frame(&f).expect("parses").into_static()
    }

    /// Read until the next message that is not a job, prevhash or target update (which are
    /// applied to the channel).
    pub async fn next_answer(&mut self) -> AnyMessage<'static> {
        loop {
            let m = self.recv().await;
            let w = match &m {
                AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) => {
                    self.channel.on_new_extended_mining_job(j).unwrap()
                }
                AnyMessage::Mining(Mining::NewMiningJob(j)) => self.channel.on_new_mining_job(j),
                AnyMessage::Mining(Mining::SetNewPrevHash(p)) => {
                    self.channel.on_set_new_prev_hash(p)
                }
                AnyMessage::Mining(Mining::SetTarget(t)) => self.channel.on_set_target(t),
                _ => return m,
            };
            if w.is_some() {
                self.work = w;
            }
        }
    }

    /// Read until there is work.
    pub async fn wait_work(&mut self) -> Work {
        self.wait_new_work(u32::MAX).await
    }

    /// Read until there is work on a job other than `old_job_id`.
    pub async fn wait_new_work(&mut self, old_job_id: u32) -> Work {
        while self.work.as_ref().is_none_or(|w| w.job_id == old_job_id) {
            let m = self.recv().await;
            let w = match &m {
                AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) => {
                    self.channel.on_new_extended_mining_job(j).unwrap()
                }
                AnyMessage::Mining(Mining::SetNewPrevHash(p)) => {
                    self.channel.on_set_new_prev_hash(p)
                }
                AnyMessage::Mining(Mining::SetTarget(t)) => self.channel.on_set_target(t),
                _ => None,
            };
            if w.is_some() {
                self.work = w;
            }
        }
        self.work.clone().unwrap()
    }
}
