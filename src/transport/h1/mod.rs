//! Sans-IO HTTP/1.1 response reading: the head parser, the chunked decoder and the limits, pure
//! functions over byte slices that the async client (and the fuzz harness) drive.
//!
//! Every length is computed with checked arithmetic; framing headers are parsed as token lists
//! (`Transfer-Encoding`, `Connection`) and conflicting framing is refused, so a hostile server
//! gets an error that says what it did (`ParseError`), never a panic or an unbounded buffer.

pub mod chunked;
pub mod fuzz;
pub mod head;
// The limits are part of the compiled plan (each HTTP step's); these paths stay for the reader.
pub use crate::plan::limits;
pub mod reader;

pub use chunked::ChunkedDecoder;
pub use head::{parse_head, Framing, Head, HeadScan};
pub use limits::Limits;
pub use reader::{Parsed, Progress, Reader};

/// Why a response could not be read. Each maps to one failure kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes break HTTP/1.1 (kind `http_protocol`): what was wrong.
    Invalid(String),
    /// A limit of ours was exceeded (kind `too_large`): which one and how to raise it.
    TooLarge(String),
    /// The connection ended before the response was complete (kind `connection_closed`).
    Cut(String),
}

impl ParseError {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            ParseError::Invalid(m) | ParseError::TooLarge(m) | ParseError::Cut(m) => m,
        }
    }
}

/// Bytes from the wire for a message: escaped, at most 40 of them.
pub(crate) fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    let mut s = cut.escape_ascii().to_string();
    if cut.len() < bytes.len() {
        s.push('…');
    }
    s
}
