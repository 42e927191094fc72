//! Every role's connection limits, tried over loopback the way a hostile peer would: sockets
//! that never finish their handshake, too many from one address, set-up connections that
//! never speak, and a peer that stops reading. In each case that peer is closed and an honest
//! one is served.

use integration_tests::*;
use roles_utils::limits::Limits;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

const BLOCK_DIFFICULTY: f64 = 1.0;

/// A plain TCP connection from `from` (any 127/8 address) that sends nothing.
async fn raw(to: SocketAddr, from: [u8; 4]) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Whether the server closed `s` within `wait` (EOF or reset).
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn pool_with(
    limits: Limits,
    max_connections: usize,
) -> (
    pool_sv2::Pool,
    noise_sv2::AuthorityPublicKey,
    template_provider::TemplateProvider,
) {
    let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
    let mut cfg = pool_config(free_addr(), tp.local_addr());
    cfg.limits = limits;
    cfg.max_connections = max_connections;
    let (pool, key) = start_pool(cfg).await;
    (pool, key, tp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_count_at_accept_in_total_and_per_address() {
    let limits = Limits {
        max_connections_per_ip: 2,
        ..Limits::default()
    };
    let (pool, key, _tp) = pool_with(limits, 4).await;
    let addr = pool.local_addr();
    // Two silent sockets from one address are held; the third is closed at once.
    let mut a1 = raw(addr, [127, 0, 0, 2]).await;
    let _a2 = raw(addr, [127, 0, 0, 2]).await;
    let mut a3 = raw(addr, [127, 0, 0, 2]).await;
    assert!(
        closed_within(&mut a3, Duration::from_secs(2)).await,
        "per-ip cap"
    );
    assert!(!closed_within(&mut a1, Duration::from_millis(200)).await);
    // Another address may still connect: one silent socket, then an honest miner.
    let _b1 = raw(addr, [127, 0, 0, 3]).await;
    let mut c = TestClient::connect(addr, key, 1e6).await;
    within(
        "work for the honest miner",
        Duration::from_secs(5),
        c.wait_work(),
    )
    .await;
    // Four sockets are open: the fifth is refused whoever it is.
    let mut d = raw(addr, [127, 0, 0, 4]).await;
    assert!(
        closed_within(&mut d, Duration::from_secs(2)).await,
        "max_connections"
    );
    // A close gives the room back.
    drop(a1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut e = raw(addr, [127, 0, 0, 4]).await;
    assert!(!closed_within(&mut e, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unfinished_handshakes_does_not_lock_out_a_miner() {
    use tokio::io::AsyncWriteExt;
    let limits = Limits {
        max_concurrent_handshakes: 8,
        max_connections_per_ip: 0,
        setup_timeout_sec: 30,
        ..Limits::default()
    };
    let (pool, key, _tp) = pool_with(limits, 10_000).await;
    let addr = pool.local_addr();
    // Silent sockets take no setup slot: they wait for the deadline without evicting anyone.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(raw(addr, [127, 0, 0, 5]).await);
    }
    assert!(
        !closed_within(&mut silent[0], Duration::from_millis(300)).await,
        "silent held before the flood"
    );
    // Sockets that start a handshake and never finish it compete for the 8 slots: the oldest
    // are evicted.
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut s = raw(addr, [127, 0, 0, 6]).await;
        s.write_all(&[0x42]).await.unwrap();
        flood.push(s);
    }
    assert!(closed_within(&mut flood[0], Duration::from_secs(2)).await);
    assert!(!closed_within(&mut silent[0], Duration::from_millis(100)).await);
    let started = tokio::time::Instant::now();
    let mut c = TestClient::connect(addr, key, 1e6).await;
    within(
        "work during the flood",
        Duration::from_secs(1),
        c.wait_work(),
    )
    .await;
    // Typically 3 ms; the margin is for a loaded CI machine (sv2-hostile measures this in
    // release builds).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let mut open = 0;
    for s in &mut flood {
        if !closed_within(s, Duration::from_millis(5)).await {
            open += 1;
        }
    }
    assert!(open <= 8, "{open} unfinished handshakes still held");
}

/// A peer that starts a frame and sends the rest a byte at a time is closed when the frame
/// has not arrived whole within frame_timeout_sec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_frame_is_closed_by_the_frame_timeout() {
    use tokio::io::AsyncWriteExt;
    let tp = template_provider::TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: None,
        limits: Limits {
            frame_timeout_sec: 2,
            ..template_provider::Config::default().limits
        },
        ..template_provider::Config::default()
    })
    .await
    .unwrap();
    let mut s = raw(tp.local_addr(), [127, 0, 0, 10]).await;
    // A header announcing 200,000 bytes, then a byte every 300 ms.
    s.write_all(&[0, 0, 0x00, 0x40, 0x0d, 0x03]).await.unwrap();
    let started = tokio::time::Instant::now();
    let cut = within("the trickle is cut", Duration::from_secs(10), async {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if s.write_all(&[0]).await.is_err() {
                return started.elapsed();
            }
        }
    })
    .await;
    assert!(
        cut >= Duration::from_secs(2) && cut < Duration::from_secs(8),
        "{cut:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_finish_its_setup_in_time_is_closed() {
    let limits = Limits {
        setup_timeout_sec: 1,
        ..Limits::default()
    };
    let (pool, key, _tp) = pool_with(limits, 100).await;
    let addr = pool.local_addr();
    // No handshake at all.
    let mut s = raw(addr, [127, 0, 0, 6]).await;
    assert!(closed_within(&mut s, Duration::from_secs(3)).await);
    // A noise handshake, but never SetupConnection.
    let stream = TcpStream::connect(addr).await.unwrap();
    let conn = network_helpers_sv2::with_tokio::connect(
        stream,
        network_helpers_sv2::Security::NoiseInitiator { authority: key.0 },
        network_helpers_sv2::ConnectionConfig::default(),
    )
    .await
    .expect("handshake");
    let r = within(
        "the pool closes",
        Duration::from_secs(3),
        conn.receiver.recv(),
    )
    .await;
    assert!(r.is_err(), "closed, not answered: {r:?}");
    // A miner that sets up in time keeps its connection past the deadline.
    let mut c = TestClient::connect(addr, key, 1e6).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    within(
        "work after the deadline",
        Duration::from_secs(5),
        c.wait_work(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_miner_is_closed_after_the_idle_timeout() {
    let limits = Limits {
        idle_timeout_sec: 2,
        ..Limits::default()
    };
    let (pool, key, _tp) = pool_with(limits, 100).await;
    let c = TestClient::connect(pool.local_addr(), key, 1e6).await;
    let closed = within("the idle miner is closed", Duration::from_secs(10), async {
        loop {
            if c.conn.receiver.recv().await.is_err() {
                break;
            }
        }
    })
    .await;
    let () = closed;
}

/// A miner that opens many channels, so each template refresh makes the pool write a lot,
/// and then never reads: the pool's write times out and it closes that miner alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_that_stops_reading_is_closed_and_does_not_block_others() {
    let limits = Limits {
        write_timeout_sec: 1,
        ..Limits::default()
    };
    let tp = template_provider::TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: Some(tp_key()),
        block_difficulty: BLOCK_DIFFICULTY,
        template_interval: Duration::from_millis(200),
        transactions_per_interval: 20,
        ..template_provider::Config::default()
    })
    .await
    .unwrap();
    let mut cfg = pool_config(free_addr(), tp.local_addr());
    cfg.limits = limits;
    let (pool, key) = start_pool(cfg).await;
    let addr = pool.local_addr();
    let mut honest = TestClient::connect(addr, key, 1e6).await;
    honest.wait_work().await;

    // The reader: a tiny receive buffer and a connection that holds one frame at most.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let conn = network_helpers_sv2::with_tokio::connect(
        stream,
        network_helpers_sv2::Security::NoiseInitiator { authority: key.0 },
        network_helpers_sv2::ConnectionConfig {
            channel_capacity: 1,
            read_buffer: 512,
            ..network_helpers_sv2::ConnectionConfig::default()
        },
    )
    .await
    .unwrap();
    let stalled = TestClient::setup_only(conn, addr).await;
    for i in 0..500 {
        stalled.open_extended(i, 1e6).await;
    }
    // From here on `stalled` reads nothing.
    let stats = pool.stats();
    wait_for("two connections", Duration::from_secs(5), || {
        stats.connections.load(std::sync::atomic::Ordering::Relaxed) == 2
    })
    .await;
    wait_for(
        "the pool closes the miner that does not read",
        Duration::from_secs(30),
        || stats.connections.load(std::sync::atomic::Ordering::Relaxed) == 1,
    )
    .await;
    // Meanwhile and after, the honest miner gets every new job.
    let last = honest.work.as_ref().unwrap().job_id;
    within(
        "new work for the honest miner",
        Duration::from_secs(5),
        honest.wait_new_work(last),
    )
    .await;
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_provider_closes_clients_that_do_not_set_up() {
    let tp = template_provider::TemplateProvider::start(template_provider::Config {
        listen_address: free_addr(),
        authority_secret_key: Some(tp_key()),
        limits: Limits {
            setup_timeout_sec: 1,
            max_connections_per_ip: 3,
            ..template_provider::Config::default().limits
        },
        ..template_provider::Config::default()
    })
    .await
    .unwrap();
    let addr = tp.local_addr();
    let mut silent = raw(addr, [127, 0, 0, 7]).await;
    let _b = raw(addr, [127, 0, 0, 7]).await;
    let _c = raw(addr, [127, 0, 0, 7]).await;
    let mut d = raw(addr, [127, 0, 0, 7]).await;
    assert!(
        closed_within(&mut d, Duration::from_secs(1)).await,
        "per-ip cap"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(3)).await,
        "setup deadline"
    );
    // A pool still gets templates: its miner gets work.
    let (pool, key) = start_pool(pool_config(free_addr(), addr)).await;
    let mut c = TestClient::connect(pool.local_addr(), key, 1e6).await;
    within(
        "work from the template provider",
        Duration::from_secs(30),
        c.wait_work(),
    )
    .await;
}

/// Stratum V1 has no handshake: subscribe and authorize are its setup. A miner that never
/// sends them, or sends a line a byte at a time (slowloris), is closed at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_translator_closes_sv1_miners_that_do_not_subscribe_and_authorize_in_time() {
    let (_tp, pool, key) = {
        let tp = start_tp(free_addr(), BLOCK_DIFFICULTY).await;
        let (pool, key) = start_pool(pool_config(free_addr(), tp.local_addr())).await;
        (tp, pool, key)
    };
    let mut cfg = translator_config(pool.local_addr(), key, 1e6);
    cfg.limits.setup_timeout_sec = 2;
    let t = translator_sv2::Translator::start(cfg).await.unwrap();
    let addr = t.local_addr();
    let mut good = Sv1Miner::connect(addr).await;
    good.handshake("good.1", false).await;
    let mut silent = raw(addr, [127, 0, 0, 8]).await;
    let mut slow = raw(addr, [127, 0, 0, 9]).await;
    let line = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    let slowloris = async {
        use tokio::io::AsyncWriteExt;
        for b in line {
            if slow.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    };
    let cut_off = within(
        "the slow line is cut off",
        Duration::from_secs(20),
        slowloris,
    )
    .await;
    assert!(
        cut_off,
        "a line sent a byte at a time must not hold a connection"
    );
    assert!(closed_within(&mut silent, Duration::from_secs(1)).await);
    // The honest miner is still served.
    let (accepted, _) = good.mine("good.1", Duration::from_secs(2)).await;
    assert!(accepted > 0);
}
