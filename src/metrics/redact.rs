//! Snippets of what a server sent, for error causes: one printable line, cut short, with
//! secrets masked (JSON fields named like secrets, and anything shaped like a JWT).
//!
//! A cause may quote a response body or a frame; those can carry tokens (a login response
//! answered with an unexpected status still holds its `access_token`). Only the error path
//! calls this, so parsing the JSON again costs nothing that matters.
//!
//! Failure transcripts (`frame_body`, `frame_head`) mask more: every value of a secret (an
//! environment variable's value used by the scenario, a secret variable), secret headers
//! (`Authorization`, `X-E2E-Bypass-Key`, ...), `jwt.<token>` subprotocols and `Bearer` words,
//! on the text as sent or received (never re-serialized), before it is cut.

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

/// Whether a name (a JSON key, a form field, a variable) is named like a secret.
pub fn is_secret_name(name: &str) -> bool {
    is_secret_key(name)
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

/// A frame's body for a transcript: secrets masked, then cut at `cap` bytes (on a character
/// boundary). `whole` is false when `raw` is only the start of the body: a secret (or a token)
/// cut off at its end is then masked too. True in the second place when the text was cut here.
pub fn frame_body(raw: &[u8], whole: bool, secrets: &[&str], cap: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(raw);
    let text = mask_values(&text, secrets, !whole);
    let text = mask_bearer(&mask_pairs(&mask_jwts(&mask_json_pairs(&text))));
    let mut text = if whole { text } else { mask_cut_word(&text) };
    if text.len() <= cap {
        return (text, false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

/// An HTTP request's head for a transcript (`METHOD URL`, then `Name: value` lines): secret
/// values, secret query parameters, secret headers and tokens in subprotocols masked.
pub fn frame_head(raw: &[u8], secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(raw);
    let cut = raw.len() >= super::transcript::HEAD_CAP;
    let text = mask_values(&text, secrets, cut);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let header = (i > 0).then(|| line.split_once(": ")).flatten();
        match header {
            Some((name, _)) if is_secret_header(name) => {
                out.push_str(name);
                out.push_str(": ***");
            }
            Some((name, value)) if name.eq_ignore_ascii_case("sec-websocket-protocol") => {
                out.push_str(name);
                out.push_str(": ");
                for (j, offer) in value.split(", ").enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    // `jwt.<token>`, `jwt-auth.<token>`, `bearer.<token>`: the name stays.
                    match offer.split_once('.') {
                        Some((name, _)) => {
                            out.push_str(name);
                            out.push_str(".***");
                        }
                        None => out.push_str(offer),
                    }
                }
            }
            _ => out.push_str(&mask_bearer(&mask_pairs(&mask_jwts(line)))),
        }
    }
    if cut {
        mask_cut_word(&out)
    } else {
        out
    }
}

/// Header names whose values are masked: secret-like names, cookies, keys. Allocates nothing
/// (a request's headers are checked as it is recorded).
pub fn is_secret_header(name: &str) -> bool {
    let has = |part: &str| {
        name.as_bytes()
            .windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    };
    SECRET_KEYS.iter().any(|s| has(s)) || ["cookie", "key", "auth"].iter().any(|s| has(s))
}

/// Writes a header's value as a transcript may hold it: `***` for a secret header, the tokens
/// of `Sec-WebSocket-Protocol` offers (`jwt.<token>`) masked, any other value as it is. Used
/// while recording, so no credential header sits in a user's tape.
pub fn write_header_value(out: &mut Vec<u8>, name: &str, value: &str) {
    if is_secret_header(name) {
        out.extend_from_slice(b"***");
    } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
        for (j, offer) in value.split(", ").enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            match offer.split_once('.') {
                Some((name, _)) => {
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b".***");
                }
                None => out.extend_from_slice(offer.as_bytes()),
            }
        }
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

/// Replaces every occurrence of each secret (as written, JSON-escaped and percent-encoded)
/// with `***`; with `cut_end`, also a start of one that ends the text (the rest was cut off).
fn mask_values(text: &str, secrets: &[&str], cut_end: bool) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let json = serde_json::to_string(s).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        let mut pct = String::new();
        crate::transport::push_query_encoded(&mut pct, s);
        for form in [s.to_string(), json, pct] {
            if form.is_empty() {
                continue;
            }
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "***");
            }
            if cut_end {
                // The longest start of the secret that the text ends with.
                let found = (1..form.len())
                    .rev()
                    .filter(|k| form.is_char_boundary(*k))
                    .find(|k| out.ends_with(&form[..*k]));
                if let Some(k) = found {
                    out.truncate(out.len() - k);
                    out.push_str("***");
                }
            }
        }
    }
    out
}

/// Masks the values of JSON members whose key is named like a secret, on the text itself (so a
/// document cut short is masked too, and the rest keeps its form): a string, number or literal
/// value becomes `"***"`, and so does a whole array or object.
fn mask_json_pairs(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let key_end = string_end(b, i);
        if key_end >= b.len() {
            // An unterminated string ends the text: no member follows it.
            break;
        }
        let key = &text[i + 1..key_end - 1];
        let mut j = key_end;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b':' || !is_secret_key(key) {
            i = key_end;
            continue;
        }
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() {
            break;
        }
        let value_end = match b[j] {
            b'"' => string_end(b, j),
            b'{' | b'[' => nested_end(b, j),
            _ => {
                let mut k = j;
                while k < b.len()
                    && !matches!(b[k], b',' | b'}' | b']')
                    && !b[k].is_ascii_whitespace()
                {
                    k += 1;
                }
                k
            }
        };
        out.push_str(&text[copied..j]);
        out.push_str("\"***\"");
        copied = value_end;
        i = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The index just past the JSON string starting at `b[start]` (a quote), or the text's end
/// (then the string is unterminated, unless its closing quote is the text's last byte).
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The index just past the array or object starting at `b[start]`, or the text's end.
fn nested_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Masks the word after `Bearer ` (any case): an opaque token that is not JWT-shaped.
fn mask_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("bearer ") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find("bearer ") {
        let word = at + i + "bearer ".len();
        let end = text[word..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';'))
            .map_or(text.len(), |e| word + e);
        out.push_str(&text[at..word]);
        if end > word && &text[word..end] != "***" {
            out.push_str("***");
        } else {
            out.push_str(&text[word..end]);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// A text cut short: its last word, if it may be the start of a token (`eyJ...`, or a long
/// run of base64url), is masked.
fn mask_cut_word(text: &str) -> String {
    let start = text
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &text[start..];
    if word.starts_with("eyJ") || word.len() >= 24 {
        format!("{}***", &text[..start])
    } else {
        text.to_string()
    }
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

    #[test]
    fn frame_bodies_mask_secret_values_keys_and_tokens_in_place() {
        let body = br#"{"email":"a@b.test", "password" : "CANARY-7f3a9c","n":1,"tokens":["x",{"y":"z"}],"note":"Bearer opaque123 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}"#;
        let (s, cut) = frame_body(body, true, &["CANARY-7f3a9c"], 512);
        assert!(!cut);
        assert_eq!(
            s,
            r#"{"email":"a@b.test", "password" : "***","n":1,"tokens":"***","note":"Bearer *** and ***"}"#
        );
        // A secret value anywhere, under any key, JSON-escaped or percent-encoded.
        let (s, _) = frame_body(
            br#"{"msg":"my key is s3cr\"t!","q":"k=s3cr%22t%21"}"#,
            true,
            &["s3cr\"t!"],
            512,
        );
        assert_eq!(s, r#"{"msg":"my key is ***","q":"k=***"}"#);
    }

    #[test]
    fn any_cut_of_any_text_is_masked_without_a_panic() {
        let text = r#"{"é":"x\"","password":"pé\"ss","list":["a",{"token":"t"}],"n":"…ok"}"#;
        for end in (0..=text.len()).filter(|e| text.is_char_boundary(*e)) {
            for cap in [0, 1, 7, 512] {
                let (s, _) = frame_body(&text.as_bytes()[..end], end == text.len(), &["pé"], cap);
                assert!(s.len() <= cap, "{s}");
                assert!(!s.contains("pé"), "{s}");
            }
        }
        // Bytes cut inside a character, and lone quotes.
        for raw in [
            &b"\"\xc3"[..],
            b"\"",
            b"\"\\",
            b"{\"password\"",
            b"{\"password\":",
        ] {
            let _ = frame_body(raw, false, &[], 512);
        }
    }

    #[test]
    fn a_body_cut_short_masks_what_its_end_may_hold() {
        // The capture ended inside a secret value, a secret's start, and a token.
        let (s, _) = frame_body(br#"{"password":"hunt"#, false, &[], 512);
        assert_eq!(s, r#"{"password":"***""#);
        let (s, _) = frame_body(b"the key is CANARY-7f", false, &["CANARY-7f3a9c"], 512);
        assert_eq!(s, "the key is ***");
        let (s, _) = frame_body(b"token eyJhbGciOiJIUzI1", false, &[], 512);
        assert_eq!(s, "token ***");
        // Cut on a character boundary.
        let (s, cut) = frame_body("é".repeat(10).as_bytes(), true, &[], 5);
        assert_eq!((s.as_str(), cut), ("éé", true));
    }

    #[test]
    fn frame_heads_mask_secret_headers_query_values_and_subprotocol_tokens() {
        let head = b"GET ws://h:1/ws?token=abc&mode=main\nAuthorization: Bearer xyz\nX-E2E-Bypass-Key: CANARY-7f3a9c\nSec-WebSocket-Protocol: jwt.abc.def, agent_chat\nX-Trace: 7 CANARY-7f3a9c";
        let s = frame_head(head, &["CANARY-7f3a9c"]);
        assert_eq!(
            s,
            "GET ws://h:1/ws?token=***&mode=main\nAuthorization: ***\nX-E2E-Bypass-Key: ***\n\
             Sec-WebSocket-Protocol: jwt.***, agent_chat\nX-Trace: 7 ***"
        );
    }
}
