//! `[target]` with its overrides: every URL checked wherever it came from (scenario, flag, env
//! var), then resolved with its source kept for messages.
//!
//! A scenario's `[target]` is one set. When the base URL is overridden (flag, env var, `--mock`)
//! and `auth_url` / `ws_url` are not, they follow the override — `auth_url` is the target,
//! `ws_url` is derived from it — instead of keeping the scenario's own values: a remote
//! `--target` with the scenario's `localhost` auth service is never what a user wants.

use super::diag::{Diags, Loc};
use crate::plan::{Target, TargetUrl, UrlSource, UrlSources};
use crate::scenario::model;
use crate::scenario::source::FieldPath;
use crate::scenario::url::{self, Kind};
use crate::scenario::Overrides;

/// The base URL when neither the scenario nor an override gives one.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8000";

/// A usable URL and where it came from.
type Found = (String, UrlSource);

/// `[target]` with overrides; `ws_url` derives from `base_url` when not given.
pub fn target(d: &mut Diags, root: &Loc, file: &model::Target, o: &Overrides) -> Target {
    // Every value is checked, used or not: a bad value in the file is an error in the file.
    let given = |d: &mut Diags, which: TargetUrl, v: &Option<String>| {
        let from_file = in_file(d, root, which, v.as_deref());
        (overridden(d, o, which), from_file)
    };
    let (base_over, base_file) = given(d, TargetUrl::Base, &file.base_url);
    let (auth_over, auth_file) = given(d, TargetUrl::Auth, &file.auth_url);
    let (ws_over, ws_file) = given(d, TargetUrl::Ws, &file.ws_url);

    let base = base_over
        .or(base_file)
        .unwrap_or_else(|| (DEFAULT_BASE_URL.to_owned(), UrlSource::Default));
    // The scenario's own auth and WebSocket URLs go with its own base URL only.
    let follow = base.1.is_override();
    let keep = |f: Option<Found>| f.filter(|_| !follow);
    let auth = auth_over
        .or(keep(auth_file))
        .unwrap_or_else(|| (base.0.clone(), UrlSource::Derived(TargetUrl::Base)));
    let ws = ws_over
        .or(keep(ws_file))
        .unwrap_or_else(|| (ws_from(&base.0), UrlSource::Derived(TargetUrl::Base)));
    Target {
        base_url: base.0,
        auth_url: auth.0,
        ws_url: ws.0,
        sources: UrlSources {
            base_url: base.1,
            auth_url: auth.1,
            ws_url: ws.1,
        },
    }
}

/// The kind of URL each target URL is.
pub fn kind(which: TargetUrl) -> Kind {
    match which {
        TargetUrl::Base | TargetUrl::Auth => Kind::Http,
        TargetUrl::Ws => Kind::Ws,
    }
}

/// `http://h` → `ws://h`, `https://h` → `wss://h`.
pub fn ws_from(base: &str) -> String {
    match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", base.strip_prefix("http://").unwrap_or(base)),
    }
}

/// The scenario's value, checked; `None` when absent or bad (bad ones are reported, and left
/// out so that every URL built from them does not report a second error).
fn in_file(d: &mut Diags, root: &Loc, which: TargetUrl, value: Option<&str>) -> Option<Found> {
    let value = value?;
    let path = FieldPath::of(&["target", which.key()]);
    if let Err(e) = url::check(value, kind(which)) {
        d.field(root, &path, format!("target.{} {e}", which.key()));
        return None;
    }
    let span = root.node.span_of(&path);
    let place = d.src.place(span.map_or(0, |s| s.start));
    let source = UrlSource::Scenario {
        place,
        field: which.key(),
    };
    Some((value.trim_end_matches('/').to_owned(), source))
}

/// The override's value, checked; its message names the flag or env var, never the value.
fn overridden(d: &mut Diags, o: &Overrides, which: TargetUrl) -> Option<Found> {
    let (value, from) = o.url(which);
    let value = value?;
    let name = match &from {
        Some(src) => src.to_string(),
        None => format!("{} (or {})", which.flag(), which.env()),
    };
    if let Err(e) = url::check(value, kind(which)) {
        d.outside(
            &format!("target.{}", which.key()),
            format!("{name} {e} (it overrides [target].{})", which.key()),
        );
        return None;
    }
    let source = from.unwrap_or(UrlSource::Flag(which.flag()));
    Some((value.trim_end_matches('/').to_owned(), source))
}
