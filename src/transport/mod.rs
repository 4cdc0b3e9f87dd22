//! Network edges for virtual users: TCP/TLS connect with typed errors, an HTTP/1 client, WebSockets.
//!
//! Connections are opened here (not inside hyper or tungstenite) so that every failure maps to an
//! `ErrorKind` — refused, DNS, TLS, timeout — instead of an opaque error string.

pub mod dns;
pub mod http;
pub mod ws;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;

use crate::metrics::errors::ErrorKind;

/// Maps an I/O error to its kind.
pub fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}

/// Resolves `host` and opens a TCP connection to `port` (trying each address in turn).
pub async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, ErrorKind> {
    let addrs = dns::resolve(host).await.ok_or(ErrorKind::Dns)?;
    let mut last = ErrorKind::Dns;
    for ip in addrs {
        match TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = io_kind(&e),
        }
    }
    Err(last)
}

/// The shared rustls client configuration (Mozilla roots from webpki-roots: no system store needed,
/// so a `scratch` image can speak TLS).
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            // Constant inputs: the ring provider supports the safe default versions.
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
pub fn push_query_encoded(out: &mut String, value: &str) {
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
                out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
            }
        }
    }
}
