//! Snippets of what a server sent, for error causes: one printable line, cut short, with
//! secrets masked (JSON fields named like secrets, and anything shaped like a JWT).
//!
//! A cause may quote a response body or a frame; those can carry tokens (a login response
//! answered with an unexpected status still holds its `access_token`). Only the error path
//! calls this, so parsing the JSON again costs nothing that matters.

/// Field names whose string values are masked (compared case-insensitively, as substrings).
const SECRET_KEYS: [&str; 8] = [
    "token",
    "password",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "jwt",
    "bypass",
];

/// A printable one-line snippet of `bytes`, at most `max` characters (then `…`), secrets masked.
pub fn snippet(bytes: &[u8], max: usize) -> String {
    // Large bodies: only their start matters (and a cut JSON document no longer parses, so its
    // JWT-shaped values are still masked by the text pass).
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = match serde_json::from_slice::<serde_json::Value>(head) {
        Ok(mut v) => {
            mask(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(head).into_owned(),
    };
    let text = mask_pairs(&mask_jwts(&text));
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim().to_string()
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

fn mask(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) {
                    // Whatever it holds (a string, a list of tokens, an object): all of it.
                    *val = serde_json::Value::String("***".into());
                } else {
                    mask(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Masks the values of `key=value` pairs whose key is named like a secret (form bodies, query
/// strings, `password=...` in a text message): the value runs to the next `&`, `;`, `,`,
/// quote or whitespace.
fn mask_pairs(text: &str) -> String {
    let stop = |c: char| c.is_whitespace() || matches!(c, '&' | ';' | ',' | '"' | '\'');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq]
            .char_indices()
            .rfind(|(_, c)| stop(*c) || *c == '?')
            .map_or(0, |(i, c)| i + c.len_utf8());
        let value_end = rest[eq + 1..].find(stop).map_or(rest.len(), |i| eq + 1 + i);
        out.push_str(&rest[..=eq]);
        if is_secret_key(&rest[key_start..eq]) && value_end > eq + 1 {
            out.push_str("***");
        } else {
            out.push_str(&rest[eq + 1..value_end]);
        }
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

/// Masks JWT-shaped words: `eyJ` followed by base64url, a dot, and more base64url and dots.
fn mask_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let len = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
            .count();
        let word = &tail[..len];
        if word.matches('.').count() >= 1 && len >= 16 {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        rest = &tail[len.max(3)..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_and_jwts_are_masked() {
        let body = br#"{"access_token":"abc.def","user":{"password":"hunter2","name":"x"},"note":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}"#;
        let s = snippet(body, 500);
        assert!(
            !s.contains("abc.def") && !s.contains("hunter2") && !s.contains("eyJhbG"),
            "{s}"
        );
        assert!(s.contains("\"name\":\"x\""), "{s}");
        let plain = snippet(
            b"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig end\n\x07",
            500,
        );
        assert_eq!(plain, "token *** end");
    }

    #[test]
    fn secret_lists_and_form_pairs_are_masked() {
        let s = snippet(br#"{"password":["x1"],"tokens":{"a":"abc"},"n":1}"#, 500);
        assert_eq!(s, r#"{"n":1,"password":"***","tokens":"***"}"#);
        let form = snippet(
            b"email=a%40b.test&password=hunter2&api_key=k-1 note=ok",
            500,
        );
        assert_eq!(form, "email=a%40b.test&password=***&api_key=*** note=ok");
        // A multi-byte separator before a key, and a value that is empty.
        assert_eq!(
            snippet("x\u{a0}token=t&password=".as_bytes(), 500),
            "x\u{a0}token=***&password="
        );
    }

    #[test]
    fn snippets_are_cut_and_one_line() {
        let s = snippet("line one\nline two".repeat(50).as_bytes(), 20);
        assert_eq!(s.chars().count(), 21);
        assert!(!s.contains('\n'));
        assert_eq!(snippet(&[0xff, 0xfe, b'a'], 10), "��a");
    }
}
