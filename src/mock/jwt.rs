//! Tokens: mints HS256 access/refresh JWTs with the auth service's claims and verifies access tokens.
//!
//! Design choice: verification follows the real auth service's rules (protocol.md §2.2) — signature,
//! `exp`, `iat` ≤ 24 h old, `iss`, `jti`, `token_type == "access"`, `aud` only checked if present —
//! so a load tester minting its own tokens fails here exactly when it would fail against the server.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::clock::epoch_secs;

pub const ISSUER: &str = "netra-auth-service";
pub const AUDIENCE: &str = "netra-platform";
const ACCEPTED_AUDIENCES: [&str; 4] = [
    "netra-platform",
    "netra-services",
    "netra-backend",
    "netra-admin",
];
/// Access-token lifetime (the staging default of 30 min).
pub const ACCESS_TTL_SECS: u64 = 30 * 60;
const REFRESH_TTL_SECS: u64 = 7 * 24 * 3600;
/// Tokens issued longer ago than this are rejected whatever their `exp`.
const MAX_AGE_SECS: u64 = 24 * 3600;

/// Access or refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The claims the mock mints (protocol.md §2.2, without `svc_id`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub token_type: String,
    #[serde(rename = "type")]
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub env: String,
    pub email: String,
    pub permissions: Vec<String>,
}

/// Claims as read back on verification: tolerant of absent optional fields.
#[derive(Debug, Deserialize)]
struct Incoming {
    sub: String,
    iat: u64,
    jti: Option<String>,
    token_type: Option<String>,
    aud: Option<serde_json::Value>,
}

/// Why a presented token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, malformed, expired, wrong issuer or missing required claim.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// `token_type` is not `"access"` (refresh tokens and helper-made tokens with only `type`).
    #[error("not an access token")]
    NotAccess,
    /// `jti` missing.
    #[error("token has no jti")]
    NoJti,
    /// `aud` present but not a platform audience.
    #[error("audience not accepted")]
    Audience,
    /// `iat` more than 24 h ago (or in the future beyond leeway).
    #[error("token issued too long ago")]
    Stale,
}

/// The identity carried by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
}

/// Signing and verification keys plus the environment stamped into `env`.
pub struct Keys {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    env: String,
    /// Access-token lifetime, seconds.
    access_ttl: u64,
}

impl Keys {
    pub fn new(secret: &[u8], env: &str) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        Keys {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
            env: env.to_string(),
            access_ttl: ACCESS_TTL_SECS,
        }
    }

    /// Access tokens live `secs` (at least 1), and expiry is enforced without leeway (the
    /// default allows 60 s past `exp`), so a short lifetime expires when it says.
    pub fn with_access_ttl(mut self, secs: u64) -> Keys {
        self.access_ttl = secs.max(1);
        self.validation.leeway = 0;
        self
    }

    /// Mints a token for `sub`.
    pub fn mint(
        &self,
        kind: TokenKind,
        sub: &str,
        email: &str,
        permissions: &[String],
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = epoch_secs();
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => REFRESH_TTL_SECS,
        };
        let claims = Claims {
            sub: sub.to_string(),
            iat,
            exp: iat + ttl,
            token_type: kind.as_str().into(),
            typ: kind.as_str().into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: format!("jti_{}", uuid::Uuid::new_v4().simple()),
            env: self.env.clone(),
            email: email.to_string(),
            permissions: permissions.to_vec(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
    }

    /// Verifies an access token and returns who it is for.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let data = decode::<Incoming>(token, &self.dec, &self.validation)?;
        let c = data.claims;
        if c.token_type.as_deref() != Some("access") {
            return Err(TokenError::NotAccess);
        }
        if c.jti.as_deref().is_none_or(str::is_empty) {
            return Err(TokenError::NoJti);
        }
        if let Some(aud) = &c.aud {
            let ok =
                |v: &serde_json::Value| v.as_str().is_some_and(|a| ACCEPTED_AUDIENCES.contains(&a));
            let accepted = match aud {
                serde_json::Value::Array(items) => items.iter().any(ok),
                single => ok(single),
            };
            if !accepted {
                return Err(TokenError::Audience);
            }
        }
        let now = epoch_secs();
        if now.saturating_sub(c.iat) > MAX_AGE_SECS || c.iat > now + self.validation.leeway {
            return Err(TokenError::Stale);
        }
        Ok(Identity { user_id: c.sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_access_tokens_verify_and_others_do_not() {
        let keys = Keys::new(b"secret-for-tests", "test");
        let perms = vec!["read".to_string()];
        let access = keys
            .mint(TokenKind::Access, "user-a", "a@x.test", &perms)
            .expect("mint");
        assert_eq!(
            keys.verify(&access).expect("valid").user_id,
            "user-a".to_string()
        );
        let refresh = keys
            .mint(TokenKind::Refresh, "user-a", "a@x.test", &perms)
            .expect("mint");
        assert!(matches!(keys.verify(&refresh), Err(TokenError::NotAccess)));
        let other = Keys::new(b"another-secret", "test");
        assert!(matches!(other.verify(&access), Err(TokenError::Invalid(_))));
        assert!(keys.verify("not.a.jwt").is_err());
        assert!(keys.verify("").is_err());
    }

    /// A token `secs_ago` past its `exp` (signed with the same key).
    fn expired(keys: &Keys, secs_ago: u64) -> String {
        let now = epoch_secs();
        let claims = Claims {
            sub: "user-a".into(),
            iat: now - 60,
            exp: now - secs_ago,
            token_type: "access".into(),
            typ: "access".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: "jti_x".into(),
            env: "test".into(),
            email: "a@x.test".into(),
            permissions: Vec::new(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &keys.enc).expect("encode")
    }

    #[test]
    fn a_set_lifetime_is_minted_and_enforced_without_leeway() {
        let keys = Keys::new(b"secret-for-tests", "test").with_access_ttl(3);
        let token = keys
            .mint(TokenKind::Access, "user-a", "a@x.test", &[])
            .expect("mint");
        let data = decode::<Claims>(&token, &keys.dec, &keys.validation).expect("valid");
        assert_eq!(data.claims.exp - data.claims.iat, 3);
        // Two seconds past exp: refused with the lifetime set, accepted by the default leeway.
        assert!(matches!(
            keys.verify(&expired(&keys, 2)),
            Err(TokenError::Invalid(_))
        ));
        let lenient = Keys::new(b"secret-for-tests", "test");
        assert!(lenient.verify(&expired(&lenient, 2)).is_ok());
    }
}
