//! A real TCP proxy for fault injection: it forwards every connection to the
//! platform and, when told to, cuts each connection after a number of bytes sent
//! back to the client, or after a number of bytes sent up by the client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::{Client, Factory};
use tempfile::TempDir;

/// The proxy; dropping it stops accepting.
pub struct CuttingProxy {
    addr: SocketAddr,
    cut_after: Arc<AtomicUsize>,
    cut_upload_after: Arc<AtomicUsize>,
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
        let cut_upload_after = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let cut_after = Arc::clone(&cut_after);
            let cut_upload_after = Arc::clone(&cut_upload_after);
            let cuts = Arc::clone(&cuts);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let limits = Limits {
                        down: Arc::clone(&cut_after),
                        up: Arc::clone(&cut_upload_after),
                    };
                    let cuts = Arc::clone(&cuts);
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(upstream).await {
                            pipe(client, server, limits, cuts).await;
                        }
                    });
                }
            }
        });
        CuttingProxy {
            addr,
            cut_after,
            cut_upload_after,
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

    /// Connections are cut once the client has sent `bytes` through them (0 =
    /// never); this applies to open connections too.
    pub fn cut_upload_after(&self, bytes: usize) {
        self.cut_upload_after.store(bytes, Ordering::SeqCst);
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

/// Byte limits of one connection, per direction (0 = none).
struct Limits {
    down: Arc<AtomicUsize>,
    up: Arc<AtomicUsize>,
}

async fn pipe(client: TcpStream, server: TcpStream, limits: Limits, cuts: Arc<AtomicUsize>) {
    let cut_after = limits.down;
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let up_limit = limits.up;
    let up_cuts = Arc::clone(&cuts);
    let (cut_tx, mut cut_rx) = tokio::sync::oneshot::channel::<()>();
    let upstream = tokio::spawn(async move {
        let mut sent = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let limit = up_limit.load(Ordering::SeqCst);
            if limit > 0 && sent + n >= limit {
                let rest = limit.saturating_sub(sent);
                let _ = server_wr.write_all(&buf[..rest]).await;
                up_cuts.fetch_add(1, Ordering::SeqCst);
                // Close both ways: the client sees its connection drop.
                let _ = cut_tx.send(());
                return;
            }
            if server_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent += n;
        }
        let _ = server_wr.shutdown().await;
    });
    let mut sent = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    // Set once the upstream half is done without a cut.
    let mut upstream_done = false;
    loop {
        let n = tokio::select! {
            read = server_rd.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            cut = &mut cut_rx, if !upstream_done => match cut {
                Ok(()) => break,
                Err(_) => {
                    upstream_done = true;
                    continue;
                }
            },
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

/// A platform reached only through a cutting proxy, with a client logged in to it.
pub struct Faulty {
    /// The proxy every request goes through.
    pub proxy: CuttingProxy,
    /// A client logged in through the proxy.
    pub client: Client,
    /// A private directory (the client's config lives in `cfg/` under it).
    pub dir: TempDir,
    _platform: RunningPlatform,
}

pub async fn behind_cutting_proxy() -> Faulty {
    let (listener, proxy_addr) = CuttingProxy::bind().await;
    let public: url::Url = format!("http://{proxy_addr}").parse().unwrap();
    let platform = LocalPlatform::builder()
        .public_url(public)
        .start()
        .await
        .unwrap();
    let proxy = CuttingProxy::forward_to(listener, platform.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let factory = Factory::with_path(dir.path().join("cfg"));
    let api: url::Url = format!("http://{proxy_addr}/api/v1").parse().unwrap();
    factory
        .login_with_token(platform.admin_token(), &api)
        .await
        .unwrap();
    let client = factory.get().await.unwrap();
    Faulty {
        proxy,
        client,
        dir,
        _platform: platform,
    }
}
