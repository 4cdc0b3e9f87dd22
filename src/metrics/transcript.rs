//! Failure transcripts: the frames of a failing flow as they happened, kept for the first few
//! failing flows of each error kind.
//!
//! Design choice: recording is cheap and dumb, keeping is careful. Each user owns one `Tape`,
//! cleared (never reallocated) at the start of each flow; a frame costs a copy of at most
//! `RAW_CAP` bytes into the tape's arena and one small mark. Nothing is formatted or redacted
//! until a flow fails *and* its worker's `Transcripts` still wants that error kind (a counter
//! check); only then are the frames redacted (before being cut to `BODY_CAP`, so a secret that
//! crosses the cut is still masked) and turned into a `Transcript`.

use std::collections::HashMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::errors::{ErrorCode, ErrorKind};
use super::redact;

/// Failing flows kept per error kind when `--transcripts` is not given.
pub const DEFAULT_PER_KIND: u32 = 5;
/// Bytes of a frame's body shown in a transcript.
pub const BODY_CAP: usize = 512;
/// Bytes of a frame's body copied while recording, given the scenario's secret values: more
/// than shown by the longest of them, so that redaction sees such a secret whole even where
/// the `BODY_CAP` cut would split it (a secret cut off at the capture's end, a token or a
/// per-user secret longer than that, is masked from its start: see `redact::frame_body`).
pub fn raw_cap(secrets: &[String]) -> usize {
    let longest = secrets.iter().map(String::len).max().unwrap_or(0);
    // JSON escaping or percent-encoding may lengthen a secret a little.
    BODY_CAP + (longest + longest / 2).min(BODY_CAP)
}
/// Bytes of a request's head (request line and headers) copied while recording (secret
/// headers are masked as they are written, so this is mostly the URL).
pub const HEAD_CAP: usize = 1024;
/// Frames kept from a flow's start, and from its end; those between are counted, not kept.
pub const FIRST_FRAMES: usize = 64;
pub const LAST_FRAMES: usize = 64;
/// Transcripts a record or results file may hold (a damaged or hostile file cannot make one
/// reader hold more).
pub const MAX_TRANSCRIPTS: usize = 10_000;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From load-tester to the server.
    Sent,
    /// From the server to load-tester.
    Received,
}

/// What a frame was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameType {
    /// An HTTP request (an HTTP step, or a WebSocket upgrade request); `head` holds the request
    /// line and headers.
    HttpRequest,
    /// An HTTP response (`status`); the upgrade's `101` has no body.
    HttpResponse,
    /// A WebSocket text message (a binary one that is UTF-8 included).
    WsText,
    /// A WebSocket close frame (`code`, when one was sent).
    WsClose,
    /// A WebSocket ping (answered with a pong); its payload is not kept.
    WsPing,
    /// A WebSocket pong; its payload is not kept.
    WsPong,
}

impl FrameType {
    fn label(self) -> &'static str {
        match self {
            FrameType::HttpRequest => "http request",
            FrameType::HttpResponse => "http response",
            FrameType::WsText => "ws text",
            FrameType::WsClose => "ws close",
            FrameType::WsPing => "ws ping",
            FrameType::WsPong => "ws pong",
        }
    }
}

/// One frame of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TranscriptFrame {
    /// Milliseconds from the flow's start.
    #[schemars(range(min = 0))]
    pub at_ms: f64,
    pub dir: Direction,
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// HTTP responses: the status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// WebSocket close frames: the close code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Size of the body (payload) in bytes, before any cut.
    pub size: u64,
    /// HTTP requests: the request line and headers, one per line, secrets masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// The body, secrets masked, cut at 512 bytes.
    pub body: String,
    /// True when `body` was cut.
    #[serde(default)]
    pub cut: bool,
}

/// The frames of one failing flow, as they happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Transcript {
    /// The step that failed.
    pub step: String,
    /// Stable kind code of the failure, as in `errors`.
    pub kind: ErrorCode,
    /// Human description of the failure, as in `errors`.
    pub detail: String,
    /// The failure's exact cause, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The user (virtual user number) whose flow it was.
    pub user: u64,
    /// Seconds from the run's start to the flow's start.
    #[schemars(range(min = 0))]
    pub flow_start_s: f64,
    /// The frames: the first 64 and the last 64 of the flow.
    #[schemars(length(max = 128))]
    pub frames: Vec<TranscriptFrame>,
    /// Frames between the first 64 and the last 64, counted but not kept.
    #[serde(default)]
    pub frames_left_out: u64,
}

impl Transcript {
    /// The error kind this transcript counts against (as the `errors` rows tell kinds apart).
    fn key(&self) -> (ErrorCode, &str) {
        (self.kind, self.detail.as_str())
    }

    /// Readable, one line per frame (for `probe` and the text report), each line indented by
    /// `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{indent}transcript of user {}'s flow (started {:.3} s into the run), failed at step \
             {}: {} [{}]",
            self.user, self.flow_start_s, self.step, self.detail, self.kind
        );
        for (i, f) in self.frames.iter().enumerate() {
            if i == FIRST_FRAMES && self.frames_left_out > 0 {
                let _ = writeln!(
                    out,
                    "{indent}  … {} frames left out …",
                    self.frames_left_out
                );
            }
            let arrow = match f.dir {
                Direction::Sent => "→",
                Direction::Received => "←",
            };
            let _ = write!(
                out,
                "{indent}  {:>9.1} ms {arrow} {:<13}",
                f.at_ms,
                f.kind.label()
            );
            if let Some(s) = f.status {
                let _ = write!(out, " {s}");
            }
            if let Some(c) = f.code {
                let _ = write!(out, " code {c}");
            }
            let _ = write!(out, " ({} B)", f.size);
            if let Some(h) = &f.head {
                let _ = write!(out, " {}", one_line(h, " | "));
            }
            if !f.body.is_empty() {
                let _ = write!(out, " {}", one_line(&f.body, " "));
                if f.cut {
                    out.push('…');
                }
            }
            out.push('\n');
        }
        out
    }
}

/// `text` on one line: line breaks become `sep`, other control characters spaces.
fn one_line(text: &str, sep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.extend(line.chars().map(|c| if c.is_control() { ' ' } else { c }));
    }
    out
}

/// Keeps the first `n` transcripts of each error kind, earliest flows first.
pub fn keep_first(list: &mut Vec<Transcript>, n: u32) {
    list.sort_by(|a, b| a.flow_start_s.total_cmp(&b.flow_start_s));
    let mut seen: HashMap<(ErrorCode, String), u32> = HashMap::new();
    list.retain(|t| {
        let (code, detail) = t.key();
        let count = seen.entry((code, detail.to_string())).or_default();
        *count += 1;
        *count <= n
    });
}

/// A worker's transcripts: those kept, and how many it kept of each kind over its whole life
/// (the counter that decides, on a failure, whether its frames are worth formatting).
#[derive(Debug, Clone, Default)]
pub struct Transcripts {
    /// Failing flows kept per error kind (0: none recorded).
    pub per_kind: u32,
    /// Kept by this worker so far, per kind; carried from one interval's recorder to the next.
    pub counts: HashMap<ErrorKind, u32>,
    /// The transcripts kept (in this interval, or merged: in total).
    pub kept: Vec<Transcript>,
}

impl Transcripts {
    pub fn new(per_kind: u32) -> Transcripts {
        Transcripts {
            per_kind,
            ..Transcripts::default()
        }
    }

    /// Whether a failing flow of this kind would be kept.
    pub fn wants(&self, kind: ErrorKind) -> bool {
        self.counts.get(&kind).copied().unwrap_or(0) < self.per_kind
    }

    /// Keeps a failing flow's transcript.
    pub fn keep(&mut self, kind: ErrorKind, t: Transcript) {
        *self.counts.entry(kind).or_default() += 1;
        self.kept.push(t);
    }

    /// Adds another recorder's transcripts, keeping the first `per_kind` of each kind.
    pub fn add(&mut self, other: &Transcripts) {
        if other.kept.is_empty() {
            return;
        }
        self.kept.extend(other.kept.iter().cloned());
        keep_first(&mut self.kept, self.per_kind);
    }
}

/// One recorded frame: where its bytes are in the tape's arena, and what it was.
/// Packed (20 bytes): a user holds one per frame of its current flow.
#[derive(Debug, Clone, Copy)]
struct Mark {
    /// Microseconds from the flow's start (saturating: 71 minutes).
    at_us: u32,
    dir: Direction,
    kind: FrameType,
    /// HTTP status or close code; 0 for none.
    number: u16,
    /// The body's whole size (saturating at 4 GiB, far past any message limit).
    size: u32,
    /// Where the frame's head starts in the arena, then its head's and kept body's lengths
    /// (at most `HEAD_CAP` and `raw_cap`, both under 64 KiB).
    start: u32,
    head: u16,
    body: u16,
}

/// A user's recording of its current flow: frame marks and one byte arena, both cleared (not
/// freed) at the start of each flow. Past `FIRST_FRAMES + 2 * LAST_FRAMES` frames the oldest of
/// the tail are dropped by `LAST_FRAMES` at a time, so a long flow costs bounded memory and
/// amortised constant time per frame.
#[derive(Debug)]
pub struct Tape {
    /// Body bytes copied per frame (`raw_cap`).
    raw_cap: usize,
    start: Instant,
    marks: Vec<Mark>,
    bytes: Vec<u8>,
    /// Frames recorded in this flow, those dropped included.
    total: u64,
}

impl Tape {
    /// An empty tape copying `raw_cap` bytes of each body (allocates nothing until a frame
    /// comes).
    pub fn new(raw_cap: usize) -> Tape {
        Tape {
            raw_cap: raw_cap.max(BODY_CAP),
            start: Instant::now(),
            marks: Vec::new(),
            bytes: Vec::new(),
            total: 0,
        }
    }

    /// Starts a new flow at `start`.
    pub fn clear(&mut self, start: Instant) {
        self.start = start;
        self.marks.clear();
        self.bytes.clear();
        self.total = 0;
    }

    /// When the current flow started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Frees what an unusually large flow left behind (as the HTTP client trims its buffers).
    pub fn trim(&mut self) {
        if self.bytes.capacity() > 64 * 1024 {
            self.bytes = Vec::with_capacity(4 * 1024);
        }
        if self.marks.capacity() > 64 {
            self.marks.shrink_to(64);
        }
    }

    /// Frames recorded in the current flow.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when no frame has been recorded in the current flow.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Records a frame without a head: a WebSocket message, a close, a response.
    pub fn frame(
        &mut self,
        at: Instant,
        dir: Direction,
        kind: FrameType,
        number: u16,
        body: &[u8],
    ) {
        self.record(at, dir, kind, number, |_| {}, body);
    }

    /// Records a frame whose payload is not kept, only its size (pings and pongs).
    pub fn sized(&mut self, at: Instant, dir: Direction, kind: FrameType, size: usize) {
        self.frame(at, dir, kind, 0, b"");
        if let Some(m) = self.marks.last_mut() {
            m.size = u32::try_from(size).unwrap_or(u32::MAX);
        }
    }

    /// Records a frame: `head` writes the request line and headers (cut at `HEAD_CAP`), `body`
    /// is copied up to the tape's `raw_cap` bytes.
    pub fn record(
        &mut self,
        at: Instant,
        dir: Direction,
        kind: FrameType,
        number: u16,
        head: impl FnOnce(&mut Vec<u8>),
        body: &[u8],
    ) {
        if self.marks.len() >= FIRST_FRAMES + 2 * LAST_FRAMES {
            self.drop_oldest_tail();
        }
        let kept = &body[..body.len().min(self.raw_cap)];
        // A request's head is usually a line and a header or two.
        let head_hint = if kind == FrameType::HttpRequest {
            128
        } else {
            0
        };
        self.reserve(kept.len() + head_hint);
        let start = self.bytes.len();
        head(&mut self.bytes);
        self.bytes.truncate(start + HEAD_CAP);
        let head = self.bytes.len() - start;
        self.bytes.extend_from_slice(kept);
        let at = at.saturating_duration_since(self.start).as_micros();
        self.marks.push(Mark {
            at_us: u32::try_from(at).unwrap_or(u32::MAX),
            dir,
            kind,
            number,
            size: u32::try_from(body.len()).unwrap_or(u32::MAX),
            start: start as u32,
            head: head as u16,
            body: kept.len() as u16,
        });
        self.total += 1;
    }

    /// Room for `more` bytes, growing the arena by a quarter at least (not doubling it): a
    /// user keeps its arena between flows, so its size is what an idle user costs.
    fn reserve(&mut self, more: usize) {
        let (len, cap) = (self.bytes.len(), self.bytes.capacity());
        if len + more > cap {
            self.bytes.reserve_exact(more.max(cap / 4));
        }
    }

    /// Drops the `LAST_FRAMES` oldest frames after the first `FIRST_FRAMES`.
    fn drop_oldest_tail(&mut self) {
        let from = self.marks[FIRST_FRAMES].start;
        let to = self.marks[FIRST_FRAMES + LAST_FRAMES].start;
        self.bytes.drain(from as usize..to as usize);
        self.marks.drain(FIRST_FRAMES..FIRST_FRAMES + LAST_FRAMES);
        for m in &mut self.marks[FIRST_FRAMES..] {
            m.start -= to - from;
        }
    }

    /// The kept frames (the first and the last), redacted with `secrets` (values masked
    /// wherever they appear), and how many were left out.
    pub fn frames(&self, secrets: &[&str]) -> (Vec<TranscriptFrame>, u64) {
        let n = self.marks.len();
        let shown: Vec<&Mark> = if n <= FIRST_FRAMES + LAST_FRAMES {
            self.marks.iter().collect()
        } else {
            self.marks[..FIRST_FRAMES]
                .iter()
                .chain(&self.marks[n - LAST_FRAMES..])
                .collect()
        };
        let left_out = self.total - shown.len() as u64;
        let frames = shown
            .into_iter()
            .map(|m| {
                let (start, head, body) = (m.start as usize, m.head as usize, m.body as usize);
                let head = &self.bytes[start..start + head];
                let body_bytes = &self.bytes[start + head.len()..start + head.len() + body];
                let whole = m.size as usize == body;
                let body = body_bytes;
                let (body, cut) = redact::frame_body(body, whole, secrets, BODY_CAP);
                let number = (m.number != 0).then_some(m.number);
                TranscriptFrame {
                    at_ms: f64::from(m.at_us) / 1000.0,
                    dir: m.dir,
                    kind: m.kind,
                    status: number.filter(|_| m.kind == FrameType::HttpResponse),
                    code: number.filter(|_| m.kind == FrameType::WsClose),
                    size: u64::from(m.size),
                    head: (!head.is_empty()).then(|| redact::frame_head(head, secrets)),
                    body,
                    cut: cut || m.size as usize > BODY_CAP,
                }
            })
            .collect();
        (frames, left_out)
    }
}

/// Writes an HTTP request's head into a tape: `METHOD URL`, then one `Name: value` line per
/// header, credentials masked already (`redact::write_header_value`).
pub fn write_head<'a>(
    out: &mut Vec<u8>,
    method: &str,
    url: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.as_bytes());
    for (name, value) in headers {
        out.push(b'\n');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        redact::write_header_value(out, name, value);
    }
}

/// A transcript of an `http_status` failure with one frame, for tests elsewhere.
#[cfg(test)]
pub(crate) fn sample(flow_start_s: f64, detail: &str) -> Transcript {
    Transcript {
        step: "login".into(),
        kind: ErrorCode::HttpStatus,
        detail: detail.into(),
        cause: Some("POST http://127.0.0.1:1/auth/login: HTTP 503".into()),
        user: 7,
        flow_start_s,
        frames: vec![TranscriptFrame {
            at_ms: 1.5,
            dir: Direction::Received,
            kind: FrameType::HttpResponse,
            status: Some(503),
            code: None,
            size: 2,
            head: None,
            body: "{}".into(),
            cut: false,
        }],
        frames_left_out: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_worker_keeps_n_per_kind_and_merging_keeps_the_earliest_n() {
        let (a, b) = (ErrorKind::HttpStatus(503), ErrorKind::HttpStatus(401));
        let mut w = Transcripts::new(2);
        assert!(w.wants(a));
        w.keep(a, sample(3.0, "HTTP 503"));
        w.keep(a, sample(4.0, "HTTP 503"));
        assert!(!w.wants(a) && w.wants(b), "counted per kind");
        let mut other = Transcripts::new(2);
        other.keep(a, sample(1.0, "HTTP 503"));
        other.keep(b, sample(5.0, "HTTP 401"));
        w.add(&other);
        let kept: Vec<f64> = w.kept.iter().map(|t| t.flow_start_s).collect();
        assert_eq!(kept, [1.0, 3.0, 5.0]);
        assert!(!Transcripts::new(0).wants(a), "0 keeps none");
    }

    fn tape_with(n: usize) -> Tape {
        let mut t = Tape::new(raw_cap(&["CANARY-7f3a9c".into()]));
        let start = Instant::now();
        t.clear(start);
        for i in 0..n {
            let body = format!("{{\"type\":\"e\",\"n\":{i}}}");
            t.frame(
                start + Duration::from_millis(i as u64),
                Direction::Received,
                FrameType::WsText,
                0,
                body.as_bytes(),
            );
        }
        t
    }

    #[test]
    fn a_long_flow_keeps_its_first_and_last_frames_and_counts_the_rest() {
        let t = tape_with(1000);
        let (frames, left_out) = t.frames(&[]);
        assert_eq!(frames.len(), FIRST_FRAMES + LAST_FRAMES);
        assert_eq!(left_out, 1000 - 128);
        assert_eq!(frames[0].body, r#"{"type":"e","n":0}"#);
        assert_eq!(frames[63].body, r#"{"type":"e","n":63}"#);
        assert_eq!(frames[64].body, r#"{"type":"e","n":936}"#);
        assert_eq!(frames[127].body, r#"{"type":"e","n":999}"#);
        assert_eq!(frames[127].at_ms, 999.0);
        // Bounded memory: never more than first + two tails of marks.
        assert!(t.marks.len() <= FIRST_FRAMES + 2 * LAST_FRAMES);
        let short = tape_with(5);
        assert_eq!(short.frames(&[]).0.len(), 5);
        assert_eq!(short.frames(&[]).1, 0);
    }

    #[test]
    fn clearing_keeps_the_arena_and_a_body_is_cut_after_redaction() {
        let mut t = tape_with(100);
        let cap = t.bytes.capacity();
        t.clear(Instant::now());
        assert!(t.is_empty());
        assert_eq!(t.bytes.capacity(), cap, "cleared, not freed");
        // A secret that crosses the 512-byte cut is masked whole.
        let secret = "CANARY-7f3a9c";
        let body = format!("{}{secret}{}", "x".repeat(505), "y".repeat(2000));
        t.frame(
            Instant::now(),
            Direction::Sent,
            FrameType::WsText,
            0,
            body.as_bytes(),
        );
        let (frames, _) = t.frames(&[secret]);
        let f = &frames[0];
        assert_eq!(f.size, 2518);
        assert!(f.cut);
        assert!(f.body.len() <= BODY_CAP, "{}", f.body.len());
        assert!(!f.body.contains("CANARY"), "{}", f.body);
        assert!(f.body.starts_with(&"x".repeat(505)), "{}", f.body);
        assert!(f.body[505..].starts_with("***"), "{}", &f.body[500..]);
        // Copied: the body shown and the longest secret's length (and a half) more.
        assert_eq!(t.bytes.len(), 512 + 13 + 6);
    }

    #[test]
    fn a_frame_costs_a_packed_mark_and_an_arena_grown_by_quarters() {
        assert_eq!(std::mem::size_of::<Mark>(), 20);
        let mut t = Tape::new(raw_cap(&[]));
        let now = Instant::now();
        for _ in 0..10 {
            t.frame(now, Direction::Received, FrameType::WsText, 0, &[b'x'; 100]);
        }
        assert_eq!(t.bytes.len(), 1000);
        assert!(t.bytes.capacity() < 1250, "{}", t.bytes.capacity());
    }

    #[test]
    fn credentials_never_enter_the_tape() {
        let mut t = Tape::new(raw_cap(&[]));
        let headers = [
            (
                "authorization",
                "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            ),
            ("X-E2E-Bypass-Key", "k3y"),
            ("Sec-WebSocket-Protocol", "jwt.abc.def, agent_chat"),
            ("x-trace", "7"),
        ];
        let head = |out: &mut Vec<u8>| write_head(out, "GET", "ws://h/ws", headers.into_iter());
        t.record(
            Instant::now(),
            Direction::Sent,
            FrameType::HttpRequest,
            0,
            head,
            b"",
        );
        let text = String::from_utf8(t.bytes.clone()).unwrap();
        assert_eq!(
            text,
            "GET ws://h/ws\nauthorization: ***\nX-E2E-Bypass-Key: ***\n\
             Sec-WebSocket-Protocol: jwt.***, agent_chat\nx-trace: 7"
        );
    }

    #[test]
    fn keep_first_keeps_the_earliest_of_each_kind() {
        let t = |start: f64, detail: &str| Transcript {
            step: "s".into(),
            kind: ErrorCode::HttpStatus,
            detail: detail.into(),
            cause: None,
            user: 0,
            flow_start_s: start,
            frames: Vec::new(),
            frames_left_out: 0,
        };
        let mut list = vec![
            t(3.0, "HTTP 500"),
            t(1.0, "HTTP 500"),
            t(2.0, "HTTP 401"),
            t(0.5, "HTTP 500"),
        ];
        keep_first(&mut list, 2);
        let got: Vec<(f64, &str)> = list
            .iter()
            .map(|t| (t.flow_start_s, t.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            [(0.5, "HTTP 500"), (1.0, "HTTP 500"), (2.0, "HTTP 401")]
        );
    }
}
