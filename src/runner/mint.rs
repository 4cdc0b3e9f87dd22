//! The `jwt` step: renders the claims template, adds `iat`/`exp`, and signs the token.
//!
//! Design choice: the claims template always renders a JSON object (strings escaped, numbers as
//! written), so the only parse is of our own output; `exp` comes from the clock at signing time,
//! which is what token refresh (`runner::token`) reads back from the token to re-mint it.

use jsonwebtoken::{encode, Header};

use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::plan::JwtStep;
use crate::scenario::template::{Ctx, Unset};

/// Why minting failed: a variable the claims use had no value, or signing failed.
#[derive(Debug)]
pub enum MintError {
    /// A claim used a variable with no value yet.
    Unset(Unset),
    /// The rendered claims or the signature failed (the message holds no key material).
    Failed(Failure),
}

/// A token for `step`'s claims rendered in `ctx`, signed at `now` (epoch seconds).
pub fn mint(step: &JwtStep, ctx: &Ctx<'_>, now: u64) -> Result<String, MintError> {
    let text = step.claims.render(ctx).map_err(MintError::Unset)?;
    let failed = |why: String| {
        MintError::Failed(Failure::new(ErrorKind::InvalidRequest, Phase::Template).cause(why))
    };
    let mut claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| failed(format!("jwt: the claims are not a JSON object ({e})")))?;
    if let Some(ttl) = step.expires_in {
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + ttl.as_secs()).into());
    }
    encode(&Header::new(step.alg), &claims, &step.key)
        .map_err(|_| failed(format!("jwt: signing with {:?} failed", step.alg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::{Escape, Part, Template};
    use jsonwebtoken::{decode, Algorithm, DecodingKey, EncodingKey, Validation};
    use std::time::Duration;

    /// A 2048-bit RSA key pair made for these tests only (`openssl genrsa 2048`), PKCS#8 and
    /// PKCS#1 forms of the same private key.
    const PRIVATE_PKCS8: &str = include_str!("../../tests/fixtures/jwt/rsa-private.pem");
    const PRIVATE_PKCS1: &str = include_str!("../../tests/fixtures/jwt/rsa-private-pkcs1.pem");
    const PUBLIC: &str = include_str!("../../tests/fixtures/jwt/rsa-public.pem");

    fn claims() -> Template {
        Template {
            parts: vec![
                Part::Lit(r#"{"sub":"loadtest-"#.into()),
                Part::Vu,
                Part::Lit(r#"","email":""#.into()),
                Part::Var(0),
                Part::Lit(r#"","n":3,"iss":"load-tester"}"#.into()),
            ],
            escape: Escape::Json,
        }
    }

    fn step(alg: Algorithm, key: EncodingKey) -> JwtStep {
        JwtStep {
            alg,
            key,
            claims: claims(),
            expires_in: Some(Duration::from_secs(900)),
            into: 1,
        }
    }

    #[derive(serde::Deserialize)]
    struct Read {
        sub: String,
        email: String,
        n: u64,
        iat: u64,
        exp: u64,
    }

    fn ctx(vars: &[Option<String>]) -> Ctx<'_> {
        Ctx {
            vu: 42,
            iteration: 0,
            vars,
        }
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let vars = vec![Some("a\"b@x.test".to_string()), None];
        let public = DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        for pem in [PRIVATE_PKCS8, PRIVATE_PKCS1] {
            let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            let token = mint(&step(Algorithm::RS256, key), &ctx(&vars), 1_000).unwrap();
            let got = decode::<Read>(&token, &public, &validation).unwrap();
            assert_eq!(got.header.alg, Algorithm::RS256);
            let c = got.claims;
            assert_eq!(
                (c.sub.as_str(), c.email.as_str(), c.n),
                ("loadtest-42", "a\"b@x.test", 3)
            );
            assert_eq!((c.iat, c.exp), (1_000, 1_900));
        }
        // Another key's signature does not verify.
        let hs = mint(
            &step(Algorithm::HS256, EncodingKey::from_secret(b"k")),
            &ctx(&vars),
            1_000,
        )
        .unwrap();
        assert!(decode::<Read>(&hs, &public, &validation).is_err());
    }

    #[test]
    fn hs256_tokens_carry_exp_for_token_refresh() {
        let vars = vec![Some("e@x.test".to_string()), None];
        let token = mint(
            &step(Algorithm::HS256, EncodingKey::from_secret(b"s3cret")),
            &ctx(&vars),
            5_000,
        )
        .unwrap();
        let expiry = crate::runner::token::Expiry::of(&[Some(token.clone())]).unwrap();
        assert_eq!((expiry.exp, expiry.lifetime), (5_900, Some(900)));
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        let got = decode::<Read>(&token, &DecodingKey::from_secret(b"s3cret"), &v).unwrap();
        assert_eq!(got.claims.sub, "loadtest-42");
        // Without expires_in, the claims are signed as written.
        let mut s = step(Algorithm::HS256, EncodingKey::from_secret(b"s3cret"));
        s.expires_in = None;
        let token = mint(&s, &ctx(&vars), 5_000).unwrap();
        assert_eq!(crate::runner::token::Expiry::of(&[Some(token)]), None);
    }

    #[test]
    fn an_unset_claim_variable_is_reported() {
        let vars = vec![None, None];
        let s = step(Algorithm::HS256, EncodingKey::from_secret(b"k"));
        assert!(matches!(
            mint(&s, &ctx(&vars), 1),
            Err(MintError::Unset(Unset(0)))
        ));
    }
}
