//! Connections on tokio.

use crate::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

impl ReadIo for OwnedReadHalf {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        AsyncReadExt::read(self, buf).await
    }
    async fn read_within(
        &mut self,
        buf: &mut [u8],
        limit: std::time::Duration,
    ) -> io::Result<usize> {
        tokio::time::timeout(limit, AsyncReadExt::read(self, buf))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }
}

/// The write half, with the write timeout.
struct Writer(OwnedWriteHalf, Option<std::time::Duration>);

impl WriteIo for Writer {
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.1 {
            None => AsyncWriteExt::write_all(&mut self.0, buf).await,
            Some(t) => tokio::time::timeout(t, AsyncWriteExt::write_all(&mut self.0, buf))
                .await
                .unwrap_or_else(|_| Err(write_timed_out(t))),
        }
    }
    async fn shutdown(&mut self) {
        let _ = AsyncWriteExt::shutdown(&mut self.0).await;
    }
}

/// Run the handshake (within the configured timeout) and start the connection's reader and
/// writer tasks on the current tokio runtime.
pub async fn connect(
    stream: TcpStream,
    security: Security,
    cfg: ConnectionConfig,
) -> Result<Connection, Error> {
    let _ = stream.set_nodelay(true);
    let (mut r, w) = stream.into_split();
    let mut w = Writer(w, cfg.write_timeout);
    let (dec, enc, result) = match tokio::time::timeout(
        cfg.handshake_timeout,
        handshake(&mut r, &mut w, &security, &cfg),
    )
    .await
    {
        Ok(res) => res?,
        Err(_) => return Err(Error::HandshakeTimeout(cfg.handshake_timeout)),
    };
    let (mut conn, to_app, from_app) = channels(cfg.channel_capacity);
    conn.handshake = result;
    tokio::spawn(read_loop(
        r,
        dec,
        to_app.clone(),
        from_app.clone(),
        cfg.read_buffer,
        cfg.frame_timeout,
    ));
    tokio::spawn(write_loop(w, enc, from_app, to_app));
    Ok(conn)
}
