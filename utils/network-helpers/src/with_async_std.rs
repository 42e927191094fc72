//! Connections on async-std.

use crate::*;
use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;

struct Half(TcpStream, Option<std::time::Duration>);

impl ReadIo for Half {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        ReadExt::read(&mut self.0, buf).await
    }
    async fn read_within(
        &mut self,
        buf: &mut [u8],
        limit: std::time::Duration,
    ) -> io::Result<usize> {
        async_std::future::timeout(limit, ReadExt::read(&mut self.0, buf))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }
}

impl WriteIo for Half {
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.1 {
            None => WriteExt::write_all(&mut self.0, buf).await,
            Some(t) => async_std::future::timeout(t, WriteExt::write_all(&mut self.0, buf))
                .await
                .unwrap_or_else(|_| Err(write_timed_out(t))),
        }
    }
    async fn shutdown(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Write);
    }
}

/// Run the handshake (within the configured timeout) and start the connection's reader and
/// writer tasks on async-std.
pub async fn connect(
    stream: TcpStream,
    security: Security,
    cfg: ConnectionConfig,
) -> Result<Connection, Error> {
    let _ = stream.set_nodelay(true);
    let mut r = Half(stream.clone(), None);
    let mut w = Half(stream, cfg.write_timeout);
    let (dec, enc, result) = match async_std::future::timeout(
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
    async_std::task::spawn(read_loop(
        r,
        dec,
        to_app.clone(),
        from_app.clone(),
        cfg.read_buffer,
        cfg.frame_timeout,
    ));
    async_std::task::spawn(write_loop(w, enc, from_app, to_app));
    Ok(conn)
}
