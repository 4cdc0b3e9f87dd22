//! The commands, one module each (run, probe, mock, validate, merge, report), and what they share:
//! compiling the scenario against its target, starting the in-process mock, writing results.

mod compare;
mod merge;
mod metrics;
mod mock;
mod outputs;
mod preflight;
mod probe;
mod report;
mod run;
mod thresholds;
mod validate;

use std::path::Path;
use std::sync::Arc;

use crate::cli::{Command, TargetArgs, UrlArgs};
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::mock::{MockConfig, MockServer};
use crate::plan::{Plan, TargetUrl, UrlSource};
use crate::report::output::{self, Dest};
use crate::report::Render;
use crate::scenario::{self, Overrides};

pub async fn dispatch(command: Command, io: &Io) -> Exit {
    match command {
        Command::Run(a) => run::run(a, io).await,
        Command::Probe(a) => probe::probe(a, io).await,
        Command::Mock(a) => mock::mock(a, io).await,
        Command::Validate(a) => validate::validate(a, io),
        Command::Merge(a) => merge::merge(a, io),
        Command::Compare(a) => compare::compare(a, io),
        Command::Report(a) => report::report(a, io),
    }
}

/// Starts the in-process mock when `--mock` is given, pointing the overrides at it.
pub(crate) async fn maybe_mock(
    target: &TargetArgs,
    cfg: &MockConfig,
    overrides: &mut Overrides,
    io: &Io,
) -> Result<Option<MockServer>, Exit> {
    if !target.mock {
        return Ok(None);
    }
    let mut cfg = cfg.clone();
    // A free port, unless the user chose the address (then it is honoured, e.g. to watch the
    // mock from another tool while the run goes on).
    let chosen =
        scenario::flag_given(&io.args, "--listen") || (io.env)("LOAD_TESTER_MOCK_LISTEN").is_some();
    if !chosen {
        cfg.listen = vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))];
    }
    match MockServer::start(cfg).await {
        Ok(server) => {
            let url = server.base_url();
            overrides.set_url(TargetUrl::Base, Some(url.clone()), UrlSource::Mock);
            overrides.set_url(TargetUrl::Auth, Some(url), UrlSource::Mock);
            overrides.set_url(TargetUrl::Ws, None, UrlSource::Mock);
            Ok(Some(server))
        }
        Err(e) => {
            io.eprint(&format!("error: cannot start the built-in mock: {e}\n"));
            Err(Exit::Error)
        }
    }
}

/// Starts the mock if asked, then compiles the scenario against the resulting target.
pub(crate) async fn prepare(
    scenario: &Path,
    target: &TargetArgs,
    mock_cfg: &MockConfig,
    mut overrides: Overrides,
    io: &Io,
) -> Result<(Option<MockServer>, Arc<Plan>), Exit> {
    configure_tls(target, io)?;
    let mock = maybe_mock(target, mock_cfg, &mut overrides, io).await?;
    let plan = load_plan(scenario, &overrides, io)?;
    Ok((mock, Arc::new(plan)))
}

/// Builds the process's TLS configuration from `--ca-cert`, `SSL_CERT_FILE` and `--insecure`
/// (before any connection, `--wait-for-target`'s included); prints `--insecure`'s one warning.
fn configure_tls(target: &TargetArgs, io: &Io) -> Result<(), Exit> {
    let mut opts = crate::transport::tls::TlsOptions {
        ca_files: Vec::new(),
        insecure: target.insecure,
    };
    if let Some(path) = &target.ca_cert {
        opts.ca_files.push((path.clone(), "--ca-cert"));
    }
    if let Some(path) = (io.env)("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        opts.ca_files.push((path.into(), "SSL_CERT_FILE"));
    }
    if opts == crate::transport::tls::TlsOptions::default() {
        return Ok(());
    }
    if let Err(e) = crate::transport::tls::configure(&opts) {
        io.eprint(&format!("error: {e}\n"));
        return Err(Exit::Usage);
    }
    if opts.insecure {
        io.eprint(&format!("{}\n", crate::transport::tls::INSECURE_WARNING));
    }
    Ok(())
}

/// The target URL overrides, each with where it came from (flag or env var).
pub(crate) fn target_overrides(urls: &UrlArgs, io: &Io) -> Overrides {
    let mut o = Overrides::default();
    let values = [&urls.base_url, &urls.auth_url, &urls.ws_url].map(Clone::clone);
    o.set_urls_from_args(values, &io.args);
    o
}

pub(crate) fn load_plan(path: &Path, overrides: &Overrides, io: &Io) -> Result<Plan, Exit> {
    let env = io.env.clone();
    scenario::load(path, overrides, &move |k| env(k)).map_err(|diags| {
        let mut text = String::new();
        for d in &diags {
            text.push_str(&format!("error: {d}\n"));
        }
        let n = scenario::compile::total_errors(&diags);
        text.push_str(&format!(
            "{n} error{} in {}; `load-tester validate` checks a scenario without running it\n",
            if n == 1 { "" } else { "s" },
            path.display()
        ));
        io.eprint(&text);
        Exit::Usage
    })
}

/// Checks every output path before anything runs (see `report::output::check`): a path that
/// cannot be written is a usage error (exit 2), found before the first request.
pub(crate) fn check_outputs(paths: &[&Path], io: &Io) -> Result<(), Exit> {
    for path in paths {
        if let Dest::File(p) = Dest::of(path) {
            if let Err(e) = output::check(&p) {
                io.eprint(&format!("error: cannot write {e} (nothing was run)\n"));
                return Err(Exit::Usage);
            }
        }
    }
    Ok(())
}

/// Whether `--out -` sends the JSON results to stdout; the human-readable output then goes to
/// stderr, so stdout stays pure JSON.
pub(crate) fn json_on_stdout(out: Option<&Path>) -> bool {
    out.is_some_and(|p| Dest::of(p) == Dest::Stdout)
}

/// Prints human-readable output: to stdout, or to stderr when stdout carries the JSON.
pub(crate) fn say(io: &Io, json_on_stdout: bool, text: &str) {
    if json_on_stdout {
        io.eprint(text)
    } else {
        io.print(text)
    }
}

/// `--out FILE` (or `-`): the JSON results, through their sink; a failure is printed, exit 3.
pub(crate) fn write_out(path: Option<&Path>, summary: &Summary, io: &Io) -> Result<(), Exit> {
    let Some(path) = path else { return Ok(()) };
    let mut json = crate::report::files::Rendered::json(path, io.out.clone());
    outputs::finish(&mut json, summary, io)
}

pub(crate) fn render(render: &dyn Render, summary: &Summary) -> String {
    let mut buf = Vec::new();
    let _ = render.write(summary, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
