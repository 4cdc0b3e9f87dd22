//! One response read from a growing buffer: the head (interim 1xx responses skipped), then the
//! body by its framing, within the limits. The caller reads bytes; this decides what they mean.
//!
//! `advance` is called after every read with the whole buffer; it keeps its place, so no byte is
//! examined twice, and decodes a chunked body in place (the buffer holds the decoded body and at
//! most one read more). `buffer_limit` says how far the buffer may grow before the next call.

use std::ops::Range;

use super::chunked::ChunkedDecoder;
use super::head::{parse_complete, Framing, HeadScan};
use super::limits::Limits;
use super::ParseError;

/// Room beyond the head or body limit for one read (the start of a body after the head, chunk
/// framing after the data).
pub const READ_SLACK: usize = 16 << 10;
/// Interim (1xx) responses skipped before a final one; more is an error.
pub const MAX_INTERIM: u32 = 16;

/// A complete response: where its body lies in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub status: u16,
    pub body: Range<usize>,
    /// The connection may carry the next request.
    pub keep_alive: bool,
}

/// What `advance` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    More,
    Done(Parsed),
}

#[derive(Debug, Clone)]
enum Body {
    None,
    /// The buffer length at which the body ends.
    Length {
        end: usize,
        declared: u64,
    },
    Chunked {
        dec: ChunkedDecoder,
        write: usize,
        read: usize,
    },
    UntilClose,
}

#[derive(Debug, Clone)]
enum State {
    Head(HeadScan),
    Body {
        status: u16,
        keep_alive: bool,
        start: usize,
        body: Body,
    },
}

/// Reads one response.
#[derive(Debug, Clone)]
pub struct Reader {
    limits: Limits,
    head_request: bool,
    interim: u32,
    state: State,
}

impl Reader {
    /// A reader for the response to a request (`head_request`: a HEAD request, no body).
    pub fn new(limits: Limits, head_request: bool) -> Reader {
        Reader {
            limits,
            head_request,
            interim: 0,
            state: State::Head(HeadScan::default()),
        }
    }

    /// Nothing of the response has been seen yet (no byte and no interim response).
    pub fn at_start(&self, buf: &[u8]) -> bool {
        buf.is_empty() && self.interim == 0 && matches!(self.state, State::Head(_))
    }

    /// Examines what `buf` holds now (more than at the last call). A chunked body is decoded in
    /// place, so `buf` may shrink; new bytes are appended at its end.
    pub fn advance(&mut self, buf: &mut Vec<u8>) -> Result<Progress, ParseError> {
        loop {
            match &mut self.state {
                State::Head(scan) => {
                    let Some(end) = scan.find(buf) else {
                        if buf.len() > self.limits.head {
                            return Err(ParseError::TooLarge(self.limits.head_exceeded()));
                        }
                        return Ok(Progress::More);
                    };
                    let head = parse_complete(&buf[..end], &self.limits)?;
                    if head.is_interim() {
                        self.interim += 1;
                        if self.interim > MAX_INTERIM {
                            return Err(ParseError::Invalid(format!(
                                "more than {MAX_INTERIM} interim (1xx) responses"
                            )));
                        }
                        buf.drain(..end);
                        self.state = State::Head(HeadScan::default());
                        continue;
                    }
                    let body = match head.framing(self.head_request) {
                        Framing::None => Body::None,
                        Framing::Length(n) => {
                            let end = usize::try_from(n)
                                .ok()
                                .filter(|n| *n <= self.limits.body)
                                .and_then(|n| end.checked_add(n))
                                .ok_or_else(|| {
                                    ParseError::TooLarge(self.limits.body_exceeded(Some(n)))
                                })?;
                            Body::Length { end, declared: n }
                        }
                        Framing::Chunked => Body::Chunked {
                            dec: ChunkedDecoder::new(&self.limits),
                            write: end,
                            read: end,
                        },
                        Framing::UntilClose => Body::UntilClose,
                    };
                    self.state = State::Body {
                        status: head.status,
                        keep_alive: head.keep_alive,
                        start: end,
                        body,
                    };
                }
                State::Body { .. } => return self.body(buf),
            }
        }
    }

    fn body(&mut self, buf: &mut Vec<u8>) -> Result<Progress, ParseError> {
        let State::Body {
            status,
            keep_alive,
            start,
            body,
        } = &mut self.state
        else {
            return Ok(Progress::More);
        };
        let done = |end: usize, exact: bool| {
            Progress::Done(Parsed {
                status: *status,
                body: *start..end,
                keep_alive: *keep_alive && exact,
            })
        };
        match body {
            Body::None => Ok(done(*start, buf.len() == *start)),
            Body::Length { end, .. } if buf.len() >= *end => Ok(done(*end, buf.len() == *end)),
            Body::Length { .. } => Ok(Progress::More),
            Body::UntilClose if buf.len() - *start > self.limits.body => {
                Err(ParseError::TooLarge(self.limits.body_exceeded(None)))
            }
            Body::UntilClose => Ok(Progress::More),
            Body::Chunked { dec, write, read } => {
                if dec.decode(buf, write, read)? {
                    return Ok(done(*write, *read == buf.len()));
                }
                // Everything read is decoded: keep only the body.
                buf.truncate(*write);
                *read = *write;
                Ok(Progress::More)
            }
        }
    }

    /// The peer closed the connection: the end of a close-delimited body, else a cut response.
    pub fn eof(&self, buf: &[u8]) -> Result<Parsed, ParseError> {
        let cut = |what: String| {
            Err(ParseError::Cut(format!(
                "the server closed the connection {what}"
            )))
        };
        match &self.state {
            State::Head(_) if buf.is_empty() && self.interim == 0 => {
                cut("before responding".into())
            }
            State::Head(_) => cut(format!(
                "in the middle of the response head ({} bytes)",
                buf.len()
            )),
            State::Body {
                status,
                start,
                body: Body::UntilClose,
                ..
            } => Ok(Parsed {
                status: *status,
                body: *start..buf.len(),
                keep_alive: false,
            }),
            State::Body {
                start,
                body: Body::Length { declared, .. },
                ..
            } => cut(format!(
                "after {} of {declared} body bytes",
                buf.len() - start
            )),
            State::Body {
                body: Body::Chunked { dec, .. },
                ..
            } => cut(format!(
                "in the middle of the chunked body ({} bytes decoded)",
                dec.decoded()
            )),
            // `advance` completes a bodiless response at once.
            State::Body { .. } => cut("after the response head".into()),
        }
    }

    /// How long the buffer may grow before the next `advance` (a read never brings more than
    /// the limits allow, plus `READ_SLACK`).
    pub fn buffer_limit(&self) -> usize {
        match &self.state {
            State::Head(_) => self.limits.head + READ_SLACK,
            State::Body {
                body: Body::Length { end, .. },
                ..
            } => *end,
            State::Body { start, .. } => start + self.limits.body + READ_SLACK,
        }
    }

    /// What the reader waits for, for a timeout's message: e.g. `waiting for the status line`.
    pub fn waiting_for(&self, buf: &[u8]) -> String {
        match &self.state {
            State::Head(_) if buf.is_empty() => "waiting for the status line".into(),
            State::Head(_) => format!(
                "waiting for the rest of the response head; {} bytes so far",
                buf.len()
            ),
            State::Body {
                start,
                body: Body::Length { declared, .. },
                ..
            } => format!(
                "waiting for the body; {} of {declared} bytes so far",
                buf.len().saturating_sub(*start)
            ),
            State::Body {
                body: Body::Chunked { dec, .. },
                ..
            } => format!(
                "waiting for the chunked body; {} bytes so far",
                dec.decoded()
            ),
            State::Body { start, .. } => format!(
                "waiting for the server to end the body by closing; {} bytes so far",
                buf.len().saturating_sub(*start)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, as reads would; `eof` at the end.
    fn read(input: &[u8], step: usize, limits: Limits) -> Result<(u16, Vec<u8>, bool), ParseError> {
        let mut r = Reader::new(limits, false);
        let mut buf = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            if let Progress::Done(p) = r.advance(&mut buf)? {
                return Ok((p.status, buf[p.body].to_vec(), p.keep_alive));
            }
        }
        let p = r.eof(&buf)?;
        Ok((p.status, buf[p.body].to_vec(), p.keep_alive))
    }

    /// The whole input's outcome, after checking that every split gives the same status and
    /// body (keep-alive may differ: extra bytes count only if they came with the response).
    fn all_splits(input: &[u8]) -> Result<(u16, Vec<u8>, bool), ParseError> {
        let whole = read(input, input.len(), Limits::default());
        let strip = |r: Result<(u16, Vec<u8>, bool), ParseError>| r.map(|(s, b, _)| (s, b));
        for step in [1, 2, 5, 13] {
            let split = read(input, step, Limits::default());
            assert_eq!(strip(split), strip(whole.clone()), "step {step}");
        }
        whole
    }

    #[test]
    fn reads_each_framing_at_any_split() {
        let ok = |s: &str| all_splits(s.as_bytes()).unwrap();
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            (200, b"hello".to_vec(), true)
        );
        assert_eq!(
            ok("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
            (201, b"abcdefg".to_vec(), true)
        );
        assert_eq!(
            ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
            (204, Vec::new(), true)
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\n\r\nuntil close"),
            (200, b"until close".to_vec(), false)
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
            (200, b"ok".to_vec(), false),
            "bytes after the body: the connection is not reused"
        );
    }

    #[test]
    fn cut_responses_say_where() {
        let cut = |s: &str| match all_splits(s.as_bytes()) {
            Err(ParseError::Cut(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            cut(""),
            "the server closed the connection before responding"
        );
        assert!(cut("HTTP/1.1 200").contains("in the middle of the response head (12 bytes)"));
        assert!(cut("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
            .contains("after 3 of 5 body bytes"));
        assert!(
            cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
                .contains("chunked body (2 bytes decoded)")
        );
    }

    #[test]
    fn limits_hold_whatever_the_split() {
        let small = Limits {
            head: 100,
            headers: 5,
            body: 10,
        };
        let too_large = |s: &[u8]| {
            for step in [1, 3, s.len()] {
                assert!(
                    matches!(read(s, step, small), Err(ParseError::TooLarge(_))),
                    "step {step}: {:?}",
                    read(s, step, small)
                );
            }
        };
        too_large(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
        too_large(b"HTTP/1.1 200 OK\r\n\r\n0123456789A");
        too_large(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n");
        too_large(&b"HTTP/1.1 200 OK\r\nx: 1\r\n".repeat(10));
        let many: Vec<u8> = b"HTTP/1.1 200 OK\r\n"
            .iter()
            .chain(b"a:b\r\n".repeat(6).iter())
            .chain(b"\r\n")
            .copied()
            .collect();
        too_large(&many);
        let e = read(&b"HTTP/1.1 100 Continue\r\n\r\n".repeat(20), 1000, small).unwrap_err();
        assert!(matches!(e, ParseError::Invalid(m) if m.contains("interim")));
    }

    #[test]
    fn the_wait_is_described() {
        let mut r = Reader::new(Limits::default(), false);
        let mut buf = Vec::new();
        assert_eq!(r.waiting_for(&buf), "waiting for the status line");
        buf.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        assert_eq!(r.advance(&mut buf), Ok(Progress::More));
        assert_eq!(
            r.waiting_for(&buf),
            "waiting for the body; 3 of 10 bytes so far"
        );
        assert_eq!(r.buffer_limit(), buf.len() + 7);
    }
}
