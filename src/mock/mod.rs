//! The built-in mock target: one hyper server speaking the auth + backend + WebSocket protocol of
//! docs/protocol.md, with configurable envelopes, handshake generation, delays and injected faults.
//!
//! Design choice: one tokio task per TCP connection, owned by a `JoinSet` in the accept loop (so
//! `shutdown` ends them all); an upgraded WebSocket keeps running in that same task. Counters are
//! relaxed atomics; the only lock is the per-user connection table, taken only when a limit is set.

mod clock;
pub mod config;
pub mod faults;
mod flow;
mod frames;
mod http;
mod jwt;
mod sent;
mod text;
mod ws;
mod wsauth;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

pub use config::{Envelope, Handshake, MockConfig, Secret, Timestamps};
pub use faults::Fault;
pub use flow::Event;
pub use sent::{MockCounts, ToolCounts};
pub use text::{CHUNK_CHARS, FINAL_RESPONSE, THINKING_CHARS};

use faults::Fraction;
use jwt::Keys;

/// A running mock server. Dropping it also stops it (in the background); `shutdown` waits.
pub struct MockServer {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Snapshot of the mock's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockStats {
    /// Successful logins (all login routes).
    pub logins: u64,
    /// Rejected logins (401/403/422/503 on login routes).
    pub login_failures: u64,
    /// WebSockets that passed authentication and the per-user limit.
    pub ws_connections: u64,
    /// WebSockets closed with AUTH_FAILED / 1008.
    pub ws_auth_failures: u64,
    /// Flows (agent runs) started.
    pub flows: u64,
    /// Flows that had the configured fault applied.
    pub faulted_flows: u64,
    /// WebSockets refused by `--max-connections-per-user`.
    pub limit_rejections: u64,
}

/// A listener with a deep accept queue: thousands of users connecting at once must not overflow
/// it (an overflow drops the SYN and the client retries a second later, a false 1 s connect time).
fn listen(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    // The kernel caps this at net.core.somaxconn.
    socket.listen(65_535)
}

impl MockServer {
    /// Binds (the listener is bound before this returns: no readiness race) and spawns the server
    /// on the current tokio runtime.
    pub async fn start(cfg: MockConfig) -> std::io::Result<MockServer> {
        cfg.validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        if cfg.listen.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the mock needs at least one --listen address",
            ));
        }
        let mut listeners = Vec::new();
        for a in &cfg.listen {
            let l = listen(*a, cfg.reuse_port)
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")))?;
            listeners.push(l);
        }
        let addrs = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared::new(cfg));
        let stop = CancellationToken::new();
        let loops: Vec<_> = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, Arc::clone(&shared), stop.clone())))
            .collect();
        Ok(MockServer {
            addrs,
            shared,
            stop,
            tasks: loops,
        })
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every listening address, in `--listen` order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://IP:PORT` (`127.0.0.1` when listening on an unspecified address).
    pub fn base_url(&self) -> String {
        let mut addr = self.addr();
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    pub fn stats(&self) -> MockStats {
        self.shared.counters.snapshot()
    }

    /// Everything counted so far: flows, the frames, bytes and agent events sent per type, the
    /// tool calls per name, and the `stats` counters (the body of `GET /__mock/stats`).
    pub fn counts(&self) -> MockCounts {
        self.shared.counts()
    }

    /// Stops accepting, ends every connection task and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// State shared by all connection tasks.
pub(crate) struct Shared {
    cfg: MockConfig,
    keys: Keys,
    fraction: Fraction,
    counters: Counters,
    /// What was sent on the WebSockets.
    sent: sent::Sent,
    /// Global flow sequence number (fault selection).
    flow_seq: AtomicU64,
    /// Login sequence number (login-401 selection).
    login_seq: AtomicU64,
    /// Open WebSockets per user; `None` when unlimited.
    users: Option<Mutex<HashMap<String, u32>>>,
    ws_config: WebSocketConfig,
    /// When the mock started (the `slowdown` fault counts from it).
    started: std::time::Instant,
}

impl Shared {
    fn new(cfg: MockConfig) -> Shared {
        let secret = cfg.jwt_secret.clone().unwrap_or_else(Secret::random);
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_write_buffer_size(1 << 20)
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        Shared {
            keys: match cfg.token_lifetime {
                Some(d) => Keys::new(secret.expose().as_bytes(), &cfg.environment)
                    .with_access_ttl(d.as_secs()),
                None => Keys::new(secret.expose().as_bytes(), &cfg.environment),
            },
            fraction: Fraction::new(cfg.fault_rate),
            counters: Counters::default(),
            sent: sent::Sent::new(cfg.tool_names.len()),
            flow_seq: AtomicU64::new(0),
            login_seq: AtomicU64::new(0),
            users: (cfg.max_connections_per_user > 0).then(|| Mutex::new(HashMap::new())),
            ws_config,
            cfg,
            started: std::time::Instant::now(),
        }
    }

    /// The counts of `GET /__mock/stats`.
    fn counts(&self) -> MockCounts {
        self.sent
            .snapshot(&self.cfg.tool_names, self.counters.snapshot())
    }

    /// Whether this login is rejected by the `login-401` fault (advances the login counter).
    fn login_faulted(&self) -> bool {
        if self.cfg.fault != Some(Fault::Login401) {
            return false;
        }
        self.fraction.hits(self.login_seq.fetch_add(1, Relaxed))
    }

    /// The fault of the next flow, if it is selected (advances the flow counter).
    fn next_flow_fault(&self) -> Option<&Fault> {
        let n = self.flow_seq.fetch_add(1, Relaxed);
        self.counters.flows.fetch_add(1, Relaxed);
        let fault = self.cfg.fault.as_ref().filter(|f| f.is_flow_fault())?;
        if let Fault::Slowdown { after, .. } = fault {
            if self.started.elapsed() < *after {
                return None;
            }
        }
        if self.fraction.hits(n) {
            self.counters.faulted_flows.fetch_add(1, Relaxed);
            Some(fault)
        } else {
            None
        }
    }
}

#[derive(Default)]
struct Counters {
    logins: AtomicU64,
    login_failures: AtomicU64,
    ws_connections: AtomicU64,
    ws_auth_failures: AtomicU64,
    flows: AtomicU64,
    faulted_flows: AtomicU64,
    limit_rejections: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> MockStats {
        MockStats {
            logins: self.logins.load(Relaxed),
            login_failures: self.login_failures.load(Relaxed),
            ws_connections: self.ws_connections.load(Relaxed),
            ws_auth_failures: self.ws_auth_failures.load(Relaxed),
            flows: self.flows.load(Relaxed),
            faulted_flows: self.faulted_flows.load(Relaxed),
            limit_rejections: self.limit_rejections.load(Relaxed),
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    conns.spawn(serve(tcp, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// Serves one TCP connection: HTTP/1.1 until it ends or is upgraded, then the WebSocket session.
async fn serve(tcp: TcpStream, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let (up_tx, mut up_rx) = mpsc::channel::<http::Upgrade>(1);
    let svc_shared = Arc::clone(&shared);
    let svc = service_fn(move |req| http::handle(req, Arc::clone(&svc_shared), up_tx.clone()));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(tcp), svc)
        .with_upgrades();
    let _ = conn.await;
    if let Ok(up) = up_rx.try_recv() {
        if let Ok(io) = up.on.await {
            ws::run(TokioIo::new(io), up.params, shared).await;
        }
    }
}
