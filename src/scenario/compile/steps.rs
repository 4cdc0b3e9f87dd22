//! Lowering one step: its kind, then `http` and `think` steps and the helpers all kinds share.
//!
//! Each check reports and carries on, so one step yields all its problems at once; a step is
//! only built when none of its checks failed (the plan is dropped on any error anyway).

use std::time::Duration;

use http::Method;

use super::diag::{Diags, Loc};
use super::header;
use super::templates::Resolver;
use super::RawStep;
use crate::plan::{
    Body, EventId, EventMetric, Extract, HttpStep, Step, StepId, StepKind, TargetUrl, Think,
};
use crate::scenario::model::{self, DurationSrc, Entries, StatusSrc, ThinkSrc};
use crate::scenario::source::FieldPath;
use crate::scenario::template::{Escape, Part, Template};
use crate::scenario::url::{self, Kind};

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
            ("`jwt`", m.jwt.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        if kinds.len() != 1 {
            let msg = if kinds.is_empty() {
                "step has no kind: give exactly one of `http`, `ws`, `think` or `jwt`".to_owned()
            } else {
                format!(
                    "step has both {}: give exactly one of `http`, `ws`, `think` or `jwt` (split it into \
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
        } else if let Some(j) = &m.jwt {
            self.jwt(loc, j).map(StepKind::Jwt)
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
            Some(u) => self.url(loc, &p.key("url"), u, Kind::Http),
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
        let (url, url_from) = url?;
        let limits = self.limits(loc, &p, h);
        Some(HttpStep {
            method: method?,
            url,
            url_from,
            headers,
            body,
            expect_status,
            extract,
            timeout: timeout?,
            limits,
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

    /// A URL template, and the target URL it starts with (`{{auth_url}}/...`). Its literal
    /// start must be a scheme of `kind`; when the host and port are literal too (a literal URL,
    /// or one starting with `{{base_url}}`, `{{auth_url}}` or `{{ws_url}}`), the URL is checked
    /// as the transport will (`scenario::url`).
    pub(super) fn url(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        text: &str,
        kind: Kind,
    ) -> Option<(Template, Option<TargetUrl>)> {
        let unset_before = self.res.unset_env.len();
        let t = self.template(loc, path, text, Escape::None)?;
        let from = target_prefix(text);
        if self.res.unset_env.len() > unset_before {
            // `validate` without a variable's value: what the URL will be is not known.
            return Some((t, from));
        }
        if t.parts.is_empty() {
            let msg = format!("{path} is empty: give a URL, e.g. \"{{{{base_url}}}}/health\"");
            self.d.field(loc, path, msg);
            return None;
        }
        let checked = match check_template_url(&t, kind) {
            Ok(()) => return Some((t, from)),
            Err(e) => e,
        };
        let checked = match checked {
            // The user name may be a folded `{{env.NAME}}`: then it is not shown either.
            url::UrlError::Credentials { .. } if text.contains("env.") => {
                url::UrlError::Credentials {
                    shown: "***@".into(),
                }
            }
            e => e,
        };
        let mut msg = format!("{path} {checked}");
        if let url::UrlError::Scheme { .. } = &checked {
            match (from, kind) {
                (Some(TargetUrl::Base | TargetUrl::Auth), Kind::Ws) => {
                    msg.push_str(": start it with {{ws_url}}, the WebSocket URL of the target")
                }
                (Some(TargetUrl::Ws), Kind::Http) => {
                    msg.push_str(": start it with {{base_url}} or {{auth_url}}")
                }
                _ => {}
            }
        }
        match checked {
            // A literal URL: point at the character itself.
            url::UrlError::Whitespace { at } if !text.contains("{{") => {
                self.d.in_string(loc, path, text, at, msg)
            }
            _ => self.d.field(loc, path, msg),
        }
        None
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

/// The target URL a URL template starts with, if it starts with `{{base_url}}`, `{{auth_url}}` or
/// `{{ws_url}}`.
pub(super) fn target_prefix(text: &str) -> Option<TargetUrl> {
    let inner = text.strip_prefix("{{")?;
    let name = inner.get(..inner.find("}}")?)?.trim();
    TargetUrl::ALL.into_iter().find(|w| w.key() == name)
}

/// Checks a compiled URL template as far as it is known before the run: no whitespace in its
/// literal text, the scheme of its literal start, and the whole URL up to its first per-user part
/// when the host and port are inside that literal start.
fn check_template_url(t: &Template, kind: Kind) -> Result<(), url::UrlError> {
    for (i, part) in t.parts.iter().enumerate() {
        if let Part::Lit(s) = part {
            if let Some(at) = s.find(|c: char| c.is_whitespace() || c.is_control()) {
                // The offset is only exact in the first part; it is a hint, not a place.
                let at = if i == 0 { at } else { 0 };
                return Err(url::UrlError::Whitespace { at });
            }
        }
    }
    let Some(Part::Lit(start)) = t.parts.first() else {
        return Ok(()); // starts with a per-user value: checked when rendered
    };
    if t.is_constant() {
        return url::check(start, kind).map(|_| ());
    }
    url::check_scheme_prefix(start, kind)?;
    let (plain, secure) = kind.schemes();
    let rest = start
        .strip_prefix(plain)
        .or_else(|| start.strip_prefix(secure));
    match rest {
        Some(rest) if rest.contains(['/', '?', '#']) => url::check(start, kind).map(|_| ()),
        _ => Ok(()), // the host or port is a per-user value
    }
}
