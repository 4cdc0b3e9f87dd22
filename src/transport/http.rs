//! HTTP/1.1 client for one virtual user: its own kept-alive connections, one per origin.
//!
//! The connection belongs to the user's task: a request is one write from a reused buffer, the
//! response is read into a reused buffer and understood by the sans-IO `h1::Reader` (framing,
//! chunked decoding in place, the step's limits). No connection task, no channel and no shared
//! pool sit between the user and the socket — about two system calls per request, as wrk does.
//! One deadline bounds the whole exchange (DNS, connect, TLS, the write, every read); when it
//! passes, the failure says what was awaited. Buffers a large response grew are released.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::{parse_url, push_headers, Conn, Origin, Target, HTTP};
use super::h1::{Limits, ParseError, Parsed, Progress, Reader};
use crate::metrics::errors::{ErrorKind, Failure, Phase};

/// Our `user-agent` (a scenario's header of that name replaces it).
pub const USER_AGENT: &str = concat!("load-tester/", env!("CARGO_PKG_VERSION"));
/// Buffers grown past this by a large request or response are released after it (a normal
/// response is a few hundred bytes; every user keeps its buffers).
const KEEP_BUFFER: usize = 64 << 10;
/// A read is made with at least this much room (else the buffer grows).
const MIN_READ: usize = 1024;

/// Writes the whole request (and flushes it through TLS; a TCP flush does nothing).
async fn write_all(stream: &mut Conn, buf: &[u8]) -> io::Result<()> {
    stream.write_all(buf).await?;
    stream.flush().await
}

/// Reads what is available into `buf`, which grows geometrically up to `limit` (small to start:
/// most responses are a few hundred bytes); 0 at the end of the stream.
async fn read_into(stream: &mut Conn, buf: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
    if buf.capacity() - buf.len() < MIN_READ {
        let want = (buf.capacity() * 2)
            .max(buf.len() + 2 * MIN_READ)
            .min(limit)
            .max(buf.len() + 1);
        buf.reserve_exact(want - buf.len());
    }
    stream.read_buf(buf).await
}

struct Kept {
    origin: Origin,
    stream: Conn,
    /// Requests sent on it (a fresh connection is not retried on failure).
    used: u64,
}

/// One request.
pub struct Request<'a> {
    pub method: &'a http::Method,
    pub url: &'a str,
    /// The scenario's headers (rendered); one named as a default of ours replaces it.
    pub headers: &'a [(http::HeaderName, String)],
    pub body: &'a [u8],
    /// The default `content-type` (e.g. `application/json` for a JSON body), if any.
    pub content_type: Option<&'a str>,
    /// The deadline of the whole exchange.
    pub timeout: Duration,
    pub limits: Limits,
}

/// A response: status and body (borrowed from the client's buffer until the next request).
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

/// A user's HTTP connections, one per origin (usually the auth service and the backend).
pub struct HttpClient {
    conns: Vec<Kept>,
    /// Source address for new connections.
    pub bind: Option<IpAddr>,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Where the body lies in `buf` (decoded in place for chunked bodies).
    body: Range<usize>,
    /// The current response's reader and the exchange's phase: kept outside the exchange so
    /// that a timeout, which drops it, can still say what was awaited. Boxed: a user's task
    /// stays small.
    reader: Box<Reader>,
    phase: Phase,
}

impl Default for HttpClient {
    fn default() -> HttpClient {
        HttpClient {
            conns: Vec::new(),
            bind: None,
            out: Vec::new(),
            buf: Vec::new(),
            body: 0..0,
            reader: Box::new(Reader::new(Limits::default(), false)),
            phase: Phase::Connect,
        }
    }
}

impl HttpClient {
    /// Sends one request and reads the whole response, all within `req.timeout`.
    pub async fn request(&mut self, req: &Request<'_>) -> Result<Response<'_>, Failure> {
        self.trim();
        let result = tokio::time::timeout(req.timeout, self.exchange(req)).await;
        let status = match result {
            Ok(Ok(status)) => status,
            Ok(Err(f)) => {
                self.trim();
                return Err(f);
            }
            Err(_) => {
                let f = self.timeout_failure(req);
                // The connection is in an unknown state: drop it.
                self.conns.clear();
                self.trim();
                return Err(f);
            }
        };
        Ok(Response {
            status,
            body: &self.buf[self.body.clone()],
        })
    }

    /// Releases buffers that a large request or response grew (call when done with a response).
    pub fn trim(&mut self) {
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
            self.body = 0..0;
        }
        if self.out.capacity() > KEEP_BUFFER {
            self.out = Vec::new();
        }
    }

    /// The failure of a deadline: where it was and what it waited for.
    fn timeout_failure(&self, req: &Request<'_>) -> Failure {
        let origin = parse_url(req.url, HTTP)
            .map(|t| t.label().to_string())
            .unwrap_or_default();
        let within = crate::duration::human(req.timeout);
        let what = match self.phase {
            Phase::Dns => format!("host name not resolved within {within}"),
            Phase::Connect => format!("not connected within {within}"),
            Phase::Tls => format!("TLS handshake not complete within {within}"),
            Phase::Request => {
                format!("request not sent within {within} (the server is not reading)")
            }
            _ if self.reader.at_start(&self.buf) => {
                format!("no response within {within} (waiting for the status line)")
            }
            _ => format!(
                "response not complete within {within} ({})",
                self.reader.waiting_for(&self.buf)
            ),
        };
        Failure::new(ErrorKind::Timeout, self.phase).cause(format!("{origin}: {what}"))
    }

    async fn exchange(&mut self, req: &Request<'_>) -> Result<u16, Failure> {
        let target = parse_url(req.url, HTTP)?;
        self.out.clear();
        write_request(&mut self.out, req, &target);
        let head = *req.method == http::Method::HEAD;
        loop {
            self.phase = Phase::Connect;
            let i = self.conn(&target).await?;
            let fresh = self.conns[i].used == 0;
            self.conns[i].used += 1;
            *self.reader = Reader::new(req.limits, head);
            self.buf.clear();
            self.phase = Phase::Request;
            let conn = &mut self.conns[i];
            let result = match write_all(&mut conn.stream, &self.out).await {
                Ok(()) => {
                    self.phase = Phase::Response;
                    read_response(&mut conn.stream, &mut self.buf, &mut self.reader).await
                }
                Err(e) => Err(ReadError::Io(e, true)),
            };
            match result {
                Ok(parsed) => {
                    self.body = parsed.body;
                    if !parsed.keep_alive {
                        self.conns.swap_remove(i);
                    }
                    return Ok(parsed.status);
                }
                Err(e) => {
                    self.conns.swap_remove(i);
                    // A kept-alive connection the server had closed: retry once, on a new one.
                    let stale = matches!(e, ReadError::Io(_, true) | ReadError::Closed);
                    if stale && !fresh {
                        continue;
                    }
                    return Err(e.failure(self.phase, &target.label()));
                }
            }
        }
    }

    /// The connection to `target`'s origin, opened if needed; its index.
    async fn conn(&mut self, target: &Target<'_>) -> Result<usize, Failure> {
        if let Some(i) = self.conns.iter().position(|c| target.is_at(&c.origin)) {
            return Ok(i);
        }
        // Boxed: connecting (DNS, TLS) is a large state machine that a kept-alive request never
        // needs; inline, every request would carry (and move) it.
        let stream = Box::pin(Conn::open_tracked(target, self.bind, &mut self.phase)).await?;
        self.conns.push(Kept {
            origin: target.origin(),
            stream,
            used: 0,
        });
        Ok(self.conns.len() - 1)
    }
}

fn write_request(out: &mut Vec<u8>, req: &Request<'_>, target: &Target<'_>) {
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let defaults = [
        ("host", target.authority),
        ("user-agent", USER_AGENT),
        ("accept", "*/*"),
        ("content-type", req.content_type.unwrap_or_default()),
    ];
    let n = if req.content_type.is_some() { 4 } else { 3 };
    push_headers(out, &defaults[..n], req.headers);
    if !req.body.is_empty()
        || matches!(
            *req.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        )
    {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "content-length: {}\r\n", req.body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
}

enum ReadError {
    /// I/O failed; `true` when nothing of the response had arrived yet.
    Io(io::Error, bool),
    /// The connection closed before any response byte.
    Closed,
    /// The response broke HTTP/1.1, went over a limit or was cut.
    Parse(ParseError),
}

impl ReadError {
    fn failure(&self, phase: Phase, origin: &dyn std::fmt::Display) -> Failure {
        let (kind, why) = match self {
            ReadError::Io(e, _) => return super::io_failure(e, phase, origin),
            ReadError::Closed => (
                ErrorKind::ConnectionClosed,
                "the server closed the connection before responding",
            ),
            ReadError::Parse(ParseError::Invalid(m)) => (ErrorKind::HttpProtocol, m.as_str()),
            ReadError::Parse(ParseError::TooLarge(m)) => (ErrorKind::TooLarge, m.as_str()),
            ReadError::Parse(ParseError::Cut(m)) => (ErrorKind::ConnectionClosed, m.as_str()),
        };
        Failure::new(kind, phase).cause(format!("{origin}: {why}"))
    }
}

/// Reads one response into `buf` (cleared by the caller), as `reader` understands it.
async fn read_response(
    stream: &mut Conn,
    buf: &mut Vec<u8>,
    reader: &mut Reader,
) -> Result<Parsed, ReadError> {
    loop {
        let n = read_into(stream, buf, reader.buffer_limit())
            .await
            .map_err(|e| ReadError::Io(e, reader.at_start(buf)))?;
        if n == 0 {
            if reader.at_start(buf) {
                return Err(ReadError::Closed);
            }
            return reader.eof(buf).map_err(ReadError::Parse);
        }
        if let Progress::Done(p) = reader.advance(buf).map_err(ReadError::Parse)? {
            return Ok(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A one-shot server answering each request with the next canned response; the request
    /// heads it read come back on the channel.
    async fn serve(responses: Vec<Vec<u8>>) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for r in responses {
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
                if s.write_all(&r).await.is_err() {
                    return;
                }
            }
            // Hold the connection open, silent.
            let _ = s.read(&mut buf).await;
        });
        (port, rx)
    }

    fn req<'a>(method: &'a http::Method, url: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            method,
            url,
            headers: &[],
            body,
            content_type: None,
            timeout: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }

    #[tokio::test]
    async fn reads_length_chunked_and_close_framed_bodies_on_one_connection() {
        let (port, _) = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec(),
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n".to_vec(),
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            b"HTTP/1.1 500 Oops\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno".to_vec(),
        ])
        .await;
        let url = format!("http://127.0.0.1:{port}/x");
        let mut c = HttpClient::default();
        let get = http::Method::GET;
        let r = c.request(&req(&get, &url, b"")).await.ok().unwrap();
        assert_eq!((r.status, r.body), (200, &b"hello"[..]));
        let post = http::Method::POST;
        let r = c.request(&req(&post, &url, b"{}")).await.ok().unwrap();
        assert_eq!((r.status, r.body), (201, &b"abcdefg"[..]));
        let r = c.request(&req(&get, &url, b"")).await.ok().unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = c.request(&req(&get, &url, b"")).await.ok().unwrap();
        assert_eq!((r.status, r.body), (500, &b"no"[..]));
        assert!(c.conns.is_empty(), "connection: close drops the connection");
    }

    #[tokio::test]
    async fn garbage_and_refusals_are_typed_errors() {
        let (port, _) = serve(vec![b"SMTP ready\r\n\r\n".to_vec()]).await;
        let mut c = HttpClient::default();
        let url = format!("http://127.0.0.1:{port}/");
        let get = http::Method::GET;
        let f = c.request(&req(&get, &url, b"")).await.err().unwrap();
        assert_eq!(
            (f.kind, f.phase),
            (ErrorKind::HttpProtocol, Phase::Response)
        );
        assert_eq!(
            f.cause_text(),
            format!("http://127.0.0.1:{port}: not an HTTP/1.x status line: SMTP ready")
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{closed}/");
        let f = c.request(&req(&get, &url, b"")).await.err().unwrap();
        assert_eq!(
            (f.kind, f.phase),
            (ErrorKind::ConnectionRefused, Phase::Connect)
        );
        assert!(
            f.cause_text()
                .starts_with(&format!("http://127.0.0.1:{closed}: ")),
            "{}",
            f.cause_text()
        );
    }

    #[tokio::test]
    async fn scenario_headers_replace_ours_and_ours_are_sent_otherwise() {
        let (port, mut heads) = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ])
        .await;
        let url = format!("http://127.0.0.1:{port}/p?q=1");
        let mut c = HttpClient::default();
        let post = http::Method::POST;
        let mut r = req(&post, &url, b"{}");
        r.content_type = Some("application/json");
        c.request(&r).await.ok().unwrap();
        let head = heads.recv().await.unwrap();
        assert_eq!(
            head,
            format!(
                "POST /p?q=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nuser-agent: {USER_AGENT}\r\n\
                 accept: */*\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
            )
        );
        let headers = [
            (http::header::HOST, "api.example.test".to_string()),
            (http::header::USER_AGENT, "probe/1".to_string()),
            (http::header::CONTENT_TYPE, "text/plain".to_string()),
            (http::header::ACCEPT, "application/json".to_string()),
        ];
        r.headers = &headers;
        c.request(&r).await.ok().unwrap();
        let head = heads.recv().await.unwrap();
        for (name, count) in [
            ("host:", 1),
            ("user-agent:", 1),
            ("content-type:", 1),
            ("accept:", 1),
        ] {
            assert_eq!(head.matches(name).count(), count, "{name} in {head}");
        }
        assert!(head.contains("host: api.example.test\r\n"), "{head}");
        assert!(head.contains("content-type: text/plain\r\n"), "{head}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_times_out_naming_what_was_awaited() {
        let (port, _) = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec()
        ])
        .await;
        let url = format!("http://127.0.0.1:{port}/");
        let mut c = HttpClient::default();
        let get = http::Method::GET;
        let mut r = req(&get, &url, b"");
        r.timeout = Duration::from_secs(2);
        let f = c.request(&r).await.err().unwrap();
        assert_eq!((f.kind, f.phase), (ErrorKind::Timeout, Phase::Response));
        assert_eq!(
            f.cause_text(),
            format!(
                "http://127.0.0.1:{port}: response not complete within 2s \
                 (waiting for the body; 3 of 10 bytes so far)"
            )
        );
    }

    #[tokio::test]
    async fn a_large_response_is_refused_over_the_limit_and_its_buffer_released() {
        let big = {
            let mut r = b"HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n".to_vec();
            r.resize(r.len() + 300_000, b'x');
            r
        };
        let (port, _) = serve(vec![big.clone(), big]).await;
        let url = format!("http://127.0.0.1:{port}/");
        let mut c = HttpClient::default();
        let get = http::Method::GET;
        let r = c.request(&req(&get, &url, b"")).await.ok().unwrap();
        assert_eq!(r.body.len(), 300_000);
        assert!(c.buf.capacity() >= 300_000);
        c.trim();
        assert_eq!(c.buf.capacity(), 0, "a large buffer is released");
        let mut small = req(&get, &url, b"");
        small.limits.body = 1000;
        let f = c.request(&small).await.err().unwrap();
        assert_eq!((f.kind, f.phase), (ErrorKind::TooLarge, Phase::Response));
        assert!(
            f.cause_text().contains(
                "(300000 bytes by Content-Length) is over 1000 bytes (raise http.max_body"
            ),
            "{}",
            f.cause_text()
        );
    }
}
