//! `Tracked<S>`: follows the server's frame boundaries as bytes are read, to keep the close code
//! the server really sent.
//!
//! tungstenite replaces a close code that may not be sent (1005, 999, ...) by an invented
//! `1002 Protocol violation` before we see it; the raw code, read here from the wire, tells that
//! apart from a real 1002. Following frames costs a few integer operations per frame header and
//! nothing per payload byte; the state is 24 bytes per socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose incoming bytes are followed frame by frame.
pub struct Tracked<S> {
    io: S,
    pub track: Track,
}

impl<S> Tracked<S> {
    pub fn new(io: S) -> Tracked<S> {
        Tracked {
            io,
            track: Track::default(),
        }
    }
}

/// Where the reader stands in the server's frames, and the first close frame's code.
#[derive(Debug, Default, Clone)]
pub struct Track {
    /// The current frame header so far (2 bytes, then up to 8 of extended length).
    head: [u8; 10],
    have: u8,
    /// Payload bytes of the current frame still to pass.
    skip: u64,
    /// Capturing the current close frame's first two payload bytes.
    capturing: bool,
    code: [u8; 2],
    code_len: u8,
    /// The first close frame: `Some(None)` without a code, `Some(Some(c))` with code `c`.
    close: Option<Option<u16>>,
    /// A masked server frame (rejected by tungstenite): its payload is not followed further.
    lost: bool,
}

impl Track {
    /// The code of the first close frame the server sent: `None` if none came (or could not be
    /// followed), `Some(None)` for a close frame without a code.
    pub fn close_code(&self) -> Option<Option<u16>> {
        self.close
    }

    /// Follows `bytes`, the next ones read from the server.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.lost {
            if self.skip > 0 {
                let n = usize::try_from(self.skip).map_or(bytes.len(), |s| s.min(bytes.len()));
                if self.capturing {
                    for &b in bytes[..n].iter().take(2 - self.code_len as usize) {
                        self.code[self.code_len as usize] = b;
                        self.code_len += 1;
                    }
                    if self.code_len == 2 {
                        self.close = Some(Some(u16::from_be_bytes(self.code)));
                        self.capturing = false;
                    }
                }
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.head[self.have as usize] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            self.header_byte();
        }
    }

    /// A header byte arrived: when the header is complete, starts its payload.
    fn header_byte(&mut self) {
        if self.have < 2 {
            return;
        }
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if (self.have as usize) < 2 + ext {
            return;
        }
        let len = match ext {
            0 => u64::from(self.head[1] & 0x7f),
            2 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            _ => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.head[2..10]);
                u64::from_be_bytes(b)
            }
        };
        self.have = 0;
        if self.head[1] & 0x80 != 0 {
            self.lost = true;
            return;
        }
        let is_close = self.head[0] & 0x0f == 0x8;
        if is_close && self.close.is_none() {
            if len == 0 {
                self.close = Some(None);
            } else {
                self.capturing = true;
                self.code_len = 0;
            }
        }
        self.skip = len;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            me.track.feed(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// An unmasked frame as a server writes it (for tests).
#[cfg(test)]
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        server_frame(opcode, payload)
    }

    fn fed_in_pieces(bytes: &[u8], piece: usize) -> Track {
        let mut t = Track::default();
        for chunk in bytes.chunks(piece) {
            t.feed(chunk);
        }
        t
    }

    #[test]
    fn keeps_the_raw_close_code_after_any_frames_and_any_split() {
        let mut bytes = frame(0x1, b"{\"type\":\"x\"}");
        bytes.extend(frame(0x9, b"ping"));
        bytes.extend(frame(0x2, &vec![7u8; 300]));
        bytes.extend(frame(0x1, &vec![b'a'; 70_000]));
        bytes.extend(frame(0x8, &[0x03, 0xed, b'b', b'y', b'e'])); // 1005
        bytes.extend(frame(0x8, &1000u16.to_be_bytes()));
        for piece in [1, 2, 3, 7, 1000, bytes.len()] {
            assert_eq!(
                fed_in_pieces(&bytes, piece).close_code(),
                Some(Some(1005)),
                "piece {piece}"
            );
        }
    }

    #[test]
    fn a_close_without_code_and_no_close_at_all() {
        assert_eq!(fed_in_pieces(&frame(0x8, b""), 1).close_code(), Some(None));
        assert_eq!(fed_in_pieces(&frame(0x9, b""), 1).close_code(), None);
        assert_eq!(Track::default().close_code(), None);
    }

    #[test]
    fn a_huge_declared_length_is_skipped_by_arithmetic() {
        let mut t = Track::default();
        let mut head = vec![0x82, 127];
        head.extend_from_slice(&(100u64 << 20).to_be_bytes());
        t.feed(&head);
        t.feed(&[0u8; 4096]);
        assert_eq!(t.skip, (100 << 20) - 4096);
        let mut t = Track::default();
        t.feed(&[
            0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
        ]);
        assert_eq!(t.skip, u64::MAX - 3);
    }

    #[test]
    fn a_masked_frame_stops_the_following() {
        let mut t = Track::default();
        t.feed(&[0x88, 0x82, 1, 2, 3, 4, 5, 6]);
        assert_eq!(t.close_code(), None);
        t.feed(&frame(0x8, &1000u16.to_be_bytes()));
        assert_eq!(t.close_code(), None, "not followed after a masked frame");
    }
}
