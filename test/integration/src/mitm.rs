//! A man in the middle on loopback, for fault-injection tests between any two roles.
//!
//! [`Mitm::frames`] relays whole Sv2 frames. On a noise link it terminates the encryption on
//! both sides: it answers the client with certificates from the server's authority (tests know
//! that secret key) and connects to the server as an ordinary initiator, so it sees plaintext
//! frames in the middle and can delay, duplicate, drop, truncate or corrupt any of them.
//! [`Mitm::bytes`] relays raw bytes (plain or encrypted alike) and can delay, split, duplicate,
//! truncate or corrupt them.
//!
//! What to do with each frame or chunk is decided by a rule, a closure the test sets and may
//! change while the relay runs; [`Mitm::cut`] closes every relayed connection at once.

use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, OwnedFrame, Security};
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey, HandshakeKey};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Which way a frame or chunk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client (the side that connected to the relay) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// What one frame (or chunk of bytes) looks like to a rule.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub direction: Direction,
    /// The frame's msg_type (0 in byte mode).
    pub msg_type: u8,
    /// Frames (or chunks) seen so far in this direction of this connection, from 0.
    pub index: u64,
    /// Connections relayed so far, from 0.
    pub connection: u64,
}

/// What to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Hold it this long first (later ones wait behind it: order is kept).
    Delay(Duration),
    /// Send it twice.
    Duplicate,
    /// Never send it.
    Drop,
    /// Frames: cut the payload to this many bytes (the header says the new length).
    /// Bytes: send this many bytes of the chunk, then close the connection.
    Truncate(usize),
    /// Flip every bit of the byte at this offset of the payload (bytes: of the chunk).
    Corrupt(usize),
    /// Bytes only: send the chunk in pieces of this many bytes, a millisecond apart.
    Split(usize),
    /// Close both sides of this connection instead of sending it.
    Close,
}

type Rule = Box<dyn FnMut(Seen) -> Fault + Send>;

/// How a frame relay speaks to each side.
#[derive(Debug, Clone)]
pub enum FrameSecurity {
    Plain,
    /// Noise on both sides: `authority` is the server's authority secret key (the relay
    /// signs certificates with it), whose public key it also checks upstream.
    Noise {
        authority: AuthoritySecretKey,
    },
}

/// A running relay; dropping it stops it and closes its connections.
pub struct Mitm {
    local_addr: SocketAddr,
    rule: Arc<Mutex<Rule>>,
    cut: watch::Sender<u64>,
    connections: Arc<AtomicU64>,
    _tasks: JoinSet<()>,
}

impl Mitm {
    /// A frame relay to `server`.
    pub async fn frames(server: SocketAddr, security: FrameSecurity) -> Mitm {
        Self::start(server, Some(security)).await
    }

    /// A byte relay to `server`.
    pub async fn bytes(server: SocketAddr) -> Mitm {
        Self::start(server, None).await
    }

    async fn start(server: SocketAddr, frames: Option<FrameSecurity>) -> Mitm {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let local_addr = listener.local_addr().expect("addr");
        let rule: Arc<Mutex<Rule>> = Arc::new(Mutex::new(Box::new(|_| Fault::Pass)));
        let (cut, _) = watch::channel(0u64);
        let connections = Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        let (r, c, n) = (rule.clone(), cut.clone(), connections.clone());
        tasks.spawn(async move {
            let mut relays = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let connection = n.fetch_add(1, Ordering::Relaxed);
                let (rule, cut) = (r.clone(), c.subscribe());
                let frames = frames.clone();
                relays.spawn(async move {
                    let Ok(upstream) = TcpStream::connect(server).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    match frames {
                        Some(sec) => {
                            relay_frames(client, upstream, sec, rule, cut, connection).await
                        }
                        None => relay_bytes(client, upstream, rule, cut, connection).await,
                    }
                });
                while relays.try_join_next().is_some() {}
            }
        });
        Mitm {
            local_addr,
            rule,
            cut,
            connections,
            _tasks: tasks,
        }
    }

    /// Where clients connect instead of the server.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections relayed so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Decide what happens to every frame (or chunk) from now on.
    pub fn set_rule(&self, rule: impl FnMut(Seen) -> Fault + Send + 'static) {
        *self.rule.lock().unwrap() = Box::new(rule);
    }

    /// Close every connection relayed now (new ones are still accepted).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

fn decide(rule: &Mutex<Rule>, seen: Seen) -> Fault {
    (rule.lock().unwrap())(seen)
}

/// The public key of a secret authority key, as initiators check it.
fn public(k: &AuthoritySecretKey) -> AuthorityPublicKey {
    k.public_key()
}

async fn relay_frames(
    client: TcpStream,
    server: TcpStream,
    security: FrameSecurity,
    rule: Arc<Mutex<Rule>>,
    mut cut: watch::Receiver<u64>,
    connection: u64,
) {
    let cfg = ConnectionConfig::default();
    let (down_sec, up_sec) = match &security {
        FrameSecurity::Plain => (Security::Plain, Security::Plain),
        FrameSecurity::Noise { authority } => (
            Security::NoiseResponder(Arc::new(network_helpers_sv2::ResponderConfig {
                authority: authority.keypair(),
                static_key: HandshakeKey::generate().expect("key"),
                cert_validity_secs: 3600,
            })),
            Security::NoiseInitiator {
                authority: public(authority).0,
            },
        ),
    };
    let (Ok(down), Ok(up)) = tokio::join!(
        with_tokio::connect(client, down_sec, cfg.clone()),
        with_tokio::connect(server, up_sec, cfg),
    ) else {
        return;
    };
    let pumps = async {
        tokio::select! {
            _ = pump_frames(&down, &up, Direction::ToServer, &rule, connection) => {}
            _ = pump_frames(&up, &down, Direction::ToClient, &rule, connection) => {}
        }
    };
    tokio::select! {
        _ = pumps => {}
        _ = cut.changed() => {}
    }
    down.close();
    up.close();
}

async fn pump_frames(
    from: &Connection,
    to: &Connection,
    direction: Direction,
    rule: &Mutex<Rule>,
    connection: u64,
) {
    let mut index = 0;
    while let Ok(f) = from.receiver.recv().await {
        let seen = Seen {
            direction,
            msg_type: f.header().msg_type(),
            index,
            connection,
        };
        index += 1;
        let out: Vec<OwnedFrame> = match decide(rule, seen) {
            Fault::Pass | Fault::Split(_) => vec![f],
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                vec![f]
            }
            Fault::Duplicate => vec![f.clone(), f],
            Fault::Drop => vec![],
            Fault::Truncate(n) => vec![altered(&f, |p| p.truncate(n))],
            Fault::Corrupt(i) => vec![altered(&f, |p| {
                if let Some(b) = p.get_mut(i) {
                    *b = !*b;
                }
            })],
            Fault::Close => return,
        };
        for f in out {
            if to.sender.send(f).await.is_err() {
                return;
            }
        }
    }
}

/// `f` with its payload changed by `edit` and a header that says the new length.
fn altered(f: &OwnedFrame, edit: impl FnOnce(&mut Vec<u8>)) -> OwnedFrame {
    let h = f.header();
    let mut payload = f.payload().to_vec();
    edit(&mut payload);
    let header = framing_sv2::Header::new(
        h.extension_type(),
        h.channel_msg(),
        h.msg_type(),
        payload.len(),
    )
    .expect("a payload no longer than before");
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(&payload);
    OwnedFrame::from_bytes(bytes).expect("a whole frame")
}

async fn relay_bytes(
    client: TcpStream,
    server: TcpStream,
    rule: Arc<Mutex<Rule>>,
    mut cut: watch::Receiver<u64>,
    connection: u64,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let pumps = async {
        tokio::select! {
            _ = pump_bytes(&mut cr, &mut sw, Direction::ToServer, &rule, connection) => {}
            _ = pump_bytes(&mut sr, &mut cw, Direction::ToClient, &rule, connection) => {}
        }
    };
    tokio::select! {
        _ = pumps => {}
        _ = cut.changed() => {}
    }
}

async fn pump_bytes(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    direction: Direction,
    rule: &Mutex<Rule>,
    connection: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut index = 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut chunk = buf[..n].to_vec();
        let seen = Seen {
            direction,
            msg_type: 0,
            index,
            connection,
        };
        index += 1;
        let ok = match decide(rule, seen) {
            Fault::Pass => to.write_all(&chunk).await.is_ok(),
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                to.write_all(&chunk).await.is_ok()
            }
            Fault::Duplicate => {
                to.write_all(&chunk).await.is_ok() && to.write_all(&chunk).await.is_ok()
            }
            Fault::Drop => true,
            Fault::Truncate(k) => {
                let _ = to.write_all(&chunk[..k.min(n)]).await;
                false
            }
            Fault::Corrupt(i) => {
                if let Some(b) = chunk.get_mut(i) {
                    *b = !*b;
                }
                to.write_all(&chunk).await.is_ok()
            }
            Fault::Split(k) => {
                let mut ok = true;
                for piece in chunk.chunks(k.max(1)) {
                    ok = ok && to.write_all(piece).await.is_ok();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                ok
            }
            Fault::Close => false,
        };
        if !ok {
            return;
        }
    }
}
