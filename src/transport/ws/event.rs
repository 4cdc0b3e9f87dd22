//! The event inside a frame: its type and the fields the stream metrics read (one borrowing
//! parse that allocates nothing), and values captured from it by JSON pointer.

use std::borrow::Cow;

use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
}

/// Reads a frame's event type: top-level `type`, unwrapped from a wrapper (`system_message`...)
/// whose `data.event` (or `data.type`) names the event. `None`: not JSON or no type.
pub fn event_type<'a>(text: &'a str, wrappers: &[String]) -> Option<Cow<'a, str>> {
    // Only objects: serde would also read a struct from an array (`["agent_started", null]`).
    if !is_object(text) {
        return None;
    }
    let env: Envelope<'a> = serde_json::from_str(text).ok()?;
    let ty = env.ty?;
    if wrappers.iter().any(|w| *w == ty) {
        if let Some(raw) = env.data.filter(|raw| is_object(raw.get())) {
            if let Ok(inner) = serde_json::from_str::<Wrapped<'a>>(raw.get()) {
                if let Some(name) = inner.event.or(inner.ty) {
                    // A `Cow::Borrowed` from `raw` borrows `text`, so it lives long enough.
                    return Some(name);
                }
            }
        }
    }
    Some(ty)
}

/// A frame read once: its event type and, borrowed raw, the few fields the stream metrics may
/// need (tool name, server duration, timestamp, text). Unknown fields are skipped by the same
/// pass that finds the type, so reading them costs next to nothing more.
#[derive(Deserialize, Default)]
struct Fields<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_name: Option<&'a RawValue>,
    #[serde(borrow)]
    tool: Option<&'a RawValue>,
    #[serde(borrow)]
    duration: Option<&'a RawValue>,
    #[serde(borrow)]
    execution_time_ms: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow)]
    thought: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    chunk: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    delta: Option<&'a RawValue>,
    #[serde(borrow)]
    final_response: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
}

impl<'a> Fields<'a> {
    /// `None` when `text` is not a JSON object (fields of other shapes are `None`).
    fn read(text: &'a str) -> Option<Fields<'a>> {
        if !is_object(text) {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// A frame read once, with its `data` and `payload` objects read at most once each, when a
/// lookup first needs them (no allocation: they live in the view).
pub struct View<'a> {
    top: Fields<'a>,
    data_view: std::cell::OnceCell<Option<Fields<'a>>>,
    payload_view: std::cell::OnceCell<Option<Fields<'a>>>,
}

use serde_json::value::RawValue;

impl<'a> View<'a> {
    /// Reads a frame: `None` when it is not a JSON object (fields of other shapes are `None`).
    pub fn read(text: &'a str) -> Option<View<'a>> {
        Some(View {
            top: Fields::read(text)?,
            data_view: std::cell::OnceCell::new(),
            payload_view: std::cell::OnceCell::new(),
        })
    }

    /// The event type, unwrapped from a wrapper (`system_message`...) whose `data.event` (or
    /// `data.type`) names the event. `None`: no type.
    pub fn name(&self, wrappers: &[String]) -> Option<Cow<'a, str>> {
        let ty = self.top.ty.clone()?;
        if wrappers.iter().any(|w| *w == ty) {
            if let Some(inner) = self.data_layer() {
                if let Some(name) = inner.event.clone().or(inner.ty.clone()) {
                    return Some(name);
                }
            }
        }
        Some(ty)
    }

    /// `data` read (once; `None` unless it is an object).
    fn data_layer(&self) -> Option<&Fields<'a>> {
        let data = self.top.data;
        self.data_view
            .get_or_init(|| data.and_then(|r| Fields::read(r.get())))
            .as_ref()
    }

    /// `payload` read (once; `None` unless it is an object).
    fn payload_layer(&self) -> Option<&Fields<'a>> {
        let payload = self.top.payload;
        self.payload_view
            .get_or_init(|| payload.and_then(|r| Fields::read(r.get())))
            .as_ref()
    }

    /// A field by name, merged as top level, then `data`, then `payload` (protocol.md §5).
    fn merged(&self, pick: impl Fn(&Fields<'a>) -> Option<&'a RawValue>) -> Option<&'a RawValue> {
        pick(&self.top)
            .or_else(|| self.data_layer().and_then(&pick))
            .or_else(|| self.payload_layer().and_then(&pick))
    }

    /// The tool's name: `tool_name`, else `tool` (a string), merged.
    pub fn tool_name(&self) -> Option<Cow<'a, str>> {
        self.merged(|v| {
            v.tool_name
                .filter(|r| is_string(r))
                .or(v.tool.filter(|r| is_string(r)))
        })
        .and_then(as_str)
    }

    /// The duration the server reports, in ms: `duration`, else `execution_time_ms`, merged.
    pub fn server_ms(&self) -> Option<f64> {
        self.merged(|v| v.duration.filter(|r| is_number(r)))
            .or_else(|| self.merged(|v| v.execution_time_ms.filter(|r| is_number(r))))
            .and_then(|r| r.get().parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
    }

    /// The server's timestamp in seconds since the epoch: a number (seconds, or milliseconds
    /// when it is that large) or an ISO-8601 string (UTC unless it says otherwise); merged.
    pub fn timestamp(&self) -> Option<f64> {
        let raw = self.merged(|v| v.timestamp)?;
        let t = raw.get();
        if is_number(raw) {
            let n: f64 = t.parse().ok()?;
            // Past year 5138 in seconds: it is milliseconds.
            return Some(if n > 1e11 { n / 1000.0 } else { n }).filter(|n| n.is_finite());
        }
        iso8601(&as_str(raw)?)
    }

    /// The length in characters of the first text field of `kind` that holds a string, merged.
    pub fn text_chars(&self, kind: crate::plan::stream::TextKind) -> Option<usize> {
        for field in kind.fields() {
            let pick = |v: &Fields<'a>| {
                match *field {
                    "reasoning" => v.reasoning,
                    "thought" => v.thought,
                    "message" => v.message,
                    "content" => v.content,
                    "chunk" => v.chunk,
                    "text" => v.text,
                    "delta" => v.delta,
                    "final_response" => v.final_response,
                    "response" => v.response,
                    "result" => v.result,
                    _ => None,
                }
                .filter(|r| is_string(r))
            };
            if let Some(s) = self.merged(pick).and_then(as_str) {
                return Some(s.chars().count());
            }
        }
        None
    }
}

fn is_string(r: &RawValue) -> bool {
    r.get().starts_with('"')
}

fn is_number(r: &RawValue) -> bool {
    r.get()
        .bytes()
        .next()
        .is_some_and(|b| b == b'-' || b.is_ascii_digit())
}

fn as_str<'a>(r: &'a RawValue) -> Option<Cow<'a, str>> {
    serde_json::from_str::<Cow<'a, str>>(r.get()).ok()
}

/// Seconds since the epoch of an ISO-8601 date-time: `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM]`
/// (a space for `T` too); without an offset it is UTC. `None` for anything else.
pub fn iso8601(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        let mut scale = 0.1;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            frac += f64::from(d - b'0') * scale;
            scale /= 10.0;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'+' {
                m * 60
            } else {
                -m * 60
            }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(secs as f64 + frac)
}

/// Whether JSON text is an object (its first non-blank character is `{`).
fn is_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
}

/// Looks a JSON pointer up in the frame, merged as top level ∪ `payload` ∪ `data`.
pub fn capture(value: &serde_json::Value, pointer: &str) -> Option<String> {
    let found = value
        .pointer(pointer)
        .or_else(|| value.get("payload").and_then(|p| p.pointer(pointer)))
        .or_else(|| value.get("data").and_then(|d| d.pointer(pointer)))?;
    Some(match found {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrappers() -> Vec<String> {
        crate::plan::Envelope::default().wrappers
    }

    #[test]
    fn reads_type_from_each_envelope() {
        let w = wrappers();
        assert_eq!(
            event_type(r#"{"type":"agent_started","x":1}"#, &w).as_deref(),
            Some("agent_started")
        );
        assert_eq!(
            event_type(r#"{"data":{"a":[1,2]},"type":"tool_completed"}"#, &w).as_deref(),
            Some("tool_completed")
        );
        assert_eq!(
            event_type(
                r#"{"type":"system_message","data":{"event":"agent_thinking","x":{}}}"#,
                &w
            )
            .as_deref(),
            Some("agent_thinking")
        );
        assert_eq!(
            event_type(
                r#"{"type":"system_message","data":{"type":"agent_completed"}}"#,
                &w
            )
            .as_deref(),
            Some("agent_completed")
        );
        assert_eq!(
            event_type(r#"{"type":"system_message","data":"text"}"#, &w).as_deref(),
            Some("system_message")
        );
        assert_eq!(event_type("<html>oops", &w), None);
        assert_eq!(event_type(r#"{"no":"type"}"#, &w), None);
        assert_eq!(event_type(r#"[1,2]"#, &w), None);
        // Found by fuzz/run.sh classify_frame: serde reads a struct from an array too.
        assert_eq!(event_type("\n[\n\"t\",2]", &w), None);
        assert_eq!(
            event_type(
                r#"{"type":"system_message","data":["agent_completed",1]}"#,
                &w
            )
            .as_deref(),
            Some("system_message")
        );
        assert_eq!(
            event_type(r#"{"type":"a\"b"}"#, &w).as_deref(),
            Some("a\"b")
        );
    }

    #[test]
    fn a_view_reads_tool_duration_timestamp_and_text_merged() {
        use crate::plan::stream::TextKind;
        let w = wrappers();
        let v = View::read(
            r#"{"type":"tool_completed","tool_name":"cost_query","duration":812,"timestamp":1758196800.5,"x":[1,{"a":2}]}"#,
        )
        .unwrap();
        assert_eq!(v.name(&w).as_deref(), Some("tool_completed"));
        assert_eq!(v.tool_name().as_deref(), Some("cost_query"));
        assert_eq!(v.server_ms(), Some(812.0));
        assert_eq!(v.timestamp(), Some(1_758_196_800.5));
        // E3: everything inside `data`; execution_time_ms; ISO time; the name under `tool`.
        let v = View::read(
            r#"{"type":"system_message","data":{"event":"tool_completed","tool":"web","execution_time_ms":12.5,"timestamp":"2025-09-18T12:00:00+00:00"}}"#,
        )
        .unwrap();
        assert_eq!(v.name(&w).as_deref(), Some("tool_completed"));
        assert_eq!(v.tool_name().as_deref(), Some("web"));
        assert_eq!(v.server_ms(), Some(12.5));
        assert_eq!(v.timestamp(), Some(1_758_196_800.0));
        let v = View::read(r#"{"timestamp":1765000000.5,"type":"agent_started"}"#).unwrap();
        assert_eq!(v.timestamp(), Some(1_765_000_000.5));
        // Milliseconds since the epoch are read as such.
        let v = View::read(r#"{"type":"x","timestamp":1758196800500}"#).unwrap();
        assert_eq!(v.timestamp(), Some(1_758_196_800.5));
        // Text: the first string among the kind's fields; escapes count as one character.
        let v =
            View::read(r#"{"type":"agent_thinking","data":{"reasoning":"ab\u00e9c"}}"#).unwrap();
        assert_eq!(v.text_chars(TextKind::Thinking), Some(4));
        let v =
            View::read(r#"{"type":"agent_completed","result":{"x":1},"final_response":"done"}"#)
                .unwrap();
        assert_eq!(v.text_chars(TextKind::Final), Some(4));
        // Fields of other shapes are absent, never an error that loses the type.
        let v = View::read(
            r#"{"type":"tool_completed","tool_name":7,"duration":"slow","timestamp":null}"#,
        )
        .unwrap();
        assert_eq!(v.name(&w).as_deref(), Some("tool_completed"));
        assert_eq!(
            (v.tool_name(), v.server_ms(), v.timestamp()),
            (None, None, None)
        );
        assert!(View::read("[1]").is_none());
    }

    #[test]
    fn iso8601_times() {
        assert_eq!(iso8601("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(iso8601("2025-10-31T10:00:00"), Some(1_761_904_800.0));
        assert_eq!(iso8601("2025-10-31 10:00:00.250Z"), Some(1_761_904_800.25));
        assert_eq!(iso8601("2025-10-31T12:00:00+02:00"), Some(1_761_904_800.0));
        assert_eq!(iso8601("2000-02-29T00:00:00-01:30"), Some(951_787_800.0));
        for bad in [
            "",
            "2025-13-01T00:00:00",
            "2025-10-31T10:00",
            "2025-10-31T10:00:00+2",
            "x025-10-31T10:00:00",
            "2025-10-31T10:00:00.Z",
            "2025-10-31T10:00:00Zjunk",
        ] {
            assert_eq!(iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn capture_merges_top_payload_data() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"type":"x","thread_id":"top","payload":{"run_id":"p"},"data":{"run_id":"d","n":3}}"#,
        )
        .unwrap();
        assert_eq!(capture(&v, "/thread_id").as_deref(), Some("top"));
        assert_eq!(capture(&v, "/run_id").as_deref(), Some("p"));
        assert_eq!(capture(&v, "/n").as_deref(), Some("3"));
        assert_eq!(capture(&v, "/missing"), None);
    }
}
