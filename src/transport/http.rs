//! HTTP/1.1 client for one virtual user: its own kept-alive connections, one per origin.
//!
//! The connection belongs to the user's task: a request is one write from a reused buffer, the
//! response is read into a reused buffer and parsed with `httparse`. No connection task, no
//! channel and no shared pool sit between the user and the socket — about two system calls per
//! request, as wrk does. Bodies framed by `content-length`, `chunked` or the end of the connection.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::{parse_url, push_headers, Conn, Origin, Target, HTTP};
use crate::metrics::errors::{ErrorKind, Failure, Phase};

/// Most response headers read (beyond that the response is an error).
const MAX_HEADERS: usize = 64;
/// Largest response accepted (headers and body).
const MAX_RESPONSE: usize = 64 << 20;

/// Writes the whole request (and flushes it through TLS; a TCP flush does nothing).
async fn write_all(stream: &mut Conn, buf: &[u8]) -> io::Result<()> {
    stream.write_all(buf).await?;
    stream.flush().await
}

/// Reads what is available into `buf`; 0 at the end of the stream.
async fn read_into(stream: &mut Conn, buf: &mut Vec<u8>) -> io::Result<usize> {
    // Small to start (most responses are a few hundred bytes; every user keeps its buffer),
    // growing geometrically for large bodies.
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(2048);
    }
    stream.read_buf(buf).await
}

struct Kept {
    origin: Origin,
    stream: Conn,
    /// Requests sent on it (a fresh connection is not retried on failure).
    used: u64,
}

/// A response: status and body (borrowed from the client's buffer until the next request).
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

/// A user's HTTP connections, one per origin (usually the auth service and the backend).
#[derive(Default)]
pub struct HttpClient {
    conns: Vec<Kept>,
    /// Source address for new connections.
    pub bind: Option<IpAddr>,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Where the body lies in `buf` (decoded in place for chunked bodies).
    body: (usize, usize),
}

/// How the response body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
    None,
}

impl HttpClient {
    /// Sends one request and reads the whole response, all within `timeout`.
    pub async fn request(
        &mut self,
        method: &http::Method,
        url: &str,
        headers: &[(http::HeaderName, String)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response<'_>, Failure> {
        let mut phase = Phase::Connect;
        let exchange = self.exchange(method, url, headers, body, &mut phase);
        let status = match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r?,
            Err(_) => {
                // The connection is in an unknown state: drop it.
                self.conns.clear();
                let origin = parse_url(url, HTTP)
                    .map(|t| t.label().to_string())
                    .unwrap_or_default();
                return Err(Failure::new(ErrorKind::Timeout, phase).cause(format!(
                    "{origin}: no complete response within {} (waiting in {phase})",
                    crate::duration::human(timeout)
                )));
            }
        };
        Ok(Response {
            status,
            body: &self.buf[self.body.0..self.body.1],
        })
    }

    async fn exchange(
        &mut self,
        method: &http::Method,
        url: &str,
        headers: &[(http::HeaderName, String)],
        body: &[u8],
        phase: &mut Phase,
    ) -> Result<u16, Failure> {
        let target = parse_url(url, HTTP)?;
        self.out.clear();
        write_request(&mut self.out, method, &target, headers, body);
        let head = *method == http::Method::HEAD;
        loop {
            *phase = Phase::Connect;
            let i = self.conn(&target).await?;
            let fresh = self.conns[i].used == 0;
            self.conns[i].used += 1;
            let result = {
                let conn = &mut self.conns[i];
                *phase = Phase::Request;
                match write_all(&mut conn.stream, &self.out).await {
                    Ok(()) => {
                        *phase = Phase::Response;
                        read_response(&mut conn.stream, &mut self.buf, head).await
                    }
                    Err(e) => Err(ReadError::Io(e, true)),
                }
            };
            match result {
                Ok((status, body, keep)) => {
                    self.body = body;
                    if !keep {
                        self.conns.swap_remove(i);
                    }
                    return Ok(status);
                }
                Err(e) => {
                    self.conns.swap_remove(i);
                    // A kept-alive connection the server had closed: retry once, on a new one.
                    let stale = matches!(e, ReadError::Io(_, true) | ReadError::Closed);
                    if stale && !fresh {
                        continue;
                    }
                    return Err(e.failure(*phase, &target.label()));
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
        let stream = Box::pin(Conn::open(target, self.bind)).await?;
        self.conns.push(Kept {
            origin: target.origin(),
            stream,
            used: 0,
        });
        Ok(self.conns.len() - 1)
    }
}

fn write_request(
    out: &mut Vec<u8>,
    method: &http::Method,
    target: &Target<'_>,
    headers: &[(http::HeaderName, String)],
    body: &[u8],
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(target.authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_headers(out, headers);
    if !body.is_empty()
        || matches!(
            *method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        )
    {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

enum ReadError {
    /// I/O failed; `true` when nothing of the response had arrived yet.
    Io(io::Error, bool),
    /// The connection closed before any response byte.
    Closed,
    /// The response was not valid HTTP/1.1 (or too large).
    Invalid,
}

impl ReadError {
    fn failure(&self, phase: Phase, origin: &dyn std::fmt::Display) -> Failure {
        match self {
            ReadError::Io(e, _) => super::io_failure(e, phase, origin),
            ReadError::Closed => Failure::new(ErrorKind::ConnectionClosed, phase).cause(format!(
                "{origin}: the server closed the connection before responding"
            )),
            ReadError::Invalid => Failure::new(ErrorKind::HttpProtocol, phase)
                .cause(format!("{origin}: not a valid HTTP/1.1 response")),
        }
    }
}

/// Reads one response into `buf`: (status, body range, keep-alive).
async fn read_response(
    stream: &mut Conn,
    buf: &mut Vec<u8>,
    head: bool,
) -> Result<(u16, (usize, usize), bool), ReadError> {
    buf.clear();
    // Headers.
    // Bytes already in `buf` (after a skipped 1xx response) are parsed before reading more.
    let mut need_read = true;
    let (status, header_len, framing, keep) = loop {
        if need_read {
            let n = read_into(stream, buf)
                .await
                .map_err(|e| ReadError::Io(e, buf.is_empty()))?;
            if n == 0 {
                return Err(if buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Invalid
                });
            }
        }
        need_read = true;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                // 1xx informational responses are skipped.
                if (100..200).contains(&status) && status != 101 {
                    buf.drain(..len);
                    need_read = buf.is_empty();
                    continue;
                }
                let (framing, keep) = framing(&resp, status, head);
                break (status, len, framing, keep);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE => continue,
            _ => return Err(ReadError::Invalid),
        }
    };
    // Body.
    match framing {
        Framing::None => Ok((status, (header_len, header_len), keep)),
        Framing::Length(len) => {
            let want = header_len
                .checked_add(len)
                .filter(|w| *w <= MAX_RESPONSE)
                .ok_or(ReadError::Invalid)?;
            while buf.len() < want {
                fill(stream, buf).await?;
            }
            Ok((status, (header_len, want), keep))
        }
        Framing::UntilClose => {
            loop {
                let n = read_into(stream, buf)
                    .await
                    .map_err(|e| ReadError::Io(e, false))?;
                if n == 0 {
                    break;
                }
                if buf.len() > MAX_RESPONSE {
                    return Err(ReadError::Invalid);
                }
            }
            Ok((status, (header_len, buf.len()), false))
        }
        Framing::Chunked => {
            let end = read_chunked(stream, buf, header_len).await?;
            Ok((status, (header_len, end), keep))
        }
    }
}

fn framing(resp: &httparse::Response<'_, '_>, status: u16, head: bool) -> (Framing, bool) {
    let mut length = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            let has = |token: &[u8]| {
                h.value
                    .windows(token.len())
                    .any(|w| w.eq_ignore_ascii_case(token))
            };
            if has(b"close") {
                close = true;
            } else if has(b"keep-alive") {
                close = false;
            }
        }
    }
    let framing = if head || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(len) = length {
        Framing::Length(len)
    } else {
        return (Framing::UntilClose, false);
    };
    (framing, !close)
}

/// Decodes a chunked body in place after `start`; returns the end of the decoded body.
async fn read_chunked(
    stream: &mut Conn,
    buf: &mut Vec<u8>,
    start: usize,
) -> Result<usize, ReadError> {
    let mut out = start; // decoded body so far: buf[start..out]
    let mut pos = start; // next undecoded byte
    loop {
        // A chunk-size line.
        let line_end = loop {
            if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            fill(stream, buf).await?;
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).map_err(|_| ReadError::Invalid)?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Invalid)?;
        pos = line_end + 2;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                    if i == 0 {
                        return Ok(out);
                    }
                    pos += i + 2;
                } else {
                    fill(stream, buf).await?;
                }
            }
        }
        if out + size > MAX_RESPONSE {
            return Err(ReadError::Invalid);
        }
        while buf.len() < pos + size + 2 {
            fill(stream, buf).await?;
        }
        buf.copy_within(pos..pos + size, out);
        out += size;
        pos += size + 2;
    }
}

async fn fill(stream: &mut Conn, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    match read_into(stream, buf).await {
        Ok(0) => Err(ReadError::Invalid),
        Ok(_) if buf.len() > MAX_RESPONSE => Err(ReadError::Invalid),
        Ok(_) => Ok(()),
        Err(e) => Err(ReadError::Io(e, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A one-shot server answering each request with the next canned response.
    async fn serve(responses: Vec<&'static [u8]>) -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
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
                s.write_all(r).await.unwrap();
            }
        });
        port
    }

    #[tokio::test]
    async fn reads_length_chunked_and_close_framed_bodies_on_one_connection() {
        let port = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno",
        ])
        .await;
        let url = format!("http://127.0.0.1:{port}/x");
        let mut c = HttpClient::default();
        let t = Duration::from_secs(5);
        let get = http::Method::GET;
        let r = c.request(&get, &url, &[], b"", t).await.ok().unwrap();
        assert_eq!((r.status, r.body), (200, &b"hello"[..]));
        let r = c
            .request(&http::Method::POST, &url, &[], b"{}", t)
            .await
            .ok()
            .unwrap();
        assert_eq!((r.status, r.body), (201, &b"abcdefg"[..]));
        let r = c.request(&get, &url, &[], b"", t).await.ok().unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = c.request(&get, &url, &[], b"", t).await.ok().unwrap();
        assert_eq!((r.status, r.body), (500, &b"no"[..]));
        assert!(c.conns.is_empty(), "connection: close drops the connection");
    }

    #[tokio::test]
    async fn garbage_and_refusals_are_typed_errors() {
        let port = serve(vec![b"SMTP ready\r\n\r\n"]).await;
        let mut c = HttpClient::default();
        let t = Duration::from_secs(5);
        let url = format!("http://127.0.0.1:{port}/");
        let f = c.request(&http::Method::GET, &url, &[], b"", t).await.err();
        assert_eq!(
            f.map(|f| (f.kind, f.phase)),
            Some((ErrorKind::HttpProtocol, Phase::Response))
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{closed}/");
        let f = c
            .request(&http::Method::GET, &url, &[], b"", t)
            .await
            .err()
            .unwrap();
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
}
