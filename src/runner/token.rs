//! Token refresh: when a user's session variables hold a JWT, its `exp` (read from the token,
//! not verified: the server does that) says when the setup must run again, before the next flow.
//!
//! Design choice: the token's own `exp` is the truth. A login answer's `expires_in` is not
//! trusted (the platform's auth service hard-codes 900 s whatever the real lifetime,
//! protocol.md §2), and nothing in the scenario has to name the token: every variable that
//! parses as a JWT with an `exp` counts, the earliest wins.

use base64::Engine as _;

/// When a session's tokens expire: the earliest `exp` of the JWTs among `vars`, with the
/// lifetime it was issued for (`exp - iat`) when the token says. None: no token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Epoch seconds.
    pub exp: u64,
    /// Seconds, when `iat` is present.
    pub lifetime: Option<u64>,
}

impl Expiry {
    /// The earliest expiry of the JWTs among `vars`.
    pub fn of<'a>(vars: impl IntoIterator<Item = &'a Option<String>>) -> Option<Expiry> {
        vars.into_iter()
            .flatten()
            .filter_map(|v| claims(v))
            .min_by_key(|e| e.exp)
    }

    /// Whether the session must log in again before a flow starting at `now` (epoch seconds):
    /// within a margin of a quarter of the lifetime, at least 1 s and at most 60 s (a flow
    /// must be able to authenticate with it after it starts).
    pub fn due(&self, now: f64) -> bool {
        let margin = self
            .lifetime
            .map_or(60.0, |l| (l as f64 / 4.0).clamp(1.0, 60.0));
        now + margin >= self.exp as f64
    }
}

/// The `exp` (and `iat`) of a JWT, read without verification; None for anything else.
fn claims(token: &str) -> Option<Expiry> {
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || sig.is_empty() {
        return None;
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |s: &str| b64.decode(s.trim_end_matches('=')).ok();
    let header: serde_json::Value = serde_json::from_slice(&decode(header)?).ok()?;
    header.get("alg")?;
    let payload: serde_json::Value = serde_json::from_slice(&decode(payload)?).ok()?;
    let exp = payload.get("exp")?.as_f64().filter(|e| *e > 0.0)? as u64;
    let lifetime = payload
        .get("iat")
        .and_then(serde_json::Value::as_f64)
        .and_then(|iat| (exp as f64 > iat).then_some((exp as f64 - iat) as u64));
    Some(Expiry { exp, lifetime })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.c2ln",
            b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64.encode(payload)
        )
    }

    #[test]
    fn the_earliest_jwt_expiry_among_the_variables_counts() {
        let vars = vec![
            None,
            Some("plain text".to_string()),
            Some(jwt(r#"{"sub":"a","iat":1000,"exp":1900}"#)),
            Some(jwt(r#"{"sub":"a","iat":1000,"exp":1003}"#)),
            Some("a.b.c".to_string()),
            Some(jwt(r#"{"sub":"no exp"}"#)),
        ];
        assert_eq!(
            Expiry::of(&vars),
            Some(Expiry {
                exp: 1003,
                lifetime: Some(3)
            })
        );
        assert_eq!(Expiry::of(&[Some("x".to_string())]), None);
        assert_eq!(Expiry::of(&[Some(jwt("not json"))]), None);
    }

    #[test]
    fn due_within_a_quarter_of_the_lifetime_between_1_and_60_s() {
        let short = Expiry {
            exp: 1003,
            lifetime: Some(3),
        };
        assert!(!short.due(1001.9));
        assert!(short.due(1002.0));
        let long = Expiry {
            exp: 1000 + 1800,
            lifetime: Some(1800),
        };
        assert!(!long.due(2739.0));
        assert!(long.due(2740.0));
        let unknown = Expiry {
            exp: 5000,
            lifetime: None,
        };
        assert!(!unknown.due(4939.0) && unknown.due(4940.0));
    }
}
