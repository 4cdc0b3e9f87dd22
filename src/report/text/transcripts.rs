//! The text summary's line about failure transcripts: how many were kept, and where to read them.

use std::io::{self, Write};

use crate::metrics::summary::Summary;

/// One line when any transcript was kept (nothing otherwise).
pub fn section(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let n = s.transcripts.len();
    if n == 0 {
        return Ok(());
    }
    writeln!(
        w,
        "failure transcripts: {n} kept (the frames of the first {} failing flows of each error \
         kind, secrets masked), in the JSON results' `transcripts` (--out, --results-dir)",
        s.transcripts_per_kind
    )
}
