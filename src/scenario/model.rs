//! serde mirror of a scenario file: shapes and types only; `compile` checks what they mean.
//!
//! Every field is optional here so that a missing one is reported by `compile` in its own words,
//! and values with several spellings (`think = "1s"` or `{ min, max }`) have small hand-written
//! visitors instead of `untagged` enums, whose errors name no variant. Each section and each step
//! is deserialized on its own, so one bad step does not hide the others; places come from the
//! TOML tree (`scenario::source`), not from this mirror.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// `[target]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with base_url, auth_url, ws_url"
)]
pub struct Target {
    pub base_url: Option<String>,
    pub auth_url: Option<String>,
    pub ws_url: Option<String>,
}

/// `[load]`. Integers are read signed so that `users = -1` gets our message, not serde's.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with users, spawn_rate, duration, iterations, graceful_stop, \
                 arrival_rate, max_users, arrivals, seed, stages"
)]
pub struct Load {
    pub users: Option<i64>,
    pub spawn_rate: Option<f64>,
    pub duration: Option<DurationSrc>,
    pub iterations: Option<i64>,
    pub graceful_stop: Option<DurationSrc>,
    /// Open model: flows started per second.
    pub arrival_rate: Option<f64>,
    /// Open model: the pool of users (most flows in flight).
    pub max_users: Option<i64>,
    /// Open model: "even" or "poisson".
    pub arrivals: Option<String>,
    /// Seed of the Poisson arrivals.
    pub seed: Option<i64>,
    /// Ramp: users (closed model) or flows per second (open model).
    pub stages: Option<Vec<StageSrc>>,
    /// Open model: longest an arrival may wait for a free user before it is dropped.
    pub max_lateness: Option<DurationSrc>,
}

/// One `{ duration = "30s", target = 100 }` of `load.stages`.
#[derive(Debug, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table { duration = \"30s\", target = 100 }"
)]
pub struct StageSrc {
    pub duration: DurationSrc,
    pub target: f64,
}

/// `[data]`: the credential feeder (`scenario::data`, `plan::feeder`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with file, format, mode, secret, seed"
)]
pub struct Data {
    /// Relative to the scenario file.
    pub file: Option<String>,
    /// "csv" or "jsonl" (default: from the file's extension).
    pub format: Option<String>,
    /// "sequential", "unique" or "random".
    pub mode: Option<String>,
    /// Columns whose values are never printed.
    pub secret: Option<Vec<String>>,
    /// Seed of `random` rows (default: `load.seed`, else 1).
    pub seed: Option<i64>,
}

/// One `[[setup]]` or `[[steps]]` entry.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a step table")]
pub struct Step {
    pub name: Option<String>,
    pub http: Option<Http>,
    pub ws: Option<Ws>,
    pub think: Option<ThinkSrc>,
    pub jwt: Option<Jwt>,
}

/// `jwt.*` of a step: mint a signed token into a variable.
#[derive(Debug, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with alg, key, claims, expires_in, into"
)]
pub struct Jwt {
    pub alg: Option<String>,
    /// Must be `{{env.NAME}}`: a key written in the file is refused.
    pub key: Option<String>,
    pub claims: Option<JsonSrc>,
    pub expires_in: Option<DurationSrc>,
    pub into: Option<String>,
}

/// `http.*` of a step.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of http.* keys")]
pub struct Http {
    pub method: Option<String>,
    pub url: Option<String>,
    pub headers: Option<Entries<String>>,
    pub json: Option<JsonSrc>,
    pub body: Option<String>,
    pub status: Option<StatusSrc>,
    pub extract: Option<Entries<String>>,
    pub timeout: Option<DurationSrc>,
    /// Response limits: body bytes, head bytes, header lines.
    pub max_body: Option<SizeSrc>,
    pub max_header_size: Option<SizeSrc>,
    pub max_headers: Option<i64>,
}

/// `ws.*` of a step: one table for the three WebSocket step kinds (connect, exchange, close);
/// `compile` decides which one it is and which keys may go with it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of ws.* keys")]
pub struct Ws {
    pub connect: Option<String>,
    pub subprotocols: Option<Vec<String>>,
    pub headers: Option<Entries<String>>,
    pub query: Option<Entries<String>>,
    pub timeout: Option<DurationSrc>,
    pub respond: Option<Vec<Respond>>,
    pub send: Option<JsonSrc>,
    pub expect: Option<String>,
    pub ignore: Option<Vec<String>>,
    pub fail_on: Option<Vec<String>>,
    pub unlisted: Option<String>,
    pub first_event_within: Option<DurationSrc>,
    pub max_gap: Option<DurationSrc>,
    pub within: Option<DurationSrc>,
    pub settle: Option<DurationSrc>,
    pub capture: Option<Entries<Capture>>,
    /// event type = duration: the first occurrence's time-from-send budget (goodput).
    pub budgets: Option<Entries<DurationSrc>>,
    /// event type = JSON pointer: that event's occurrences are also counted per field value.
    pub group_by: Option<Entries<String>>,
    /// JSON pointer to the server-reported tool duration (ms) in a `tool_completed` event.
    pub tool_duration: Option<String>,
    pub close: Option<CloseSrc>,
    pub max_message: Option<SizeSrc>,
}

/// One `ws.respond` entry: an auto-reply.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with on, send, capture")]
pub struct Respond {
    pub on: Option<String>,
    pub send: Option<JsonSrc>,
    /// variable = JSON pointer
    pub capture: Option<Entries<String>>,
}

/// One `ws.capture` entry.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with event and pointer")]
pub struct Capture {
    pub event: Option<String>,
    pub pointer: Option<String>,
}

/// A TOML table kept in file order (keys are looked up by `compile` only on the error path).
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// A duration as written: a string (`"1.5s"`) or whole seconds (`30`).
#[derive(Debug, Clone)]
pub enum DurationSrc {
    Text(String),
    Seconds(i64),
}

const DURATION_EXPECTED: &str =
    "a duration such as \"500ms\", \"1.5s\", \"1h30m\" or a whole number of seconds";

impl<'de> Deserialize<'de> for DurationSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationSrc, E> {
                Ok(DurationSrc::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationSrc, E> {
                Ok(DurationSrc::Seconds(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte size as written: a string (`"4MiB"`) or a number of bytes (`1048576`).
#[derive(Debug, Clone)]
pub enum SizeSrc {
    Text(String),
    Bytes(i64),
}

impl<'de> Deserialize<'de> for SizeSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"4MiB\" or \"512KiB\", or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeSrc, E> {
                Ok(SizeSrc::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeSrc, E> {
                Ok(SizeSrc::Bytes(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `think = "1s"` or `think = { min = "1s", max = "3s" }`.
#[derive(Debug)]
pub enum ThinkSrc {
    Fixed(DurationSrc),
    Range(ThinkRange),
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with min and max")]
pub struct ThinkRange {
    pub min: Option<DurationSrc>,
    pub max: Option<DurationSrc>,
}

impl<'de> Deserialize<'de> for ThinkSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThinkSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{DURATION_EXPECTED}, or {{ min = ..., max = ... }}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThinkSrc, E> {
                Ok(ThinkSrc::Fixed(DurationSrc::Text(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ThinkSrc, E> {
                Ok(ThinkSrc::Fixed(DurationSrc::Seconds(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ThinkSrc, A::Error> {
                ThinkRange::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ThinkSrc::Range)
            }
        }
        d.deserialize_any(V)
    }
}

/// `ws.close = true` or `ws.close = { code = 4000 }`.
#[derive(Debug)]
pub enum CloseSrc {
    Flag(bool),
    Code(Option<i64>),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with code")]
struct CloseTable {
    code: Option<i64>,
}

impl<'de> Deserialize<'de> for CloseSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CloseSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, or { code = 1000 }")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CloseSrc, E> {
                Ok(CloseSrc::Flag(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CloseSrc, A::Error> {
                CloseTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| CloseSrc::Code(t.code))
            }
        }
        d.deserialize_any(V)
    }
}

/// `http.status = 200` or `http.status = [200, 201]`.
#[derive(Debug)]
pub enum StatusSrc {
    One(i64),
    Many(Vec<i64>),
}

impl<'de> Deserialize<'de> for StatusSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status such as 200, or a list such as [200, 201]")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSrc, E> {
                Ok(StatusSrc::One(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSrc, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(v);
                }
                Ok(StatusSrc::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any TOML value, to become a JSON template. Tables keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonSrc {
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string (a template); TOML date-times arrive here too, as written.
    Str(String),
    Array(Vec<JsonSrc>),
    Object(Vec<(String, JsonSrc)>),
}

/// The key under which the TOML deserializer hands over a date-time.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for JsonSrc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonSrc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TOML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonSrc, E> {
                Ok(JsonSrc::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonSrc, E> {
                Ok(JsonSrc::Int(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonSrc, E> {
                Ok(JsonSrc::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonSrc, E> {
                Ok(JsonSrc::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonSrc, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(JsonSrc::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonSrc, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    if k == TOML_DATETIME_KEY {
                        return Ok(JsonSrc::Str(map.next_value()?));
                    }
                    out.push((k, map.next_value()?));
                }
                Ok(JsonSrc::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}
