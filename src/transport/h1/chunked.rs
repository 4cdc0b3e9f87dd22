//! The chunked transfer coding (RFC 9112 §7.1), decoded in place by a byte-level state machine:
//! it can be fed any split of the input and gives the same result.
//!
//! Sizes are checked, not trusted: a chunk size over 2^63-1 (`ffffffffffffffff`) is an overflow,
//! a size line is at most `MAX_LINE` bytes, and the decoded total is checked against the body
//! limit before a chunk is read, so a server announcing an endless body is stopped at once.

use super::limits::Limits;
use super::{show, ParseError};

/// Longest chunk-size line (size and extensions), and longest trailer line.
pub const MAX_LINE: usize = 4096;
/// Largest chunk size (as nginx: what a signed 64-bit length holds).
const MAX_CHUNK: u64 = i64::MAX as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a size (`digits` so far).
    Size {
        digits: u32,
    },
    /// After the size: whitespace or extensions, up to the CR.
    Ext,
    /// After the CR of a size line.
    SizeLf,
    /// Inside a chunk's data: bytes left.
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

/// Decodes one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read, then the current chunk's size.
    size: u64,
    /// Body bytes decoded so far.
    decoded: u64,
    /// Bytes of the current size or trailer line.
    line: usize,
    trailer_bytes: usize,
    trailer_lines: usize,
    limits: Limits,
}

impl ChunkedDecoder {
    pub fn new(limits: &Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            decoded: 0,
            line: 0,
            trailer_bytes: 0,
            trailer_lines: 0,
            limits: *limits,
        }
    }

    /// Body bytes decoded so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `buf[*read..]` in place: body bytes move down to `buf[*write..]` (`*write` never
    /// passes `*read`). Returns true once the body is complete; `*read` is then just after it.
    pub fn decode(
        &mut self,
        buf: &mut [u8],
        write: &mut usize,
        read: &mut usize,
    ) -> Result<bool, ParseError> {
        while *read < buf.len() && self.state != State::Done {
            if let State::Data(left) = self.state {
                let avail = buf.len() - *read;
                let n = usize::try_from(left).map_or(avail, |l| l.min(avail));
                buf.copy_within(*read..*read + n, *write);
                *read += n;
                *write += n;
                self.decoded += n as u64;
                let left = left - n as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            let b = buf[*read];
            *read += 1;
            self.byte(b)?;
        }
        Ok(self.state == State::Done)
    }

    /// One byte outside chunk data.
    fn byte(&mut self, b: u8) -> Result<(), ParseError> {
        let invalid = |m: String| Err(ParseError::Invalid(m));
        self.state = match self.state {
            State::Size { digits } => {
                self.size_line_byte()?;
                if let Some(d) = (b as char).to_digit(16) {
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(d)))
                        .filter(|s| *s <= MAX_CHUNK)
                        .ok_or_else(|| self.overflow(d))?;
                    State::Size { digits: digits + 1 }
                } else if digits == 0 {
                    return invalid(format!(
                        "a chunk-size line starts with {} instead of a hex digit",
                        show(&[b])
                    ));
                } else {
                    match b {
                        b'\r' => State::SizeLf,
                        b' ' | b'\t' | b';' => State::Ext,
                        _ => {
                            return invalid(format!("invalid byte {} in a chunk size", show(&[b])))
                        }
                    }
                }
            }
            State::Ext => {
                self.size_line_byte()?;
                match b {
                    b'\r' => State::SizeLf,
                    b'\n' => return invalid("a chunk-size line ends with a bare LF".into()),
                    _ if b < 0x20 && b != b'\t' => {
                        return invalid(format!("control byte {} in a chunk extension", show(&[b])))
                    }
                    _ => State::Ext,
                }
            }
            State::SizeLf => {
                if b != b'\n' {
                    return invalid("a chunk-size line: CR not followed by LF".into());
                }
                self.line = 0;
                if self.size == 0 {
                    State::TrailerStart
                } else {
                    self.check_body()?;
                    State::Data(self.size)
                }
            }
            State::DataCr | State::DataLf => {
                let want = if self.state == State::DataCr {
                    b'\r'
                } else {
                    b'\n'
                };
                if b != want {
                    return invalid(format!(
                        "chunk data longer than its size {:x} (no CRLF after it)",
                        self.size
                    ));
                }
                if self.state == State::DataCr {
                    State::DataLf
                } else {
                    self.size = 0;
                    State::Size { digits: 0 }
                }
            }
            State::TrailerStart | State::Trailer => self.trailer_byte(b)?,
            State::TrailerLf | State::EndLf => {
                if b != b'\n' {
                    return invalid("a trailer line: CR not followed by LF".into());
                }
                if self.state == State::EndLf {
                    State::Done
                } else {
                    State::TrailerStart
                }
            }
            State::Data(_) | State::Done => self.state,
        };
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<State, ParseError> {
        let start = self.state == State::TrailerStart;
        match b {
            b'\r' if start => return Ok(State::EndLf),
            b'\r' => return Ok(State::TrailerLf),
            b'\n' => {
                return Err(ParseError::Invalid(
                    "a trailer line ends with a bare LF".into(),
                ))
            }
            _ => {}
        }
        if start {
            self.trailer_lines += 1;
            if self.trailer_lines > self.limits.headers {
                return Err(ParseError::TooLarge(
                    self.limits.headers_exceeded("trailer"),
                ));
            }
        }
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.limits.head {
            return Err(ParseError::TooLarge(format!(
                "the trailers after the chunked body are over {} (raise http.max_header_size in the step)",
                crate::size::human_size(self.limits.head)
            )));
        }
        Ok(State::Trailer)
    }

    /// Counts a byte of the size line against `MAX_LINE`.
    fn size_line_byte(&mut self) -> Result<(), ParseError> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(ParseError::Invalid(format!(
                "a chunk-size line longer than {MAX_LINE} bytes"
            )));
        }
        Ok(())
    }

    /// The error for a size that grew past `MAX_CHUNK` with the digit `d`.
    fn overflow(&self, d: u32) -> ParseError {
        let text = match self
            .size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
        {
            Some(s) => format!("{s:x}"),
            None => format!("{:x}{d:x}", self.size),
        };
        ParseError::Invalid(format!(
            "chunk size {text} overflows (the largest is {MAX_CHUNK:x})"
        ))
    }

    /// Refuses a chunk that would take the body over its limit, before reading it.
    fn check_body(&self) -> Result<(), ParseError> {
        match self.decoded.checked_add(self.size) {
            Some(total) if total <= self.limits.body as u64 => Ok(()),
            _ => Err(ParseError::TooLarge(self.limits.body_exceeded(None))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes (as reads would bring it).
    fn decode(input: &[u8], step: usize, limits: &Limits) -> Result<(Vec<u8>, usize), ParseError> {
        let mut dec = ChunkedDecoder::new(limits);
        let mut buf = Vec::new();
        let mut write = 0;
        for piece in input.chunks(step.max(1)) {
            buf.truncate(write);
            buf.extend_from_slice(piece);
            let mut read = write;
            if dec.decode(&mut buf, &mut write, &mut read)? {
                let rest = buf.len() - read;
                buf.truncate(write);
                return Ok((buf, rest));
            }
        }
        Err(ParseError::Cut("end of input".into()))
    }

    fn ok(input: &[u8]) -> Vec<u8> {
        let all = decode(input, input.len(), &Limits::default()).unwrap().0;
        for step in [1, 2, 3, 7] {
            assert_eq!(
                decode(input, step, &Limits::default()).unwrap().0,
                all,
                "step {step}"
            );
        }
        all
    }

    fn err(input: &[u8]) -> ParseError {
        decode(input, input.len(), &Limits::default()).unwrap_err()
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_at_any_split() {
        assert_eq!(ok(b"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n"), b"abcdefg");
        assert_eq!(
            ok(b"A \r\n0123456789\r\n0\r\nT: 1\r\nU: 2\r\n\r\n"),
            b"0123456789"
        );
        assert_eq!(ok(b"000\r\n\r\n"), b"");
        let (_, rest) = decode(b"1\r\nx\r\n0\r\n\r\nEXTRA", 100, &Limits::default()).unwrap();
        assert_eq!(rest, 5);
    }

    #[test]
    fn an_overflowing_size_is_a_protocol_error_not_a_panic() {
        assert_eq!(
            err(b"ffffffffffffffff\r\nx"),
            ParseError::Invalid(
                "chunk size ffffffffffffffff overflows (the largest is 7fffffffffffffff)".into()
            )
        );
        assert!(
            matches!(err(b"8000000000000000\r\n"), ParseError::Invalid(m) if m.contains("overflows"))
        );
        assert!(matches!(
            err(b"7fffffffffffffff\r\n"),
            ParseError::TooLarge(_)
        ));
        let zeros = format!("{}1\r\nx\r\n0\r\n\r\n", "0".repeat(5000));
        assert!(
            matches!(err(zeros.as_bytes()), ParseError::Invalid(m) if m.contains("longer than 4096"))
        );
    }

    #[test]
    fn broken_framing_is_named() {
        let msg = |input: &[u8]| err(input).message().to_string();
        assert!(msg(b"x\r\n").contains("instead of a hex digit"));
        assert!(msg(b"3x\r\n").contains("invalid byte x in a chunk size"));
        assert!(msg(b"3\nabc").contains("invalid byte \\n"));
        assert!(msg(b"3;a\nabc").contains("bare LF"));
        assert!(msg(b"3\r\nabcd\r\n").contains("longer than its size 3"));
        assert!(msg(b"3\rabc").contains("CR not followed by LF"));
        assert!(msg(b"0\r\nT: 1\nx").contains("bare LF"));
    }

    #[test]
    fn the_body_limit_is_checked_before_reading_a_chunk() {
        let limits = Limits {
            head: 20,
            headers: 2,
            body: 8,
        };
        assert_eq!(
            decode(b"8\r\n12345678\r\n0\r\n\r\n", 3, &limits).unwrap().0,
            b"12345678"
        );
        let e = decode(b"5\r\n12345\r\n4\r\n", 100, &limits).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(m) if m.contains("over 8 bytes")));
        let e = decode(b"0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", 100, &limits).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(m) if m.contains("more than 2 trailer lines")));
        let e = decode(b"0\r\na: 123456789012345678901\r\n\r\n", 100, &limits).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(m) if m.contains("trailers")));
    }
}
