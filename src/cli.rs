//! Command-line types (clap derive) only; every flag can also come from an environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::duration::parse_duration;
use crate::mock::MockConfig;
use crate::plan::Stage;
use crate::shard::ShardArg;

#[derive(Parser, Debug)]
#[command(
    name = "load-tester",
    version,
    about = "Golden-path load tester and probe for agent-chat backends",
    long_about = "Golden-path load tester and probe for agent-chat backends.\n\n\
        Virtual users log in, open the WebSocket, send a message and verify the agent events \
        (agent_started, agent_thinking, tool_executing, tool_completed, agent_completed) arrive \
        in order and in time, with HDR latency histograms for every step and every event.\n\n\
        Quick start (no server needed):\n  load-tester run scenarios/golden-path.toml --mock\n\n\
        Every wait has a deadline: an HTTP step (DNS, connect, TLS, request, whole response) \
        ends by its http.timeout (default 30s), the WebSocket upgrade by the connect step's \
        ws.timeout (default 10s), a send or reply by the exchange's ws.within (a send-only step: 10s), a \
        close by the close step's ws.timeout (default 5s). WebSocket messages and frames are \
        limited to ws.max_message (default 1MiB) per connect step; HTTP responses to \
        http.max_body (default 1MiB), http.max_header_size (64KiB) and http.max_headers (100) \
        per step.\n\n\
        Exit codes: 0 passed (a flow passed, none failed), 1 a flow or check failed or no flow \
        passed, 2 usage or scenario error, an output path that cannot be written, or inputs \
        that merge refuses (nothing was run), 3 the target was unreachable, the tool itself \
        failed (an internal error, a worker that died), or a signal stopped the run before any \
        flow finished, 4 a threshold was breached or measured nothing (when a run has thresholds, \
        from the scenario's [thresholds] or --threshold, they are its verdict), 5 compare or run \
        --baseline found a regression.\n\n\
        Environment: each flag's variable is shown as [env: ...]; all carry the prefix \
        LOAD_TESTER_ (e.g. LOAD_TESTER_SEED), except the compose service's TARGET_URL, AUTH_URL, \
        MAX_USERS, SPAWN_RATE, RUN_TIME, RESULTS_DIR and the secrets JWT_SECRET_KEY, \
        E2E_OAUTH_SIMULATION_KEY. Booleans take 1/0, true/false, yes/no, on/off."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run a scenario with many virtual users and report latencies, errors and a verdict.
    Run(RunArgs),
    /// One user, one pass: every step's verdict and time, and a clear exit code (smoke checks);
    /// with --repeat N --every D, passes on a period with a summary (synthetic monitoring).
    Probe(ProbeArgs),
    /// Serve the built-in mock target (login, WebSocket, agent events, injectable faults).
    #[command(after_long_help = MOCK_EXAMPLES)]
    Mock(MockArgs),
    /// Check scenario files and print every error with its place (file:line:col, step, field).
    Validate(ValidateArgs),
    /// Merge JSON results of several generators (shards) without loss; exit code from the merged verdict.
    Merge(MergeArgs),
    /// Compare two results files (baseline, current) per step and event, with noise-aware
    /// verdicts; exit 5 on a regression.
    Compare(CompareArgs),
    /// Write the HTML report (charts and tables, one self-contained file) from saved JSON results.
    Report(ReportArgs),
}

/// `mock --help`'s closing section: examples, and what it counts.
const MOCK_EXAMPLES: &str = "\
Examples:
  load-tester mock --thinking 3 --tools 2 --chunks 2
  load-tester mock --tool-names cost_query,web_search --tool-time 50ms --jitter 20ms
  load-tester mock --timestamps epoch --delay 20ms --fault drop:tool_completed --fault-rate 0.1

What it sent: GET /__mock/stats answers JSON counters (flows, frames, bytes, events and \
event_bytes per type, tools per name with calls, completed and the sum of reported duration_ms); \
the same JSON is printed as one line on stderr when the mock stops (summed over --processes).
  curl -s http://127.0.0.1:8000/__mock/stats";

/// Where to point the scenario; these win over the scenario's `[target]`.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    #[command(flatten)]
    pub urls: UrlArgs,
    /// Start the built-in mock in-process on a free port and point the scenario at it.
    #[arg(long)]
    pub mock: bool,
    /// Also trust the CA certificates in this PEM file (one or several), beside the bundled
    /// Mozilla roots: for a staging stack with its own CA. SSL_CERT_FILE is read as well.
    #[arg(long, env = "LOAD_TESTER_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify TLS certificates (a test stack with a self-signed certificate); prints a
    /// warning. From the environment: 1/0, true/false, yes/no, on/off.
    #[arg(long, env = "LOAD_TESTER_INSECURE", action = clap::ArgAction::SetTrue,
          value_parser = EnvBool("LOAD_TESTER_INSECURE"))]
    pub insecure: bool,
}

/// The target URLs given on the command line or by env vars.
#[derive(Args, Debug, Clone, Default)]
pub struct UrlArgs {
    /// Backend base URL (http or https). The auth and WebSocket URLs follow it (auth = the
    /// target, WebSocket derived http→ws, https→wss) unless given too: the scenario's [target]
    /// is then not used.
    #[arg(long = "target", env = "TARGET_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Auth service base URL [default: the target URL when --target is given, else the
    /// scenario's auth_url, else its base_url].
    #[arg(long, env = "AUTH_URL", value_name = "URL")]
    pub auth_url: Option<String>,
    /// WebSocket base URL, when it cannot be derived from the target (e.g. another host).
    #[arg(long, env = "LOAD_TESTER_WS_URL", value_name = "URL")]
    pub ws_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/golden-path.toml.
    #[arg(env = "LOAD_TESTER_SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Concurrent virtual users [default: the scenario's].
    #[arg(short = 'u', long, env = "MAX_USERS")]
    pub users: Option<u32>,
    /// Users started per second while ramping up (Locust's spawn rate).
    #[arg(short = 'r', long, env = "SPAWN_RATE")]
    pub spawn_rate: Option<f64>,
    /// How long to run: seconds ("3600") or units ("15m", "1h30m", "500ms").
    #[arg(short = 'd', long, env = "RUN_TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Iterations per user (instead of, or as well as, a duration).
    #[arg(short = 'i', long, env = "LOAD_TESTER_ITERATIONS")]
    pub iterations: Option<u64>,
    /// Open model: start this many flows per second, however long they take (the pool is
    /// --users). Without it, users iterate back to back (closed model).
    #[arg(long, env = "LOAD_TESTER_ARRIVAL_RATE", value_name = "FLOWS_PER_S")]
    pub arrival_rate: Option<f64>,
    /// Open model: arrivals evenly spaced, or a Poisson process (random, seeded by --seed).
    #[arg(long, env = "LOAD_TESTER_ARRIVALS", value_enum)]
    pub arrivals: Option<ArrivalsArg>,
    /// Open model: an arrival that finds no free user waits for one; once it has waited longer
    /// than this it is dropped (and counted). 0 drops at once, as k6 does.
    #[arg(long, env = "LOAD_TESTER_MAX_LATENESS", value_parser = parse_duration, value_name = "DURATION")]
    pub max_lateness: Option<Duration>,
    /// Seed of the Poisson arrivals (same seed, same schedule).
    #[arg(long, env = "LOAD_TESTER_SEED", default_value_t = 1)]
    pub seed: u64,
    /// A stage of a ramp: DURATION:TARGET, repeatable, e.g. --stage 30s:100 --stage 1m:100
    /// --stage 30s:0. Targets are users (closed model) or flows per second (with --arrival-rate,
    /// which is then the starting rate). Replaces the scenario's stages.
    #[arg(long = "stage", env = "LOAD_TESTER_STAGES", value_delimiter = ',', value_parser = parse_stage, value_name = "DURATION:TARGET")]
    pub stages: Vec<Stage>,
    /// Closed model: after a failed iteration a user pauses this long before its next one,
    /// doubling with each further failure in a row (with jitter, up to --backoff-max) and reset
    /// by a passed iteration, so a broken target is not hammered. 0 turns it off.
    #[arg(long, env = "LOAD_TESTER_BACKOFF", value_parser = parse_duration, value_name = "DURATION",
          default_value = "100ms")]
    pub backoff: Duration,
    /// The longest backoff pause.
    #[arg(long, env = "LOAD_TESTER_BACKOFF_MAX", value_parser = parse_duration,
          value_name = "DURATION", default_value = "10s")]
    pub backoff_max: Duration,
    /// Time in-flight iterations get to finish when the run ends or is interrupted.
    #[arg(long, env = "LOAD_TESTER_GRACEFUL_STOP", value_parser = parse_duration)]
    pub graceful_stop: Option<Duration>,
    /// Write JSON results here (schema/results.schema.json), atomically; `-` writes them to
    /// stdout (the summary then goes to stderr). Checked before the run: exit 2 if it cannot be
    /// written.
    #[arg(
        short = 'o',
        long,
        env = "LOAD_TESTER_RESULTS_FILE",
        value_name = "FILE"
    )]
    pub out: Option<PathBuf>,
    /// Write `results.json` and `summary.txt` into this directory (`results-shard-2-of-3.json`
    /// ... when sharded); created if missing. Writes are atomic under unique temporary names, so
    /// parallel runs can share the directory.
    #[arg(long, env = "RESULTS_DIR", value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Before starting, wait up to this long for the target's and the auth service's `/health`
    /// to answer 2xx; exit 3 if they never do. E.g. "120s".
    #[arg(long, env = "LOAD_TESTER_WAIT_FOR_TARGET", value_parser = parse_duration, value_name = "DURATION")]
    pub wait_for_target: Option<Duration>,
    /// Run only this generator's share of the users: "I/N" (1-based, e.g. 2/3), or "auto" to take
    /// the position among the addresses of LOAD_TESTER_SHARD_SERVICE (docker-compose --scale;
    /// needs LOAD_TESTER_SHARD_COUNT). Without this flag, JOB_COMPLETION_INDEX +
    /// LOAD_TESTER_SHARD_COUNT (Kubernetes Indexed Job) set the shard. User numbers stay global, so they never collide across shards.
    #[arg(long, env = "LOAD_TESTER_SHARD", value_name = "I/N|auto")]
    pub shard: Option<ShardArg>,
    /// Spread outgoing connections over these source addresses (a list and/or CIDR blocks, e.g.
    /// 127.0.0.2,127.0.0.3 or 127.0.1.0/28): one address holds at most ~28,000 connections to
    /// one destination (its ephemeral ports).
    #[arg(long, env = "LOAD_TESTER_LOCAL_ADDRS", value_name = "ADDRS")]
    pub local_addrs: Option<crate::transport::LocalAddrs>,
    /// Log in again (run the setup steps) before a flow when the session's token is about to
    /// expire: `on` (default) reads `exp` from every JWT among the variables the setup set and
    /// refreshes within a quarter of its lifetime (1–60 s) of it; `off` keeps the first token.
    #[arg(
        long,
        env = "LOAD_TESTER_TOKEN_REFRESH",
        value_enum,
        default_value = "on"
    )]
    pub token_refresh: OnOff,
    /// Run a canary user during the load: one extra user (its own login and socket, user
    /// number = the load's users + the shard index) that starts a flow every DURATION if its
    /// previous one has ended (ticks it misses are counted as skipped), reported apart in every
    /// output; a failed canary flow fails the run. E.g. --canary-every 10s.
    #[arg(long, env = "LOAD_TESTER_CANARY_EVERY", value_parser = parse_canary_every,
          value_name = "DURATION")]
    pub canary_every: Option<Duration>,
    /// Keep the frames of the first N failing flows of each error kind in the JSON results
    /// (`transcripts`: time, direction, type, size, body cut at 512 bytes, secrets masked),
    /// e.g. `--transcripts 20`; 0 records none.
    #[arg(long, env = "LOAD_TESTER_TRANSCRIPTS", value_name = "N",
          default_value_t = crate::metrics::transcript::DEFAULT_PER_KIND)]
    pub transcripts: u32,
    /// Worker threads generating load [default: one per CPU, shared among --processes].
    #[arg(long, env = "LOAD_TESTER_WORKERS")]
    pub workers: Option<usize>,
    /// Run as this many processes, each a shard of the users, merged at the end (as Locust's
    /// --processes). One process holds at most its open-file limit of sockets (ulimit -n, often
    /// 20,000): 100,000 users holding WebSockets need several.
    #[arg(long, env = "LOAD_TESTER_PROCESSES", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub processes: u32,
    /// Write an HdrHistogram interval log here (one tagged histogram per step and event per
    /// second, flushed each second; values in microseconds). An existing file is truncated:
    /// one log (one header) per run.
    #[arg(long, env = "LOAD_TESTER_HDR_LOG", value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// When stderr is not a terminal, print a `progress ...` line this often.
    #[arg(long, env = "LOAD_TESTER_PROGRESS_INTERVAL", value_parser = parse_duration, default_value = "10s")]
    pub progress_interval: Duration,
    /// Self-test of the tool's own failure paths: panic in a user's flow at a step
    /// (step:NAME) or in a worker thread (worker). Never useful in a real run.
    #[arg(long, hide = true, value_name = "step:NAME|worker")]
    pub self_test_panic: Option<crate::plan::SelfTestPanic>,
    /// Print only the final summary (no progress). From the environment: 1/0, true/false,
    /// yes/no, on/off.
    #[arg(short, long, env = "LOAD_TESTER_QUIET", action = clap::ArgAction::SetTrue,
          value_parser = EnvBool("LOAD_TESTER_QUIET"))]
    pub quiet: bool,
    /// Write JUnit XML here at the end (a test case per step, expected event, threshold and the
    /// verdict), atomically; checked before anything runs. `-` writes it to stdout (the
    /// human-readable output then goes to stderr); refused with exit 2 when another output
    /// (`--out -`) already claims stdout.
    #[arg(long, env = "LOAD_TESTER_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report here (one self-contained file: charts and tables, nothing
    /// fetched), atomically. Checked before the run: exit 2 if it cannot be written.
    // Before the mock's flags: after them it would be listed under their heading.
    #[arg(long, env = "LOAD_TESTER_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,
    // Before the mock's flags: after a flattened group, clap would list it under their heading.
    /// A threshold, `METRIC OP VALUE` (e.g. 'chat.agent_started.p95 < 2s', 'flows.failed_rate
    /// < 1%'); repeatable, added to the scenario's [thresholds], checked before anything runs.
    /// With any threshold, the thresholds are the verdict (a breach exits 4). From the
    /// environment: several separated by `;`.
    #[arg(
        long = "threshold",
        env = "LOAD_TESTER_THRESHOLD",
        value_delimiter = ';',
        value_name = "EXPR"
    )]
    pub thresholds: Vec<String>,
    #[command(flatten, next_help_heading = "Mock target (with --mock)")]
    pub mock: MockConfig,
    /// Compare the results with this results file of an earlier run (e.g. the main branch's)
    /// at the end: the comparison table follows the summary, and a regression exits 5 (unless
    /// the run's own verdict already exits non-zero). Read and checked before the run: exit 2
    /// if it cannot be read or is of another scenario.
    #[arg(
        long,
        env = "LOAD_TESTER_BASELINE",
        value_name = "FILE",
        help_heading = "Baseline comparison (with --baseline)"
    )]
    pub baseline: Option<PathBuf>,
    #[command(flatten, next_help_heading = "Baseline comparison (with --baseline)")]
    pub compare: CompareOptions,
    /// Serve Prometheus metrics at http://ADDR/metrics while the run goes on: HOST:PORT,
    /// [IPv6]:PORT, or :PORT for every IPv4 interface (e.g. 127.0.0.1:9464, :9464). Bound before
    /// anything runs: exit 2 if it cannot be.
    #[arg(
        long,
        env = "LOAD_TESTER_METRICS_LISTEN",
        value_name = "ADDR",
        help_heading = "Prometheus metrics"
    )]
    pub metrics_listen: Option<String>,
    /// With --metrics-listen: after the results are written, keep serving the final metrics this
    /// long, so a scraper gets them (a signal ends it early).
    #[arg(long, env = "LOAD_TESTER_METRICS_LINGER", value_parser = parse_duration,
          default_value = "0s", value_name = "DURATION", help_heading = "Prometheus metrics")]
    pub metrics_linger: Duration,
    /// A `--processes` child: write one machine-readable interval record per interval on stderr
    /// (for the parent) instead of progress lines.
    #[arg(long, hide = true)]
    pub interval_records: bool,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Scenario file (TOML), e.g. scenarios/smoke.toml.
    #[arg(env = "LOAD_TESTER_SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write JSON results here (same schema as `run`); `-` writes them to stdout (the step
    /// lines then go to stderr).
    #[arg(
        short = 'o',
        long,
        env = "LOAD_TESTER_RESULTS_FILE",
        value_name = "FILE"
    )]
    pub out: Option<PathBuf>,
    /// Run the probe this many times (passes), one line per pass and a summary at the end
    /// (passes, failures, availability, per-step p50/p95/max); `0` repeats until a signal
    /// (Ctrl-C, SIGTERM) stops it. The summary and every finished pass's results are kept when
    /// a signal stops it. Exit 0 when every pass passed, 1 when any failed, 3 when none could
    /// reach the target or the tool failed.
    #[arg(long, env = "LOAD_TESTER_REPEAT", value_name = "N")]
    pub repeat: Option<u64>,
    /// With --repeat: the period from one pass's start to the next pass's start; a pass that
    /// takes longer than the period is followed by the next one at once.
    #[arg(long, env = "LOAD_TESTER_EVERY", value_parser = parse_duration, value_name = "DURATION",
          default_value = "30s", requires = "repeat")]
    pub every: Duration,
    /// Print machine-readable output on stdout: one JSON object per pass (JSON lines: `pass`,
    /// `started_at`, `verdict`, each step's time, verdict and error), then a summary object; the
    /// human-readable lines go to stderr.
    #[arg(long, env = "LOAD_TESTER_JSON", action = clap::ArgAction::SetTrue,
          value_parser = EnvBool("LOAD_TESTER_JSON"))]
    pub json: bool,
    /// Write JUnit XML here at the end (with --repeat, a suite per pass; a test case per step,
    /// expected event, threshold and the verdict), atomically; checked before anything runs. `-` writes it to stdout (the
    /// human-readable output then goes to stderr); refused with exit 2 when another output
    /// (`--out -`, `--json`) already claims stdout.
    #[arg(long, env = "LOAD_TESTER_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A threshold judged on the probe's results (with --repeat: over all passes), `METRIC OP
    /// VALUE`, e.g. 'chat.agent_completed.max < 30s'; repeatable, added to the scenario's
    /// [thresholds]; a breach exits 4. A failed pass fails the probe whatever the thresholds say.
    /// From the environment: several separated by `;`.
    #[arg(
        long = "threshold",
        env = "LOAD_TESTER_THRESHOLD",
        value_delimiter = ';',
        value_name = "EXPR"
    )]
    pub thresholds: Vec<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT, [IPv6]:PORT or :PORT),
    /// updated after every pass: flows by outcome, step and event latencies, errors by kind
    /// (for a probe run as a service: --repeat 0 --every 60s). Bound first: exit 2 if it cannot be.
    #[arg(long, env = "LOAD_TESTER_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// With --metrics-listen: after the last pass, keep serving the final metrics this long.
    #[arg(long, env = "LOAD_TESTER_METRICS_LINGER", value_parser = parse_duration,
          default_value = "0s", value_name = "DURATION")]
    pub metrics_linger: Duration,
    #[command(flatten, next_help_heading = "Mock target (with --mock)")]
    pub mock: MockConfig,
}

#[derive(Args, Debug)]
pub struct MockArgs {
    #[command(flatten)]
    pub config: MockConfig,
    /// Serve from this many processes sharing the listening addresses (SO_REUSEPORT) and one
    /// JWT secret: more connections than one process's open-file limit allows. Needs fixed ports.
    #[arg(long, env = "LOAD_TESTER_MOCK_PROCESSES", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub processes: u32,
    /// Listen with SO_REUSEPORT (set on the children of --processes).
    #[arg(long, hide = true)]
    pub reuse_port: bool,
}

/// A boolean flag's value, which only an environment variable can give (the flag itself takes
/// none): 1/0, true/false, yes/no, on/off (clap's `BoolishValueParser`); a bad value's error names
/// the variable, which clap's own message would not.
#[derive(Clone, Copy, Debug)]
pub struct EnvBool(pub &'static str);

impl clap::builder::TypedValueParser for EnvBool {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<bool, clap::Error> {
        clap::builder::BoolishValueParser::new()
            .parse_ref(cmd, arg, value)
            .map_err(|_| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "invalid value '{}' for the environment variable {}: use 1/0, true/false, yes/no or on/off\n",
                        value.to_string_lossy(),
                        self.0
                    ),
                )
                .with_cmd(cmd)
            })
    }
}

/// `--arrivals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalsArg {
    Even,
    Poisson,
}

/// `--canary-every`: a duration above zero.
fn parse_canary_every(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("the canary's period must be above 0 (e.g. 10s)".into());
    }
    Ok(d)
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    let bad = || format!("invalid stage '{text}': use DURATION:TARGET, e.g. 30s:100");
    let (d, t) = text.split_once(':').ok_or_else(bad)?;
    let duration = parse_duration(d.trim())?;
    let target: f64 = t.trim().parse().map_err(|_| bad())?;
    if duration.is_zero() || !(target.is_finite() && target >= 0.0) {
        return Err(bad());
    }
    Ok(Stage { duration, target })
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files written by `run --out` (or `--results-dir`) on each generator: one per
    /// shard, all of one scenario against one target, each shard once.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged JSON results here (`-`: to stdout, the summary then goes to stderr).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Merge even when shards are missing (e.g. 1/3 and 3/3 without 2/3); the result lists them
    /// in `missing_shards` and its summary says PARTIAL. Without it a missing shard exits 2.
    #[arg(long)]
    pub allow_partial: bool,
    /// Write JUnit XML here at the end (a test case per step, expected event, threshold and the
    /// verdict), atomically; checked before anything runs. `-` writes it to stdout (the
    /// human-readable output then goes to stderr); refused with exit 2 when another output
    /// (`--out -`) already claims stdout.
    #[arg(long, env = "LOAD_TESTER_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report of the merged results here (one self-contained file).
    #[arg(long, env = "LOAD_TESTER_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// A threshold judged on the merged results, beside those stored in the inputs (each
    /// expression once); repeatable, `;`-separated from the environment.
    #[arg(
        long = "threshold",
        env = "LOAD_TESTER_THRESHOLD",
        value_delimiter = ';',
        value_name = "EXPR"
    )]
    pub thresholds: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// JSON results written by `run --out`, `probe --out` or `merge --out`.
    pub results: PathBuf,
    /// Write the HTML report here (`-`: to stdout).
    #[arg(long, env = "LOAD_TESTER_HTML", value_name = "FILE")]
    pub html: PathBuf,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    // The target URLs a run would use, checked with each scenario.
    #[command(flatten)]
    pub urls: UrlArgs,
}

/// What makes a change count in a comparison (`compare`, `run --baseline`).
#[derive(Args, Debug, Clone)]
pub struct CompareOptions {
    /// A change counts as worse (or better) only beyond this, relative to the baseline.
    #[arg(long, env = "LOAD_TESTER_TOLERANCE", value_parser = crate::compare::parse_percent,
          default_value = "10%", value_name = "PERCENT")]
    pub tolerance: f64,
    /// A latency change counts only beyond this too (a 50% change of 0.2 ms is noise).
    #[arg(long, env = "LOAD_TESTER_MIN_DELTA", value_parser = parse_duration,
          default_value = "1ms", value_name = "DURATION")]
    pub min_delta: Duration,
    /// An error-rate change counts only beyond this many percentage points (1% = 1 point).
    #[arg(long, env = "LOAD_TESTER_ERROR_TOLERANCE", value_parser = crate::compare::parse_points,
          default_value = "1%", value_name = "POINTS")]
    pub error_tolerance: f64,
    /// Confidence of the intervals and tests: a change counts only when it is beyond sampling
    /// noise at this level (the two runs' intervals do not overlap).
    #[arg(long, env = "LOAD_TESTER_CONFIDENCE", value_parser = crate::compare::parse_confidence,
          default_value = "99%", value_name = "PERCENT")]
    pub confidence: f64,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The baseline results file (`run --out`), e.g. the main branch's.
    pub baseline: PathBuf,
    /// The results file to judge against it.
    pub current: PathBuf,
    #[command(flatten)]
    pub options: CompareOptions,
    /// Write the comparison as JSON here, atomically (`-`: stdout; the table then goes to stderr).
    #[arg(long, env = "LOAD_TESTER_JSON", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the comparison as JUnit XML here: a test case per compared metric, a failure per
    /// worse one (`-`: stdout; the table then goes to stderr).
    #[arg(long, env = "LOAD_TESTER_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report of CURRENT with the comparison (a table and a chart of the changes)
    /// here, atomically; checked before anything is read.
    #[arg(long, env = "LOAD_TESTER_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Compare results of differently named scenarios anyway (with a warning). From the
    /// environment: 1/0, true/false, yes/no, on/off.
    #[arg(long, env = "LOAD_TESTER_FORCE", action = clap::ArgAction::SetTrue,
          value_parser = EnvBool("LOAD_TESTER_FORCE"))]
    pub force: bool,
}

/// A switch.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}
