//! `http.headers` and `ws.headers`: names checked, the headers the tool owns for framing refused,
//! each name given once.
//!
//! The tool writes the request's framing itself (`Content-Length`, the connection's reuse, the
//! WebSocket handshake); a scenario that could add its own would send two conflicting framings —
//! the request-smuggling pattern — so those names are refused here, with what to use instead.
//! Other names, `Host`, `User-Agent`, `Content-Type` and `Accept` included, are kept: at run time
//! a scenario header replaces the tool's default of the same name.

use http::HeaderName;

use super::diag::Loc;
use super::steps::Lower;
use crate::scenario::model::Entries;
use crate::scenario::source::FieldPath;
use crate::scenario::template::{Escape, Part, Template};

/// Why the tool owns header `name` (lower case) in an `http` step (`ws` false) or a `ws.connect`
/// step; `None` when a scenario may set it.
pub fn owned(name: &str, ws: bool) -> Option<&'static str> {
    let why = match name {
        "content-length" => {
            "the tool writes Content-Length from the body (http.json or http.body)"
        }
        "transfer-encoding" => {
            "the tool frames every body with Content-Length; a second framing header makes the \
             request ambiguous to proxies (request smuggling)"
        }
        "connection" | "keep-alive" => {
            "the tool manages its connections itself (kept alive and reused per user)"
        }
        "te" | "trailer" => {
            "the tool sends no trailers and reads chunked or sized responses by itself"
        }
        "upgrade" if ws => "ws.connect writes the WebSocket upgrade itself",
        "upgrade" => "an http step cannot switch protocols: use a ws.connect step for WebSockets",
        "sec-websocket-protocol" => {
            "list subprotocols in ws.subprotocols instead, e.g. ws.subprotocols = [\"jwt.{{token}}\"]"
        }
        "sec-websocket-extensions" => "the tool negotiates no WebSocket extensions",
        n if n.starts_with("sec-websocket-") => {
            "the tool writes the WebSocket handshake (key, version, accept) itself"
        }
        _ => return None,
    };
    Some(why)
}

impl Lower<'_> {
    /// Header name → value template; names are checked, values must not hold control characters.
    pub(super) fn headers(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        src: Option<&Entries<String>>,
    ) -> Vec<(HeaderName, Template)> {
        let ws = path.to_string().starts_with("ws.");
        let mut out: Vec<(HeaderName, Template)> = Vec::new();
        let mut seen: Vec<(HeaderName, &str)> = Vec::new();
        for (name, value) in src.iter().flat_map(|e| &e.0) {
            let at = path.key(name);
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                let msg = format!(
                    "invalid header name \"{name}\": use letters, digits and !#$%&'*+-.^_`|~ only"
                );
                self.d.key(loc, &at, msg);
                continue;
            };
            if let Some(why) = owned(header.as_str(), ws) {
                let msg = format!("header `{name}` cannot be set by a scenario: {why}");
                self.d.key(loc, &at, msg);
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(h, _)| *h == header) {
                let msg = format!(
                    "header `{name}` is given twice (also as `{first}`; header names ignore \
                     case): keep one"
                );
                self.d.key(loc, &at, msg);
                continue;
            }
            seen.push((header.clone(), name));
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
            out.push((header, t));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::owned;

    #[test]
    fn framing_headers_are_owned_and_defaults_are_not() {
        for name in [
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
            "te",
            "trailer",
            "sec-websocket-key",
            "sec-websocket-version",
            "sec-websocket-accept",
            "sec-websocket-protocol",
            "sec-websocket-extensions",
            "sec-websocket-anything",
        ] {
            assert!(owned(name, false).is_some(), "{name}");
            assert!(owned(name, true).is_some(), "{name}");
        }
        for name in [
            "host",
            "user-agent",
            "content-type",
            "accept",
            "authorization",
            "origin",
            "x-e2e-bypass-key",
        ] {
            assert_eq!(owned(name, false), None, "{name}");
            assert_eq!(owned(name, true), None, "{name}");
        }
        assert!(owned("sec-websocket-protocol", true)
            .unwrap()
            .contains("ws.subprotocols"));
        assert!(owned("upgrade", false).unwrap().contains("ws.connect"));
    }
}
