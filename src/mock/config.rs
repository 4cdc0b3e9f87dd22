//! Mock target configuration: the `mock` flags (each also read from an env var) as typed values.
//!
//! Design choice: every knob is a type (`Duration`, enums, `Fault`), parsed once by clap or built in
//! code from `Default`; secrets are wrapped in `Secret` so `Debug` and `--help` never show them.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::faults::Fault;
use crate::duration::parse_duration;

/// Flags of the built-in mock target (`load-tester mock ...`).
#[derive(clap::Args, Debug, Clone)]
pub struct MockConfig {
    /// Address to listen on (port 0 picks a free port). Repeat it, or separate with commas, to
    /// listen on several addresses or ports (many connections need many address pairs).
    #[arg(
        long,
        env = "LOAD_TESTER_MOCK_LISTEN",
        value_delimiter = ',',
        default_value = "127.0.0.1:8000"
    )]
    pub listen: Vec<SocketAddr>,

    /// HS256 secret used to sign and verify JWTs; a random 32-byte secret when absent.
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Key expected in `X-E2E-Bypass-Key` by `POST /auth/e2e/test-auth` (route answers 503 without it).
    #[arg(long, env = "E2E_OAUTH_SIMULATION_KEY", hide_env_values = true)]
    pub e2e_key: Option<Secret>,

    /// Server environment: dev login only in development/test, e2e auth refused in production.
    #[arg(
        long,
        env = "LOAD_TESTER_MOCK_ENVIRONMENT",
        default_value = "development"
    )]
    pub environment: String,

    /// WebSocket handshake generation: `none` (Gen A welcome only) or `phased` (Gen B).
    #[arg(long, env = "LOAD_TESTER_MOCK_HANDSHAKE", value_enum, default_value_t = Handshake::None)]
    pub handshake: Handshake,

    /// Layout of agent event frames.
    #[arg(long, env = "LOAD_TESTER_MOCK_ENVELOPE", value_enum, default_value_t = Envelope::Data)]
    pub envelope: Envelope,

    /// `agent_thinking` events per flow (at least 1), each with a `reasoning` of exactly 40
    /// ASCII characters; `agent_completed` has a `final_response` of 42.
    #[arg(long, env = "LOAD_TESTER_MOCK_THINKING", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub thinking: u32,

    /// `tool_executing`/`tool_completed` pairs per flow.
    #[arg(long, env = "LOAD_TESTER_MOCK_TOOLS", default_value_t = 1)]
    pub tools: u32,

    /// Tool names, used in turn: the i-th tool call of a flow (0-based) is named
    /// `names[i % len]`, e.g. `--tool-names cost_query,web_search`.
    #[arg(
        long,
        env = "LOAD_TESTER_MOCK_TOOL_NAMES",
        value_delimiter = ',',
        default_value = "cost_query,web_search,doc_lookup",
        value_name = "NAMES",
        value_parser = parse_tool_name
    )]
    pub tool_names: Vec<String>,

    /// Time each tool takes: `tool_completed` is sent this long (plus `--jitter`) after its
    /// `tool_executing`, e.g. `--tool-time 50ms` [default: the `--delay`, as for every event].
    /// Either way its `duration` and `execution_time_ms` report the milliseconds the mock
    /// measured between sending the two frames (a whole number, as the platform does).
    #[arg(long, env = "LOAD_TESTER_MOCK_TOOL_TIME", value_parser = parse_duration, value_name = "DURATION")]
    pub tool_time: Option<Duration>,

    /// `stream_chunk` events per flow, between the last tool and `agent_completed`, each with
    /// exactly 40 ASCII characters of `content`, e.g. `--chunks 5`.
    #[arg(long, env = "LOAD_TESTER_MOCK_CHUNKS", default_value_t = 0)]
    pub chunks: u32,

    /// Form of each agent event's `timestamp`: `iso` (`2026-12-06T04:33:08.123456+00:00`, as the
    /// platform's Python writes it), `iso-ms` (`2026-12-06T04:33:08.123Z`) or `epoch` (float
    /// seconds, `1796531588.123456`), e.g. `--timestamps epoch`.
    #[arg(long, env = "LOAD_TESTER_MOCK_TIMESTAMPS", value_enum, default_value_t = Timestamps::Iso)]
    pub timestamps: Timestamps,

    /// Sleep before each agent event, e.g. `20ms`, `1.5s`, `2m`, `3` (seconds).
    #[arg(long, env = "LOAD_TESTER_MOCK_DELAY", default_value = "0", value_parser = parse_duration)]
    pub delay: Duration,

    /// Uniform random extra delay in `[0, jitter)` added to each event delay.
    #[arg(long, env = "LOAD_TESTER_MOCK_JITTER", default_value = "0", value_parser = parse_duration)]
    pub jitter: Duration,

    /// Fault to inject: drop:EVENT, reorder, agent-error, close:CODE, stall[:DURATION], non-json,
    /// login-401, slowdown:after=DURATION,delay=DURATION (flows started after that time wait
    /// that long before their first event).
    #[arg(long, env = "LOAD_TESTER_MOCK_FAULT")]
    pub fault: Option<Fault>,

    /// Fraction of flows (or logins for login-401) that get the fault, 0..=1; exact, not random.
    #[arg(long, env = "LOAD_TESTER_MOCK_FAULT_RATE", default_value = "1.0", value_parser = parse_rate)]
    pub fault_rate: f64,

    /// Lifetime of the access tokens it issues [default: 30m, as staging]. When given, expiry is
    /// enforced to the second (no leeway): a token past its `exp` is refused at the WebSocket
    /// upgrade, so runs longer than the lifetime test token refresh.
    #[arg(long, env = "LOAD_TESTER_MOCK_TOKEN_LIFETIME", value_parser = parse_duration, value_name = "DURATION")]
    pub token_lifetime: Option<Duration>,

    /// Concurrent WebSockets allowed per user (JWT `sub`); 0 = unlimited.
    #[arg(
        long,
        env = "LOAD_TESTER_MOCK_MAX_CONNECTIONS_PER_USER",
        default_value_t = 0
    )]
    pub max_connections_per_user: u32,

    /// Listen with SO_REUSEPORT, so that several mock processes share the addresses.
    #[arg(skip)]
    pub reuse_port: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8000))],
            jwt_secret: None,
            e2e_key: None,
            environment: "development".into(),
            handshake: Handshake::None,
            envelope: Envelope::Data,
            thinking: 2,
            tools: 1,
            tool_names: DEFAULT_TOOL_NAMES.iter().map(|n| n.to_string()).collect(),
            tool_time: None,
            chunks: 0,
            timestamps: Timestamps::Iso,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            fault: None,
            fault_rate: 1.0,
            token_lifetime: None,
            max_connections_per_user: 0,
            reuse_port: false,
        }
    }
}

impl MockConfig {
    /// Checks what clap checks, for configs built in code. Returns a human-readable reason.
    pub fn validate(&self) -> Result<(), String> {
        if self.thinking == 0 {
            return Err("thinking must be at least 1".into());
        }
        if self.tool_names.is_empty() || self.tool_names.iter().any(|n| n.trim().is_empty()) {
            return Err(format!(
                "tool names {:?}: every name must be non-empty (e.g. cost_query,web_search)",
                self.tool_names.join(",")
            ));
        }
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(format!("fault rate {} is not in 0..=1", self.fault_rate));
        }
        if self
            .token_lifetime
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err("token lifetime must be at least 1s (JWT times are whole seconds)".into());
        }
        Ok(())
    }

    /// Dev login is only served in these environments (protocol.md §2.1).
    pub(crate) fn dev_login_allowed(&self) -> bool {
        let env = self.environment.to_ascii_lowercase();
        env == "development" || env == "test"
    }

    pub(crate) fn is_production(&self) -> bool {
        self.environment.eq_ignore_ascii_case("production")
    }
}

/// The default `--tool-names`.
pub const DEFAULT_TOOL_NAMES: [&str; 3] = ["cost_query", "web_search", "doc_lookup"];

/// Form of the agent events' `timestamp` (protocol.md §5 E1: ISO string or float).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// ISO-8601 UTC with microseconds and `+00:00` (Python's `isoformat()`); the default.
    #[default]
    Iso,
    /// ISO-8601 UTC with milliseconds and `Z` (JavaScript's `toISOString()`).
    IsoMs,
    /// Seconds since the Unix epoch as a float (Python's `time.time()`).
    Epoch,
}

/// WebSocket handshake generation (protocol.md §3.3).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handshake {
    /// Gen A: one `connection_established` frame, then messages are accepted at once.
    #[default]
    None,
    /// Gen B: `handshake_response`, client `handshake_acknowledged`, then `handshake_complete`.
    Phased,
}

/// Layout of agent event frames (protocol.md §5).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// E1: all fields at top level plus `"critical": true`.
    Flat,
    /// E2: `{type, run_id, thread_id, user_id, agent_name, timestamp, data:{...}}`.
    #[default]
    Data,
    /// Frontend form: `{type, payload:{...}}`.
    Payload,
    /// E3: `{"type":"system_message","data":{"event":<type>,"type":<type>,...}}`.
    SystemMessage,
}

/// A secret string: usable, but never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// 32 random bytes, hex-encoded (so it can be handed on in an environment variable).
    pub fn random() -> Secret {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Secret(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// One `--tool-names` entry: a non-empty name without surrounding spaces.
pub fn parse_tool_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name.is_empty() {
        return Err(
            "a tool name is empty: give names separated by commas, e.g. cost_query,web_search"
                .into(),
        );
    }
    Ok(name.to_string())
}

/// Parses a fraction in `0..=1`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("invalid rate {s:?}: expected a number in 0..=1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_defaults() {
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("nan").is_err());
        assert!(MockConfig::default().validate().is_ok());
        let bad = MockConfig {
            thinking: 0,
            ..MockConfig::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn clap_defaults_match_default_impl() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            mock: MockConfig,
        }
        let cli = Cli::try_parse_from(["x"]).expect("defaults parse");
        let d = MockConfig::default();
        assert_eq!(cli.mock.listen, d.listen);
        assert_eq!(cli.mock.thinking, d.thinking);
        assert_eq!(cli.mock.tools, d.tools);
        assert_eq!(cli.mock.delay, d.delay);
        assert_eq!(cli.mock.fault_rate, d.fault_rate);
        assert_eq!(cli.mock.envelope, d.envelope);
        assert_eq!(cli.mock.handshake, d.handshake);
        assert!(format!("{:?}", Secret::from("hunter2"))
            .find("hunter2")
            .is_none());
        let cli = Cli::try_parse_from(["x", "--fault", "close:1011", "--fault-rate", "0.5"])
            .expect("fault parses");
        assert_eq!(cli.mock.fault, Some(Fault::Close(1011)));
    }

    #[test]
    fn stream_depth_flags_parse() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            mock: MockConfig,
        }
        let d = Cli::try_parse_from(["x"]).expect("defaults parse").mock;
        let def = MockConfig::default();
        assert_eq!(d.tool_names, ["cost_query", "web_search", "doc_lookup"]);
        assert_eq!(
            (d.tool_names, d.tool_time, d.chunks, d.timestamps),
            (def.tool_names, def.tool_time, def.chunks, def.timestamps)
        );
        let c = Cli::try_parse_from([
            "x",
            "--tool-names",
            "web_search, cost_query",
            "--tool-time",
            "50ms",
            "--chunks",
            "4",
            "--timestamps",
            "epoch",
        ])
        .expect("flags parse")
        .mock;
        assert_eq!(c.tool_names, ["web_search", "cost_query"]);
        assert_eq!(c.tool_time, Some(Duration::from_millis(50)));
        assert_eq!((c.chunks, c.timestamps), (4, Timestamps::Epoch));
        let iso_ms = Cli::try_parse_from(["x", "--timestamps", "iso-ms"]).expect("iso-ms");
        assert_eq!(iso_ms.mock.timestamps, Timestamps::IsoMs);
        for bad in [
            &["x", "--tool-names", "a,,b"][..],
            &["x", "--tool-names", ""],
            &["x", "--timestamps", "unix"],
            &["x", "--tool-time", "soon"],
            &["x", "--chunks", "lots"],
        ] {
            let e = Cli::try_parse_from(bad).err().expect("refused").to_string();
            assert!(e.contains(bad[1]), "{bad:?}: {e}");
        }
        let e = Cli::try_parse_from(["x", "--tool-names", "a,,b"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("a tool name is empty"), "{e}");
        let none = MockConfig {
            tool_names: Vec::new(),
            ..MockConfig::default()
        };
        assert!(none.validate().unwrap_err().contains("tool names"));
    }
}
