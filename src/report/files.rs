//! The final outputs as sinks: a format (`Render`) written to a file atomically or to stdout,
//! the results directory's pair of files, and the human-readable text on a stream.

use std::path::{Path, PathBuf};

use super::output::{write_atomic, Dest};
use super::{json::Json, text::Text, Render, Sink};
use crate::io::Out;
use crate::metrics::summary::Summary;

/// One format of the final results, to a file (atomically) or to stdout (`-`).
pub struct Rendered {
    dest: Dest,
    render: Box<dyn Render + Send>,
    /// What it is, for the error message: `results`, `the summary`.
    what: &'static str,
    stdout: Out,
}

impl Rendered {
    pub fn new(
        path: &Path,
        render: impl Render + Send + 'static,
        what: &'static str,
        stdout: Out,
    ) -> Rendered {
        Rendered {
            dest: Dest::of(path),
            render: Box::new(render),
            what,
            stdout,
        }
    }

    /// `--out FILE`: the JSON results.
    pub fn json(path: &Path, stdout: Out) -> Rendered {
        Rendered::new(path, Json, "results", stdout)
    }
}

impl Sink for Rendered {
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        match &self.dest {
            Dest::Stdout => {
                let mut buf = Vec::new();
                let _ = self.render.write(summary, &mut buf);
                let mut w = self
                    .stdout
                    .lock()
                    .map_err(|_| "stdout is poisoned".to_string())?;
                w.write_all(&buf)
                    .and_then(|()| w.flush())
                    .map_err(|e| format!("cannot write {} to stdout: {e}", self.what))
            }
            Dest::File(path) => write_atomic(path, &mut |w| self.render.write(summary, w))
                .map_err(|e| format!("cannot write {} to {}: {e}", self.what, path.display())),
        }
    }
}

/// `--results-dir DIR`: `results{suffix}.json` and `summary{suffix}.txt`, each atomically.
pub struct ResultsDir {
    json: Rendered,
    text: Rendered,
}

impl ResultsDir {
    pub fn new(dir: &Path, suffix: &str, stdout: Out) -> ResultsDir {
        let (json, text) = ResultsDir::files(dir, suffix);
        ResultsDir {
            json: Rendered::new(&json, Json, "results", stdout.clone()),
            text: Rendered::new(&text, Text, "the summary", stdout),
        }
    }

    /// The two files' paths (checked before the run).
    pub fn files(dir: &Path, suffix: &str) -> (PathBuf, PathBuf) {
        (
            dir.join(format!("results{suffix}.json")),
            dir.join(format!("summary{suffix}.txt")),
        )
    }
}

impl Sink for ResultsDir {
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let json = self.json.finish(summary);
        let text = self.text.finish(summary);
        json.and(text)
    }
}

/// The human-readable summary, printed on a stream (stdout, or stderr when a machine-readable
/// output has stdout).
pub struct Say {
    pub out: Out,
}

impl Sink for Say {
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let mut buf = Vec::new();
        let _ = Text.write(summary, &mut buf);
        if let Ok(mut w) = self.out.lock() {
            let _ = w.write_all(&buf);
            let _ = w.flush();
        }
        Ok(())
    }
}
