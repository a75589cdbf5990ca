//! A real TCP proxy for fault injection: it forwards every connection to the
//! platform and, when told to, cuts each connection after a number of bytes sent
//! back to the client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The proxy; dropping it stops accepting.
pub struct CuttingProxy {
    addr: SocketAddr,
    cut_after: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CuttingProxy {
    /// Binds a free port; call [`CuttingProxy::forward_to`] once the upstream is
    /// known.
    pub async fn bind() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    /// Starts forwarding connections accepted on `listener` to `upstream`.
    pub fn forward_to(listener: TcpListener, upstream: SocketAddr) -> CuttingProxy {
        let addr = listener.local_addr().unwrap();
        let cut_after = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let cut_after = Arc::clone(&cut_after);
            let cuts = Arc::clone(&cuts);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let limit = Arc::clone(&cut_after);
                    let cuts = Arc::clone(&cuts);
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(upstream).await {
                            pipe(client, server, limit, cuts).await;
                        }
                    });
                }
            }
        });
        CuttingProxy {
            addr,
            cut_after,
            cuts,
            task,
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections are cut once they have sent `bytes` to the client (0 = never);
    /// this applies to open connections too.
    pub fn cut_after(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    cut_after: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rd, &mut server_wr).await;
        let _ = server_wr.shutdown().await;
    });
    let mut sent = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match server_rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let limit = cut_after.load(Ordering::SeqCst);
        let n = if limit > 0 && sent + n >= limit {
            let rest = limit.saturating_sub(sent);
            let _ = client_wr.write_all(&buf[..rest]).await;
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        } else {
            n
        };
        if client_wr.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n;
    }
    upstream.abort();
    // Dropping both halves closes the client's connection mid-response.
}
