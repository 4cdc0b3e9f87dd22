//! The compiled, immutable scenario: what the runner executes, built once by `scenario::compile`.
//!
//! Everything here is resolved ahead of time: step names are numbered, templates are pre-split,
//! event types are interned to `EventId`s and expectations compiled, so the hot path never looks a
//! string up in a map or re-parses anything. A `Plan` is shared read-only (`Arc<Plan>`) by all workers.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub mod expect;
pub mod feeder;
pub mod limits;
pub mod stream;
pub mod template;
pub mod threshold;

use self::expect::Expr;
use self::template::Template;

pub use stream::{EventMetric, MetricId};

/// Index of a step in `Plan::steps` (setup steps first, then iteration steps).
pub type StepId = u16;
/// Index of an interned event type name in `Plan::events`.
pub type EventId = u16;
/// Index of a scenario variable in `Plan::vars`.
pub type VarId = u16;

/// An event as seen in an error: a type the plan knows, or one it does not (interned per
/// recorder). Serialized only in `--processes` interval records (`metrics::record`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EventRef {
    Known(EventId),
    /// Index into the recorder's table of unknown event type names.
    Unknown(u32),
    /// A frame whose type could not be read (not JSON, no `type` field).
    Unreadable,
    /// An unknown type after the recorder's table of names was full (`MAX_UNKNOWN_EVENTS`).
    OtherUnknown,
}

/// A place in a scenario file, for error messages: `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file.display());
        }
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// The whole compiled scenario.
#[derive(Debug)]
pub struct Plan {
    pub name: String,
    pub source: PathBuf,
    /// Digest of the scenario's source text (`scenario::digest`): results of different scenario
    /// files never merge.
    pub digest: String,
    pub target: Target,
    pub load: LoadProfile,
    /// All steps: `steps[..setup_len]` run once per user, the rest every iteration.
    pub steps: Vec<Step>,
    pub setup_len: usize,
    /// Interned event type names; `EventId` indexes this.
    pub events: Vec<String>,
    /// Variables: name and default value (None: unset until extracted or captured).
    pub vars: Vec<VarDecl>,
    /// Per-event metrics: one entry per (exchange step, event in its expression's alphabet, then
    /// each event type its `ignore` and `fail_on` name without wildcards). `MetricId` indexes it.
    pub event_metrics: Vec<EventMetric>,
    /// How event types are read from WebSocket frames.
    pub envelope: Envelope,
    /// Source addresses for outgoing connections (`--local-addrs`); user `u` uses
    /// `local_addrs[u % len]`. Empty: the system chooses.
    pub local_addrs: Vec<std::net::IpAddr>,
    /// Self-test only (`--self-test-panic`): make the tool itself fail here, to prove that such
    /// a failure is counted and reported, never hidden. `None` in every real run.
    pub self_test_panic: Option<SelfTestPanic>,
    /// Environment variables the scenario reads that were not set, without default (only when
    /// compiled for `validate`; a run refuses them). Sorted, each once.
    pub unset_env: Vec<String>,
    /// Run the setup again before a flow when a JWT among the session's variables is about to
    /// expire (`--token-refresh`, on by default; see `runner::token`).
    pub token_refresh: bool,
    /// Failing flows whose frames are kept, per error kind (`--transcripts`; 0: none recorded).
    pub transcripts: u32,
    /// Values the scenario's templates take from the environment (`{{env.NAME}}`): treated as
    /// secrets, masked wherever a transcript would show them. Each once.
    pub secrets: Secrets,
    /// The scenario's `[thresholds]`, in file order (flags add theirs when a command runs).
    pub thresholds: Vec<threshold::Threshold>,
    /// `[data]`: the rows read once from the data file, shared by every user (`plan::feeder`).
    pub feeder: Option<std::sync::Arc<feeder::Feeder>>,
}

/// Secret values the scenario reads (environment values, a jwt key): usable as a slice, never
/// shown by `{:?}` (a debug print of the plan says how many there are, not what they are).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(pub Vec<String>);

impl std::ops::Deref for Secrets {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} values, masked)", self.0.len())
    }
}

/// Where `--self-test-panic` makes the tool panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfTestPanic {
    /// In a user's flow, when it starts this step.
    Step(String),
    /// In worker thread 0, before it runs any user.
    Worker,
}

impl std::str::FromStr for SelfTestPanic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("step", name)) if !name.is_empty() => Ok(SelfTestPanic::Step(name.into())),
            None if s == "worker" => Ok(SelfTestPanic::Worker),
            _ => Err(format!("'{s}': use step:NAME or worker")),
        }
    }
}

impl Plan {
    pub fn setup(&self) -> &[Step] {
        &self.steps[..self.setup_len]
    }
    pub fn iteration(&self) -> &[Step] {
        &self.steps[self.setup_len..]
    }
    pub fn event_name(&self, id: EventId) -> &str {
        self.events
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
    /// One line saying which URL `which` is, where it came from and how to override it, e.g.
    /// `auth_url http://localhost:8081 from scenarios/golden-path.toml:10 ([target].auth_url);
    /// override with --auth-url or AUTH_URL`.
    pub fn where_from(&self, which: TargetUrl) -> String {
        self.target.where_from(which)
    }

    /// Looks an event type up by name (linear: a plan interns a few dozen names at most).
    pub fn event_id(&self, name: &str) -> Option<EventId> {
        self.events
            .iter()
            .position(|n| n == name)
            .map(|i| i as EventId)
    }
}

#[derive(Debug, Clone)]
pub struct VarDecl {
    pub name: String,
    pub default: Option<String>,
    /// Secret variables (from a secret env var) are never printed.
    pub secret: bool,
}

/// Where the scenario points. URLs are resolved (flags/env over file) before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Backend base URL, e.g. `http://localhost:8000` (no trailing slash).
    pub base_url: String,
    /// Auth service base URL.
    pub auth_url: String,
    /// WebSocket base URL derived from `base_url` (http→ws, https→wss) unless set explicitly.
    pub ws_url: String,
    /// Where each of the three came from, for messages about them.
    pub sources: UrlSources,
}

impl Target {
    /// One of the three URLs.
    pub fn url(&self, which: TargetUrl) -> &str {
        match which {
            TargetUrl::Base => &self.base_url,
            TargetUrl::Auth => &self.auth_url,
            TargetUrl::Ws => &self.ws_url,
        }
    }

    /// Where one of the three URLs came from.
    pub fn source(&self, which: TargetUrl) -> &UrlSource {
        match which {
            TargetUrl::Base => &self.sources.base_url,
            TargetUrl::Auth => &self.sources.auth_url,
            TargetUrl::Ws => &self.sources.ws_url,
        }
    }

    /// One line saying which URL `which` is, where it came from and how to override it, e.g.
    /// `auth_url http://localhost:8081 from scenarios/golden-path.toml:10 ([target].auth_url);
    /// override with --auth-url or AUTH_URL`.
    pub fn where_from(&self, which: TargetUrl) -> String {
        self.where_from_noting(which, "")
    }

    /// As `where_from`, with `note` (e.g. ` (ws_url follows it)`) after where it came from.
    pub fn where_from_noting(&self, which: TargetUrl, note: &str) -> String {
        let mut out = format!("{} {}", which.key(), self.url(which));
        match self.source(which) {
            UrlSource::Derived(from) => {
                out.push_str(&format!(" derived from {}", from.key()));
                match self.source(*from) {
                    UrlSource::Derived(_) => {}
                    src => out.push_str(&format!(", which is from {src}")),
                }
            }
            UrlSource::Default => out.push_str(" (the built-in default)"),
            src => out.push_str(&format!(" from {src}")),
        }
        out.push_str(note);
        if *self.source(which) != UrlSource::Mock {
            out.push_str(&format!(
                "; override with {} or {}",
                which.flag(),
                which.env()
            ));
        }
        out
    }
}

/// One of the three URLs of `[target]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetUrl {
    Base,
    Auth,
    Ws,
}

impl TargetUrl {
    pub const ALL: [TargetUrl; 3] = [TargetUrl::Base, TargetUrl::Auth, TargetUrl::Ws];

    /// The key in `[target]` and the template name (`{{base_url}}`).
    pub fn key(self) -> &'static str {
        match self {
            TargetUrl::Base => "base_url",
            TargetUrl::Auth => "auth_url",
            TargetUrl::Ws => "ws_url",
        }
    }

    /// The flag that overrides it (a test checks these against `cli`).
    pub fn flag(self) -> &'static str {
        match self {
            TargetUrl::Base => "--target",
            TargetUrl::Auth => "--auth-url",
            TargetUrl::Ws => "--ws-url",
        }
    }

    /// The environment variable that overrides it (a test checks these against `cli`).
    pub fn env(self) -> &'static str {
        match self {
            TargetUrl::Base => "TARGET_URL",
            TargetUrl::Auth => "AUTH_URL",
            TargetUrl::Ws => "LOAD_TESTER_WS_URL",
        }
    }
}

/// Where a target URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// The scenario's `[target].<field>`, at `place`.
    Scenario { place: Place, field: &'static str },
    /// A command-line flag, e.g. `--target`.
    Flag(&'static str),
    /// An environment variable, e.g. `TARGET_URL`.
    Env(&'static str),
    /// Derived from another target URL (`auth_url` and `ws_url` follow `base_url`).
    Derived(TargetUrl),
    /// The built-in default (`http://localhost:8000`).
    Default,
    /// The built-in mock started by `--mock`.
    Mock,
}

impl UrlSource {
    /// A value given by `flag` or, when the flag was not on the command line, by `env`.
    pub fn flag_or_env(flag: &'static str, env: &'static str, was_flag_given: bool) -> UrlSource {
        if was_flag_given {
            UrlSource::Flag(flag)
        } else {
            UrlSource::Env(env)
        }
    }

    /// Whether this URL was given on the command line or by an environment variable.
    pub fn is_override(&self) -> bool {
        matches!(
            self,
            UrlSource::Flag(_) | UrlSource::Env(_) | UrlSource::Mock
        )
    }
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::Scenario { place, field } => {
                write!(f, "{}", place.file.display())?;
                if place.line > 0 {
                    write!(f, ":{}", place.line)?;
                }
                write!(f, " ([target].{field})")
            }
            UrlSource::Flag(flag) => f.write_str(flag),
            UrlSource::Env(name) => write!(f, "env {name}"),
            UrlSource::Derived(from) => write!(f, "{}", from.key()),
            UrlSource::Default => f.write_str("the built-in default"),
            UrlSource::Mock => f.write_str("the built-in mock (--mock)"),
        }
    }
}

/// Where each target URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSources {
    pub base_url: UrlSource,
    pub auth_url: UrlSource,
    pub ws_url: UrlSource,
}

impl Default for UrlSources {
    fn default() -> Self {
        UrlSources {
            base_url: UrlSource::Default,
            auth_url: UrlSource::Derived(TargetUrl::Base),
            ws_url: UrlSource::Derived(TargetUrl::Base),
        }
    }
}

/// The load profile: closed model (users iterate; Locust's users + spawn rate, or k6-style
/// stages of users) or open model (flows start at an arrival rate from a pool of users).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadProfile {
    /// Closed model: concurrent users (the peak, with stages). Open model: the pool, i.e. the most
    /// flows in flight at once.
    pub users: u32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// Stop starting iterations after this long (measured from the run start).
    pub duration: Option<Duration>,
    /// Iterations per user; `None` means until `duration`.
    pub iterations: Option<u64>,
    /// Time given to in-flight iterations when the run ends or is interrupted.
    pub graceful_stop: Duration,
    /// Open model: an arrival that waited longer than this for a free user is dropped.
    pub max_lateness: Duration,
    pub model: Model,
    /// Closed model: the pause after failed iterations.
    pub backoff: Backoff,
}

/// Exponential backoff with jitter after a failed iteration (closed model): `base` after the
/// first failure, doubling with each further failure in a row up to `max`; a passed iteration
/// resets it. `base` zero turns it off. The open model needs none: its schedule bounds the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

impl LoadProfile {
    pub fn is_open(&self) -> bool {
        matches!(self.model, Model::Open { .. })
    }
}

/// How load is generated.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Users iterate back to back. Without stages: `users` started at `spawn_rate`. With stages: the
    /// number of active users ramps linearly from 0 through each stage's target.
    Closed { stages: Vec<Stage> },
    /// Flows start on a schedule, independent of how long flows take: `rate` flows per second,
    /// ramping through `stages` when given.
    Open {
        rate: f64,
        stages: Vec<Stage>,
        arrivals: Arrivals,
    },
}

/// One stage of a ramp: reach `target` (users, or flows per second) linearly over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// How open-model arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// Evenly spaced.
    Even,
    /// A Poisson process (exponential gaps), reproducible from the seed.
    Poisson { seed: u64 },
}

#[derive(Debug)]
pub struct Step {
    pub id: StepId,
    pub name: String,
    pub place: Place,
    pub kind: StepKind,
}

#[derive(Debug)]
pub enum StepKind {
    Http(HttpStep),
    WsConnect(WsConnect),
    /// Boxed: its expectation (DFA, event table) is by far the largest step.
    WsExchange(Box<WsExchange>),
    WsClose(WsClose),
    Think(Think),
    Jwt(JwtStep),
}

impl StepKind {
    pub fn label(&self) -> &'static str {
        match self {
            StepKind::Http(_) => "http",
            StepKind::WsConnect(_) => "ws.connect",
            StepKind::WsExchange(_) => "ws.exchange",
            StepKind::WsClose(_) => "ws.close",
            StepKind::Think(_) => "think",
            StepKind::Jwt(_) => "jwt",
        }
    }
}

#[derive(Debug)]
pub struct HttpStep {
    pub method: http::Method,
    pub url: Template,
    /// The target URL the step's URL starts with (`{{auth_url}}/...`), for messages.
    pub url_from: Option<TargetUrl>,
    pub headers: Vec<(http::HeaderName, Template)>,
    pub body: Option<Body>,
    /// Accepted statuses; empty means any 2xx.
    pub expect_status: Vec<u16>,
    /// Variables taken from the JSON response body by JSON pointer.
    pub extract: Vec<Extract>,
    pub timeout: Duration,
    /// Response limits (`http.max_body`, `http.max_header_size`, `http.max_headers`).
    pub limits: limits::Limits,
}

/// `jwt`: signs the rendered claims into a variable (HS* with a secret, RS* with a PEM key).
pub struct JwtStep {
    /// HS256/384/512 or RS256/384/512.
    pub alg: jsonwebtoken::Algorithm,
    /// From the environment; never printed (`Debug` shows the algorithm only).
    pub key: jsonwebtoken::EncodingKey,
    /// A JSON object template: strings are rendered, numbers and booleans stay as written.
    pub claims: Template,
    /// When given, `iat` (now) and `exp` (now + this) are added to the claims.
    pub expires_in: Option<Duration>,
    /// The variable that gets the token.
    pub into: VarId,
}

impl fmt::Debug for JwtStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtStep")
            .field("alg", &self.alg)
            .field("key", &"***")
            .field("claims", &self.claims)
            .field("expires_in", &self.expires_in)
            .field("into", &self.into)
            .finish()
    }
}

#[derive(Debug)]
pub enum Body {
    /// A JSON document; variables inside strings are JSON-escaped. Sets `content-type: application/json`.
    Json(Template),
    /// Raw text as written.
    Raw(Template),
}

#[derive(Debug, Clone)]
pub struct Extract {
    pub var: VarId,
    /// RFC 6901 JSON pointer, e.g. `/access_token`.
    pub pointer: String,
}

#[derive(Debug)]
pub struct WsConnect {
    /// Full URL, query included (`query` entries are appended, URL-encoded).
    pub url: Template,
    /// The target URL the step's URL starts with (`{{ws_url}}/...`), for messages.
    pub url_from: Option<TargetUrl>,
    pub query: Vec<(String, Template)>,
    pub subprotocols: Vec<Template>,
    pub headers: Vec<(http::HeaderName, Template)>,
    pub timeout: Duration,
    /// Auto-replies active while the socket is open (checked on every frame read).
    pub responders: Vec<Responder>,
    /// Largest WebSocket message (and frame) either way, in bytes (`ws.max_message`).
    pub max_message: usize,
}

#[derive(Debug)]
pub struct Responder {
    pub on: EventId,
    /// JSON template sent back, rendered after `capture` ran (so it can use the captured values).
    pub send: Option<Template>,
    pub capture: Vec<Extract>,
}

#[derive(Debug)]
pub struct WsExchange {
    /// JSON template to send first (optional).
    pub send: Option<Template>,
    pub expect: Option<Expectation>,
}

#[derive(Debug)]
pub struct Expectation {
    pub expr: Expr,
    /// Glob patterns of event types that are skipped.
    pub ignore: Vec<wildmatch::WildMatch>,
    /// Glob patterns of event types that fail the step at once.
    pub fail_on: Vec<wildmatch::WildMatch>,
    /// What to do with an event that is neither in the expression, nor ignored, nor fail-on.
    pub unlisted: Unlisted,
    pub first_event_within: Option<Duration>,
    pub max_gap: Option<Duration>,
    /// Total deadline from the send (or step start).
    pub within: Duration,
    /// When the expression is matched but could still be extended (trailing `?`/`*`), wait this
    /// long for more before completing. Zero: complete as soon as matched.
    pub settle: Duration,
    /// Captures: when an event of that type arrives, extract fields (merged top ∪ payload ∪ data).
    pub captures: Vec<(EventId, Extract)>,
    /// Offset of this step's first entry in `Plan::event_metrics`; entries follow in
    /// `expr.alphabet()` order, then the types `ignore` and `fail_on` name literally.
    pub metric_base: usize,
    /// How many entries of `Plan::event_metrics` are this step's (from `metric_base`).
    pub metrics: usize,
    /// Every event type the step knows, resolved: one lookup per frame.
    pub table: stream::EventTable,
    /// How tool calls are paired and timed (when the step's events include both ends).
    pub tools: Option<stream::ToolSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlisted {
    Fail,
    Ignore,
}

#[derive(Debug)]
pub struct WsClose {
    pub code: u16,
    /// Bound on the closing handshake (`ws.timeout`, default 5 s).
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct Think {
    pub min: Duration,
    pub max: Duration,
}

/// How the event type is read from a frame. The default matches docs/protocol.md §5: top-level
/// `type`; wrappers such as `system_message` name the event in `data.event` (or `data.type`).
#[derive(Debug, Clone)]
pub struct Envelope {
    pub wrappers: Vec<String>,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            wrappers: vec![
                "system_message".into(),
                "agent_progress".into(),
                "agent_response_complete".into(),
            ],
        }
    }
}

#[cfg(test)]
mod layering {
    /// The plan is the bottom layer: its files use nothing of the crate but themselves and the
    /// `size` helpers, so `scenario`, `metrics`, `thresholds`, `transport` and `runner` depend on
    /// it and never the other way round (no import circle).
    #[test]
    fn the_plan_imports_nothing_above_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.join("plan.rs")];
        for entry in std::fs::read_dir(dir.join("plan")).expect("src/plan") {
            files.push(entry.expect("an entry").path());
        }
        for f in &files {
            let text = std::fs::read_to_string(f).expect("readable");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                let mut rest = line;
                while let Some(at) = rest.find("crate::") {
                    let path = &rest[at + "crate::".len()..];
                    assert!(
                        path.starts_with("plan") || path.starts_with("size::"),
                        "{}:{}: {line}",
                        f.display(),
                        n + 1
                    );
                    rest = &path[1..];
                }
            }
        }
        assert!(files.len() >= 6, "{files:?}");
    }
}
