//! The HTTP/1.1 connection loop under `burn-edge serve`, with the limits axum's `serve` lacks:
//! a header read timeout (which also closes idle keep-alive connections), and a cap on open
//! connections. Over the cap a connection is answered `503` with `Retry-After` and closed
//! within half a second (what the client already sent is read first, a bounded few KiB, so the
//! close does not reset the connection before the client reads the answer; past
//! `LINGERING` such connections at once, they are closed at once), so a flood of slow clients
//! cannot queue up memory or file descriptors. Each request
//! carries its peer address (`ConnectInfo`) for per-client rate limits.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnLimits {
    /// Time for a request's head to arrive, from the connection's start or the end of the
    /// previous response.
    pub header_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// Refused connections drained at once; beyond, they are closed without draining.
const LINGERING: usize = 64;

/// Answers 503 and closes after reading (briefly, boundedly) what the client already sent:
/// closing a socket with unread data sends a reset, which can destroy the answer in flight.
async fn refuse(mut stream: TcpStream) {
    // Best effort: a fresh socket's send buffer takes these few bytes at once.
    let _ = stream.try_write(OVER_CAPACITY);
    let _ = stream.shutdown().await;
    let mut buf = [0u8; 4096];
    let drain = async {
        let mut total = 0;
        while total < 64 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// Serves `app` on `listener` until the process ends.
pub async fn run(listener: TcpListener, app: Router, limits: ConnLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let lingering = Arc::new(Semaphore::new(LINGERING));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            // Out of file descriptors and the like: wait instead of spinning.
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            match lingering.clone().try_acquire_owned() {
                Ok(linger) => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(linger);
                    });
                }
                Err(_) => {
                    let _ = stream.try_write(OVER_CAPACITY);
                }
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.oneshot(req.map(axum::body::Body::new)).await.unwrap_or_else(|e| match e {})) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            // A client that goes away or times out ends only its own connection.
            let _ = conn.await;
            drop(permit);
        });
    }
}
