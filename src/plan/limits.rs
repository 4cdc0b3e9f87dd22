//! How much of a response a user keeps: head bytes, header lines, body bytes; their defaults and
//! the scenario keys that raise them (`http.max_body = "8MiB"`, sizes as `crate::size` reads them).
//!
//! The body limit bounds memory: a user holds at most one response, so a run's response buffers
//! never exceed users × (max_body + max_header_size), whatever the servers send.

use crate::size::human_size;

/// Default `http.max_header_size`: the status line and the header lines, with line ends.
pub const DEFAULT_HEAD: usize = 64 << 10;
/// Default `http.max_headers`: header lines in one response (and trailer lines after a chunked body).
pub const DEFAULT_HEADERS: usize = 100;
/// Default `http.max_body`: body bytes after chunked decoding. 1 MiB holds any login, health or
/// API answer by far, and keeps 50 users against endless bodies within 64 MiB in all.
pub const DEFAULT_BODY: usize = 1 << 20;

/// Largest values a scenario may set (beyond them one user could hold gigabytes).
pub const MAX_HEAD: usize = 16 << 20;
pub const MAX_HEADERS: usize = 100_000;
pub const MAX_BODY: usize = 1 << 30;

/// The limits one HTTP step applies to its responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the response head: `http.max_header_size`.
    pub head: usize,
    /// Header lines (and, separately, trailer lines): `http.max_headers`.
    pub headers: usize,
    /// Body bytes after chunked decoding: `http.max_body`.
    pub body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head: DEFAULT_HEAD,
            headers: DEFAULT_HEADERS,
            body: DEFAULT_BODY,
        }
    }
}

impl Limits {
    /// Why a head was refused: the limit and how to raise it.
    pub fn head_exceeded(&self) -> String {
        format!(
            "the response head is over {} (raise http.max_header_size in the step)",
            human_size(self.head)
        )
    }

    /// Why a head (or the trailers) had too many lines.
    pub fn headers_exceeded(&self, what: &str) -> String {
        format!(
            "more than {} {what} lines (raise http.max_headers in the step)",
            self.headers
        )
    }

    /// Why a body was refused; `declared` when the server announced the size.
    pub fn body_exceeded(&self, declared: Option<u64>) -> String {
        let limit = human_size(self.body);
        match declared {
            Some(n) => format!(
                "the response body ({n} bytes by Content-Length) is over {limit} (raise http.max_body in the step, e.g. http.max_body = \"16MiB\")"
            ),
            None => format!(
                "the response body is over {limit} (raise http.max_body in the step, e.g. http.max_body = \"16MiB\")"
            ),
        }
    }
}
