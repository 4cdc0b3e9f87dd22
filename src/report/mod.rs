//! Report sinks: the only code that writes results. Each renders a `Summary` into any `Write`.

pub mod hdr_log;
pub mod json;
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

/// Writes a file atomically (temporary file, then rename), so a reader never sees half a report.
pub fn write_file(path: &Path, sink: &dyn Sink, summary: &Summary) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = io::BufWriter::new(std::fs::File::create(&tmp)?);
        sink.write(summary, &mut f)?;
        f.flush()?;
    }
    std::fs::rename(&tmp, path)
}
