//! The `/metrics` HTTP server: serves the last rendered page (GET or HEAD), 404 elsewhere, 405
//! for other methods. It binds before anything runs, so a bad address is a usage error (exit 2)
//! before any traffic, and stops when dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{placeholder, Metrics, Page};
use crate::plan::Plan;

/// The content type of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Most scrape connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;

/// Binds `listen` (`HOST:PORT`, `[V6]:PORT`, or `:PORT` for every IPv4 interface). The error
/// names the address and the reason.
pub fn bind(listen: &str) -> Result<std::net::TcpListener, String> {
    let addr = match listen.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.to_string(),
    };
    let listener = std::net::TcpListener::bind(&addr)
        .map_err(|e| format!("--metrics-listen {listen}: cannot listen there: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("--metrics-listen {listen}: {e}"))?;
    Ok(listener)
}

/// A running `/metrics` server. Dropping it stops serving.
pub struct Server {
    addr: SocketAddr,
    page: Arc<Page>,
    stop: CancellationToken,
}

impl Server {
    /// Serves `listener` (from `bind`) on the current Tokio runtime; the page is a placeholder
    /// until a sink made by `sink` renders the first one.
    pub fn start(listener: std::net::TcpListener) -> Result<Server, String> {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        let page = Arc::new(Page::default());
        page.set(placeholder());
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, Arc::clone(&page), stop.clone()));
        Ok(Server { addr, page, stop })
    }

    /// Binds and starts in one call: what `probe --metrics-listen` needs.
    pub fn listen(listen: &str) -> Result<Server, String> {
        Server::start(bind(listen)?)
    }

    /// Where it listens (with the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sink that renders the pages of a run of `plan`.
    pub fn sink(&self, plan: Arc<Plan>) -> Metrics {
        Metrics::new(plan, Arc::clone(&self.page))
    }

    /// Keeps serving the final page for `linger`, or until `signal` is cancelled.
    pub async fn linger(&self, linger: Duration, signal: &CancellationToken) {
        tokio::select! {
            _ = tokio::time::sleep(linger) => {}
            _ = signal.cancelled() => {}
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, page: Arc<Page>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept(), if conns.len() < MAX_CONNECTIONS => match accepted {
                Ok((tcp, _)) => {
                    let page = Arc::clone(&page);
                    conns.spawn(async move {
                        let svc = service_fn(move |req| handle(req, Arc::clone(&page)));
                        let conn = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(10))
                            .serve_connection(TokioIo::new(tcp), svc);
                        // A scraper that holds the connection open does not keep it forever.
                        let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

type Resp = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, page: Arc<Page>) -> Result<Resp, Infallible> {
    Ok(route(req.method(), req.uri().path(), &page))
}

fn route(method: &Method, path: &str, page: &Page) -> Resp {
    if path != "/metrics" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n".into(),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let body = page.get();
    let mut r = text(StatusCode::OK, Bytes::copy_from_slice(body.as_bytes()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn text(status: StatusCode, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_metrics_only_and_get_only() {
        let page = Page::default();
        page.set("x 1\n".into());
        let ok = route(&Method::GET, "/metrics", &page);
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(
            route(&Method::GET, "/", &page).status(),
            StatusCode::NOT_FOUND
        );
        let post = route(&Method::POST, "/metrics", &page);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn a_bad_address_is_named() {
        let e = bind("not-an-address").unwrap_err();
        assert!(
            e.starts_with("--metrics-listen not-an-address: cannot listen there"),
            "{e}"
        );
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = bind(&addr).unwrap_err();
        assert!(e.contains("cannot listen there"), "{e}");
    }
}
