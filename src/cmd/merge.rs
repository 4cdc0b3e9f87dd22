//! `merge`: several generators' results into one, without loss, after checking that they can be
//! added up (see `metrics::merge::check`); the exit code follows the merged verdict.

use std::path::Path;

use super::outputs::{is_dash, stdout_claimed, write_junit};
use super::{check_outputs, render, say, write_out};
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::merge::{check::Input, merge_checked};
use crate::metrics::summary::Summary;
use crate::report::text::Text;
use crate::thresholds::merged;

pub(super) fn merge(a: MergeArgs, io: &Io) -> Exit {
    if let Err(e) = super::report::html_not_stdout(a.html.as_deref(), io) {
        return e;
    }
    let outputs: Vec<&Path> = [a.out.as_deref(), a.junit.as_deref(), a.html.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if let Err(e) = check_outputs(&outputs, io) {
        return e;
    }
    let stdout_taken = match stdout_claimed(
        &[
            ("--out -", is_dash(a.out.as_deref())),
            ("--junit -", is_dash(a.junit.as_deref())),
        ],
        io,
    ) {
        Ok(taken) => taken,
        Err(e) => return e,
    };
    let mut files: Vec<(String, Vec<u8>, Summary)> = Vec::new();
    for path in &a.inputs {
        let label = path.display().to_string();
        let parsed = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<Summary>(&b)
                    .map(|s| (b, s))
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok((bytes, s)) => files.push((label, bytes, s)),
            Err(e) => {
                io.eprint(&format!(
                    "error: {label}: not a load-tester results file: {e}\n"
                ));
                return Exit::Usage;
            }
        }
    }
    let inputs: Vec<Input<'_>> = files
        .iter()
        .map(|(label, bytes, summary)| Input {
            label,
            summary,
            bytes: Some(bytes),
        })
        .collect();
    let merged = match merge_checked(&inputs, a.allow_partial) {
        Ok(m) => m,
        Err(e) => {
            io.eprint(&format!("error: cannot merge: {e}\n"));
            return Exit::Usage;
        }
    };
    let stored: Vec<(&str, &Summary)> = files.iter().map(|(l, _, s)| (l.as_str(), s)).collect();
    let source = super::thresholds::flag_source(io);
    let set = match merged::gather(&stored, &a.thresholds, source, &merged) {
        Ok(set) => set,
        Err(e) => {
            let text: String = e.lines().map(|l| format!("error: {l}\n")).collect();
            io.eprint(&text);
            return Exit::Usage;
        }
    };
    let parts: Vec<&Summary> = stored.iter().map(|(_, s)| *s).collect();
    let merged = merged::judge_merged(merged, &set, &parts);
    let written = write_out(a.out.as_deref(), &merged, io)
        .and(write_junit(a.junit.as_deref(), "merge", &merged, io))
        .and(super::report::write_html(a.html.as_deref(), &merged, io));
    say(
        io,
        stdout_taken,
        &format!(
            "merged {} result files ({} generators)\n",
            files.len(),
            merged.generators
        ),
    );
    say(io, stdout_taken, &render(&Text, &merged));
    if let Err(e) = written {
        return e;
    }
    merged.verdict.exit()
}
