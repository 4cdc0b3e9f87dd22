//! The mock agent's words: deterministic texts of documented lengths, so tests can count characters.
//!
//! Design choice: every text is ASCII (characters = bytes) and of a fixed length whatever the
//! step numbers: a numbered prefix, then a fixed filler cut to length. `THINKING_CHARS`,
//! `CHUNK_CHARS` and `FINAL_RESPONSE` are the documented figures (README, `mock --help`).

/// Characters of each `agent_thinking` event's `reasoning`.
pub const THINKING_CHARS: usize = 40;
/// Characters of each `stream_chunk` event's `content`.
pub const CHUNK_CHARS: usize = 40;
/// The `final_response` of `agent_completed` (42 characters).
pub const FINAL_RESPONSE: &str = "Here are three ways to cut your GPU spend.";

/// What follows a text's numbered prefix, repeated as needed.
const FILLER: &str = "right-size idle nodes, use spot capacity, batch the jobs; ";

/// `prefix`, then the filler, cut to exactly `len` characters.
fn fixed(prefix: String, len: usize) -> String {
    let mut s = prefix;
    while s.len() < len {
        s.push_str(FILLER);
    }
    s.truncate(len);
    s
}

/// The `reasoning` of the `i`-th (1-based) of `n` thinking events: `THINKING_CHARS` long.
pub fn thinking(i: u32, n: u32) -> String {
    fixed(format!("Thinking step {i} of {n}: "), THINKING_CHARS)
}

/// The `content` of the chunk with `chunk_index` `i` (0-based) of `n`: `CHUNK_CHARS` long.
pub fn chunk(i: u32, n: u32) -> String {
    fixed(format!("Chunk {} of {n}: ", u64::from(i) + 1), CHUNK_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_have_their_documented_lengths() {
        assert_eq!(thinking(1, 3), "Thinking step 1 of 3: right-size idle no");
        assert_eq!(chunk(0, 2), "Chunk 1 of 2: right-size idle nodes, use");
        for (i, n) in [(1, 1), (9, 10), (u32::MAX, u32::MAX)] {
            assert_eq!(thinking(i, n).len(), THINKING_CHARS, "{i} of {n}");
            assert_eq!(chunk(i - 1, n).len(), CHUNK_CHARS, "{i} of {n}");
            assert!(thinking(i, n).is_ascii() && chunk(i - 1, n).is_ascii());
        }
        assert_eq!(FINAL_RESPONSE.len(), 42);
    }
}
