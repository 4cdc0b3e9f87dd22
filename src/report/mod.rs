//! Report sinks: the only code that writes results. Each renders a `Summary` into any `Write`.

pub mod hdr_log;
pub mod json;
pub mod output;
pub mod progress;
pub mod schema;
pub mod series;
pub mod text;

use std::io::{self, Write};
use std::path::Path;

use crate::metrics::summary::Summary;

/// A place results go.
pub trait Sink {
    fn write(&self, summary: &Summary, w: &mut dyn Write) -> io::Result<()>;
}

/// Writes a file atomically under a unique temporary name (see `output::write_atomic`), so a
/// reader never sees half a report and runs sharing a directory never collide.
pub fn write_file(path: &Path, sink: &dyn Sink, summary: &Summary) -> io::Result<()> {
    output::write_atomic(path, &mut |w| sink.write(summary, w))
}
