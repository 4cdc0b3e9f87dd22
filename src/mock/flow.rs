//! One agent run ("flow"): the ordered steps a `user_message` triggers and how each event is framed.
//!
//! Design choice: a flow is a short list of `Step`s fixed when it starts (the fault already applied),
//! walked by the connection task one step per timer tick; frames are rendered only when sent, so
//! timestamps are real and an idle connection holds no flow data at all.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::clock::event_timestamp;
use super::config::{Envelope, Timestamps};
use super::faults::Fault;
use super::text;

/// Agent event types the mock emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    Thinking,
    ToolExecuting,
    ToolCompleted,
    Completed,
    Error,
    /// `stream_chunk`: a piece of the answer's text (`--chunks`).
    StreamChunk,
}

impl Event {
    /// How many event types there are.
    pub const COUNT: usize = 7;
    pub const ALL: [Event; Event::COUNT] = [
        Event::Started,
        Event::Thinking,
        Event::ToolExecuting,
        Event::ToolCompleted,
        Event::Completed,
        Event::Error,
        Event::StreamChunk,
    ];
    pub const NAMES: [&'static str; Event::COUNT] = [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
        "agent_error",
        "stream_chunk",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<Event> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    fn agent_name(self) -> &'static str {
        match self {
            Event::Thinking => "triage",
            Event::ToolExecuting | Event::ToolCompleted => "data",
            Event::Started | Event::Completed | Event::Error | Event::StreamChunk => "Supervisor",
        }
    }
}

/// One thing a flow does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send an agent event (after the configured delay); the number is its 1-based index per type.
    Emit(Event, u32),
    /// Send a text frame that is not JSON.
    NonJson,
    /// Close the socket with this code; the flow and the connection end.
    Close(u16),
    /// Wait this long (`None`: forever) before the next step.
    Wait(Option<Duration>),
}

/// The text sent by the `non-json` fault.
pub const NON_JSON_FRAME: &str = "<html>oops</html>";

/// The steps of a flow with `thinking` thoughts, `tools` tool pairs and `chunks` text chunks,
/// `fault` applied if any.
pub fn steps(thinking: u32, tools: u32, chunks: u32, fault: Option<&Fault>) -> Vec<Step> {
    let n = 2 + thinking as usize + 2 * tools as usize + chunks as usize;
    let mut s = Vec::with_capacity(n);
    s.push(Step::Emit(Event::Started, 1));
    s.extend((1..=thinking).map(|i| Step::Emit(Event::Thinking, i)));
    for i in 1..=tools {
        s.push(Step::Emit(Event::ToolExecuting, i));
        s.push(Step::Emit(Event::ToolCompleted, i));
    }
    s.extend((1..=chunks).map(|i| Step::Emit(Event::StreamChunk, i)));
    s.push(Step::Emit(Event::Completed, 1));
    match fault {
        None | Some(Fault::Login401) => {}
        Some(Fault::Drop(e)) => s.retain(|st| !matches!(st, Step::Emit(ev, _) if ev == e)),
        Some(Fault::Reorder) if s.len() > 1 => s.swap(0, 1),
        Some(Fault::Reorder) => {}
        Some(Fault::AgentError) => {
            s.truncate(1);
            s.push(Step::Emit(Event::Error, 1));
        }
        Some(Fault::Close(code)) => {
            s.truncate(2);
            s.push(Step::Close(*code));
        }
        Some(Fault::Stall(d)) => s.insert(1, Step::Wait(*d)),
        Some(Fault::NonJson) => s.insert(1, Step::NonJson),
        Some(Fault::Slowdown { delay, .. }) => s.insert(0, Step::Wait(Some(*delay))),
    }
    s
}

/// Identifiers shared by all events of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowIds {
    pub run_id: String,
    pub thread_id: String,
}

/// The `--tool-names` slot of the `i`-th (1-based) tool call of a flow, of `len` names.
pub fn tool_slot(i: u32, len: usize) -> usize {
    (i.saturating_sub(1) as usize) % len.max(1)
}

/// What `render` needs to know about the flow and connection.
pub struct RenderCtx<'a> {
    pub envelope: Envelope,
    pub timestamps: Timestamps,
    pub ids: &'a FlowIds,
    pub user_id: &'a str,
    pub thinking: u32,
    pub chunks: u32,
    /// The tool's name (tool events).
    pub tool_name: &'a str,
    /// Milliseconds since the pair's `tool_executing` was sent (`tool_completed`).
    pub tool_ms: u64,
    pub elapsed: Duration,
}

/// The JSON text of one agent event in the configured envelope.
pub fn render(event: Event, index: u32, cx: &RenderCtx<'_>) -> String {
    let mut common = Map::new();
    common.insert("run_id".into(), cx.ids.run_id.as_str().into());
    common.insert("thread_id".into(), cx.ids.thread_id.as_str().into());
    common.insert("user_id".into(), cx.user_id.into());
    common.insert("agent_name".into(), event.agent_name().into());
    common.insert("timestamp".into(), event_timestamp(cx.timestamps));
    let body = body(event, index, cx);
    let frame = match cx.envelope {
        Envelope::Flat => {
            let mut top = tagged(event.name());
            top.extend(common);
            top.extend(body);
            top.insert("critical".into(), true.into());
            top
        }
        Envelope::Data => {
            let mut top = tagged(event.name());
            top.extend(common);
            top.insert("data".into(), Value::Object(body));
            top
        }
        Envelope::Payload => {
            let mut top = tagged(event.name());
            common.extend(body);
            top.insert("payload".into(), Value::Object(common));
            top
        }
        Envelope::SystemMessage => {
            let mut inner = Map::new();
            inner.insert("event".into(), event.name().into());
            inner.insert("type".into(), event.name().into());
            inner.extend(common);
            inner.extend(body);
            let mut top = tagged("system_message");
            top.insert("data".into(), Value::Object(inner));
            top
        }
    };
    Value::Object(frame).to_string()
}

fn tagged(kind: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), kind.into());
    m
}

/// Event-specific fields; both naming variants of §5 are present so any client fallback finds one.
fn body(event: Event, i: u32, cx: &RenderCtx<'_>) -> Map<String, Value> {
    let v = match event {
        Event::Started => json!({
            "status": "started",
            "task_description": "Processing request",
            "message": "Supervisor has started processing your request",
        }),
        Event::Thinking => json!({
            "status": "thinking",
            "reasoning": text::thinking(i, cx.thinking),
            "step_number": i,
            "progress_percentage": (u64::from(i) * 90 / u64::from(cx.thinking.max(1))).min(90),
        }),
        Event::ToolExecuting => json!({
            "status": "executing",
            "tool_name": cx.tool_name,
            "tool_call_id": format!("call_{i}"),
            "parameters": {},
            "tool_args": {},
        }),
        Event::ToolCompleted => json!({
            "status": "completed",
            "tool_name": cx.tool_name,
            "tool_call_id": format!("call_{i}"),
            "results": {"rows": 12},
            "result": {"rows": 12},
            "duration": cx.tool_ms,
            "execution_time_ms": cx.tool_ms,
            "success": true,
        }),
        Event::Completed => json!({
            "status": "completed",
            "final_response": text::FINAL_RESPONSE,
            "result": {"summary": text::FINAL_RESPONSE},
            "execution_time_ms": cx.elapsed.as_millis() as u64,
        }),
        Event::Error => json!({
            "status": "error",
            "error_message": "Simulated agent failure (mock fault agent-error)",
            "error_context": {},
        }),
        Event::StreamChunk => json!({
            "content": text::chunk(i.saturating_sub(1), cx.chunks),
            "chunk_index": i.saturating_sub(1),
        }),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event::*;

    #[test]
    fn normal_flow_order() {
        assert_eq!(
            steps(2, 1, 0, None),
            vec![
                Step::Emit(Started, 1),
                Step::Emit(Thinking, 1),
                Step::Emit(Thinking, 2),
                Step::Emit(ToolExecuting, 1),
                Step::Emit(ToolCompleted, 1),
                Step::Emit(Completed, 1),
            ]
        );
        assert_eq!(steps(1, 0, 0, None).len(), 3);
    }

    #[test]
    fn faults_reshape_the_flow() {
        let f = |fault: Fault| steps(2, 1, 0, Some(&fault));
        assert!(!f(Fault::Drop(ToolCompleted)).contains(&Step::Emit(ToolCompleted, 1)));
        assert_eq!(
            f(Fault::Reorder)[..2],
            [Step::Emit(Thinking, 1), Step::Emit(Started, 1)]
        );
        assert_eq!(
            f(Fault::AgentError),
            [Step::Emit(Started, 1), Step::Emit(Error, 1)]
        );
        assert_eq!(
            f(Fault::Close(1011)),
            [
                Step::Emit(Started, 1),
                Step::Emit(Thinking, 1),
                Step::Close(1011)
            ]
        );
        assert_eq!(f(Fault::Stall(None))[1], Step::Wait(None));
        assert_eq!(f(Fault::NonJson)[1], Step::NonJson);
        assert_eq!(f(Fault::NonJson).len(), 7);
    }

    #[test]
    fn chunks_come_after_the_tools_and_tool_names_rotate() {
        let s = steps(1, 2, 2, None);
        assert_eq!(
            s[3..],
            [
                Step::Emit(ToolCompleted, 1),
                Step::Emit(ToolExecuting, 2),
                Step::Emit(ToolCompleted, 2),
                Step::Emit(StreamChunk, 1),
                Step::Emit(StreamChunk, 2),
                Step::Emit(Completed, 1),
            ]
        );
        assert_eq!(s.len(), 1 + 1 + 4 + 2 + 1);
        let slots: Vec<usize> = (1..=5).map(|i| tool_slot(i, 2)).collect();
        assert_eq!(slots, [0, 1, 0, 1, 0]);
        assert_eq!(tool_slot(0, 0), 0, "no panic on degenerate input");
    }

    #[test]
    fn names_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::from_name(e.name()), Some(e));
        }
    }
}
