//! Lowering one step: its kind, then `http` and `think` steps and the helpers all kinds share.
//!
//! Each check reports and carries on, so one step yields all its problems at once; a step is
//! only built when none of its checks failed (the plan is dropped on any error anyway).

use std::time::Duration;

use http::{HeaderName, Method};

use super::diag::{Diags, Loc};
use super::header;
use super::templates::Resolver;
use super::RawStep;
use crate::plan::{Body, EventId, EventMetric, Extract, HttpStep, Step, StepId, StepKind, Think};
use crate::scenario::model::{self, DurationSrc, Entries, StatusSrc, ThinkSrc};
use crate::scenario::source::FieldPath;
use crate::scenario::template::{Escape, Part, Template};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// State shared while lowering the steps of one scenario.
pub struct Lower<'a> {
    pub d: Diags<'a>,
    pub res: Resolver<'a>,
    /// Interned event type names (`EventId` indexes this).
    pub events: Vec<String>,
    pub metrics: Vec<EventMetric>,
}

impl Lower<'_> {
    /// Lowers one step; `None` when it has errors (all reported).
    pub(super) fn step(&mut self, raw: &RawStep, id: StepId) -> Option<Step> {
        let m = raw.model.as_ref()?;
        let loc = &raw.loc;
        let kinds: Vec<&str> = [
            ("`http`", m.http.is_some()),
            ("`ws`", m.ws.is_some()),
            ("`think`", m.think.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        if kinds.len() != 1 {
            let msg = if kinds.is_empty() {
                "step has no kind: give exactly one of `http`, `ws` or `think`".to_owned()
            } else {
                format!(
                    "step has both {}: give exactly one of `http`, `ws` or `think` (split it into \
                     several steps)",
                    kinds.join(" and ")
                )
            };
            self.d.whole(loc, msg);
            return None;
        }
        let before = self.d.len();
        let kind = if let Some(h) = &m.http {
            self.http(loc, h).map(StepKind::Http)
        } else if let Some(w) = &m.ws {
            self.ws(loc, w, id)
        } else {
            m.think
                .as_ref()
                .and_then(|t| self.think(loc, t))
                .map(StepKind::Think)
        };
        let kind = kind.filter(|_| self.d.len() == before)?;
        Some(Step {
            id,
            name: raw.name.clone().unwrap_or_default(),
            place: loc.place.clone(),
            kind,
        })
    }

    fn http(&mut self, loc: &Loc, h: &model::Http) -> Option<HttpStep> {
        let p = FieldPath::of(&["http"]);
        let method = match &h.method {
            None => Some(Method::GET),
            Some(m) => match METHODS.iter().find(|x| x.eq_ignore_ascii_case(m)) {
                Some(x) => Method::from_bytes(x.as_bytes()).ok(),
                None => {
                    let msg = format!("bad HTTP method \"{m}\"; allowed: {}", METHODS.join(", "));
                    self.d.field(loc, &p.key("method"), msg);
                    None
                }
            },
        };
        let url = match &h.url {
            None => {
                self.d.field(
                    loc,
                    &p,
                    "http.url is required, e.g. \"{{base_url}}/health\"",
                );
                None
            }
            Some(u) => self.url(loc, &p.key("url"), u, &["http://", "https://"]),
        };
        let headers = self.headers(loc, &p.key("headers"), h.headers.as_ref());
        let body = match (&h.json, &h.body) {
            (Some(_), Some(_)) => {
                let msg = "give either http.json or http.body, not both";
                self.d.field(loc, &p.key("body"), msg);
                None
            }
            (Some(j), None) => self.json(loc, &p.key("json"), j).map(Body::Json),
            (None, Some(b)) => self
                .template(loc, &p.key("body"), b, Escape::None)
                .map(Body::Raw),
            (None, None) => None,
        };
        let expect_status = self.status(loc, &p.key("status"), h.status.as_ref());
        let extract = self.extracts(loc, &p.key("extract"), h.extract.as_ref());
        let timeout = self.timeout(loc, &p.key("timeout"), h.timeout.as_ref(), 30);
        Some(HttpStep {
            method: method?,
            url: url?,
            headers,
            body,
            expect_status,
            extract,
            timeout: timeout?,
        })
    }

    fn status(&mut self, loc: &Loc, path: &FieldPath, src: Option<&StatusSrc>) -> Vec<u16> {
        let (codes, many): (&[i64], bool) = match src {
            None => return Vec::new(),
            Some(StatusSrc::One(c)) => (std::slice::from_ref(c), false),
            Some(StatusSrc::Many(cs)) if cs.is_empty() => {
                let msg =
                    "http.status is empty: list at least one status, or omit it to accept any 2xx";
                self.d.field(loc, path, msg);
                return Vec::new();
            }
            Some(StatusSrc::Many(cs)) => (cs.as_slice(), true),
        };
        let mut out = Vec::new();
        for (i, &c) in codes.iter().enumerate() {
            match u16::try_from(c) {
                Ok(s) if (100..=599).contains(&s) => out.push(s),
                _ => {
                    let msg = format!("{c} is not an HTTP status: use 100..=599");
                    let at = if many { path.index(i) } else { path.clone() };
                    self.d.field(loc, &at, msg);
                }
            }
        }
        out
    }

    fn think(&mut self, loc: &Loc, t: &ThinkSrc) -> Option<Think> {
        let p = FieldPath::of(&["think"]);
        match t {
            ThinkSrc::Fixed(src) => {
                let d = header::duration(&mut self.d, loc, &p, src)?;
                Some(Think { min: d, max: d })
            }
            ThinkSrc::Range(r) => {
                let mut get = |key: &str, src: &Option<DurationSrc>| match src {
                    None => {
                        let msg = format!("think.{key} is required with a {{ min, max }} think");
                        self.d.field(loc, &p, msg);
                        None
                    }
                    Some(src) => header::duration(&mut self.d, loc, &p.key(key), src),
                };
                let min = get("min", &r.min);
                let max = get("max", &r.max);
                let (min, max) = (min?, max?);
                if min > max {
                    let msg = format!(
                        "think.min ({min:?}) is greater than think.max ({max:?}); min must be \
                         at most max"
                    );
                    self.d.field(loc, &p, msg);
                }
                Some(Think { min, max })
            }
        }
    }

    // ---- helpers shared with ws.rs ----

    /// A template string; errors point into the string.
    pub(super) fn template(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        text: &str,
        escape: Escape,
    ) -> Option<Template> {
        match self.res.template(text, escape) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.d.in_string(loc, path, text, e.offset, e.message);
                }
                None
            }
        }
    }

    /// A JSON template from any TOML value.
    pub(super) fn json(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        value: &model::JsonSrc,
    ) -> Option<Template> {
        match self.res.json(value, path) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    let (offset, msg) = (e.error.offset, e.error.message);
                    self.d.in_string(loc, &e.path, &e.text, offset, msg);
                }
                None
            }
        }
    }

    /// A URL template whose literal start must be one of `schemes`.
    pub(super) fn url(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        text: &str,
        schemes: &[&str],
    ) -> Option<Template> {
        let t = self.template(loc, path, text, Escape::None)?;
        if let Some(Part::Lit(start)) = t.parts.first() {
            let ok = schemes
                .iter()
                .any(|s| start.starts_with(s) || s.starts_with(start.as_str()));
            if !ok {
                let msg = format!(
                    "{path} must be an absolute URL starting with {}",
                    schemes.join(" or ")
                );
                self.d.field(loc, path, msg);
                return None;
            }
        }
        Some(t)
    }

    /// Header name → value template; names are checked, values must not hold control characters.
    pub(super) fn headers(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        src: Option<&Entries<String>>,
    ) -> Vec<(HeaderName, Template)> {
        let mut out = Vec::new();
        for (name, value) in src.iter().flat_map(|e| &e.0) {
            let at = path.key(name);
            let header = match HeaderName::from_bytes(name.as_bytes()) {
                Ok(h) => Some(h),
                Err(_) => {
                    let msg = format!(
                        "invalid header name \"{name}\": use letters, digits and \
                         !#$%&'*+-.^_`|~ only"
                    );
                    self.d.key(loc, &at, msg);
                    None
                }
            };
            let Some(t) = self.template(loc, &at, value, Escape::None) else {
                continue;
            };
            let bad = t.parts.iter().any(
                |p| matches!(p, Part::Lit(s) if s.chars().any(|c| c.is_control() && c != '\t')),
            );
            if bad {
                let msg = "header value contains a control character (such as a line break)";
                self.d.field(loc, &at, msg);
            }
            out.extend(header.map(|h| (h, t)));
        }
        out
    }

    /// `var = "/json/pointer"` entries.
    pub(super) fn extracts(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        src: Option<&Entries<String>>,
    ) -> Vec<Extract> {
        let mut out = Vec::new();
        for (var, pointer) in src.iter().flat_map(|e| &e.0) {
            if self.pointer(loc, &path.key(var), pointer) {
                // Unknown ids are names that failed their declaration check (reported there).
                if let Some(&var) = self.res.vars.get(var) {
                    out.push(Extract {
                        var,
                        pointer: pointer.clone(),
                    });
                }
            }
        }
        out
    }

    /// Checks a JSON pointer (RFC 6901, as used here: it starts with `/`).
    pub(super) fn pointer(&mut self, loc: &Loc, path: &FieldPath, pointer: &str) -> bool {
        if pointer.starts_with('/') {
            return true;
        }
        let msg = format!(
            "JSON pointer \"{pointer}\" must start with `/`, e.g. \"/{}\"",
            pointer.trim_start_matches('#')
        );
        self.d.field(loc, path, msg);
        false
    }

    /// A positive duration, `default_secs` when absent.
    pub(super) fn timeout(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        src: Option<&DurationSrc>,
        default_secs: u64,
    ) -> Option<Duration> {
        let Some(src) = src else {
            return Some(Duration::from_secs(default_secs));
        };
        let d = header::duration(&mut self.d, loc, path, src)?;
        if d.is_zero() {
            self.d
                .field(loc, path, format!("{path} must be greater than 0"));
            return None;
        }
        Some(d)
    }

    pub(super) fn intern(&mut self, name: &str) -> EventId {
        intern(&mut self.events, name)
    }
}

/// Finds or adds an event type name (a plan has a few dozen at most).
pub(super) fn intern(events: &mut Vec<String>, name: &str) -> EventId {
    match events.iter().position(|e| e == name) {
        Some(i) => i as EventId,
        None => {
            events.push(name.to_owned());
            // Past u16::MAX names, `compile` reports an error and drops the plan.
            (events.len() - 1).min(usize::from(EventId::MAX)) as EventId
        }
    }
}
