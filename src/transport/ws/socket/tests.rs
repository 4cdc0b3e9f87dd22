//! `Socket` against a hand-written server on an in-memory pipe, in paused time: deadlines met
//! under floods, bounded pongs, bounded sends and closes, and each hostile frame labelled.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::*;
use crate::transport::ws::track::server_frame;

const ORIGIN: &str = "ws://test.example:1";

async fn pair(capacity: usize) -> (Socket<DuplexStream>, DuplexStream) {
    let (client, server) = tokio::io::duplex(capacity);
    let socket = Socket::new(client, Vec::new(), ORIGIN.into(), DEFAULT_MAX_MESSAGE).await;
    (socket, server)
}

/// Reads and drops everything the client writes.
async fn drain(mut r: impl tokio::io::AsyncRead + Unpin) {
    let mut buf = [0u8; 4096];
    while r.read(&mut buf).await.is_ok_and(|n| n > 0) {}
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn by(start: Instant, n: u64) -> Deadline {
    Deadline::after(start, secs(n), "ws.within")
}

#[tokio::test(start_paused = true)]
async fn every_frame_returns_to_the_caller_control_frames_included() {
    let (mut socket, server) = pair(64 << 10).await;
    let (r, mut w) = tokio::io::split(server);
    tokio::spawn(drain(r));
    let mut bytes = Vec::new();
    for i in 0..100u8 {
        bytes.extend(server_frame(if i % 2 == 0 { 0x9 } else { 0xa }, &[i]));
    }
    bytes.extend(server_frame(0x1, b"{\"type\":\"x\"}"));
    w.write_all(&bytes).await.unwrap();
    let deadline = Instant::now() + secs(5);
    for i in 0..100 {
        let f = socket.read_by(deadline).await;
        let want = if i % 2 == 0 {
            Control::Ping(1)
        } else {
            Control::Pong(1)
        };
        assert!(
            matches!(f, Some(Frame::Control(c)) if c == want),
            "frame {i}: {f:?}"
        );
    }
    let f = socket.read_by(deadline).await;
    assert!(
        matches!(&f, Some(Frame::Text(t)) if t.as_str() == "{\"type\":\"x\"}"),
        "{f:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_wins_over_frames_ready_to_read() {
    let (mut socket, server) = pair(64 << 10).await;
    let (r, mut w) = tokio::io::split(server);
    tokio::spawn(drain(r));
    let ping = server_frame(0x9, b"flood");
    for _ in 0..1000 {
        w.write_all(&ping).await.unwrap();
    }
    let deadline = Instant::now() + secs(2);
    assert!(matches!(
        socket.read_by(deadline).await,
        Some(Frame::Control(Control::Ping(5)))
    ));
    tokio::time::advance(secs(2)).await;
    // A thousand pings are ready, and yet the deadline decides.
    assert!(socket.read_by(deadline).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn pongs_a_server_never_reads_are_bounded_and_fail_as_too_large() {
    let (mut socket, mut server) = pair(4096).await;
    tokio::spawn(async move {
        let ping = server_frame(0x9, &[7; 100]);
        while server.write_all(&ping).await.is_ok() {}
    });
    let mut pings = 0;
    let f = loop {
        match socket.read_by(Instant::now() + secs(60)).await {
            Some(Frame::Control(_)) => pings += 1,
            Some(Frame::Error(f)) => break f,
            other => panic!("{other:?} after {pings} pings"),
        }
    };
    assert_eq!((f.kind, f.phase), (ErrorKind::TooLarge, Phase::Send));
    assert!(
        f.cause_text()
            .starts_with("ws://test.example:1: the server is not reading"),
        "{f:?}"
    );
    // The pipe takes 4 KiB; past it, pongs wait only up to PONG_BACKLOG bytes.
    let most = (4096 + PONG_BACKLOG) / 106 + 2;
    assert!(pings <= most, "{pings} pings read, at most {most} expected");
}

#[tokio::test(start_paused = true)]
async fn a_send_the_server_does_not_take_times_out_at_its_deadline() {
    let (mut socket, _server) = pair(1024).await;
    let start = Instant::now();
    let f = socket
        .send("x".repeat(8192), by(start, 2), What::Message)
        .await
        .unwrap_err();
    assert_eq!((f.kind, f.phase), (ErrorKind::Timeout, Phase::Send));
    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(
        f.cause_text(),
        "ws://test.example:1: the step's message (8192 bytes) was not taken within 2s \
         (ws.within): the server is not reading"
    );
    let (mut socket, _server) = pair(16).await;
    let f = socket
        .send(
            "{}".repeat(100),
            by(Instant::now(), 1),
            What::ReplyTo("ping"),
        )
        .await
        .unwrap_err();
    assert!(
        f.cause_text().contains("the reply to ping (200 bytes)"),
        "{f:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_limit_is_not_sent() {
    let (mut socket, _server) = pair(1024).await;
    let f = socket
        .send(
            "x".repeat(DEFAULT_MAX_MESSAGE + 1),
            by(Instant::now(), 1),
            What::Message,
        )
        .await
        .unwrap_err();
    assert_eq!((f.kind, f.phase), (ErrorKind::TooLarge, Phase::Send));
    assert!(f
        .cause_text()
        .contains("over the limit of 1 MiB (ws.max_message)"));
}

#[tokio::test(start_paused = true)]
async fn a_close_ends_by_its_deadline_whether_the_server_reads_or_not() {
    // The server reads our close frame but never answers.
    let (mut socket, server) = pair(4096).await;
    let (r, _w) = tokio::io::split(server);
    tokio::spawn(drain(r));
    let start = Instant::now();
    let f = socket.close(1000, by(start, 5)).await.unwrap_err();
    assert_eq!((f.kind, f.phase), (ErrorKind::Timeout, Phase::Close));
    assert_eq!(start.elapsed(), secs(5));
    assert!(
        f.cause_text()
            .ends_with("within 5s (ws.within): no close frame came back"),
        "{f:?}"
    );

    // The server does not read: our close frame (8 bytes) does not fit the 4-byte pipe.
    let (mut socket, _server) = pair(4).await;
    let start = Instant::now();
    let f = socket.close(1000, by(start, 1)).await.unwrap_err();
    assert_eq!((f.kind, f.phase), (ErrorKind::Timeout, Phase::Close));
    assert_eq!(start.elapsed(), secs(1));
    assert!(
        f.cause_text().contains("our close frame was not taken"),
        "{f:?}"
    );

    // A server that answers, after a few pings.
    let (mut socket, mut server) = pair(4096).await;
    tokio::spawn(async move {
        let mut buf = [0u8; 8];
        server.read_exact(&mut buf).await.ok()?;
        for _ in 0..3 {
            server.write_all(&server_frame(0x9, b"")).await.ok()?;
        }
        server
            .write_all(&server_frame(0x8, &1000u16.to_be_bytes()))
            .await
            .ok()?;
        drain(server).await;
        Some(())
    });
    let start = Instant::now();
    socket.close(1000, by(start, 5)).await.unwrap();
    assert!(start.elapsed() < secs(1));
}

/// What `read` makes of `bytes` from the server (the pipe then stays open, or ends with `eof`).
async fn read_after(bytes: Vec<u8>, eof: bool) -> Frame {
    let (mut socket, mut server) = pair(64 << 10).await;
    tokio::spawn(async move {
        server.write_all(&bytes).await.ok()?;
        if !eof {
            drain(server).await;
        }
        Some(())
    });
    socket
        .read_by(Instant::now() + secs(5))
        .await
        .expect("a frame before the deadline")
}

#[tokio::test(start_paused = true)]
async fn each_hostile_frame_is_labelled_as_what_it_is() {
    let close = |code: u16, reason: &str| {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        server_frame(0x8, &p)
    };
    let mut huge = vec![0x82, 127];
    huge.extend_from_slice(&(100u64 << 20).to_be_bytes());
    huge.extend_from_slice(&[0; 1024]);
    let rejected: Vec<(Vec<u8>, ErrorKind, Phase, &str)> = vec![
        (
            server_frame(0x1, b"{\"type\":\"\xff\xfe\"}"),
            ErrorKind::WsProtocol,
            Phase::Frame,
            "invalid UTF-8",
        ),
        (
            vec![0xc1, 0x00],
            ErrorKind::WsProtocol,
            Phase::Frame,
            "Reserved bits are non-zero",
        ),
        (
            vec![0x81, 0x81, 1, 2, 3, 4, b'x'],
            ErrorKind::WsProtocol,
            Phase::Frame,
            "masked frame from server",
        ),
        (
            vec![0x83, 0x00],
            ErrorKind::WsProtocol,
            Phase::Frame,
            "opcode",
        ),
        (
            close(1005, ""),
            ErrorKind::WsProtocol,
            Phase::Frame,
            "close frame has code 1005, which may not be sent",
        ),
        (
            close(999, "bye"),
            ErrorKind::WsProtocol,
            Phase::Frame,
            "close frame has code 999",
        ),
        (
            huge,
            ErrorKind::TooLarge,
            Phase::Frame,
            "of 104857600 bytes, over the limit of 1 MiB",
        ),
        (
            server_frame(0x2, b"\xff\x00"),
            ErrorKind::WsProtocol,
            Phase::Frame,
            "binary frame that is not UTF-8",
        ),
    ];
    for (bytes, kind, phase, cause) in rejected {
        match read_after(bytes, false).await {
            Frame::Error(f) => {
                assert_eq!((f.kind, f.phase), (kind, phase), "{f:?}");
                assert!(f.cause_text().starts_with(ORIGIN), "{f:?}");
                assert!(f.cause_text().contains(cause), "{cause}: {f:?}");
            }
            other => panic!("{cause}: {other:?}"),
        }
    }
    let closed: Vec<(Vec<u8>, bool, Option<u16>, &str)> = vec![
        (
            close(1002, "Protocol violation"),
            false,
            Some(1002),
            "with code 1002 (Protocol violation)",
        ),
        (close(1011, ""), false, Some(1011), "with code 1011"),
        (server_frame(0x8, b""), false, None, "without a code"),
        (Vec::new(), true, None, "without a close frame"),
    ];
    for (bytes, eof, want, how_part) in closed {
        match read_after(bytes, eof).await {
            Frame::Closed { code, how } => {
                assert_eq!(code, want, "{how}");
                assert!(how.contains(how_part), "{how}");
            }
            other => panic!("{how_part}: {other:?}"),
        }
    }
}
