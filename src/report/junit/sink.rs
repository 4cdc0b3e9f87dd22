//! `--junit FILE`: the JUnit XML of a command's final results, written by a sink's final hook,
//! atomically to a file or to stdout (`-`).

use std::io::Write;
use std::path::Path;

use super::{from_summary, write, Suite};
use crate::io::Out;
use crate::metrics::summary::Summary;
use crate::report::output::{write_atomic, Dest};
use crate::report::Sink;

/// Writes `<testsuites name="load-tester COMMAND SCENARIO">`: the suites given before the end
/// (e.g. the probe's passes), then those of the final results (`from_summary`).
pub struct JunitSink {
    dest: Dest,
    command: &'static str,
    stdout: Out,
    before: Vec<Suite>,
}

impl JunitSink {
    /// `stdout` is where `-` writes.
    pub fn new(path: &Path, command: &'static str, stdout: Out) -> JunitSink {
        JunitSink {
            dest: Dest::of(path),
            command,
            stdout,
            before: Vec::new(),
        }
    }

    /// Suites written before those of the final results.
    pub fn push(&mut self, suite: Suite) {
        self.before.push(suite);
    }
}

impl Sink for JunitSink {
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let mut suites = std::mem::take(&mut self.before);
        suites.extend(from_summary(summary));
        let name = format!("load-tester {} {}", self.command, summary.scenario);
        let mut xml = |w: &mut dyn Write| write(&name, &suites, w);
        match &self.dest {
            Dest::Stdout => {
                let mut buf = Vec::new();
                let _ = xml(&mut buf);
                if let Ok(mut w) = self.stdout.lock() {
                    let _ = w.write_all(&buf);
                    let _ = w.flush();
                }
                Ok(())
            }
            Dest::File(path) => write_atomic(path, &mut xml)
                .map_err(|e| format!("cannot write JUnit XML to {}: {e}", path.display())),
        }
    }
}
