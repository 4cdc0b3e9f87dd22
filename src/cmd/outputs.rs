//! The outputs a command writes besides its results file: who owns stdout (at most one
//! machine-readable output), and the JUnit XML at the end.

use std::path::Path;

use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::report::junit::sink::JunitSink;
use crate::report::Sink;

/// Whether a machine-readable output claims stdout (the human-readable text then goes to
/// stderr). `claims` names each output that could (`--out -`, `--junit -`, `--json`) and whether
/// it does; two at once would interleave on one stream: exit 2, before anything runs.
pub(crate) fn stdout_claimed(claims: &[(&str, bool)], io: &Io) -> Result<bool, Exit> {
    let on: Vec<&str> = claims.iter().filter(|c| c.1).map(|c| c.0).collect();
    if on.len() > 1 {
        io.eprint(&format!(
            "error: {} all want stdout: send all but one to a file (nothing was run)\n",
            on.join(" and ")
        ));
        return Err(Exit::Usage);
    }
    Ok(on.len() == 1)
}

/// `-` for a path option.
pub(crate) fn is_dash(path: Option<&Path>) -> bool {
    path.is_some_and(|p| p.as_os_str() == "-")
}

/// The `--junit` sink of a command, if asked for.
pub(crate) fn junit(path: Option<&Path>, command: &'static str, io: &Io) -> Option<JunitSink> {
    path.map(|p| JunitSink::new(p, command, io.out.clone()))
}

/// Writes `--junit` from the final results, for commands without other sinks (run's final
/// step, merge); an error is printed and is exit 3.
pub(crate) fn write_junit(
    path: Option<&Path>,
    command: &'static str,
    summary: &Summary,
    io: &Io,
) -> Result<(), Exit> {
    match junit(path, command, io) {
        None => Ok(()),
        Some(mut sink) => finish(&mut sink, summary, io),
    }
}

/// A sink's final hook; an error is printed and is exit 3.
pub(crate) fn finish(sink: &mut dyn Sink, summary: &Summary, io: &Io) -> Result<(), Exit> {
    sink.finish(summary).map_err(|e| {
        io.eprint(&format!("error: {e}\n"));
        Exit::Error
    })
}
