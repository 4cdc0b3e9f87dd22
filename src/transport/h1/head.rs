//! The response head: finding its end, parsing the status line and header lines, and the body's
//! framing from `Content-Length`, `Transfer-Encoding` and `Connection` (RFC 9112 §6).
//!
//! Header lines are validated and counted, not stored: only the framing headers are kept, so
//! the number of headers a server sends costs time within the limits, never memory.

use super::limits::Limits;
use super::{show, ParseError};

/// Finds the end of a head (the empty line) in a growing buffer, resuming where it stopped, so
/// a head that arrives a byte at a time is scanned once in all.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadScan {
    next: usize,
    line_start: usize,
}

impl HeadScan {
    /// The length of the head (up to and with its empty line), once `buf` holds all of it.
    pub fn find(&mut self, buf: &[u8]) -> Option<usize> {
        let from = self.next.min(buf.len());
        for (i, &b) in buf[from..].iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let nl = from + i;
            let line = &buf[self.line_start.min(nl)..nl];
            self.line_start = nl + 1;
            if line.is_empty() || line == b"\r" {
                self.next = nl + 1;
                return Some(nl + 1);
            }
        }
        self.next = buf.len();
        None
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the head, with its empty line.
    pub len: usize,
    /// Header lines.
    pub headers: usize,
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only coding accepted; it must be the last).
    pub chunked: bool,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Head {
    /// An interim response (1xx but 101), which another response follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// The body's framing (RFC 9112 §6.3), for a response to a HEAD request or not.
    pub fn framing(&self, head_request: bool) -> Framing {
        if head_request || (100..200).contains(&self.status) || matches!(self.status, 204 | 304) {
            Framing::None
        } else if self.chunked {
            Framing::Chunked
        } else if let Some(n) = self.content_length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        }
    }
}

/// Parses the head at the start of `buf`: `None` while it is incomplete (and within the limit).
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<Head>, ParseError> {
    match HeadScan::default().find(buf) {
        Some(end) => parse_complete(&buf[..end], limits).map(Some),
        None if buf.len() > limits.head => Err(ParseError::TooLarge(limits.head_exceeded())),
        None => Ok(None),
    }
}

/// Parses a whole head (`head` ends with its empty line).
pub fn parse_complete(head: &[u8], limits: &Limits) -> Result<Head, ParseError> {
    if head.len() > limits.head {
        return Err(ParseError::TooLarge(limits.head_exceeded()));
    }
    let mut lines = head.split(|&b| b == b'\n').map(strip_cr);
    let status_line = lines.next().unwrap_or_default();
    let (http10, status) = status_line_of(status_line)?;
    let mut f = Fields::default();
    let mut count = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        count += 1;
        if count > limits.headers {
            return Err(ParseError::TooLarge(limits.headers_exceeded("header")));
        }
        f.line(line, count)?;
    }
    if f.chunked && f.length.is_some() {
        return Err(invalid(
            "both Transfer-Encoding and Content-Length (a response has one framing)",
        ));
    }
    Ok(Head {
        status,
        len: head.len(),
        headers: count,
        content_length: f.length,
        chunked: f.chunked,
        keep_alive: !f.close && (!http10 || f.keep_alive) && status != 101,
    })
}

fn invalid(what: impl Into<String>) -> ParseError {
    ParseError::Invalid(what.into())
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `HTTP/1.x SP status [SP reason]`: (HTTP/1.0, status).
fn status_line_of(line: &[u8]) -> Result<(bool, u16), ParseError> {
    let bad = || invalid(format!("not an HTTP/1.x status line: {}", show(line)));
    let rest = line.strip_prefix(b"HTTP/1.").ok_or_else(bad)?;
    let (&minor, rest) = rest.split_first().ok_or_else(bad)?;
    let rest = rest
        .strip_prefix(b" ")
        .filter(|_| minor.is_ascii_digit())
        .ok_or_else(bad)?;
    if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let status = rest[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let reason = &rest[3..];
    if !(reason.is_empty() || reason[0] == b' ') || reason.iter().any(|&b| is_ctl(b)) {
        return Err(bad());
    }
    if status < 100 {
        return Err(invalid(format!(
            "status {status} is not a valid HTTP status"
        )));
    }
    Ok((minor == b'0', status))
}

/// The framing headers seen so far.
#[derive(Default)]
struct Fields {
    length: Option<u64>,
    /// Chunked was the coding (any other is refused as it is read, so it is the last).
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

impl Fields {
    fn line(&mut self, line: &[u8], n: usize) -> Result<(), ParseError> {
        if matches!(line[0], b' ' | b'\t') {
            return Err(invalid(format!(
                "header line {n} is folded (obsolete line folding)"
            )));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| invalid(format!("header line {n} has no colon: {}", show(line))))?;
        let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(invalid(format!(
                "header line {n} has an invalid name \"{}\"",
                show(name)
            )));
        }
        if value.iter().any(|&b| is_ctl(b)) {
            return Err(invalid(format!(
                "header {} holds a control character",
                show(name)
            )));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            self.content_length(value)
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding(value)
        } else {
            if name.eq_ignore_ascii_case(b"connection") {
                for token in tokens(value) {
                    self.close |= token.eq_ignore_ascii_case(b"close");
                    self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            Ok(())
        }
    }

    /// `Content-Length: 5` (a list of one repeated value, `5, 5`, is allowed: RFC 9110 §8.6).
    fn content_length(&mut self, value: &[u8]) -> Result<(), ParseError> {
        // An empty value splits into one empty item, which `decimal` refuses.
        for item in value.split(|&b| b == b',').map(trim_ows) {
            let n = decimal(item)
                .ok_or_else(|| invalid(format!("invalid Content-Length: {}", show(value))))?;
            match self.length {
                Some(m) if m != n => {
                    return Err(invalid(format!(
                        "two different Content-Length values ({m} and {n})"
                    )))
                }
                _ => self.length = Some(n),
            }
        }
        Ok(())
    }

    /// `Transfer-Encoding: chunked`: a list of codings over every such line; chunked must be the
    /// last and appear once, and no other coding is read (none was asked for).
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), ParseError> {
        let mut any = false;
        for coding in tokens(value) {
            any = true;
            let name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default());
            if name.eq_ignore_ascii_case(b"chunked") {
                if self.chunked {
                    return Err(invalid("chunked appears twice in Transfer-Encoding"));
                }
                self.chunked = true;
            } else if self.chunked {
                return Err(invalid(format!(
                    "chunked is not the last transfer coding ({} follows it)",
                    show(name)
                )));
            } else {
                return Err(invalid(format!(
                    "transfer coding {} was not asked for (only chunked is read)",
                    show(name)
                )));
            }
        }
        if !any {
            return Err(invalid("empty Transfer-Encoding"));
        }
        Ok(())
    }
}

/// The non-empty elements of a comma-separated list, trimmed (RFC 9110 §5.6.1).
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

/// A decimal number without sign or spaces; `None` when empty, not digits or over u64.
fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// A control character that may not appear in a field value (HTAB may).
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `is_tchar` as a table: header names are checked byte by byte on every response.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, ParseError> {
        parse_complete(text.as_bytes(), &Limits::default())
    }

    fn invalid_msg(text: &str) -> String {
        match head(text) {
            Err(ParseError::Invalid(m)) => m,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn the_end_is_found_incrementally_with_crlf_or_bare_lf() {
        let text = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
        let mut scan = HeadScan::default();
        let mut found = None;
        for n in 0..=text.len() {
            found = scan.find(&text[..n]);
            if found.is_some() {
                assert_eq!(n, 25);
                break;
            }
        }
        assert_eq!(found, Some(25));
        assert_eq!(
            HeadScan::default().find(b"HTTP/1.1 200 OK\nA: b\n\nxx"),
            Some(22)
        );
        assert_eq!(
            HeadScan::default().find(b"HTTP/1.1 200 OK\r\nA: b\r\n"),
            None
        );
    }

    #[test]
    fn framing_comes_from_length_chunked_or_the_close() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(
            (h.status, h.framing(false), h.keep_alive),
            (200, Framing::Length(5), true)
        );
        assert_eq!(h.framing(true), Framing::None);
        let h =
            head("HTTP/1.1 200 OK\r\ncontent-length: 7, 7\r\nContent-Length: 7\r\n\r\n").unwrap();
        assert_eq!(h.framing(false), Framing::Length(7));
        let h = head("HTTP/1.1 201 Created\r\nTransfer-Encoding:  Chunked \r\n\r\n").unwrap();
        assert_eq!(h.framing(false), Framing::Chunked);
        let h = head("HTTP/1.0 200 OK\r\n\r\n").unwrap();
        assert_eq!(
            (h.framing(false), h.keep_alive),
            (Framing::UntilClose, false)
        );
        let h =
            head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!(h.framing(false), Framing::None);
        let h = head("HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        assert!(h.is_interim());
    }

    #[test]
    fn connection_is_a_token_list() {
        let h = head("HTTP/1.1 200 OK\r\nConnection: close, Upgrade\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nConnection: closed-captions\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(h.keep_alive, "a substring is not a token");
        let h =
            head("HTTP/1.1 200 OK\r\nConnection: upgrade\r\nconnection: CLOSE\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
    }

    #[test]
    fn bad_framing_is_named() {
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            "two different Content-Length values (5 and 6)"
        );
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
            "two different Content-Length values (5 and 6)"
        );
        assert!(invalid_msg("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
            .starts_with("invalid Content-Length"));
        assert!(
            invalid_msg("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n")
                .starts_with("invalid Content-Length")
        );
        assert_eq!(
            invalid_msg(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            ),
            "both Transfer-Encoding and Content-Length (a response has one framing)"
        );
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            "chunked is not the last transfer coding (gzip follows it)"
        );
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "chunked appears twice in Transfer-Encoding"
        );
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"),
            "transfer coding xchunked was not asked for (only chunked is read)"
        );
        assert!(invalid_msg("SMTP ready\r\n\r\n").starts_with("not an HTTP/1.x status line"));
        assert!(invalid_msg("HTTP/2 200\r\n\r\n").starts_with("not an HTTP/1.x status line"));
        assert!(invalid_msg("HTTP/1.1 20 OK\r\n\r\n").starts_with("not an HTTP/1.x status line"));
        assert_eq!(
            invalid_msg("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"),
            "header line 1 has an invalid name \"A \""
        );
        assert!(invalid_msg("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n").contains("folded"));
        assert!(invalid_msg("HTTP/1.1 200 OK\r\nnocolon\r\n\r\n").contains("no colon"));
        assert!(invalid_msg("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n").contains("control character"));
    }

    #[test]
    fn limits_on_size_and_count_are_too_large() {
        let limits = Limits {
            head: 64,
            headers: 3,
            body: 10,
        };
        let many = "HTTP/1.1 200 OK\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\n\r\n";
        match parse_complete(many.as_bytes(), &limits) {
            Err(ParseError::TooLarge(m)) => assert!(m.contains("more than 3 header lines"), "{m}"),
            other => panic!("{other:?}"),
        }
        let long = format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "y".repeat(100));
        assert!(matches!(
            parse_complete(long.as_bytes(), &limits),
            Err(ParseError::TooLarge(_))
        ));
        assert!(matches!(
            parse_head(&long.as_bytes()[..70], &limits),
            Err(ParseError::TooLarge(_))
        ));
        assert_eq!(parse_head(&long.as_bytes()[..60], &limits), Ok(None));
    }
}
