//! `report`: the HTML report from saved JSON results; and the `--html FILE` output that `run` and
//! `merge` share (refused on stdout, checked before anything runs, written by the HTML sink).

use std::path::Path;

use super::check_outputs;
use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::{Summary, RESULTS_VERSION};
use crate::report::files::Rendered;
use crate::report::html::{Html, HtmlFile};
use crate::report::output::Dest;
use crate::report::Sink;

pub(super) fn report(a: ReportArgs, io: &Io) -> Exit {
    let summary = match read_results(&a.results) {
        Ok(s) => s,
        Err(e) => {
            io.eprint(&format!("error: {e}\n"));
            return Exit::Usage;
        }
    };
    match Dest::of(&a.html) {
        Dest::Stdout => {
            let mut out = Rendered::new(&a.html, Html, "the HTML report", io.out.clone());
            match super::outputs::finish(&mut out, &summary, io) {
                Ok(()) => Exit::Passed,
                Err(e) => e,
            }
        }
        Dest::File(path) => {
            if let Err(e) = check_outputs(&[&path], io) {
                return e;
            }
            match write_html(Some(&path), &summary, io) {
                Ok(()) => {
                    io.eprint(&format!("wrote the HTML report to {}\n", path.display()));
                    Exit::Passed
                }
                Err(e) => e,
            }
        }
    }
}

/// Reads saved results; the error names the file and what is wrong with it.
fn read_results(path: &Path) -> Result<Summary, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let summary: Summary = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{shown}: not a load-tester results file: {e}"))?;
    if summary.version > RESULTS_VERSION {
        return Err(format!(
            "{shown}: results format version {} is newer than this load-tester reads ({RESULTS_VERSION})",
            summary.version
        ));
    }
    Ok(summary)
}

/// `--html -` is refused where stdout carries the summary (run, merge): a usage error before
/// anything runs.
pub(crate) fn html_not_stdout(path: Option<&Path>, io: &Io) -> Result<(), Exit> {
    if path.is_some_and(|p| Dest::of(p) == Dest::Stdout) {
        io.eprint(
            "error: --html needs a file: stdout carries the summary (`load-tester report \
             RESULTS.json --html -` writes it to stdout) (nothing was run)\n",
        );
        return Err(Exit::Usage);
    }
    Ok(())
}

/// Writes the HTML report when `--html` is given, through its sink's final hook; a failure is
/// printed and is an error exit (3), as for the JSON results.
pub(crate) fn write_html(path: Option<&Path>, summary: &Summary, io: &Io) -> Result<(), Exit> {
    let Some(path) = path else { return Ok(()) };
    HtmlFile::new(path).finish(summary).map_err(|e| {
        io.eprint(&format!("error: {e}\n"));
        Exit::Error
    })
}
