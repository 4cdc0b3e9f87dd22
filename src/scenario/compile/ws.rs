//! Lowering `ws` steps: one table, three kinds — connect (has `connect`), close (has `close`),
//! exchange (has `send` and/or `expect`) — each with the keys that belong to it.

use std::time::Duration;

use wildmatch::WildMatch;

use super::diag::Loc;
use super::steps::{intern, Lower};
use crate::plan::stream::{self, Class, EventTable, Known, MetricId, Role, TextKind, ToolEdge};
use crate::plan::{
    EventId, EventMetric, Expectation, Responder, StepId, StepKind, Unlisted, WsClose, WsConnect,
    WsExchange,
};
use crate::scenario::expect::Expr;
use crate::scenario::model::{self, CloseSrc, JsonSrc, SizeSrc};
use crate::scenario::source::FieldPath;
use crate::scenario::template::{Escape, Template};
use crate::scenario::url::Kind;

/// Event types that fail an exchange step when `ws.fail_on` is not given.
pub const DEFAULT_FAIL_ON: [&str; 6] = [
    "error",
    "error_message",
    "agent_error",
    "agent_failed",
    "agent_death",
    "agent_timeout_failure",
];

/// The keys present in a `ws` table, in declaration order of the mirror.
fn present(w: &model::Ws) -> Vec<&'static str> {
    [
        ("connect", w.connect.is_some()),
        ("subprotocols", w.subprotocols.is_some()),
        ("headers", w.headers.is_some()),
        ("query", w.query.is_some()),
        ("timeout", w.timeout.is_some()),
        ("respond", w.respond.is_some()),
        ("send", w.send.is_some()),
        ("expect", w.expect.is_some()),
        ("ignore", w.ignore.is_some()),
        ("fail_on", w.fail_on.is_some()),
        ("unlisted", w.unlisted.is_some()),
        ("first_event_within", w.first_event_within.is_some()),
        ("max_gap", w.max_gap.is_some()),
        ("within", w.within.is_some()),
        ("settle", w.settle.is_some()),
        ("capture", w.capture.is_some()),
        ("budgets", w.budgets.is_some()),
        ("group_by", w.group_by.is_some()),
        ("tool_duration", w.tool_duration.is_some()),
        ("close", w.close.is_some()),
        ("max_message", w.max_message.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.then_some(k))
    .collect()
}

const CONNECT_ONLY: [&str; 6] = [
    "subprotocols",
    "headers",
    "query",
    "timeout",
    "respond",
    "max_message",
];
const EXPECT_OPTIONS: [&str; 11] = [
    "budgets",
    "group_by",
    "tool_duration",
    "ignore",
    "fail_on",
    "unlisted",
    "first_event_within",
    "max_gap",
    "within",
    "settle",
    "capture",
];

impl Lower<'_> {
    pub(super) fn ws(&mut self, loc: &Loc, w: &model::Ws, id: StepId) -> Option<StepKind> {
        let keys = present(w);
        let path = |k: &str| FieldPath::of(&["ws", k]);
        if w.connect.is_some() {
            for k in keys
                .iter()
                .filter(|k| !CONNECT_ONLY.contains(k) && **k != "connect")
            {
                let msg = format!(
                    "ws.{k} cannot go in a ws.connect step: split into two steps, one with \
                     ws.connect and one after it with ws.{k}"
                );
                self.d.field(loc, &path(k), msg);
            }
            return self.connect(loc, w).map(StepKind::WsConnect);
        }
        if let Some(close) = &w.close {
            // `ws.timeout` bounds the closing handshake; nothing else goes with a close.
            for k in keys.iter().filter(|k| **k != "close" && **k != "timeout") {
                let msg =
                    format!("ws.close must be alone in its step: move ws.{k} to another step");
                self.d.field(loc, &path(k), msg);
            }
            let timeout = self.timeout(loc, &path("timeout"), w.timeout.as_ref(), 5);
            return self
                .close(loc, close)
                .and_then(|code| {
                    Some(WsClose {
                        code,
                        timeout: timeout?,
                    })
                })
                .map(StepKind::WsClose);
        }
        for k in keys.iter().filter(|k| CONNECT_ONLY.contains(k)) {
            let msg = if *k == "timeout" {
                "ws.timeout is only allowed in a step with ws.connect or ws.close".to_string()
            } else {
                format!("ws.{k} is only allowed in a step with ws.connect")
            };
            self.d.field(loc, &path(k), msg);
        }
        if w.send.is_none() && w.expect.is_none() {
            let msg = "a ws step needs `connect`, `close`, `send` or `expect`";
            self.d.field(loc, &FieldPath::of(&["ws"]), msg);
            return None;
        }
        if w.expect.is_none() {
            for k in keys.iter().filter(|k| EXPECT_OPTIONS.contains(k)) {
                let msg = format!("ws.{k} needs ws.expect in the same step");
                self.d.field(loc, &path(k), msg);
            }
        }
        // Both are checked before either can end the step, so all their errors are reported.
        let send = w.send.as_ref().map(|s| self.frame(loc, &path("send"), s));
        let expect = w
            .expect
            .as_ref()
            .map(|src| self.expectation(loc, w, src, id));
        Some(StepKind::WsExchange(Box::new(WsExchange {
            send: send.map_or(Some(None), |s| s.map(Some))?,
            expect: expect.map_or(Some(None), |e| e.map(Some))?,
        })))
    }

    fn connect(&mut self, loc: &Loc, w: &model::Ws) -> Option<WsConnect> {
        let p = FieldPath::of(&["ws"]);
        let url = self.url(loc, &p.key("connect"), w.connect.as_deref()?, Kind::Ws);
        let mut query = Vec::new();
        for (k, v) in w.query.iter().flat_map(|q| &q.0) {
            if let Some(t) = self.template(loc, &p.key("query").key(k), v, Escape::None) {
                query.push((k.clone(), t));
            }
        }
        let mut subprotocols = Vec::new();
        for (i, s) in w.subprotocols.iter().flatten().enumerate() {
            let at = p.key("subprotocols").index(i);
            subprotocols.extend(self.template(loc, &at, s, Escape::None));
        }
        let headers = self.headers(loc, &p.key("headers"), w.headers.as_ref());
        let timeout = self.timeout(loc, &p.key("timeout"), w.timeout.as_ref(), 10);
        let max_message = self.max_message(loc, &p.key("max_message"), w.max_message.as_ref());
        let mut responders = Vec::new();
        for (i, r) in w.respond.iter().flatten().enumerate() {
            responders.extend(self.responder(loc, &p.key("respond").index(i), r));
        }
        let (url, url_from) = url?;
        Some(WsConnect {
            url,
            url_from,
            query,
            subprotocols,
            headers,
            timeout: timeout?,
            responders,
            max_message: max_message?,
        })
    }

    /// `ws.max_message`: 1 KiB ..= 1 GiB, default `ws::DEFAULT_MAX_MESSAGE`.
    fn max_message(&mut self, loc: &Loc, path: &FieldPath, src: Option<&SizeSrc>) -> Option<usize> {
        let n = match src {
            None => return Some(crate::transport::ws::DEFAULT_MAX_MESSAGE),
            Some(SizeSrc::Text(t)) => crate::size::parse_size(t),
            Some(SizeSrc::Bytes(n)) => usize::try_from(*n).map_err(|_| format!("bad size {n}")),
        };
        match n {
            Ok(n) if (1 << 10..=1 << 30).contains(&n) => Some(n),
            Ok(n) => {
                let msg = format!("{path} must be between 1KiB and 1GiB (got {n} bytes)");
                self.d.field(loc, path, msg);
                None
            }
            Err(msg) => {
                self.d.field(loc, path, msg);
                None
            }
        }
    }

    fn responder(&mut self, loc: &Loc, p: &FieldPath, r: &model::Respond) -> Option<Responder> {
        let on = match &r.on {
            Some(on) => Some(self.intern(on)),
            None => {
                let msg = format!("{p}.on is required: the event type to answer");
                self.d.field(loc, p, msg);
                None
            }
        };
        if r.send.is_none() && r.capture.is_none() {
            let msg = "this responder does nothing: give it `send` and/or `capture`";
            self.d.field(loc, p, msg);
        }
        let send = r.send.as_ref().map(|s| self.frame(loc, &p.key("send"), s));
        let capture = self.extracts(loc, &p.key("capture"), r.capture.as_ref());
        Some(Responder {
            on: on?,
            send: send.map_or(Some(None), |s| s.map(Some))?,
            capture,
        })
    }

    /// A frame to send: a table is a JSON template, a string a raw text template.
    fn frame(&mut self, loc: &Loc, path: &FieldPath, src: &JsonSrc) -> Option<Template> {
        match src {
            JsonSrc::Object(_) => self.json(loc, path, src),
            JsonSrc::Str(s) => self.template(loc, path, s, Escape::None),
            _ => {
                let msg = format!(
                    "{path} must be a table (sent as JSON) or a string (sent as a text frame)"
                );
                self.d.field(loc, path, msg);
                None
            }
        }
    }

    fn expectation(
        &mut self,
        loc: &Loc,
        w: &model::Ws,
        src: &str,
        id: StepId,
    ) -> Option<Expectation> {
        let p = FieldPath::of(&["ws"]);
        let events = &mut self.events;
        let expr = match Expr::compile(src, &mut |name: &str| intern(events, name)) {
            Ok(e) => Some(e),
            Err(e) => {
                let msg = format!("bad event expectation: {}", e.message);
                self.d.in_string(loc, &p.key("expect"), src, e.offset, msg);
                None
            }
        };
        let ignore = self.globs(loc, &p.key("ignore"), w.ignore.as_deref().unwrap_or(&[]));
        let fail_on = match &w.fail_on {
            Some(list) => self.globs(loc, &p.key("fail_on"), list),
            None => DEFAULT_FAIL_ON.iter().map(|g| WildMatch::new(g)).collect(),
        };
        let unlisted = match w.unlisted.as_deref() {
            None | Some("fail") => Some(Unlisted::Fail),
            Some("ignore") => Some(Unlisted::Ignore),
            Some(other) => {
                let msg = format!("ws.unlisted must be \"fail\" or \"ignore\" (got \"{other}\")");
                self.d.field(loc, &p.key("unlisted"), msg);
                None
            }
        };
        let within = self.timeout(loc, &p.key("within"), w.within.as_ref(), 60);
        let mut bounded = |key: &str, src: &Option<model::DurationSrc>| {
            let d = self.timeout(loc, &p.key(key), Some(src.as_ref()?), 0)?;
            if within.is_some_and(|w| d > w) {
                let msg = format!(
                    "ws.{key} ({d:?}) must not be longer than ws.within ({:?})",
                    within.unwrap_or_default()
                );
                self.d.field(loc, &p.key(key), msg);
            }
            Some(d)
        };
        let first_event_within = bounded("first_event_within", &w.first_event_within);
        let max_gap = bounded("max_gap", &w.max_gap);
        let settle = match &w.settle {
            Some(src) => super::header::duration(&mut self.d, loc, &p.key("settle"), src),
            None => Some(Duration::ZERO),
        };
        let mut captures = Vec::new();
        for (var, c) in w.capture.iter().flat_map(|c| &c.0) {
            let at = p.key("capture").key(var);
            let event = match &c.event {
                Some(e) => Some(self.intern(e)),
                None => {
                    let msg = "ws.capture needs `event`: the event type to read the value from";
                    self.d.field(loc, &at, msg);
                    None
                }
            };
            let pointer = match &c.pointer {
                Some(ptr) => self
                    .pointer(loc, &at.key("pointer"), ptr)
                    .then(|| ptr.clone()),
                None => {
                    self.d
                        .field(loc, &at, "ws.capture needs `pointer`, e.g. \"/thread_id\"");
                    None
                }
            };
            if let (Some(event), Some(pointer), Some(&var)) =
                (event, pointer, self.res.vars.get(var))
            {
                captures.push((event, crate::plan::Extract { var, pointer }));
            }
        }
        let budgets = self.budgets(loc, w, expr.as_ref());
        let group_by = self.group_by(loc, w);
        let tool_duration = match &w.tool_duration {
            Some(ptr) => self
                .pointer(loc, &p.key("tool_duration"), ptr)
                .then(|| Some(ptr.clone()))?,
            None => None,
        };
        let expr = expr?;
        let unlisted = unlisted?;
        let metric_base = self.metrics.len();
        // The metric slots: the alphabet in order, then noise and error types named literally.
        let mut slots: Vec<(EventId, Role)> = expr
            .alphabet()
            .iter()
            .map(|&e| (e, Role::Expected))
            .collect();
        for (list, role) in [(&w.ignore, Role::Ignored), (&w.fail_on, Role::FailOn)] {
            let names: Vec<&str> = match list {
                Some(l) => l.iter().map(String::as_str).collect(),
                None if role == Role::FailOn => DEFAULT_FAIL_ON.to_vec(),
                None => Vec::new(),
            };
            for name in names.into_iter().filter(|n| is_literal(n)) {
                let e = self.intern(name);
                if !slots.iter().any(|(x, _)| *x == e) {
                    slots.push((e, role));
                }
            }
        }
        let measured =
            |name: &str, events: &[String]| slots.iter().any(|(e, _)| events[*e as usize] == name);
        for (key, names) in [
            (
                "budgets",
                budgets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ),
            (
                "group_by",
                group_by.iter().map(|(n, _)| n.as_str()).collect(),
            ),
        ] {
            for name in names.into_iter().filter(|n| !measured(n, &self.events)) {
                let msg = format!(
                    "ws.{key}.{name}: {name} is not an event of this step (name it in ws.expect, \
                     or without wildcards in ws.ignore or ws.fail_on)"
                );
                self.d.field(loc, &p.key(key).key(name), msg);
            }
        }
        let mut table = EventTable::default();
        for (i, &(event, role)) in slots.iter().enumerate() {
            let name = self.events[event as usize].clone();
            let class = match role {
                Role::Expected => Class::Expected {
                    sym: expr.symbol(event).unwrap_or(0) as u16,
                },
                Role::Ignored | Role::FailOn => {
                    Class::of_unexpected(&name, &fail_on, &ignore, unlisted)
                }
            };
            let metric = MetricId((metric_base + i).min(usize::from(u16::MAX)) as u16);
            table.insert(
                &name,
                Known {
                    event,
                    class,
                    metric: Some(metric),
                    captured: false,
                    tool: None,
                    text: TextKind::of(&name),
                },
            );
            self.metrics.push(EventMetric {
                step: id,
                event,
                role,
                budget: budgets.iter().find(|(n, _)| *n == name).map(|(_, d)| *d),
                group_by: group_by
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, ptr)| ptr.clone()),
            });
        }
        // Types only a capture or a responder names are known too (no metric): their frames
        // need the lookup to find them.
        for (event, _) in &captures {
            let name = self.events[*event as usize].clone();
            if table.get(&name).is_none() {
                let class = Class::of_unexpected(&name, &fail_on, &ignore, unlisted);
                table.insert(
                    &name,
                    Known {
                        event: *event,
                        class,
                        metric: None,
                        captured: false,
                        tool: None,
                        text: None,
                    },
                );
            }
            if let Some(k) = table.get_mut(&name) {
                k.captured = true;
            }
        }
        let tools = self.tools(&mut table, tool_duration);
        Some(Expectation {
            expr,
            ignore,
            fail_on,
            unlisted,
            first_event_within,
            max_gap,
            within: within?,
            settle: settle?,
            captures,
            metric_base,
            metrics: slots.len(),
            table,
            tools,
        })
    }

    /// `ws.budgets`: event = duration. Without it, the protocol's budgets
    /// (`stream::DEFAULT_BUDGETS`) for those of its events the expectation names.
    fn budgets(
        &mut self,
        loc: &Loc,
        w: &model::Ws,
        expr: Option<&Expr>,
    ) -> Vec<(String, Duration)> {
        let p = FieldPath::of(&["ws", "budgets"]);
        let Some(src) = &w.budgets else {
            let Some(expr) = expr else {
                return Vec::new();
            };
            return stream::DEFAULT_BUDGETS
                .iter()
                .filter(|(name, _)| {
                    expr.alphabet()
                        .iter()
                        .any(|e| self.events[*e as usize] == *name)
                })
                .map(|(name, d)| (name.to_string(), *d))
                .collect();
        };
        let mut out = Vec::new();
        for (name, d) in &src.0 {
            if let Some(d) = super::header::duration(&mut self.d, loc, &p.key(name), d) {
                if d.is_zero() {
                    let msg = format!("ws.budgets.{name} must be more than zero");
                    self.d.field(loc, &p.key(name), msg);
                    continue;
                }
                out.push((name.clone(), d));
            }
        }
        out
    }

    /// `ws.group_by`: event = JSON pointer.
    fn group_by(&mut self, loc: &Loc, w: &model::Ws) -> Vec<(String, String)> {
        let p = FieldPath::of(&["ws", "group_by"]);
        let mut out = Vec::new();
        for (name, ptr) in w.group_by.iter().flat_map(|g| &g.0) {
            if self.pointer(loc, &p.key(name), ptr) {
                out.push((name.clone(), ptr.clone()));
            }
        }
        out
    }

    /// Tool calls are paired when the step knows both `tool_executing` and `tool_completed`.
    fn tools(
        &mut self,
        table: &mut EventTable,
        duration: Option<String>,
    ) -> Option<stream::ToolSpec> {
        let start = table.get(stream::TOOL_START)?.event;
        let end = table.get(stream::TOOL_END)?.event;
        for (name, edge) in [
            (stream::TOOL_START, ToolEdge::Start),
            (stream::TOOL_END, ToolEdge::End),
        ] {
            if let Some(k) = table.get_mut(name) {
                k.tool = Some(edge);
            }
        }
        Some(stream::ToolSpec {
            start,
            end,
            duration,
        })
    }

    fn globs(&mut self, loc: &Loc, path: &FieldPath, list: &[String]) -> Vec<WildMatch> {
        for (i, g) in list.iter().enumerate() {
            if g.is_empty() {
                self.d
                    .field(loc, &path.index(i), "an empty pattern matches nothing");
            }
        }
        list.iter().map(|g| WildMatch::new(g)).collect()
    }

    fn close(&mut self, loc: &Loc, src: &CloseSrc) -> Option<u16> {
        let p = FieldPath::of(&["ws", "close"]);
        let code = match src {
            CloseSrc::Flag(true) => 1000,
            CloseSrc::Flag(false) => {
                let msg =
                    "ws.close = false closes nothing: write ws.close = true, or remove the step";
                self.d.field(loc, &p, msg);
                return None;
            }
            CloseSrc::Code(None) => {
                self.d
                    .field(loc, &p, "ws.close needs a code, e.g. { code = 1000 }");
                return None;
            }
            CloseSrc::Code(Some(c)) => *c,
        };
        match u16::try_from(code) {
            Ok(c) if c == 1000 || (3000..=4999).contains(&c) => Some(c),
            _ => {
                let msg = format!("close code {code} is not allowed: use 1000 or 3000..=4999");
                self.d.field(loc, &p.key("code"), msg);
                None
            }
        }
    }
}

/// A pattern without wildcards names one event type.
fn is_literal(pattern: &str) -> bool {
    !pattern.is_empty() && !pattern.contains(['*', '?'])
}

/// Adds every event type of the plan to each exchange step's table (types a responder or another
/// step names included), classified by that step's globs: a frame of any type the plan knows is
/// then resolved by one lookup, and only types the plan never names fall back to the globs.
pub(super) fn know_every_event(steps: &mut [crate::plan::Step], events: &[String]) {
    for step in steps {
        let StepKind::WsExchange(x) = &mut step.kind else {
            continue;
        };
        let Some(e) = x.expect.as_mut() else {
            continue;
        };
        for (i, name) in events.iter().enumerate() {
            if e.table.get(name).is_some() {
                continue;
            }
            let class = Class::of_unexpected(name, &e.fail_on, &e.ignore, e.unlisted);
            e.table.insert(
                name,
                Known {
                    event: i as EventId,
                    class,
                    metric: None,
                    captured: false,
                    tool: None,
                    text: TextKind::of(name),
                },
            );
        }
    }
}
