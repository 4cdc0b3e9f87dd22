//! The HTTP response fuzz harness, shared by the cargo-fuzz target `http_response` and the
//! property test: arbitrary bytes through the head parser, the chunked decoder and the reader,
//! fed in pieces whose sizes come from the input, asserting what must hold for any server.
//!
//! What it checks: no panic; the decoded body is never longer than the input nor over the body
//! limit; the buffer never grows past the reader's bound; a parsed head is within its limits;
//! and the outcome does not depend on how the bytes were split into reads.

use super::chunked::ChunkedDecoder;
use super::limits::Limits;
use super::reader::{Progress, Reader, READ_SLACK};
use super::{parse_head, ParseError};

/// Feeds `data` to the parsers: the first 4 bytes choose the limits and the read sizes.
pub fn http_response(data: &[u8]) {
    let (ctl, input) = data.split_at(data.len().min(4));
    let c = |i: usize| usize::from(ctl.get(i).copied().unwrap_or(0));
    let limits = Limits {
        head: 16 + c(0) * 8,
        headers: 1 + c(1) % 32,
        body: c(2) * 16,
    };
    let seed = c(3) as u64 + 1;
    if let Ok(Some(h)) = parse_head(input, &limits) {
        assert!(h.len <= limits.head && h.len <= input.len());
        assert!(h.headers <= limits.headers);
    }
    let whole = read(input, &limits, &mut Pieces::greedy());
    let split = read(input, &limits, &mut Pieces::seeded(seed));
    assert_eq!(whole, split, "the outcome depends on the split");
    let whole = chunked(input, &limits, &mut Pieces::greedy());
    let split = chunked(input, &limits, &mut Pieces::seeded(seed));
    assert_eq!(whole, split, "the decoded body depends on the split");
}

/// Read sizes: as large as allowed, or pseudo-random from a seed (xorshift).
struct Pieces(u64);

impl Pieces {
    fn greedy() -> Pieces {
        Pieces(0)
    }

    fn seeded(seed: u64) -> Pieces {
        Pieces(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next read's size, at most `room` (at least 1).
    fn next(&mut self, room: usize) -> usize {
        if self.0 == 0 {
            return room.max(1);
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % 97) as usize % room.max(1)
    }
}

/// What reading a response gave: status and body, or the error. (Whether the connection may be
/// reused is left out: bytes after the response count against it only if they came in time.)
type Outcome = Result<(u16, Vec<u8>), ParseError>;

/// Drives a `Reader` as the client does: reads bounded by `buffer_limit`, `eof` at the end.
fn read(input: &[u8], limits: &Limits, pieces: &mut Pieces) -> Outcome {
    let mut r = Reader::new(*limits, false);
    let mut buf = Vec::new();
    let mut at = 0;
    let bound = limits.head + limits.body + 2 * READ_SLACK;
    while at < input.len() {
        let room = r.buffer_limit().saturating_sub(buf.len());
        assert!(room > 0, "the reader asks for more but leaves no room");
        let n = pieces.next(room).min(input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        assert!(buf.len() <= bound, "buffer {} over {bound}", buf.len());
        if let Progress::Done(p) = r.advance(&mut buf)? {
            return Ok(checked(&buf, p.body, p.status, input, limits));
        }
    }
    let p = r.eof(&buf)?;
    Ok(checked(&buf, p.body, p.status, input, limits))
}

fn checked(
    buf: &[u8],
    body: std::ops::Range<usize>,
    status: u16,
    input: &[u8],
    limits: &Limits,
) -> (u16, Vec<u8>) {
    let body = &buf[body];
    assert!(body.len() <= input.len() && body.len() <= limits.body);
    (status, body.to_vec())
}

/// The input as a chunked body: (decoded body, done) or the error.
fn chunked(
    input: &[u8],
    limits: &Limits,
    pieces: &mut Pieces,
) -> Result<(Vec<u8>, bool), ParseError> {
    let mut dec = ChunkedDecoder::new(limits);
    let mut buf = Vec::new();
    let (mut write, mut at) = (0, 0);
    while at < input.len() {
        let n = pieces.next(READ_SLACK).min(input.len() - at);
        buf.truncate(write);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        let mut read = write;
        let done = dec.decode(&mut buf, &mut write, &mut read)?;
        assert!(write <= read && read <= buf.len());
        assert!(write <= limits.body && write as u64 == dec.decoded());
        if done {
            break;
        }
    }
    buf.truncate(write);
    assert!(buf.len() <= input.len());
    Ok((buf, dec.is_done()))
}

#[cfg(test)]
mod tests;
