//! One client connection, plain TCP or TLS, and the URL split that says where it goes.
//!
//! HTTP and WebSocket users both hold a `Conn`: an enum, not a boxed trait object, with the TLS
//! state boxed so that a plain connection (the common case, and most of a hundred thousand idle
//! sockets) costs a `TcpStream` and no more.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{tcp_connect_tracked, tls};
use crate::metrics::errors::{ErrorKind, Failure, Phase};

/// Where a kept connection goes: scheme security, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// A parsed request target, borrowing the URL (parsing allocates nothing): where to connect and
/// what to put on the request line.
pub struct Target<'a> {
    /// `http`, `https`, `ws` or `wss`.
    pub scheme: &'static str,
    pub tls: bool,
    pub host: &'a str,
    pub port: u16,
    /// `host[:port]` as written, for the `host` header.
    pub authority: &'a str,
    /// Path and query, `/` when empty (the fragment is dropped).
    pub path: &'a str,
}

/// `scheme://host:port` of a target, for messages (never the path, query or credentials).
pub struct OriginLabel<'a>(&'a Target<'a>);

impl std::fmt::Display for OriginLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        if t.host.contains(':') {
            write!(f, "{}://[{}]:{}", t.scheme, t.host, t.port)
        } else {
            write!(f, "{}://{}:{}", t.scheme, t.host, t.port)
        }
    }
}

impl<'a> Target<'a> {
    /// Names the target in messages: `scheme://host:port`.
    pub fn label(&'a self) -> OriginLabel<'a> {
        OriginLabel(self)
    }
}

impl Target<'_> {
    /// Whether a connection to `o` serves this target.
    pub fn is_at(&self, o: &Origin) -> bool {
        self.tls == o.tls && self.port == o.port && self.host == o.host
    }

    /// The owned origin, kept with a new connection.
    pub fn origin(&self) -> Origin {
        Origin {
            tls: self.tls,
            host: self.host.to_string(),
            port: self.port,
        }
    }
}

/// The URL schemes a client accepts: (plain, secure), e.g. `("http", "https")`.
pub type Schemes = (&'static str, &'static str);
pub const HTTP: Schemes = ("http", "https");
pub const WS: Schemes = ("ws", "wss");

/// An invalid URL: the cause never repeats the URL (it may hold secrets), only what is wrong.
fn bad_url(why: &str) -> Failure {
    Failure::new(ErrorKind::InvalidRequest, Phase::Template).cause(format!("invalid URL: {why}"))
}

/// Splits `url` into origin, authority and path, for one of `schemes`, by the one URL check
/// the scenario compiler also uses (`scenario::url::check`): a URL rendered from a variable at
/// run time gets the same rules (no whitespace or control characters, which would otherwise
/// reach the request line; no credentials; a port in 1..=65535).
pub fn parse_url<'a>(url: &'a str, schemes: Schemes) -> Result<Target<'a>, Failure> {
    use crate::scenario::url::{check, Kind};
    let kind = if schemes == WS { Kind::Ws } else { Kind::Http };
    let u = check(url, kind).map_err(|e| bad_url(&format!("it {e}")))?;
    Ok(Target {
        scheme: if u.tls { schemes.1 } else { schemes.0 },
        tls: u.tls,
        host: u.host,
        port: u.port,
        authority: u.authority,
        path: u.path,
    })
}

/// An open connection.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Connects to `t` (TCP, then TLS for a secure scheme) from the source address `bind`.
    pub async fn open(t: &Target<'_>, bind: Option<std::net::IpAddr>) -> Result<Conn, Failure> {
        let mut phase = Phase::Dns;
        Conn::open_tracked(t, bind, &mut phase).await
    }

    /// As `open`, keeping `phase` up to date (DNS, connect, TLS), so that a deadline that cuts
    /// it off can say what it was waiting for.
    pub async fn open_tracked(
        t: &Target<'_>,
        bind: Option<std::net::IpAddr>,
        phase: &mut Phase,
    ) -> Result<Conn, Failure> {
        let label = t.label();
        let tcp = tcp_connect_tracked(t.host, t.port, bind, &label, phase).await?;
        if !t.tls {
            return Ok(Conn::Plain(tcp));
        }
        *phase = Phase::Tls;
        let tls_err =
            |why: String| Failure::new(ErrorKind::Tls, Phase::Tls).cause(format!("{label}: {why}"));
        let name = rustls::pki_types::ServerName::try_from(t.host.to_string())
            .map_err(|e| tls_err(format!("invalid server name: {e}")))?;
        let tls = TlsConnector::from(tls::config())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_err(tls::explain(&e)))?;
        Ok(Conn::Tls(Box::new(tls)))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// Appends the header lines of a request: each of `defaults` (lower-case names) with the
/// scenario's value when `headers` has one of that name (so a scenario's `Host` replaces ours,
/// never doubles it), then the rest of `headers`.
pub fn push_headers(
    out: &mut Vec<u8>,
    defaults: &[(&str, &str)],
    headers: &[(http::HeaderName, String)],
) {
    for (name, value) in defaults {
        let value = headers
            .iter()
            .find(|(n, _)| n.as_str() == *name)
            .map_or(*value, |(_, v)| v.as_str());
        push_header(out, name, value);
    }
    for (name, value) in headers {
        if !defaults.iter().any(|(d, _)| *d == name.as_str()) {
            push_header(out, name.as_str(), value);
        }
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_authority_and_path() {
        let t = parse_url("http://127.0.0.1:8080/health?x=1#frag", HTTP).unwrap();
        assert_eq!((t.host, t.port, t.tls), ("127.0.0.1", 8080, false));
        assert_eq!((t.authority, t.path), ("127.0.0.1:8080", "/health?x=1"));
        let t = parse_url("https://auth.example.test", HTTP).unwrap();
        assert_eq!((t.port, t.path, t.tls), (443, "/", true));
        let t = parse_url("http://[::1]:9/a", HTTP).unwrap();
        assert_eq!((t.host, t.port, t.authority), ("::1", 9, "[::1]:9"));
        let t = parse_url("wss://api.example.test/ws?token=a%20b", WS).unwrap();
        assert_eq!((t.port, t.tls, t.path), (443, true, "/ws?token=a%20b"));
        for bad in [
            "ftp://x/",
            "http://",
            "http://h:port/",
            "nohost",
            "http://h:99999/",
            "http://h:0/",
            "http://user:pw@h/",
            "http://h/a b",
            "http://h/x\r\nInjected: yes",
            "http://a:1:2/",
        ] {
            assert!(parse_url(bad, HTTP).is_err(), "{bad}");
        }
        assert!(parse_url("http://x/ws", WS).is_err());
        assert!(parse_url("ws://x/", HTTP).is_err());
    }

    #[test]
    fn a_scenario_header_replaces_the_default_of_its_name() {
        let mut out = Vec::new();
        let headers = [
            (http::header::HOST, "api.example.test".to_string()),
            (http::header::AUTHORIZATION, "Bearer t".to_string()),
        ];
        push_headers(
            &mut out,
            &[("host", "127.0.0.1:8"), ("user-agent", "lt/1")],
            &headers,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "host: api.example.test\r\nuser-agent: lt/1\r\nauthorization: Bearer t\r\n"
        );
    }
}
