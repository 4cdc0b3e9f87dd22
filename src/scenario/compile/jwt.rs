//! Lowering a `jwt` step: the algorithm, the key (only ever from the environment), the claims
//! template and the variable that gets the token.
//!
//! Design choice: the key is read and tried once here, by signing an empty claim set, so a bad
//! PEM or an empty secret is a `file:line` error before the run, not a failure in every flow.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::diag::Loc;
use super::header;
use super::steps::Lower;
use super::templates::is_identifier;
use crate::plan::JwtStep;
use crate::scenario::model::{self, JsonSrc};
use crate::scenario::source::FieldPath;

/// The algorithms a `jwt` step signs with: HMAC with a shared secret, RSA with a private key.
const ALGS: [(&str, Algorithm); 6] = [
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
];

/// Claims the step sets itself when `expires_in` is given.
const TIME_CLAIMS: [&str; 2] = ["iat", "exp"];

fn is_rsa(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
}

impl Lower<'_> {
    /// Lowers `jwt.*`; `None` when it has errors (all reported).
    pub(super) fn jwt(&mut self, loc: &Loc, j: &model::Jwt) -> Option<JwtStep> {
        let p = FieldPath::of(&["jwt"]);
        let alg = match j.alg.as_deref() {
            None => {
                let msg = "jwt.alg is required: \"HS256\" (a shared secret) or \"RS256\" (an RSA \
                           private key in PEM form)";
                self.d.field(loc, &p, msg);
                None
            }
            Some(a) => match ALGS.iter().find(|(name, _)| name.eq_ignore_ascii_case(a)) {
                Some((_, alg)) => Some(*alg),
                None => {
                    let names: Vec<&str> = ALGS.iter().map(|(n, _)| *n).collect();
                    let msg = format!(
                        "jwt.alg \"{a}\" is not supported; use one of {}",
                        names.join(", ")
                    );
                    self.d.field(loc, &p.key("alg"), msg);
                    None
                }
            },
        };
        let into = match &j.into {
            None => {
                let msg = "jwt.into is required: the variable that gets the token, e.g. \
                           into = \"token\"";
                self.d.field(loc, &p, msg);
                None
            }
            // An unknown id is a name that failed its declaration check (reported there).
            Some(name) => self.res.vars.get(name).copied(),
        };
        let expires_in = match &j.expires_in {
            None => None,
            Some(src) => {
                let d = header::duration(&mut self.d, loc, &p.key("expires_in"), src);
                match d {
                    Some(d) if d < Duration::from_secs(1) => {
                        let msg =
                            "jwt.expires_in must be at least 1s (JWT times are whole seconds)";
                        self.d.field(loc, &p.key("expires_in"), msg);
                        None
                    }
                    d => d,
                }
            }
        };
        let claims = match &j.claims {
            None => {
                let msg = "jwt.claims is required, e.g. claims = { sub = \"loadtest-{{vu}}\", \
                           iss = \"load-tester\" }";
                self.d.field(loc, &p, msg);
                None
            }
            Some(c @ JsonSrc::Object(entries)) => {
                if j.expires_in.is_some() {
                    for (k, _) in entries
                        .iter()
                        .filter(|(k, _)| TIME_CLAIMS.contains(&k.as_str()))
                    {
                        let msg = format!(
                            "claim `{k}` is set by jwt.expires_in (iat = now, exp = now + \
                             expires_in): remove one of them"
                        );
                        self.d.key(loc, &p.key("claims").key(k), msg);
                    }
                }
                self.json(loc, &p.key("claims"), c)
            }
            Some(_) => {
                let msg = "jwt.claims must be a table, e.g. { sub = \"loadtest-{{vu}}\" }";
                self.d.field(loc, &p.key("claims"), msg);
                None
            }
        };
        let key = match (&j.key, alg) {
            (None, _) => {
                let msg =
                    "jwt.key is required: the secret (HS*) or PEM private key (RS*) from the \
                           environment, e.g. key = \"{{env.JWT_SECRET}}\"";
                self.d.field(loc, &p, msg);
                None
            }
            (Some(_), None) => None,
            (Some(text), Some(alg)) => self.jwt_key(loc, &p.key("key"), text, alg),
        };
        Some(JwtStep {
            alg: alg?,
            key: key?,
            claims: claims?,
            expires_in,
            into: into?,
        })
    }

    /// The signing key from `{{env.NAME}}`, tried once. A key written in the file is refused.
    fn jwt_key(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        text: &str,
        alg: Algorithm,
    ) -> Option<EncodingKey> {
        let name = text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .map(str::trim)
            .and_then(|t| t.strip_prefix("env."))
            .filter(|n| is_identifier(n));
        let Some(name) = name else {
            let msg = "jwt.key must be exactly {{env.NAME}}: a signing key comes from the \
                       environment, never from the scenario file (files are committed and shared), \
                       e.g. key = \"{{env.JWT_SECRET}}\"";
            self.d.field(loc, path, msg);
            return None;
        };
        let Some(value) = (self.res.env)(name) else {
            if self.res.allow_unset_env {
                // `validate`: noted as unset; the plan is never run.
                if !self.res.unset_env.iter().any(|n| n == name) {
                    self.res.unset_env.push(name.to_owned());
                }
                return Some(EncodingKey::from_secret(b""));
            }
            let msg = format!(
                "environment variable `{name}` is not set: it must hold the {}",
                if is_rsa(alg) {
                    "RSA private key (PEM)"
                } else {
                    "HMAC secret"
                }
            );
            self.d.field(loc, path, msg);
            return None;
        };
        if value.trim().is_empty() {
            let msg = format!("environment variable `{name}` is empty: it must hold the key");
            self.d.field(loc, path, msg);
            return None;
        }
        // A secret like every environment value: masked wherever a transcript could show it.
        if !self.res.env_values.contains(&value) {
            self.res.env_values.push(value.clone());
        }
        let key = if is_rsa(alg) {
            // A PEM passed through a single-line env file often has its line breaks as `\n`.
            let pem = if !value.contains('\n') && value.contains("\\n") {
                value.replace("\\n", "\n")
            } else {
                value
            };
            match EncodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(k) => k,
                Err(_) => {
                    let msg = format!(
                        "environment variable `{name}` does not hold an RSA private key in PEM \
                         form (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
                    );
                    self.d.field(loc, path, msg);
                    return None;
                }
            }
        } else {
            EncodingKey::from_secret(value.as_bytes())
        };
        // A PEM can hold something that is not a usable RSA key: try it once now.
        if let Err(e) = jsonwebtoken::encode(&Header::new(alg), &serde_json::json!({}), &key) {
            let msg = format!(
                "the key in environment variable `{name}` cannot sign {alg:?} tokens ({})",
                error_words(&e)
            );
            self.d.field(loc, path, msg);
            return None;
        }
        Some(key)
    }
}

/// A signing error in words that cannot hold key material.
fn error_words(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => "not a valid RSA private key",
        ErrorKind::RsaFailedSigning => "RSA signing failed",
        _ => "signing failed",
    }
}
