//! HTTP/1.1 client for one virtual user: a few kept-alive connections, one per origin.
//!
//! Each user owns its connections (hyper's low-level `client::conn`), so there is no shared pool
//! and no lock between users; a closed connection is reopened once, transparently.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;

use super::{tcp_connect, tls_config};
use crate::metrics::errors::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

/// A response: status and the whole body.
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// A user's HTTP connections, one per origin (usually the auth service and the backend).
#[derive(Default)]
pub struct HttpClient {
    conns: Vec<(Origin, SendRequest<Full<Bytes>>)>,
    /// Source address for new connections.
    pub bind: Option<std::net::IpAddr>,
}

impl HttpClient {
    /// Sends one request and reads the whole response, all within `timeout`.
    pub async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, ErrorKind> {
        match tokio::time::timeout(timeout, self.request_inner(method, url, headers, body)).await {
            Ok(r) => r,
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    async fn request_inner(
        &mut self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, ErrorKind> {
        let uri: Uri = url.parse().map_err(|_| ErrorKind::Io)?;
        let origin = origin_of(&uri)?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        // One retry when a kept-alive connection turns out to be closed.
        for attempt in 0..2 {
            let reused = self.conns.iter().any(|(o, _)| *o == origin);
            let sender = self.sender(&origin).await?;
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path.as_str())
                .body(Full::new(body.clone()))
                .map_err(|_| ErrorKind::Io)?;
            *req.headers_mut() = headers.clone();
            if let Ok(v) = http::HeaderValue::from_str(&authority) {
                req.headers_mut().insert(http::header::HOST, v);
            }
            match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp
                        .into_body()
                        .collect()
                        .await
                        .map_err(|_| ErrorKind::Io)?
                        .to_bytes();
                    return Ok(Response { status, body });
                }
                Err(e) => {
                    self.conns.retain(|(o, _)| *o != origin);
                    if !(reused && attempt == 0 && (e.is_canceled() || e.is_incomplete_message())) {
                        return Err(ErrorKind::Io);
                    }
                }
            }
        }
        Err(ErrorKind::Io)
    }

    async fn sender(
        &mut self,
        origin: &Origin,
    ) -> Result<&mut SendRequest<Full<Bytes>>, ErrorKind> {
        if let Some(i) = self.conns.iter().position(|(o, _)| o == origin) {
            let ready = self.conns[i].1.ready().await.is_ok();
            if ready {
                return Ok(&mut self.conns[i].1);
            }
            self.conns.swap_remove(i);
        }
        let sender = connect(origin, self.bind).await?;
        self.conns.push((origin.clone(), sender));
        let last = self.conns.len() - 1;
        Ok(&mut self.conns[last].1)
    }
}

fn origin_of(uri: &Uri) -> Result<Origin, ErrorKind> {
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(ErrorKind::Io),
    };
    let host = uri.host().ok_or(ErrorKind::Io)?.to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Origin { tls, host, port })
}

async fn connect(
    origin: &Origin,
    bind: Option<std::net::IpAddr>,
) -> Result<SendRequest<Full<Bytes>>, ErrorKind> {
    let tcp = tcp_connect(&origin.host, origin.port, bind).await?;
    if origin.tls {
        let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
            .map_err(|_| ErrorKind::Tls)?;
        let tls = TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|_| ErrorKind::Tls)?;
        handshake(TokioIo::new(tls)).await
    } else {
        handshake(TokioIo::new(tcp)).await
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, ErrorKind>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|_| ErrorKind::Io)?;
    // The connection driver lives as long as the sender; it runs on this worker's local set.
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
