//! A well-behaved Stratum V1 miner: subscribe and authorize (like firmware without
//! mining.configure), then read jobs and answers.

use crate::connect_from;
use std::net::{IpAddr, SocketAddr};
use sv1_api::client::{Client, ClientEvent};
use sv1_api::LineReader;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection and its client state.
pub struct Miner {
    pub rd: tokio::net::tcp::OwnedReadHalf,
    pub wr: tokio::net::tcp::OwnedWriteHalf,
    pub reader: LineReader,
    pub client: Client,
}

impl Miner {
    /// Read what arrived, answer what the server asked, and return the events.
    pub async fn read(&mut self) -> Result<Vec<ClientEvent>, String> {
        let mut buf = [0u8; 4096];
        let n = self.rd.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        self.reader.push(&buf[..n]);
        let mut events = Vec::new();
        while let Some(l) = self.reader.next_line().map_err(|e| e.to_string())? {
            let (e, answers) = self.client.handle_line(&l);
            for a in answers {
                self.wr
                    .write_all(a.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            events.extend(e);
        }
        Ok(events)
    }
}

/// Connect from `source` (see [`connect_from`]), subscribe, authorize `worker`, and wait for
/// the extranonce and the first mining.notify.
pub async fn open(addr: SocketAddr, worker: &str, source: Option<IpAddr>) -> Result<Miner, String> {
    let s = connect_from(source, addr)
        .await
        .map_err(|e| e.to_string())?;
    open_on(s, worker).await
}

/// [`open`] on a connected stream.
pub async fn open_on(s: TcpStream, worker: &str) -> Result<Miner, String> {
    let _ = s.set_nodelay(true);
    let (rd, wr) = s.into_split();
    let mut m = Miner {
        rd,
        wr,
        reader: LineReader::new(sv1_api::DEFAULT_MAX_LINE),
        client: Client::new("sv1-load/1.0"),
    };
    let mut out = m.client.subscribe();
    out.push_str(&m.client.authorize(worker, "x"));
    m.wr.write_all(out.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    while m.client.current_job().is_none() || m.client.extranonce().is_none() {
        m.read().await?;
    }
    Ok(m)
}
