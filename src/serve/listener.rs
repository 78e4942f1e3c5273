//! The HTTP listener both faces run on, with the limits a server open to
//! other agencies needs: a cap on open connections, a time limit for
//! reading a request's headers (slow senders), an idle limit for silent
//! connections and stalled readers, and request rates per address and per
//! token. Every request carries the peer's address ([`Peer`]) for the rate
//! limits and the audit log.
//!
//! The defaults are far above what a partner's nightly sync or an
//! officer's morning needs, and all of them are settable (`credence serve
//! --help`).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of one listener.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Time to send a request's headers once it has begun.
    pub header_read_timeout: Duration,
    /// Time a connection may stay silent (no request) or not read what it asked for.
    pub idle_timeout: Duration,
    /// Requests per minute from one address.
    pub per_address_per_minute: u32,
    /// Requests per minute from one address that bring no valid token or session.
    pub unauthenticated_per_address_per_minute: u32,
    /// Requests per minute with one partner token.
    pub per_token_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            per_address_per_minute: 1200,
            unauthenticated_per_address_per_minute: 60,
            per_token_per_minute: 1200,
        }
    }
}

/// The address a request came from.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl Peer {
    /// The peer of a request; a request not from the listener (a test
    /// calling the router) is from the unspecified address.
    pub fn of(req: &Request) -> Peer {
        req.extensions().get::<Peer>().copied().unwrap_or(Peer(SocketAddr::from(([0, 0, 0, 0], 0))))
    }
}

/// Keyed request-rate limits shared by a router's middleware.
pub struct RateLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    unauthenticated: DefaultKeyedRateLimiter<IpAddr>,
    per_token: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"))
}

impl RateLimits {
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            per_address: RateLimiter::keyed(per_minute(limits.per_address_per_minute)),
            unauthenticated: RateLimiter::keyed(per_minute(limits.unauthenticated_per_address_per_minute)),
            per_token: RateLimiter::keyed(per_minute(limits.per_token_per_minute)),
        }
    }

    /// Whether one more request from `peer` is allowed.
    pub fn address(&self, peer: Peer) -> bool {
        self.per_address.check_key(&peer.0.ip()).is_ok()
    }

    /// Whether one more request without valid credentials from `peer` is allowed.
    pub fn unauthenticated(&self, peer: Peer) -> bool {
        self.unauthenticated.check_key(&peer.0.ip()).is_ok()
    }

    /// Whether one more request with the token of SHA-256 `token` is allowed.
    pub fn token(&self, token: &str) -> bool {
        self.per_token.check_key(&token.to_string()).is_ok()
    }

    /// Forgets keys that have not been seen for a while (bounded memory).
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.unauthenticated.retain_recent();
        self.per_token.retain_recent();
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests under way finish (up to 30 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    rates: Arc<RateLimits>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors or a reset handshake: wait a moment, go on.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    tracing::warn!(peer = %addr, max = limits.max_connections, "connection refused: too many open connections");
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
                timed.set_read_timeout(Some(limits.idle_timeout));
                timed.set_write_timeout(Some(limits.idle_timeout));
                let io = TokioIo::new(Box::pin(timed));
                let router = router.clone();
                let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(Peer(addr));
                    let router = router.clone();
                    async move { Ok::<_, Infallible>(router.oneshot(req.map(axum::body::Body::new)).await.unwrap_or_else(|e| match e {})) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .keep_alive(true)
                    .serve_connection(io, service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(peer = %addr, error = %e, "connection ended");
                    }
                    drop(permit);
                });
            }
            _ = sweep.tick() => rates.forget_idle(),
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests under way");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections did not finish within 30 s");
    }
    Ok(())
}
