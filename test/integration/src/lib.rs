//! Helpers for the end-to-end tests: start roles on free loopback ports, and a hand-driven
//! Sv2 client that sends exactly the shares a test wants.

pub mod mitm;

use binary_sv2::{IntoStatic, U256};
use common_messages_sv2::SetupConnection;
use const_sv2::{PROTOCOL_MINING, SV2_PROTOCOL_VERSION};
use mining_sv2::OpenExtendedMiningChannel;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey};
use pool_sv2::config::PoolConfig;
use pool_sv2::Pool;
use roles_logic_sv2::mining_client::{ClientChannel, Work};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, Mining};
use roles_utils::str0255;
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

/// A CPU device (one thread) mining on `upstream` as `name`.
pub fn device(
    upstream: SocketAddr,
    key: AuthorityPublicKey,
    kind: mining_device::ChannelKind,
    name: &str,
) -> mining_device::Device {
    let mut c = mining_device::DeviceConfig::new(upstream, Some(key), kind);
    c.user_identity = name.into();
    mining_device::Device::start(c)
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
        let mut c = TestClient::setup_only(conn, pool).await;
        c.open_extended(1, hashrate).await;
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

    /// A client on `conn` that has done SetupConnection and opened nothing.
    pub async fn setup_only(conn: Connection, pool: SocketAddr) -> TestClient {
        let c = TestClient {
            conn,
            channel: ClientChannel::extended(0, 0, [0; 32], &[], 0),
            work: None,
        };
        c.send(CommonMessages::SetupConnection(SetupConnection {
            protocol: PROTOCOL_MINING,
            min_version: SV2_PROTOCOL_VERSION,
            max_version: SV2_PROTOCOL_VERSION,
            flags: 0,
            endpoint_host: str0255("127.0.0.1"),
            endpoint_port: pool.port(),
            vendor: str0255("test"),
            hardware_version: str0255(""),
            firmware: str0255(""),
            device_id: str0255("t"),
        }))
        .await;
        assert!(matches!(
            c.recv().await,
            AnyMessage::Common(CommonMessages::SetupConnectionSuccess(_))
        ));
        c
    }

    /// Send OpenExtendedMiningChannel (the answer is left to read).
    pub async fn open_extended(&self, request_id: u32, hashrate: f32) {
        self.send(Mining::OpenExtendedMiningChannel(
            OpenExtendedMiningChannel {
                request_id,
                user_identity: str0255("tester"),
                nominal_hash_rate: hashrate,
                max_target: U256([0xff; 32]),
                min_extranonce_size: 4,
            },
        ))
        .await;
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

/// A translator on free ports in front of `pool`, with an easy first difficulty.
pub fn translator_config(
    pool: SocketAddr,
    key: AuthorityPublicKey,
    min_hashrate: f64,
) -> translator_sv2::config::TranslatorConfig {
    let mut cfg = translator_sv2::config::TranslatorConfig::default_config();
    cfg.downstream_address = "127.0.0.1".into();
    cfg.downstream_port = 0;
    cfg.metrics_address = Some("127.0.0.1:0".parse().unwrap());
    cfg.retry_primary_sec = 1;
    cfg.downstream_difficulty_config
        .min_individual_miner_hashrate = min_hashrate;
    cfg.downstream_difficulty_config.shares_per_minute = 60.0;
    cfg.upstreams = vec![roles_utils::upstream::UpstreamConfig {
        address: pool.ip().to_string(),
        port: pool.port(),
        authority_pubkey: Some(key.to_base58()),
        priority: 0,
    }];
    cfg
}

/// A minimal Sv2 upstream (plain TCP) whose SetupConnection.Success carries `setup_flags`
/// (for instance REQUIRES_FIXED_VERSION, which our pool never sends): it opens one extended
/// channel with a hard target, sends one job and its prev hash, and ignores shares. Runs
/// until the returned task is aborted.
pub async fn start_fake_upstream(setup_flags: u32) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use binary_sv2::{Seq0255, B032, B064K};
    use common_messages_sv2::SetupConnectionSuccess;
    use mining_sv2::{NewExtendedMiningJob, OpenExtendedMiningChannelSuccess, SetNewPrevHash};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let Ok(conn) =
                    with_tokio::connect(stream, Security::Plain, ConnectionConfig::default()).await
                else {
                    return;
                };
                let mut channel_id = 0;
                while let Ok(m) = roles_utils::recv(&conn).await {
                    let send = |m: AnyMessage<'static>| roles_utils::send(&conn, m);
                    let _ = match m {
                        AnyMessage::Common(CommonMessages::SetupConnection(_)) => {
                            send(
                                CommonMessages::SetupConnectionSuccess(SetupConnectionSuccess {
                                    used_version: SV2_PROTOCOL_VERSION,
                                    flags: setup_flags,
                                })
                                .into(),
                            )
                            .await
                        }
                        AnyMessage::Mining(Mining::OpenExtendedMiningChannel(o)) => {
                            channel_id += 1;
                            let target = roles_logic_sv2::target::from_difficulty(1e12);
                            let _ = send(
                                Mining::OpenExtendedMiningChannelSuccess(
                                    OpenExtendedMiningChannelSuccess {
                                        request_id: o.request_id,
                                        channel_id,
                                        target: U256(target),
                                        extranonce_size: o.min_extranonce_size.max(8),
                                        extranonce_prefix: B032::new(vec![0xfa, 0x4e]).unwrap(),
                                        group_channel_id: 0,
                                    },
                                )
                                .into(),
                            )
                            .await;
                            let _ = send(
                                Mining::NewExtendedMiningJob(NewExtendedMiningJob {
                                    channel_id,
                                    job_id: 1,
                                    min_ntime: None,
                                    version: 0x2000_0000,
                                    version_rolling_allowed: setup_flags
                                        & const_sv2::mining_flags::SUCCESS_REQUIRES_FIXED_VERSION
                                        == 0,
                                    merkle_path: Seq0255::from_items(vec![U256([7; 32])]).unwrap(),
                                    coinbase_tx_prefix: B064K::new(vec![1, 0, 0, 0, 1]).unwrap(),
                                    coinbase_tx_suffix: B064K::new(vec![0xff, 0xff, 0xff, 0xff])
                                        .unwrap(),
                                })
                                .into(),
                            )
                            .await;
                            send(
                                Mining::SetNewPrevHash(SetNewPrevHash {
                                    channel_id,
                                    job_id: 1,
                                    prev_hash: U256([3; 32]),
                                    min_ntime: network_helpers_sv2::unix_now(),
                                    nbits: 0x1d00_ffff,
                                })
                                .into(),
                            )
                            .await
                        }
                        // Shares, hashrate updates: nothing to answer for these tests.
                        _ => Ok(()),
                    };
                }
            });
        }
    });
    (addr, task)
}

/// An Sv1 miner driven by the test, on our Sv1 library.
pub struct Sv1Miner {
    rd: tokio::net::tcp::OwnedReadHalf,
    wr: tokio::net::tcp::OwnedWriteHalf,
    reader: sv1_api::LineReader,
    pub client: sv1_api::client::Client,
    events: std::collections::VecDeque<sv1_api::client::ClientEvent>,
    extranonce2: u64,
    /// Every line received, as sent.
    pub lines: Vec<String>,
}

impl Sv1Miner {
    pub async fn connect(addr: SocketAddr) -> Sv1Miner {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (rd, wr) = s.into_split();
        Sv1Miner {
            rd,
            wr,
            reader: sv1_api::LineReader::new(sv1_api::DEFAULT_MAX_LINE),
            client: sv1_api::client::Client::new("test-sv1/1.0"),
            events: Default::default(),
            extranonce2: 0,
            lines: Vec::new(),
        }
    }

    pub async fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        self.wr.write_all(line.as_bytes()).await.expect("write");
    }

    /// Read one chunk (waiting at most `wait`); false if nothing came.
    async fn read_some(&mut self, wait: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        let n = match tokio::time::timeout(wait, self.rd.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => panic!("the translator closed the connection"),
            Ok(Ok(n)) => n,
        };
        self.reader.push(&buf[..n]);
        while let Ok(Some(line)) = self.reader.next_line() {
            if self.lines.len() < 1000 {
                self.lines.push(line.clone());
            }
            let (events, answers) = self.client.handle_line(&line);
            for a in answers {
                self.send(&a).await;
            }
            self.events.extend(events);
        }
        true
    }

    /// The next event, waiting up to 30 s.
    pub async fn next_event(&mut self) -> sv1_api::client::ClientEvent {
        within("an Sv1 message", Duration::from_secs(30), async {
            loop {
                if let Some(e) = self.events.pop_front() {
                    return e;
                }
                self.read_some(Duration::from_secs(30)).await;
            }
        })
        .await
    }

    /// Whether anything arrives within `wait`.
    pub async fn silent_for(&mut self, wait: Duration) -> bool {
        self.events.is_empty() && !self.read_some(wait).await
    }

    /// Events until one matches.
    pub async fn until(
        &mut self,
        mut f: impl FnMut(&sv1_api::client::ClientEvent) -> bool,
    ) -> sv1_api::client::ClientEvent {
        loop {
            let e = self.next_event().await;
            if f(&e) {
                return e;
            }
        }
    }

    /// configure (when rolling), subscribe, authorize; returns once there is a job.
    pub async fn handshake(&mut self, worker: &str, version_rolling: bool) {
        use sv1_api::client::ClientEvent;
        if version_rolling {
            let l = self.client.configure(Some(0x1fff_e000), Some(2));
            self.send(&l).await;
        }
        let l = self.client.subscribe();
        self.send(&l).await;
        let l = self.client.authorize(worker, "x");
        self.send(&l).await;
        self.until(|e| matches!(e, ClientEvent::Authorized { ok: true, .. }))
            .await;
        while self.client.current_job().is_none() {
            self.next_event().await;
        }
    }

    /// A share for the current job: one that meets `target` (or misses it when `!meets`).
    pub fn find_share(&mut self, worker: &str, target: &[u8; 32], meets: bool) -> sv1_api::Submit {
        let ntime = self.client.current_job().expect("a job").ntime;
        self.find_share_at(worker, target, meets, ntime)
    }

    /// [`Sv1Miner::find_share`] with the header time `ntime` instead of the job's.
    pub fn find_share_at(
        &mut self,
        worker: &str,
        target: &[u8; 32],
        meets: bool,
        ntime: u32,
    ) -> sv1_api::Submit {
        let job = self.client.current_job().expect("a job").clone();
        let (en1, size) = self.client.extranonce().expect("subscribed");
        let en1 = en1.to_vec();
        self.extranonce2 += 1;
        let mut en2 = self.extranonce2.to_le_bytes().to_vec();
        en2.resize(size, 0);
        let mask = self.client.version_mask();
        let mut s = sv1_api::Submit {
            worker: worker.into(),
            job_id: job.job_id.clone(),
            extranonce2: en2,
            ntime,
            nonce: 0,
            version_bits: mask.map(|m| 0x0000_4000 & m),
        };
        let mut h = sv1_api::share::header(&job, &en1, &s, mask.unwrap_or(0));
        for nonce in 0..=u32::MAX {
            h[76..80].copy_from_slice(&nonce.to_le_bytes());
            if sv1_api::share::meets_target(&sv1_api::share::sha256d(&h), target) == meets {
                s.nonce = nonce;
                return s;
            }
        }
        panic!("no nonce")
    }

    /// Submit and wait for the answer: (accepted, error code).
    pub async fn submit(&mut self, s: sv1_api::Submit) -> (bool, Option<i64>) {
        use sv1_api::client::ClientEvent;
        let l = self.client.submit(s);
        self.send(&l).await;
        match self
            .until(|e| matches!(e, ClientEvent::ShareResult { .. }))
            .await
        {
            ClientEvent::ShareResult {
                accepted, error, ..
            } => (accepted, error.map(|e| e.code)),
            _ => unreachable!(),
        }
    }

    /// Mine at the current target for `duration` (or until `stop`), submitting what is found.
    /// Returns (accepted, rejected).
    pub async fn mine(&mut self, worker: &str, duration: Duration) -> (u64, u64) {
        let until = Instant::now() + duration;
        let (mut ok, mut bad) = (0, 0);
        while Instant::now() < until {
            // Take in what arrived (jobs, difficulty) before each share.
            while self.read_some(Duration::from_millis(1)).await {}
            self.events.clear();
            let t = self.client.target();
            let s = tokio::task::block_in_place(|| self.find_share(worker, &t, true));
            match self.submit(s).await {
                (true, _) => ok += 1,
                _ => bad += 1,
            }
        }
        (ok, bad)
    }
}

/// GET /metrics from `addr`.
pub async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}

/// Building and running the C and C++ programs of the C API (sv2.h and libsv2_ffi.a).
pub mod c_api {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    /// The libraries a Rust static library needs on Linux (`rustc --print native-static-libs`).
    pub const NATIVE_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt", "-lutil", "-lgcc_s"];

    pub fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// libsv2_ffi.a as cargo built it for this test run (a dependency of this crate, so it is
    /// in the test binary's own directory).
    pub fn static_lib() -> PathBuf {
        let exe = std::env::current_exe().expect("test binary path");
        let deps = exe.parent().expect("deps directory");
        [deps.join("libsv2_ffi.a"), deps.join("../libsv2_ffi.a")]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("libsv2_ffi.a not found next to {}", exe.display()))
    }

    /// Compile `source` (relative to the repository root) against sv2.h and the static
    /// library, warnings as errors: C as C99, C++ as C++17 (by the file's extension).
    pub fn compile(source: &str, name: &str) -> PathBuf {
        compile_with(source, name, false)
    }

    /// As [`compile`], linked with the shared library (libsv2_ffi.so) when `shared`.
    pub fn compile_with(source: &str, name: &str, shared: bool) -> PathBuf {
        let root = repo_root();
        let dir = std::env::temp_dir().join(format!("sv2-ffi-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let out = dir.join(name);
        let cpp = source.ends_with(".cpp");
        let (compiler, std) = if cpp {
            ("g++", "-std=c++17")
        } else {
            ("gcc", "-std=c99")
        };
        let status = Command::new(compiler)
            .args([std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
            .arg("-I")
            .arg(root.join("protocols/v2/sv2-ffi"))
            .arg(root.join(source))
            .args(link_args(shared))
            .args(NATIVE_LIBS)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("{compiler} is required to build {source}: {e}"));
        assert!(status.success(), "{compiler} failed on {source}");
        out
    }

    fn link_args(shared: bool) -> Vec<std::ffi::OsString> {
        let lib = static_lib();
        if !shared {
            return vec![lib.into()];
        }
        let dir = lib
            .parent()
            .expect("library directory")
            .display()
            .to_string();
        assert!(
            Path::new(&dir).join("libsv2_ffi.so").exists(),
            "libsv2_ffi.so not found in {dir}"
        );
        vec![
            format!("-L{dir}").into(),
            "-lsv2_ffi".into(),
            format!("-Wl,-rpath,{dir}").into(),
        ]
    }

    /// Exit code valgrind gives when it found a leak or an invalid access.
    pub const VALGRIND_ERROR: i32 = 99;

    /// `program args` under valgrind (every leak and invalid access is an error, exit code
    /// [`VALGRIND_ERROR`]). Without valgrind it runs bare, except in CI, which must have it.
    pub fn checked(program: &Path) -> Command {
        let have = Command::new("valgrind")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            assert!(
                std::env::var_os("CI").is_none(),
                "valgrind is required in CI (apt-get install valgrind)"
            );
            eprintln!(
                "valgrind not found: running {} without it",
                program.display()
            );
            return Command::new(program);
        }
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
            &format!("--error-exitcode={VALGRIND_ERROR}"),
        ])
        .arg(program);
        c
    }

    /// Panics with everything the program printed when valgrind reported a problem.
    pub fn assert_clean(what: &str, out: &Output) {
        assert_ne!(
            out.status.code(),
            Some(VALGRIND_ERROR),
            "valgrind found leaks or invalid accesses in {what}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
