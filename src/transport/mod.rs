//! Network edges for virtual users: TCP/TLS connect with typed errors, an HTTP/1 client, WebSockets.
//!
//! Connections are opened here (not inside hyper or tungstenite) so that every failure maps to a
//! `Failure` — its kind (refused, DNS, TLS, timeout, ...), its phase, and a cause that names the
//! address (`scheme://host:port`, never credentials) and the exact reason.

pub mod conn;
pub mod dns;
pub mod h1;
pub mod http;
pub mod tls;
pub mod ws;

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use crate::metrics::errors::{ErrorKind, Failure, Phase};

/// Maps an I/O error to its kind.
pub fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::UnexpectedEof => ErrorKind::ConnectionClosed,
        _ => ErrorKind::Io,
    }
}

/// An I/O error in `phase` talking to `origin` (`scheme://host:port`), with the OS error.
pub fn io_failure(e: &io::Error, phase: Phase, origin: &dyn std::fmt::Display) -> Failure {
    Failure::new(io_kind(e), phase).cause(format!("{origin}: {e}"))
}

/// Resolves `host` and opens a TCP connection to `port` (trying each address in turn), from the
/// source address `bind` when given (and of the same family). `origin` names it in failures.
pub async fn tcp_connect(
    host: &str,
    port: u16,
    bind: Option<IpAddr>,
    origin: &dyn std::fmt::Display,
) -> Result<TcpStream, Failure> {
    tcp_connect_tracked(host, port, bind, origin, &mut Phase::Dns).await
}

/// As `tcp_connect`, keeping `phase` up to date (DNS, then connect) for a deadline's message.
pub async fn tcp_connect_tracked(
    host: &str,
    port: u16,
    bind: Option<IpAddr>,
    origin: &dyn std::fmt::Display,
    phase: &mut Phase,
) -> Result<TcpStream, Failure> {
    *phase = Phase::Dns;
    let addrs = dns::resolve(host).await.ok_or_else(|| {
        Failure::new(ErrorKind::Dns, Phase::Dns)
            .cause(format!("{origin}: host name '{host}' did not resolve"))
    })?;
    *phase = Phase::Connect;
    let mut last = None;
    for ip in addrs {
        let to = SocketAddr::new(ip, port);
        match connect_from(to, bind).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                let at = if host.parse::<IpAddr>().is_ok() {
                    String::new()
                } else {
                    format!(" ({to})")
                };
                last = Some(
                    Failure::new(io_kind(&e), Phase::Connect).cause(format!("{origin}{at}: {e}")),
                );
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        Failure::new(ErrorKind::Dns, Phase::Dns)
            .cause(format!("{origin}: host name '{host}' has no address"))
    }))
}

async fn connect_from(to: SocketAddr, bind: Option<IpAddr>) -> std::io::Result<TcpStream> {
    match bind.filter(|b| b.is_ipv4() == to.is_ipv4()) {
        None => TcpStream::connect(to).await,
        Some(from) => {
            let socket = if to.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(from, 0))?;
            socket.connect(to).await
        }
    }
}

/// `--local-addrs`: source addresses for outgoing connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddrs(pub Vec<IpAddr>);

impl std::str::FromStr for LocalAddrs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_local_addrs(s).map(LocalAddrs)
    }
}

/// Parses `--local-addrs`: addresses and CIDR blocks, comma-separated (`127.0.0.2,127.0.0.3`,
/// `127.0.1.0/28`). A block gives its host addresses (all of them for /31 and /32).
pub fn parse_local_addrs(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Ok(ip) = part.parse::<IpAddr>() {
            out.push(ip);
        } else if let Ok(net) = part.parse::<ipnet::IpNet>() {
            let before = out.len();
            out.extend(net.hosts().take(1 << 16));
            if out.len() == before {
                return Err(format!("'{part}' holds no host address"));
            }
        } else {
            return Err(format!(
                "invalid local address '{part}': use addresses or CIDR blocks, e.g. 127.0.0.2,127.0.1.0/28"
            ));
        }
    }
    if out.is_empty() {
        return Err("--local-addrs is empty".into());
    }
    Ok(out)
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
