//! `compare`: a baseline and a current results file, row by row, with noise-aware verdicts (see
//! `crate::compare`), as a table and optionally JSON and JUnit; exit 5 on a regression. `run
//! --baseline` uses the same pieces: the baseline read before any traffic, compared at the end.

use std::path::Path;

use super::say;
use crate::cli::{CompareArgs, CompareOptions, RunArgs};
use crate::compare::{self, Comparison, Settings};
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::report::output::{self, write_atomic, Dest};

pub(super) fn compare(a: CompareArgs, io: &Io) -> Exit {
    let outputs = Outputs {
        json: a.json.as_deref(),
        junit: a.junit.as_deref(),
    };
    if let Err(e) = outputs.check(io) {
        return e;
    }
    if let Err(e) = super::report::html_not_stdout(a.html.as_deref(), io) {
        return e;
    }
    if let Err(e) = super::check_outputs(&a.html.as_deref().into_iter().collect::<Vec<_>>(), io) {
        return e;
    }
    let read = |path: &Path| {
        compare::read::read(path).map_err(|e| {
            io.eprint(&format!("error: {e}\n"));
            Exit::Usage
        })
    };
    let (base, cur) = match (read(&a.baseline), read(&a.current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let (bl, cl) = (
        a.baseline.display().to_string(),
        a.current.display().to_string(),
    );
    if !a.force {
        if let Err(e) = same_scenario(&base, &bl, &cur.scenario, &cl, "--force", io) {
            return e;
        }
    }
    let c = compare::compare((&bl, &base), (&cl, &cur), settings(&a.options));
    let exit = outputs.report(&c, io);
    match a.html.as_deref() {
        Some(path) => {
            let view = compare::html::view(&c);
            match crate::report::html::write(path, &cur, Some(&view)) {
                Ok(()) => exit,
                Err(e) => {
                    io.eprint(&format!("error: cannot write {}: {e}\n", path.display()));
                    Exit::Error
                }
            }
        }
        None => exit,
    }
}

/// The flags' settings.
fn settings(o: &CompareOptions) -> Settings {
    Settings::new(
        o.confidence,
        o.tolerance,
        o.min_delta.as_secs_f64() * 1000.0,
        o.error_tolerance,
    )
}

/// Refuses a baseline of another scenario (by name); `how` says how to compare anyway.
fn same_scenario(
    base: &Summary,
    base_label: &str,
    scenario: &str,
    label: &str,
    how: &str,
    io: &Io,
) -> Result<(), Exit> {
    if base.scenario == scenario {
        return Ok(());
    }
    io.eprint(&format!(
        "error: {label}: scenario: '{scenario}' differs from '{}' in {base_label}: only results \
         of one scenario compare ({how})\n",
        base.scenario
    ));
    Err(Exit::Usage)
}

/// Where the comparison goes besides the table.
struct Outputs<'a> {
    json: Option<&'a Path>,
    junit: Option<&'a Path>,
}

impl Outputs<'_> {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        self.json.into_iter().chain(self.junit)
    }

    /// Whether a machine-readable output takes stdout (the table then goes to stderr).
    fn on_stdout(&self) -> bool {
        self.paths().any(|p| Dest::of(p) == Dest::Stdout)
    }

    /// Each output writable, at most one on stdout: else exit 2 before reading anything.
    fn check(&self, io: &Io) -> Result<(), Exit> {
        if self.paths().filter(|p| Dest::of(p) == Dest::Stdout).count() > 1 {
            io.eprint("error: --json - and --junit - cannot both write to stdout\n");
            return Err(Exit::Usage);
        }
        for path in self.paths() {
            if let Dest::File(p) = Dest::of(path) {
                if let Err(e) = output::check(&p) {
                    io.eprint(&format!("error: cannot write {e}\n"));
                    return Err(Exit::Usage);
                }
            }
        }
        Ok(())
    }

    /// Prints the table (warnings included), writes the outputs; exit 5 on a regression (3 when an
    /// output could not be written).
    fn report(&self, c: &Comparison, io: &Io) -> Exit {
        say(io, self.on_stdout(), &compare::table::render(c));
        let mut exit = c.exit();
        if let Some(path) = self.json {
            let mut json = serde_json::to_string_pretty(c).unwrap_or_default();
            json.push('\n');
            exit = write(path, json.as_bytes(), io).unwrap_or(exit);
        }
        if let Some(path) = self.junit {
            let mut xml = Vec::new();
            let _ = compare::junit::write(c, &mut xml);
            exit = write(path, &xml, io).unwrap_or(exit);
        }
        exit
    }
}

/// Writes `bytes` to stdout or atomically to a file; the exit on failure.
fn write(path: &Path, bytes: &[u8], io: &Io) -> Option<Exit> {
    match Dest::of(path) {
        Dest::Stdout => {
            io.print(&String::from_utf8_lossy(bytes));
            None
        }
        Dest::File(p) => write_atomic(&p, &mut |w| w.write_all(bytes))
            .err()
            .map(|e| {
                io.eprint(&format!("error: cannot write {}: {e}\n", p.display()));
                Exit::Error
            }),
    }
}

/// `run --baseline`: the baseline read and checked before anything runs (exit 2 if bad).
pub(crate) fn read_baseline(path: Option<&Path>, io: &Io) -> Result<Option<Summary>, Exit> {
    let Some(path) = path else { return Ok(None) };
    compare::read::read(path).map(Some).map_err(|e| {
        io.eprint(&format!("error: --baseline {e} (nothing was run)\n"));
        Exit::Usage
    })
}

/// `run --baseline`: once the scenario is compiled, the baseline must be of it (exit 2).
pub(crate) fn baseline_fits(
    baseline: Option<&Summary>,
    a: &RunArgs,
    scenario: &str,
    io: &Io,
) -> Result<(), Exit> {
    let (Some(base), Some(path)) = (baseline, &a.baseline) else {
        return Ok(());
    };
    let label = a.scenario.display().to_string();
    let how = "nothing was run; `load-tester compare --force` compares such results";
    same_scenario(base, &path.display().to_string(), scenario, &label, how, io)
}

/// `run --baseline`: the comparison of this run with its baseline (none without one).
pub(crate) fn for_run(
    a: &RunArgs,
    baseline: Option<&Summary>,
    summary: &Summary,
) -> Option<Comparison> {
    let (base, path) = (baseline?, a.baseline.as_ref()?);
    let label = match a.out.as_deref().map(Dest::of) {
        Some(Dest::File(p)) => p.display().to_string(),
        _ => "this run".to_string(),
    };
    let bl = path.display().to_string();
    Some(compare::compare(
        (&bl, base),
        (&label, summary),
        settings(&a.compare),
    ))
}

/// `run --baseline`: the comparison table after the summary; the run's exit when it is not 0,
/// else 5 on a regression.
pub(crate) fn after_run(c: Option<&Comparison>, exit: Exit, machine: bool, io: &Io) -> Exit {
    let Some(c) = c else { return exit };
    say(io, machine, &format!("\n{}", compare::table::render(c)));
    if exit != Exit::Passed {
        exit
    } else {
        c.exit()
    }
}
