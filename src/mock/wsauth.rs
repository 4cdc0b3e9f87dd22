//! WebSocket authentication at upgrade time: finds the token (subprotocol, header, query), verifies
//! it and picks the subprotocol to echo (protocol.md §3.2).
//!
//! Design choice: every token candidate is collected in the server's order and the first one that
//! verifies wins, like the real extractor; the outcome is a small `WsParams` value so the session
//! itself never sees headers.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hyper::header::{self, HeaderMap};

use super::jwt::Keys;

/// Token-bearing subprotocol prefixes; the rest of the offer is the JWT.
const TOKEN_PREFIXES: [&str; 3] = ["jwt-auth.", "jwt.", "bearer."];
/// Bare subprotocol names accepted without a token.
const BARE_NAMES: [&str; 6] = [
    "jwt-auth",
    "jwt",
    "bearer",
    "agent_chat",
    "staging-auth",
    "e2e-testing",
];
/// Query parameters that may carry the token.
const QUERY_KEYS: [&str; 4] = ["token", "jwt", "auth_token", "access_token"];

/// What the session needs to know about the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsParams {
    /// Verified user id (`sub`), or `None`: send AUTH_FAILED and close 1008.
    pub user_id: Option<String>,
    /// Subprotocols were offered but none is supported: close 1003.
    pub unsupported_subprotocol: bool,
}

/// Decides auth and the subprotocol to echo (`None`: no `Sec-WebSocket-Protocol` in the 101).
pub fn negotiate(
    headers: &HeaderMap,
    query: Option<&str>,
    keys: &Keys,
) -> (WsParams, Option<String>) {
    let offers: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();

    let mut user_id = None;
    let mut chosen = None;
    for offer in &offers {
        let Some(rest) = TOKEN_PREFIXES.iter().find_map(|p| offer.strip_prefix(p)) else {
            continue;
        };
        chosen.get_or_insert(*offer);
        if user_id.is_none() {
            if let Some(id) = token_candidates(rest).find_map(|t| keys.verify(&t).ok()) {
                user_id = Some(id.user_id);
                chosen = Some(*offer);
            }
        }
    }
    if chosen.is_none() {
        chosen = offers.iter().copied().find(|o| BARE_NAMES.contains(o));
    }
    if user_id.is_none() {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string());
        let from_query = query_values(query.unwrap_or_default());
        user_id = bearer
            .into_iter()
            .chain(from_query)
            .find_map(|t| keys.verify(&t).ok())
            .map(|id| id.user_id);
    }
    let params = WsParams {
        user_id,
        unsupported_subprotocol: !offers.is_empty() && chosen.is_none(),
    };
    (params, chosen.map(str::to_string))
}

/// Readings of the part after a token prefix: the raw JWT, the last three dot segments (Oct form
/// `jwt.<env>.<token>`), or a base64url-encoded JWT (legacy frontend).
fn token_candidates(rest: &str) -> impl Iterator<Item = String> + '_ {
    let segments = rest.split('.').count();
    let tail = (segments > 3).then(|| {
        let mut parts: Vec<&str> = rest.rsplitn(4, '.').take(3).collect();
        parts.reverse();
        parts.join(".")
    });
    let decoded = (segments == 1)
        .then(|| {
            URL_SAFE_NO_PAD
                .decode(rest)
                .or_else(|_| URL_SAFE.decode(rest))
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        })
        .flatten();
    std::iter::once(rest.to_string()).chain(tail).chain(decoded)
}

/// Token values from the query string, in `QUERY_KEYS` order.
fn query_values(query: &str) -> Vec<String> {
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    QUERY_KEYS
        .iter()
        .filter_map(|k| pairs.iter().find(|(name, _)| name == k))
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::jwt::TokenKind;

    fn keys_and_token() -> (Keys, String) {
        let keys = Keys::new(b"k", "test");
        let t = keys
            .mint(TokenKind::Access, "u1", "u1@x.test", &[])
            .expect("mint");
        (keys, t)
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn token_forms_are_all_found() {
        let (keys, t) = keys_and_token();
        let enc = URL_SAFE_NO_PAD.encode(&t);
        for offer in [
            format!("jwt.{t}"),
            format!("jwt.staging.{t}"),
            format!("bearer.{enc}"),
        ] {
            let (p, proto) = negotiate(
                &headers(&[("sec-websocket-protocol", offer.clone())]),
                None,
                &keys,
            );
            assert_eq!(p.user_id.as_deref(), Some("u1"), "{offer}");
            assert_eq!(proto, Some(offer));
        }
        let (p, _) = negotiate(&HeaderMap::new(), Some(&format!("a=1&token={t}")), &keys);
        assert_eq!(p.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn unsupported_offers_and_bad_tokens() {
        let (keys, t) = keys_and_token();
        let (p, proto) = negotiate(
            &headers(&[("sec-websocket-protocol", "chat, x".into())]),
            None,
            &keys,
        );
        assert!(p.unsupported_subprotocol);
        assert_eq!(proto, None);
        let h = headers(&[
            ("sec-websocket-protocol", "agent_chat, jwt.garbage".into()),
            ("authorization", format!("Bearer {t}")),
        ]);
        let (p, proto) = negotiate(&h, None, &keys);
        assert_eq!(p.user_id.as_deref(), Some("u1"));
        assert_eq!(proto.as_deref(), Some("jwt.garbage"));
        assert!(!p.unsupported_subprotocol);
        assert_eq!(percent_decode("a%2Eb+c%zz"), "a.b c%zz");
    }
}
