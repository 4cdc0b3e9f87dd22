//! The event inside a frame: its type (read with a borrowing parse that allocates nothing) and
//! values captured from it by JSON pointer.

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
