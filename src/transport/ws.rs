//! WebSocket client for one virtual user: the opening handshake on the user's own connection,
//! then a `Socket` that reads frame by frame and writes within deadlines.
//!
//! The handshake is done here (not by tungstenite) so every failure is typed and names the
//! address; tungstenite then frames the stream. Buffers are kept small (a few KiB) so that a
//! hundred thousand open sockets stay cheap, and limits (`ws.max_message`, the pong backlog)
//! bound a user's memory whatever the server sends.

mod classify;
mod event;
mod socket;
mod track;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::conn::{parse_url, push_headers, Conn, Target, WS};
use super::io_failure;
use crate::metrics::errors::{ErrorKind, Failure, Phase};

pub use classify::classify;
pub use event::{capture, event_type, View};
pub use socket::{
    config, Control, Deadline, Frame, Socket, What, DEFAULT_MAX_MESSAGE, PONG_BACKLOG,
};

/// Largest upgrade response head read.
const MAX_HEAD: usize = 16 * 1024;

/// What to send with the upgrade request.
pub struct Upgrade<'a> {
    /// Extra headers (already rendered; no line breaks).
    pub headers: &'a [(http::HeaderName, String)],
    /// The `Sec-WebSocket-Protocol` offer, comma-separated; empty for none.
    pub subprotocols: &'a str,
}

/// Opens a WebSocket: TCP (and TLS for wss) connect, then the upgrade, all within `timeout`;
/// messages (and frames) either way are limited to `max_message` bytes.
pub async fn connect(
    url: &str,
    upgrade: &Upgrade<'_>,
    timeout: Duration,
    bind: Option<std::net::IpAddr>,
    max_message: usize,
) -> Result<Socket, Failure> {
    let mut phase = Phase::Connect;
    let inner = connect_inner(url, upgrade, bind, &mut phase);
    let (conn, tail) = match tokio::time::timeout(timeout, inner).await {
        Ok(r) => r?,
        Err(_) => {
            let origin = parse_url(url, WS)
                .map(|t| t.label().to_string())
                .unwrap_or_default();
            let waiting = match phase {
                Phase::Request => "the upgrade request was not taken",
                Phase::Upgrade => "no complete upgrade response came",
                Phase::Dns => "the host name did not resolve",
                Phase::Tls => "the TLS handshake did not complete",
                _ => "not connected",
            };
            return Err(Failure::new(ErrorKind::Timeout, phase).cause(format!(
                "{origin}: {waiting} within {}",
                crate::duration::human(timeout)
            )));
        }
    };
    let origin = parse_url(url, WS)?.label().to_string();
    Ok(Socket::new(conn, tail, origin, max_message).await)
}

/// The client side of the RFC 6455 opening handshake, on the user's own connection: one write,
/// a response head parsed with `httparse`, and the bytes after it (often the server's first
/// frame) handed to tungstenite in an exactly-sized buffer — its own handshake would leave a
/// 4 KiB buffer behind in every open socket.
async fn connect_inner(
    url: &str,
    upgrade: &Upgrade<'_>,
    bind: Option<std::net::IpAddr>,
    phase: &mut Phase,
) -> Result<(Conn, Vec<u8>), Failure> {
    let target = parse_url(url, WS)?;
    let label = target.label();
    let mut conn = Conn::open_tracked(&target, bind, phase).await?;
    let key = generate_key();
    let mut out = Vec::with_capacity(256 + url.len() + upgrade.subprotocols.len());
    write_upgrade(&mut out, &target, &key, upgrade);
    *phase = Phase::Request;
    let io = |e: std::io::Error, phase: Phase| io_failure(&e, phase, &label);
    conn.write_all(&out)
        .await
        .map_err(|e| io(e, Phase::Request))?;
    conn.flush().await.map_err(|e| io(e, Phase::Request))?;
    *phase = Phase::Upgrade;
    let mut buf = out;
    buf.clear();
    let head = loop {
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(1024);
        }
        if conn
            .read_buf(&mut buf)
            .await
            .map_err(|e| io(e, Phase::Upgrade))?
            == 0
        {
            return Err(
                Failure::new(ErrorKind::ConnectionClosed, Phase::Upgrade).cause(format!(
                    "{label}: the server closed the connection before the upgrade response{}",
                    if buf.is_empty() { "" } else { " was complete" }
                )),
            );
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                check_response(&resp, &key, upgrade.subprotocols, &buf[len..]).map_err(|f| {
                    let cause = format!("{label}: {}", f.cause_text());
                    f.cause(cause)
                })?;
                break len;
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Err(
                    Failure::new(ErrorKind::TooLarge, Phase::Upgrade).cause(format!(
                        "{label}: upgrade response head over {MAX_HEAD} bytes"
                    )),
                )
            }
            Err(e) => {
                let kind = if e == httparse::Error::TooManyHeaders {
                    ErrorKind::TooLarge
                } else {
                    ErrorKind::HttpProtocol
                };
                return Err(Failure::new(kind, Phase::Upgrade)
                    .cause(format!("{label}: invalid upgrade response: {e}")));
            }
        }
    };
    let tail = buf[head..].to_vec();
    Ok((conn, tail))
}

fn write_upgrade(out: &mut Vec<u8>, target: &Target<'_>, key: &str, upgrade: &Upgrade<'_>) {
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // Host and user-agent are ours unless the scenario names them; the rest is the upgrade's.
    let defaults = [
        ("host", target.authority),
        ("user-agent", super::http::USER_AGENT),
    ];
    push_headers(out, &defaults, upgrade.headers);
    out.extend_from_slice(
        b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ",
    );
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !upgrade.subprotocols.is_empty() {
        out.extend_from_slice(b"sec-websocket-protocol: ");
        out.extend_from_slice(upgrade.subprotocols.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 6455 §4.1: a 101 that upgrades to websocket, with the accept key derived from ours, and
/// no subprotocol we did not offer (none at all is allowed, as browsers allow it). `rest` is
/// what followed the head (for a refusal, the start of its body, quoted in the cause).
fn check_response(
    resp: &httparse::Response<'_, '_>,
    key: &str,
    offered: &str,
    rest: &[u8],
) -> Result<(), Failure> {
    let status = resp.code.unwrap_or(0);
    if status != 101 {
        let body = String::from_utf8_lossy(&rest[..rest.len().min(120)]);
        let body = body.trim();
        let cause = if body.is_empty() {
            format!("HTTP {status} instead of 101 Switching Protocols")
        } else {
            format!("HTTP {status} instead of 101 Switching Protocols: {body}")
        };
        return Err(Failure::new(ErrorKind::WsRejected(status), Phase::Upgrade).cause(cause));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let upgrade_ok = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection_ok = header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    let accept_ok =
        header("sec-websocket-accept") == Some(derive_accept_key(key.as_bytes()).as_str());
    let protocol_ok = match header("sec-websocket-protocol") {
        None => true,
        Some(chosen) => offered.split(',').any(|p| p.trim() == chosen),
    };
    let fail = |why: String| Err(Failure::new(ErrorKind::WsHandshake, Phase::Upgrade).cause(why));
    if !upgrade_ok {
        return fail("101 without `Upgrade: websocket`".into());
    }
    if !connection_ok {
        return fail("101 without `Connection: Upgrade`".into());
    }
    if !accept_ok {
        return fail("wrong Sec-WebSocket-Accept (not derived from our key)".into());
    }
    if !protocol_ok {
        return fail("the server chose a subprotocol we did not offer".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(head: &str, offered: &str) -> Result<(), ErrorKind> {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let text = head.replace("{accept}", &derive_accept_key(key.as_bytes()));
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        assert!(resp.parse(text.as_bytes()).unwrap().is_complete());
        check_response(&resp, key, offered, b"").map_err(|f| f.kind)
    }

    #[test]
    fn upgrade_responses_are_checked_as_rfc_6455_says() {
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n";
        assert_eq!(check(&format!("{ok}\r\n"), ""), Ok(()));
        assert_eq!(
            check(&format!("{ok}\r\n"), "jwt.abc"),
            Ok(()),
            "a server may pick no subprotocol"
        );
        assert_eq!(
            check(
                &format!("{ok}Sec-WebSocket-Protocol: jwt.abc\r\n\r\n"),
                "jwt.abc, x"
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &format!("{ok}Sec-WebSocket-Protocol: other\r\n\r\n"),
                "jwt.abc"
            ),
            Err(ErrorKind::WsHandshake),
            "a subprotocol we did not offer fails the connection"
        );
        assert_eq!(
            check("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n", ""),
            Err(ErrorKind::WsRejected(401))
        );
        let wrong_accept = ok.replace("{accept}", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(
            check(&format!("{wrong_accept}\r\n"), ""),
            Err(ErrorKind::WsHandshake)
        );
        let no_upgrade = ok.replace("Upgrade: WebSocket\r\n", "");
        assert_eq!(
            check(&format!("{no_upgrade}\r\n"), ""),
            Err(ErrorKind::WsHandshake)
        );
    }

    #[test]
    fn upgrade_request_carries_key_protocols_and_headers() {
        let t = parse_url("ws://127.0.0.1:8000/ws?token=x", WS).unwrap();
        let headers = [(http::header::AUTHORIZATION, "Bearer t".to_string())];
        let upgrade = Upgrade {
            headers: &headers,
            subprotocols: "jwt.t",
        };
        let mut out = Vec::new();
        write_upgrade(&mut out, &t, "KEY", &upgrade);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /ws?token=x HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n"));
        for line in [
            "upgrade: websocket",
            "connection: Upgrade",
            "sec-websocket-version: 13",
            "sec-websocket-key: KEY",
            "sec-websocket-protocol: jwt.t",
            "authorization: Bearer t",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n"));
    }
}
