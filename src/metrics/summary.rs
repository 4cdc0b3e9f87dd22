//! `Summary`: the merged, serializable result of a run — what every report sink renders.
//!
//! Built once from the merged `Recorder` and the `Plan`. Every latency block carries its full HDR
//! histogram (V2 deflate serialization, base64), so results from several generators can be merged
//! later without loss; percentiles are derived from it.
//!
//! These types are the results format: `schema/results.schema.json` is derived from them
//! (`JsonSchema`, doc comments as descriptions, `#[schemars(...)]` for the constraints), so a
//! field added here needs nothing more than its doc line; see `report::schema`.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::errors::{ErrorCode, ErrorKind, ErrorStat, EventRef, Names, Phase, MAX_CAUSES};
use super::recorder::Recorder;
use crate::plan::{EventId, Plan, StepKind};

/// Version of the JSON results format (`schema/results.schema.json`).
pub const RESULTS_VERSION: u32 = 3;

/// JSON results written by `load-tester run --out FILE`, `probe --out FILE` and
/// `merge --out FILE`. Latencies are milliseconds; `histogram` fields hold the full HDR histogram
/// (microsecond values) as base64 of the HdrHistogram V2 deflate serialization, so results from
/// several generators can be merged without loss.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[schemars(title = "load-tester results")]
pub struct Summary {
    /// Version of this format (`RESULTS_VERSION`).
    #[schemars(extend("const" = RESULTS_VERSION))]
    pub version: u32,
    pub tool: Tool,
    pub tool_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// Digest of the scenario file's text (`fnv1a64:...`): `merge` refuses results of different
    /// scenario files. Empty in results written before it existed.
    #[serde(default)]
    pub scenario_digest: String,
    pub mode: Mode,
    /// ISO-8601 UTC time the run started.
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"))]
    pub started_at: String,
    /// Wall-clock seconds from start to the end of the run.
    #[schemars(range(min = 0))]
    pub elapsed_s: f64,
    pub target: TargetInfo,
    /// The load this generator (or, merged, all generators together) ran.
    pub load: LoadInfo,
    /// This generator's share of the users, e.g. `2/3`; `null` when not sharded or merged.
    #[schemars(regex(pattern = r"^[1-9][0-9]*/[1-9][0-9]*$"))]
    pub shard: Option<String>,
    /// How many generators' results this summary holds (1 unless merged).
    #[schemars(range(min = 1))]
    pub generators: u32,
    /// Merged with `--allow-partial` only: the shards that were missing (e.g. `["2/3"]`); the
    /// result then covers only part of the users. Empty when complete.
    #[serde(default)]
    pub missing_shards: Vec<String>,
    pub flows: Flows,
    /// Good flows (passed, every budget met) per second, and their share of the flows that ended.
    #[serde(default)]
    pub goodput: Goodput,
    /// What the interrupted flows were doing when they were cut off, most frequent first.
    pub interrupted: Vec<InterruptedAt>,
    /// Why the run ended: its planned end, or a signal.
    pub stopped_by: StoppedBy,
    /// Failures of the tool itself (a worker that did not start, users lost to a panic):
    /// any makes the verdict `error`.
    pub tool_errors: Vec<ToolError>,
    /// Closed model: pauses taken after failed iterations (backoff), so a broken target is not
    /// hammered.
    pub backoff: Backoff,
    /// The thresholds (scenario `[thresholds]` and `--threshold`), each with its observed value:
    /// when there are any, they are the verdict.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    pub verdict: Verdict,
    /// The process exit code of the verdict (`Verdict::exit`).
    #[schemars(extend("enum" = Verdict::exit_codes()))]
    pub exit_code: i32,
    pub steps: Vec<StepSummary>,
    /// Whole iterations that passed.
    pub iteration: Latency,
    /// Open model: whole iterations measured from their intended start (coordinated-omission
    /// corrected).
    pub iteration_corrected: Option<Latency>,
    /// All error kinds over all steps, most frequent first.
    pub errors: Vec<ErrorCount>,
    pub generator: Generator,
    /// Per interval (1 s): flows and per-step percentiles.
    pub timeseries: Vec<crate::report::series::IntervalStats>,
    /// The canary user (`run --canary-every`): its flows, steps and errors, apart from the
    /// load's; `null` without a canary.
    #[serde(default)]
    pub canary: Option<super::canary::Canary>,
    /// Failing flows whose frames were kept, per error kind (`--transcripts`; 0: none).
    #[serde(default)]
    pub transcripts_per_kind: u32,
    /// The frames of the first failing flows of each error kind (at most `transcripts_per_kind`
    /// of each), earliest first, secrets masked.
    #[serde(default)]
    pub transcripts: Vec<super::transcript::Transcript>,
}

/// The program that wrote the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum Tool {
    #[serde(rename = "load-tester")]
    LoadTester,
}

/// A failure of the tool itself: what kind, and the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct ToolError {
    pub kind: ToolErrorKind,
    /// What happened, with the figures, e.g. `worker 1 died (a panic in load-tester); ...`.
    pub detail: String,
}

impl ToolError {
    pub fn new(kind: ToolErrorKind, detail: impl Into<String>) -> ToolError {
        ToolError {
            kind,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The kinds of failure of the tool itself.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolErrorKind {
    /// A worker thread (or its runtime) could not be started: its users never ran.
    WorkerNotStarted,
    /// A worker thread died (a panic in load-tester): its users' results are lost.
    WorkerDied,
    /// User tasks ended by a panic outside a flow: their remaining flows never ran.
    UsersLost,
    /// Flows that started but were counted neither passed, failed nor interrupted.
    FlowsUnaccounted,
}

/// Which command produced the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Run,
    Probe,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoppedBy {
    /// Its duration or iterations were done.
    End,
    /// A signal (Ctrl-C, SIGTERM from `docker stop`) stopped it early.
    Signal,
    /// A threshold with `abort_on_fail` was breached: the run was stopped early.
    Threshold,
}

/// One threshold, evaluated on the final results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ThresholdResult {
    /// As written, e.g. `chat.agent_started.p95 < 2s`.
    pub expr: String,
    /// Where it was defined: `FILE:LINE` of the scenario, or `--threshold`.
    pub source: String,
    /// The metric, e.g. `chat.agent_started.p95`, `flows.failed_rate`.
    pub metric: String,
    /// The comparison: `<`, `<=`, `>`, `>=`.
    pub op: String,
    /// The limit, in `unit`.
    pub limit: f64,
    pub unit: ThresholdUnit,
    /// The metric's value in `unit`; none when nothing was measured (which breaches).
    pub observed: Option<f64>,
    pub passed: bool,
    /// How far the observed value is from the limit, in `unit`: positive is room left,
    /// negative is by how much it is breached; none when nothing was measured.
    pub margin: Option<f64>,
    /// Stop the run as soon as this threshold is breached (checked every interval).
    #[serde(default)]
    pub abort_on_fail: bool,
    /// This threshold's breach stopped the run.
    #[serde(default)]
    pub aborted: bool,
    /// When `aborted`: seconds from the start to the end of the interval whose check found the
    /// breach (the observed value and margin are those of that check).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub aborted_at_s: Option<f64>,
}

/// The unit of a threshold's limit and observed value.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdUnit {
    /// Milliseconds (latency statistics).
    Ms,
    /// Percent (`*_rate` ratios such as `error_rate`, `flows.failed_rate`).
    Percent,
    /// Per second (`rate`).
    PerS,
    /// A plain count (`count`, `errors`).
    Count,
}

/// Interrupted flows cut at one place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct InterruptedAt {
    pub step: String,
    /// The last expected event the flows had received in that step (none: before the first).
    pub after_event: Option<String>,
    #[schemars(range(min = 1))]
    pub count: u64,
    /// The longest any of them had been waiting there (since the step began or that event came).
    #[schemars(range(min = 0))]
    pub longest_wait_ms: f64,
}

/// Backoff after failed iterations.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Backoff {
    /// Pauses taken.
    pub waits: u64,
    /// Their total length, in seconds.
    #[schemars(range(min = 0))]
    pub total_s: f64,
}

/// The URLs the run was pointed at (never with credentials).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TargetInfo {
    pub base_url: String,
    pub auth_url: String,
    pub ws_url: String,
}

/// The load as configured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LoadInfo {
    /// `closed` (users iterate) or `open` (flows arrive at a rate).
    pub model: ModelKind,
    /// Closed: users. Open: the pool (most flows in flight).
    pub users: u32,
    /// Users started per second.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub spawn_rate: f64,
    /// Open model: flows per second (the starting rate, with stages).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub arrival_rate: Option<f64>,
    /// Open model: `even` or `poisson`.
    pub arrivals: Option<ArrivalsKind>,
    /// Stages of users (closed model) or flows/s (open model), in order.
    pub stages: Vec<StageInfo>,
    /// Planned duration in seconds (none: bounded by iterations).
    #[schemars(range(min = 0))]
    pub duration_s: Option<f64>,
    /// Iterations per user (none: bounded by duration).
    pub iterations: Option<u64>,
}

/// The load model, as written in the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Closed,
    Open,
}

/// How open-model arrivals are spaced, as written in the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalsKind {
    Even,
    Poisson,
}

/// A step's kind, as written in the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum StepKindCode {
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "ws.connect")]
    WsConnect,
    #[serde(rename = "ws.exchange")]
    WsExchange,
    #[serde(rename = "ws.close")]
    WsClose,
    #[serde(rename = "think")]
    Think,
    /// A JWT minted by the tool itself (`jwt` step).
    #[serde(rename = "jwt")]
    Jwt,
}

/// Whether a step runs once per user or every iteration.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    Setup,
    Iteration,
}

/// One stage of a ramp.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StageInfo {
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub duration_s: f64,
    /// Users (closed model) or flows per second (open model) at the end of the stage.
    #[schemars(range(min = 0))]
    pub target: f64,
}

/// The generator's check on itself: how late its own timers fired.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Generator {
    #[schemars(range(min = 0))]
    pub lag_p99_ms: f64,
    #[schemars(range(min = 0))]
    pub lag_max_ms: f64,
    /// Above this p99 lag the latencies include client-side delay.
    #[schemars(range(min = 0))]
    pub threshold_ms: f64,
    /// The p99 lag passed the threshold: latencies include client-side delay.
    pub saturated: bool,
}

/// Above this p99 timer lag, the generator itself is adding delay to what it measures.
pub const SATURATION_MS: f64 = 10.0;

/// Every flow accounted for: `started = passed + failed + interrupted`, and
/// `passed = good + late`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Flows {
    pub started: u64,
    pub passed: u64,
    /// Of `passed`: flows that met every budget (`ws.budgets`; without budgets, every passed flow).
    #[serde(default)]
    pub good: u64,
    /// Of `passed`: flows that passed but missed a budget.
    #[serde(default)]
    pub late: u64,
    pub failed: u64,
    /// Cut off by the end of the run or a signal: neither passed nor failed (see `interrupted`).
    pub interrupted: u64,
    /// Open model: arrivals that found no free user and no room to wait (k6's dropped_iterations).
    pub dropped: u64,
}

/// Goodput: flows that passed and met every budget, as vLLM's and genai-perf's benchmarks count
/// requests within their latency budgets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Goodput {
    /// Good flows per second of run time.
    #[schemars(range(min = 0))]
    pub per_s: f64,
    /// Good flows in percent of the flows that ended (passed or failed); none before any ended.
    #[schemars(range(min = 0, max = 100))]
    pub good_pct: Option<f64>,
}

/// The outcome of the run, judged from the results (`Verdict::judge`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one flow passed and none failed (exit 0).
    Passed,
    /// Some flow or check failed, or no flow passed (exit 1).
    Failed,
    /// Nothing ever reached the target (exit 3).
    Unreachable,
    /// The tool itself failed: an internal error, a worker that did not start (exit 3).
    Error,
    /// Stopped by a signal before any flow finished: nothing was measured (exit 3).
    Interrupted,
    /// A threshold was breached (exit 4); thresholds, when there are any, are the verdict.
    Breached,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 6] = [
        Verdict::Passed,
        Verdict::Failed,
        Verdict::Unreachable,
        Verdict::Error,
        Verdict::Interrupted,
        Verdict::Breached,
    ];

    /// The exit codes a verdict can have, ascending (the schema's `exit_code`).
    pub fn exit_codes() -> Vec<i32> {
        let mut codes: Vec<i32> = Verdict::ALL.iter().map(|v| v.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// The process exit for this verdict: the one place verdicts become exit codes.
    pub fn exit(self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            Verdict::Passed => Exit::Passed,
            Verdict::Failed => Exit::Failed,
            Verdict::Breached => Exit::Breached,
            Verdict::Unreachable | Verdict::Error | Verdict::Interrupted => Exit::Error,
        }
    }

    pub fn exit_code(self) -> i32 {
        self.exit().code()
    }

    /// How the summary and the probe print it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Unreachable => "UNREACHABLE",
            Verdict::Error => "ERROR",
            Verdict::Interrupted => "INTERRUPTED",
            Verdict::Breached => "THRESHOLDS BREACHED",
        }
    }
}

/// One step of the scenario: its executions, latencies, errors and events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StepSummary {
    pub name: String,
    /// `http`, `ws.connect`, `ws.exchange`, `ws.close`, `think` or `jwt`.
    pub kind: StepKindCode,
    /// `setup` or `iteration`.
    pub phase: StepPhase,
    /// Executions: `ok + failed`.
    pub count: u64,
    pub ok: u64,
    pub failed: u64,
    /// Executions per second of run time.
    #[schemars(range(min = 0))]
    pub rate_per_s: f64,
    /// Durations of successful executions.
    pub latency: Latency,
    /// Open model: the same, plus how late the flow started (measured from its intended start).
    pub latency_corrected: Option<Latency>,
    pub errors: Vec<ErrorCount>,
    /// Gaps between consecutive expected events (exchange steps with an expectation).
    pub gaps: Option<Latency>,
    /// Per event type: every occurrence, timed from the send.
    pub events: Vec<EventSummary>,
    /// Exchange steps with a `settle`: executions that ended by waiting it out.
    #[serde(default)]
    pub settled: Option<Settled>,
    /// Exchange steps with an expectation: what the event stream carried, beyond each event.
    #[serde(default)]
    pub stream: Option<StreamSummary>,
}

/// A distribution of plain numbers (counts, bytes, rates): not milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Counts {
    /// How many values (flows) it holds.
    pub count: u64,
    pub min: f64,
    pub p50: f64,
    pub mean: f64,
    pub max: f64,
    /// Base64 of the HDR V2 deflate serialization of the values (as recorded: see the field).
    #[schemars(extend("contentEncoding" = "base64"))]
    pub histogram: String,
}

impl Counts {
    /// From a histogram of values recorded `scale` times larger (1: as they are).
    pub fn from_histogram(h: &Histogram<u64>, scale: f64) -> Counts {
        let v = |x: u64| x as f64 / scale;
        let empty = h.is_empty();
        Counts {
            count: h.len(),
            min: if empty { 0.0 } else { v(h.min()) },
            p50: if empty {
                0.0
            } else {
                v(h.value_at_quantile(0.5))
            },
            mean: if empty { 0.0 } else { h.mean() / scale },
            max: if empty { 0.0 } else { v(h.max()) },
            histogram: encode_histogram(h),
        }
    }
}

/// The stream of an exchange step: first event, gaps by pair, volume, text, tools, clocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StreamSummary {
    /// Time from the send to the first expected event (time to first event).
    pub first_event: Latency,
    /// Gaps between consecutive expected events, one histogram per pair of types in the order
    /// they came (`agent_started` → `agent_thinking`, ...).
    pub pairs: Vec<GapPair>,
    /// Frames with an event per execution (every type, noise included).
    pub events_per_flow: Counts,
    /// Bytes of those frames per execution.
    pub bytes_per_flow: Counts,
    /// Streamed text (`agent_thinking` reasoning, `stream_chunk`/`partial_result` content,
    /// `final_response`); none when no event carried text.
    pub text: Option<TextRates>,
    /// Tool calls (`tool_executing` → `tool_completed`, matched by tool name, else by order),
    /// one row per tool name.
    pub tools: Vec<ToolSummary>,
    /// Tool calls started but not completed when the step ended.
    pub tools_unfinished: u64,
    /// The events' own `timestamp` against their arrival: depends on the two clocks agreeing.
    pub server_lag: Option<ServerLag>,
}

/// The gaps between events of type `from` and the next expected event, of type `to`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct GapPair {
    pub from: String,
    pub to: String,
    pub gaps: Latency,
}

/// Streamed text: totals, and rates per execution between its first and last text event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TextRates {
    /// Characters of text in all.
    pub chars: u64,
    /// Events that carried text.
    pub chunks: u64,
    /// Characters per second, per execution with two text events or more.
    pub chars_per_s: Counts,
    /// Text events per second, per such execution.
    pub chunks_per_s: Counts,
}

/// One tool's calls: as the client saw them, as the server reported them, and the difference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ToolSummary {
    /// The tool's name (`tool_name` or `tool`), `(unnamed)`, or `(other)` past 64 names.
    pub name: String,
    /// From the arrival of `tool_executing` to that of its `tool_completed`.
    pub latency: Latency,
    /// The duration the server reported in `tool_completed` (`duration`, `execution_time_ms` or
    /// the step's `ws.tool_duration` pointer, in ms); none when it reported none.
    pub server: Option<Latency>,
    /// Client minus server (queueing and transport), for calls the server reported no longer
    /// than the client saw.
    pub overhead: Option<Latency>,
    /// Calls the server reported longer than the client saw them (not in `overhead`).
    pub server_longer: u64,
}

/// One-way lag from the server's event timestamps: arrival time minus the event's timestamp.
/// Clock-dependent: only as true as the two machines' clocks agree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ServerLag {
    /// Always true: these figures compare two different clocks.
    pub clock_dependent: bool,
    /// Events stamped before they arrived: the lag.
    pub behind: Latency,
    /// Events stamped after they arrived (the server's clock is ahead), and by how much at most.
    pub ahead: u64,
    #[schemars(range(min = 0))]
    pub ahead_max_ms: f64,
}

/// Executions of a step that ended by waiting out its `settle`: counted in `ok`, kept out of
/// `latency` (a wait is not a latency).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Settled {
    pub count: u64,
    /// The step's `settle`, in milliseconds.
    #[schemars(range(min = 0))]
    pub settle_ms: f64,
}

/// One event type of an exchange step: expected, or noise or error named in its lists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct EventSummary {
    pub name: String,
    /// Occurrences received (every one, a repeated event each time).
    pub count: u64,
    #[schemars(range(min = 0))]
    pub rate_per_s: f64,
    /// Time from the send to each occurrence.
    pub latency: Latency,
    /// `expected` (in `ws.expect`), `ignored` or `fail_on` (named in those lists).
    #[serde(default = "expected")]
    pub role: String,
    /// Executions of the step in which it came at least once.
    #[serde(default)]
    pub flows: u64,
    /// Occurrences per execution of the step (zeros included).
    #[serde(default)]
    pub per_flow: Option<Counts>,
    /// Bytes of its frames.
    #[serde(default)]
    pub bytes: u64,
    /// Characters of streamed text it carried.
    #[serde(default)]
    pub text_chars: u64,
    /// Its budget (`ws.budgets`, or the protocol's default), in ms: its first occurrence must
    /// come within this long of the send, or the flow is late.
    #[serde(default)]
    pub budget_ms: Option<f64>,
    /// Executions whose first occurrence missed the budget.
    #[serde(default)]
    pub over_budget: u64,
    /// With `ws.group_by`: the field's pointer and the occurrences per value.
    #[serde(default)]
    pub group_by: Option<String>,
    #[serde(default)]
    pub groups: Vec<EventGroup>,
    /// Open model: from the flow's intended start.
    pub latency_corrected: Option<Latency>,
    /// The expectation cannot match without this event (every passing execution receives it);
    /// false for an optional one, e.g. inside `(...)?` or `(...)*`.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

fn expected() -> String {
    "expected".into()
}

/// Occurrences of an event whose `group_by` field had one value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct EventGroup {
    /// The value (`(none)` when the field was missing; `(other)` past 64 values).
    pub value: String,
    pub latency: Latency,
    pub bytes: u64,
}

/// How often one error (step, kind, phase, detail) happened, with its top causes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ErrorCount {
    /// The step it happened in.
    pub step: String,
    /// Stable kind code, e.g. `event_missing`.
    pub kind: ErrorCode,
    /// Where in the conversation: `dns`, `connect`, `tls`, `request`, `response`, `upgrade`,
    /// `send`, `frame`, `close`, `events`, `template`, `internal`.
    pub phase: Phase,
    /// Human description with names, e.g. `event missing: tool_completed (agent_completed came instead)`.
    pub detail: String,
    #[schemars(range(min = 1))]
    pub count: u64,
    /// The most frequent exact causes (address and reason), at most `MAX_CAUSES`.
    #[schemars(length(max = MAX_CAUSES))]
    pub causes: Vec<CauseCount>,
    /// Occurrences whose cause was not kept (more distinct causes than kept, or none given).
    pub other_causes: u64,
}

/// One exact cause and how often it happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CauseCount {
    /// E.g. `http://127.0.0.1:1: connection refused (os error 111)`.
    pub cause: String,
    #[schemars(range(min = 1))]
    pub count: u64,
}

impl ErrorCount {
    /// Adds another count of the same step, kind, phase and detail; the causes stay bounded.
    /// The causes of both are added up, and the most frequent `MAX_CAUSES` kept (the rest
    /// counted in `other_causes`), whichever input they came from.
    pub fn absorb(&mut self, other: &ErrorCount) {
        let mut all: Vec<CauseCount> = std::mem::take(&mut self.causes);
        for c in &other.causes {
            match all.iter_mut().find(|x| x.cause == c.cause) {
                // Saturating: merged counts come from files anyone can edit.
                Some(x) => x.count = x.count.saturating_add(c.count),
                None => all.push(c.clone()),
            }
        }
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
        let dropped = all
            .iter()
            .skip(super::errors::MAX_CAUSES)
            .fold(0u64, |n, c| n.saturating_add(c.count));
        all.truncate(super::errors::MAX_CAUSES);
        self.causes = all;
        self.count = self.count.saturating_add(other.count);
        self.other_causes = self
            .other_causes
            .saturating_add(other.other_causes)
            .saturating_add(dropped);
    }
}

/// Percentiles in milliseconds plus the full histogram (microseconds).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Latency {
    pub count: u64,
    #[schemars(range(min = 0))]
    pub min_ms: f64,
    #[schemars(range(min = 0))]
    pub mean_ms: f64,
    #[schemars(range(min = 0))]
    pub p50_ms: f64,
    #[schemars(range(min = 0))]
    pub p90_ms: f64,
    #[schemars(range(min = 0))]
    pub p95_ms: f64,
    #[schemars(range(min = 0))]
    pub p99_ms: f64,
    #[schemars(range(min = 0))]
    pub max_ms: f64,
    /// Base64 of the HDR V2 deflate serialization; values are microseconds.
    #[schemars(extend("contentEncoding" = "base64"))]
    pub histogram: String,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        let empty = h.is_empty();
        let q = |q: f64| {
            if empty {
                0.0
            } else {
                ms(h.value_at_quantile(q))
            }
        };
        Latency {
            count: h.len(),
            min_ms: if empty { 0.0 } else { ms(h.min()) },
            mean_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: if empty { 0.0 } else { ms(h.max()) },
            histogram: encode_histogram(h),
        }
    }

    /// Decodes the embedded histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        decode_histogram(&self.histogram)
    }
}

pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

/// Facts about the run that the recorder does not hold.
pub struct RunInfo {
    pub mode: Mode,
    pub stopped_by: StoppedBy,
    /// Failures of the tool itself seen by the runner (e.g. a worker thread that did not start).
    pub tool_errors: Vec<ToolError>,
    pub shard: crate::shard::Shard,
    pub started_at: String,
    pub elapsed_s: f64,
    pub timeseries: Vec<crate::report::series::IntervalStats>,
}

pub struct PlanNames<'a> {
    pub plan: &'a Plan,
    pub unknown: &'a [String],
}

impl Names for PlanNames<'_> {
    fn event(&self, id: EventId) -> String {
        self.plan.event_name(id).to_string()
    }
    fn event_ref(&self, e: &EventRef) -> String {
        match e {
            EventRef::Known(id) => self.event(*id),
            EventRef::Unknown(i) => self
                .unknown
                .get(*i as usize)
                .cloned()
                .unwrap_or_else(|| "?".into()),
            EventRef::Unreadable => "(unreadable frame)".into(),
            EventRef::OtherUnknown => "(another unknown event type)".into(),
        }
    }
    fn var(&self, id: u16) -> String {
        self.plan
            .vars
            .get(id as usize)
            .map(|v| v.name.clone())
            .unwrap_or_else(|| "?".into())
    }
}

impl Summary {
    pub fn build(plan: &Plan, rec: &Recorder, info: RunInfo) -> Summary {
        let names = PlanNames {
            plan,
            unknown: &rec.unknown_events,
        };
        let secs = info.elapsed_s.max(1e-9);
        let mut all_errors = Vec::new();
        let steps: Vec<StepSummary> = plan
            .steps
            .iter()
            .zip(&rec.steps)
            .map(|(step, r)| {
                let mut errors: Vec<ErrorCount> = r
                    .errors
                    .iter()
                    .map(|((k, p), stat)| error_count(&step.name, k, *p, stat, &names))
                    .collect();
                sort_errors(&mut errors);
                all_errors.extend(errors.iter().cloned());
                let events = match &step.kind {
                    StepKind::WsExchange(x) => x
                        .expect
                        .as_ref()
                        .map(|e| event_rows(plan, rec, e, secs))
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                let stream = r.stream.as_ref().map(|st| stream_summary(plan, st));
                let failed = r.failed();
                StepSummary {
                    name: step.name.clone(),
                    kind: match &step.kind {
                        StepKind::Http(_) => StepKindCode::Http,
                        StepKind::WsConnect(_) => StepKindCode::WsConnect,
                        StepKind::WsExchange(_) => StepKindCode::WsExchange,
                        StepKind::WsClose(_) => StepKindCode::WsClose,
                        StepKind::Think(_) => StepKindCode::Think,
                        StepKind::Jwt(_) => StepKindCode::Jwt,
                    },
                    phase: if (step.id as usize) < plan.setup_len {
                        StepPhase::Setup
                    } else {
                        StepPhase::Iteration
                    },
                    count: r.ok + failed,
                    ok: r.ok,
                    failed,
                    rate_per_s: (r.ok + failed) as f64 / secs,
                    latency: Latency::from_histogram(&r.latency),
                    latency_corrected: rec
                        .corrected
                        .as_ref()
                        .and_then(|c| c.steps.get(step.id as usize))
                        .map(Latency::from_histogram),
                    errors,
                    // The pooled gaps: every pair's, added.
                    gaps: r.stream.as_ref().map(|st| {
                        let mut all = super::recorder::new_histogram();
                        for p in &st.pairs {
                            let _ = all.add(&p.gaps);
                        }
                        Latency::from_histogram(&all)
                    }),
                    events,
                    settled: settle_of(step).map(|d| Settled {
                        count: r.settled,
                        settle_ms: d.as_secs_f64() * 1000.0,
                    }),
                    stream,
                }
            })
            .collect();
        sort_errors(&mut all_errors);
        let flows = Flows {
            started: rec.flows_started,
            passed: rec.flows_passed,
            good: rec.flows_passed.saturating_sub(rec.flows_late),
            late: rec.flows_late.min(rec.flows_passed),
            failed: rec.flows_failed,
            interrupted: rec.flows_interrupted(),
            dropped: rec.dropped,
        };
        let mut tool_errors = info.tool_errors;
        if rec.users_lost > 0 {
            tool_errors.push(ToolError::new(
                ToolErrorKind::UsersLost,
                format!(
                    "{} user task(s) ended by a panic (a bug in load-tester; their remaining flows \
                     never ran)",
                    rec.users_lost
                ),
            ));
        }
        let unaccounted = rec.flows_unaccounted();
        if unaccounted > 0 {
            tool_errors.push(ToolError::new(
                ToolErrorKind::FlowsUnaccounted,
                format!(
                    "{unaccounted} flow(s) started but neither passed, failed nor were interrupted"
                ),
            ));
        }
        let interrupted = interrupted_at(plan, rec, &names);

        Summary {
            version: RESULTS_VERSION,
            tool: Tool::LoadTester,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            scenario: plan.name.clone(),
            scenario_digest: plan.digest.clone(),
            mode: info.mode,
            started_at: info.started_at,
            elapsed_s: info.elapsed_s,
            target: TargetInfo {
                base_url: plan.target.base_url.clone(),
                auth_url: plan.target.auth_url.clone(),
                ws_url: plan.target.ws_url.clone(),
            },
            load: load_info(plan, info.shard),
            shard: (!info.shard.is_whole()).then(|| info.shard.to_string()),
            generators: 1,
            missing_shards: Vec::new(),
            flows,
            goodput: Goodput::default(),
            interrupted,
            stopped_by: info.stopped_by,
            tool_errors,
            backoff: Backoff {
                waits: rec.backoffs,
                total_s: rec.backoff_total.as_secs_f64(),
            },
            thresholds: Vec::new(),
            verdict: Verdict::Failed,
            exit_code: Verdict::Failed.exit_code(),
            steps,
            iteration: Latency::from_histogram(&rec.iteration),
            iteration_corrected: rec
                .corrected
                .as_ref()
                .map(|c| Latency::from_histogram(&c.iteration)),
            errors: all_errors,
            generator: Generator::of(&rec.lag),
            timeseries: info.timeseries,
            canary: None,
            transcripts_per_kind: rec.transcripts.per_kind,
            transcripts: {
                let mut kept = rec.transcripts.kept.clone();
                super::transcript::keep_first(&mut kept, rec.transcripts.per_kind);
                kept
            },
        }
        .conclude()
    }

    /// Derives what follows from the counts: step and event rates, the verdict and the exit
    /// code. The one place these are computed, for run, probe and merge alike.
    pub fn conclude(mut self) -> Summary {
        let secs = self.elapsed_s.max(1e-9);
        let ended = self.flows.passed.saturating_add(self.flows.failed);
        self.goodput = Goodput {
            per_s: self.flows.good as f64 / secs,
            good_pct: (ended > 0).then(|| self.flows.good as f64 * 100.0 / ended as f64),
        };
        for s in &mut self.steps {
            s.rate_per_s = s.count as f64 / secs;
            for e in &mut s.events {
                e.rate_per_s = e.count as f64 / secs;
            }
        }
        self.verdict = Verdict::judge(
            &self.flows,
            &self.steps,
            &self.errors,
            &self.tool_errors,
            &self.thresholds,
            self.stopped_by,
            self.mode,
        );
        if let Some(c) = &mut self.canary {
            c.conclude(self.elapsed_s);
            self.verdict = c.judge(self.verdict, &self.thresholds);
        }
        self.exit_code = self.verdict.exit_code();
        self
    }

    /// Looks a step up by name.
    pub fn step(&self, name: &str) -> Option<&StepSummary> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// The event rows of an exchange step: its expected events, then the noise and error types its
/// lists name (those only when they came).
fn event_rows(
    plan: &Plan,
    rec: &Recorder,
    e: &crate::plan::Expectation,
    secs: f64,
) -> Vec<EventSummary> {
    (e.metric_base..e.metric_base + e.metrics)
        .filter_map(|m| {
            let metric = plan.event_metrics.get(m)?;
            let h = rec.events.get(m)?;
            let stats = rec.event_stats.get(m)?;
            if metric.role != crate::plan::stream::Role::Expected && h.is_empty() {
                return None;
            }
            let corrected = rec.corrected.as_ref().and_then(|c| c.events.get(m));
            Some(EventSummary {
                name: plan.event_name(metric.event).to_string(),
                count: h.len(),
                rate_per_s: h.len() as f64 / secs,
                latency: Latency::from_histogram(h),
                latency_corrected: corrected.map(Latency::from_histogram),
                required: e.expr.required(metric.event),
                role: metric.role.code().to_string(),
                flows: stats.flows,
                per_flow: (stats.flows + stats.zeros > 0)
                    .then(|| Counts::from_histogram(&stats.per_flow_all(), 1.0)),
                bytes: stats.bytes,
                text_chars: stats.chars,
                budget_ms: metric.budget.map(|d| d.as_secs_f64() * 1000.0),
                over_budget: stats.over_budget,
                group_by: metric.group_by.clone(),
                groups: stats
                    .groups
                    .iter()
                    .map(|g| EventGroup {
                        value: g.value.clone(),
                        latency: Latency::from_histogram(&g.latency),
                        bytes: g.bytes,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The stream figures of an exchange step.
fn stream_summary(plan: &Plan, st: &super::stream::StreamRecord) -> StreamSummary {
    let opt = |h: &Histogram<u64>| (!h.is_empty()).then(|| Latency::from_histogram(h));
    StreamSummary {
        first_event: Latency::from_histogram(&st.first_event),
        pairs: st
            .pairs
            .iter()
            .map(|p| GapPair {
                from: plan.event_name(p.from).to_string(),
                to: plan.event_name(p.to).to_string(),
                gaps: Latency::from_histogram(&p.gaps),
            })
            .collect(),
        events_per_flow: Counts::from_histogram(&st.events_per_flow, 1.0),
        bytes_per_flow: Counts::from_histogram(&st.bytes_per_flow, 1.0),
        text: (st.text_chunks > 0).then(|| TextRates {
            chars: st.text_chars,
            chunks: st.text_chunks,
            chars_per_s: Counts::from_histogram(&st.chars_per_s, 1.0),
            chunks_per_s: Counts::from_histogram(&st.chunks_per_ks, 1000.0),
        }),
        tools: st
            .tools
            .iter()
            .map(|t| ToolSummary {
                name: t.name.clone(),
                latency: Latency::from_histogram(&t.latency),
                server: opt(&t.server),
                overhead: opt(&t.overhead),
                server_longer: t.server_longer,
            })
            .collect(),
        tools_unfinished: st.tools_unfinished,
        server_lag: (!st.server_lag.is_empty() || st.stamped_ahead > 0).then(|| ServerLag {
            clock_dependent: true,
            behind: Latency::from_histogram(&st.server_lag),
            ahead: st.stamped_ahead,
            ahead_max_ms: st.ahead_max_us as f64 / 1000.0,
        }),
    }
}

fn load_info(plan: &Plan, shard: crate::shard::Shard) -> LoadInfo {
    use crate::plan::{Arrivals, Model};
    let (model, arrival_rate, arrivals, stages) = match &plan.load.model {
        Model::Closed { stages } => (ModelKind::Closed, None, None, stages.as_slice()),
        Model::Open {
            rate,
            stages,
            arrivals,
        } => (
            ModelKind::Open,
            Some(*rate),
            Some(match arrivals {
                Arrivals::Even => ArrivalsKind::Even,
                Arrivals::Poisson { .. } => ArrivalsKind::Poisson,
            }),
            stages.as_slice(),
        ),
    };
    LoadInfo {
        model,
        users: shard.users(plan.load.users),
        spawn_rate: plan.load.spawn_rate,
        arrival_rate,
        arrivals,
        stages: stages
            .iter()
            .map(|s| StageInfo {
                duration_s: s.duration.as_secs_f64(),
                target: s.target,
            })
            .collect(),
        duration_s: plan.load.duration.map(|d| d.as_secs_f64()),
        iterations: plan.load.iterations,
    }
}

impl Generator {
    pub fn of(lag: &Histogram<u64>) -> Generator {
        let (p99, max) = if lag.is_empty() {
            (0.0, 0.0)
        } else {
            (
                lag.value_at_quantile(0.99) as f64 / 1000.0,
                lag.max() as f64 / 1000.0,
            )
        };
        Generator {
            lag_p99_ms: p99,
            lag_max_ms: max,
            threshold_ms: SATURATION_MS,
            saturated: p99 > SATURATION_MS,
        }
    }
}

impl StepSummary {
    pub fn event(&self, name: &str) -> Option<&EventSummary> {
        self.events.iter().find(|e| e.name == name)
    }
}

/// The `settle` of an exchange step that has one.
fn settle_of(step: &crate::plan::Step) -> Option<std::time::Duration> {
    match &step.kind {
        StepKind::WsExchange(x) => x.expect.as_ref().map(|e| e.settle).filter(|d| !d.is_zero()),
        _ => None,
    }
}

fn error_count(
    step: &str,
    k: &ErrorKind,
    phase: Phase,
    stat: &ErrorStat,
    names: &PlanNames<'_>,
) -> ErrorCount {
    let mut causes: Vec<CauseCount> = stat
        .causes
        .iter()
        .map(|(c, n)| CauseCount {
            cause: c.to_string(),
            count: *n,
        })
        .collect();
    causes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
    ErrorCount {
        step: step.to_string(),
        kind: k.code(),
        phase,
        detail: k.describe(names),
        count: stat.count,
        causes,
        other_causes: stat.other,
    }
}

/// The interrupted flows by place, most frequent first.
fn interrupted_at(plan: &Plan, rec: &Recorder, names: &PlanNames<'_>) -> Vec<InterruptedAt> {
    let mut out: Vec<InterruptedAt> = rec
        .interrupted
        .iter()
        .map(|(at, w)| InterruptedAt {
            step: plan
                .steps
                .get(at.step as usize)
                .map_or_else(|| "?".into(), |s| s.name.clone()),
            after_event: at.after_event.map(|e| names.event(e)),
            count: w.count,
            longest_wait_ms: w.longest.as_secs_f64() * 1000.0,
        })
        .collect();
    sort_interrupted(&mut out);
    out
}

/// Interrupted places, most frequent first (run, probe and merge order them alike).
pub(crate) fn sort_interrupted(places: &mut [InterruptedAt]) {
    places.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.step.cmp(&b.step))
            .then_with(|| a.after_event.cmp(&b.after_event))
    });
}

/// Errors, most frequent first (run, probe and merge order them alike).
pub(crate) fn sort_errors(errors: &mut [ErrorCount]) {
    errors.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.step.cmp(&b.step))
            .then_with(|| a.detail.cmp(&b.detail))
    });
}

impl Verdict {
    /// In order: any failure of the tool itself (a tool error, an `internal` error) is `error`;
    /// nothing succeeded and every error is a connection-level one (refused, DNS, TLS):
    /// `unreachable`; any failed flow or step error: `failed`; at least one flow passed:
    /// `passed`; none did: `interrupted` when a signal stopped the run before any flow
    /// finished, else `failed` (a run that measured nothing never passes).
    pub fn judge(
        flows: &Flows,
        steps: &[StepSummary],
        errors: &[ErrorCount],
        tool_errors: &[ToolError],
        thresholds: &[ThresholdResult],
        stopped_by: StoppedBy,
        mode: Mode,
    ) -> Verdict {
        let any_ok = steps.iter().any(|s| s.ok > 0);
        if !tool_errors.is_empty() || errors.iter().any(|e| e.kind == ErrorCode::Internal) {
            Verdict::Error
        } else if !errors.is_empty() && !any_ok && errors.iter().all(|e| e.kind.is_unreachable()) {
            Verdict::Unreachable
        } else if thresholds.iter().any(|t| !t.passed) {
            Verdict::Breached
        } else if !thresholds.is_empty() && flows.passed > 0 && mode == Mode::Run {
            // (A probe is a smoke check: a failed pass fails it whatever the thresholds say.)
            // Thresholds are the verdict: failed flows are judged by them (`flows.failed_rate`).
            Verdict::Passed
        } else if flows.failed > 0 || !errors.is_empty() {
            Verdict::Failed
        } else if flows.passed > 0 {
            Verdict::Passed
        } else if stopped_by == StoppedBy::Signal {
            Verdict::Interrupted
        } else {
            Verdict::Failed
        }
    }
}
