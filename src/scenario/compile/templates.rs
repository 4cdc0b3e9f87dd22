//! Template text (`{{...}}`) and TOML values to `Template`s, with run-wide values folded in.
//!
//! Targets and `{{env.NAME}}` become literal text here, escaped for the template's context, so
//! the runner only ever substitutes per-user values. JSON templates are built by serializing the
//! TOML value around the string templates: literal parts hold the JSON text itself.

use std::collections::HashMap;

use crate::plan::{Target, VarId};
use crate::scenario::model::JsonSrc;
use crate::scenario::source::FieldPath;
use crate::scenario::template::{push_json_escaped, Escape, Part, Template};

/// Names a template may use besides declared variables.
pub const BUILTINS: [&str; 8] = [
    "vu",
    "iteration",
    "uuid",
    "now",
    "base_url",
    "auth_url",
    "ws_url",
    "env",
];

/// A problem in one template string, at a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TplError {
    pub offset: usize,
    pub message: String,
}

/// A problem inside a JSON template: the path of the bad value, its text and the error.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    pub path: FieldPath,
    pub text: String,
    pub error: TplError,
}

/// What templates can see at compile time.
pub struct Resolver<'a> {
    pub target: &'a Target,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub vars: &'a HashMap<String, VarId>,
    /// Declared variable names in declaration order (for messages).
    pub var_names: &'a [String],
    /// `validate`: an unset `{{env.NAME}}` without default renders empty and is listed in
    /// `unset_env` instead of being an error.
    pub allow_unset_env: bool,
    /// The unset environment variables met so far (with `allow_unset_env`).
    pub unset_env: Vec<String>,
    /// The `[data]` file could not be read, so its column names are not known: an unknown name
    /// is not reported (the file's own error is, and the plan is dropped).
    pub columns_unknown: bool,
    /// The environment variables' values used so far (secrets: transcripts mask them).
    pub env_values: Vec<String>,
}

/// Accumulates parts, merging adjacent literals.
pub struct Builder {
    parts: Vec<Part>,
    escape: Escape,
}

impl Builder {
    pub fn new(escape: Escape) -> Self {
        Builder {
            parts: Vec::new(),
            escape,
        }
    }

    /// Appends text that is already in the template's output form (JSON punctuation).
    pub fn raw(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        match self.parts.last_mut() {
            Some(Part::Lit(last)) => last.push_str(s),
            _ => self.parts.push(Part::Lit(s.to_owned())),
        }
    }

    /// Appends literal text, escaped for the template's context.
    pub fn text(&mut self, s: &str) {
        match self.escape {
            Escape::None => self.raw(s),
            Escape::Json => {
                let mut escaped = String::with_capacity(s.len());
                push_json_escaped(&mut escaped, s);
                self.raw(&escaped);
            }
        }
    }

    pub fn part(&mut self, part: Part) {
        match part {
            Part::Lit(s) => self.raw(&s),
            p => self.parts.push(p),
        }
    }

    pub fn finish(self) -> Template {
        Template {
            parts: self.parts,
            escape: self.escape,
        }
    }
}

impl Resolver<'_> {
    /// Compiles one template string.
    pub fn template(&mut self, text: &str, escape: Escape) -> Result<Template, Vec<TplError>> {
        let mut b = Builder::new(escape);
        let errors = self.parse_into(&mut b, text);
        if errors.is_empty() {
            Ok(b.finish())
        } else {
            Err(errors)
        }
    }

    /// Appends the template `text` to `b`; errors carry byte offsets into `text`.
    pub fn parse_into(&mut self, b: &mut Builder, text: &str) -> Vec<TplError> {
        let mut errors = Vec::new();
        let mut pos = 0;
        while let Some(found) = text[pos..].find("{{") {
            let open = pos + found;
            b.text(&text[pos..open]);
            let inner_start = open + 2;
            let close = text[inner_start..].find("}}").map(|i| inner_start + i);
            let nested = text[inner_start..].find("{{").map(|i| inner_start + i);
            let close = match (close, nested) {
                (Some(c), Some(n)) if n < c => None,
                (c, _) => c,
            };
            let Some(close) = close else {
                errors.push(TplError {
                    offset: open,
                    message: "unclosed `{{`: close it with `}}`".into(),
                });
                return errors;
            };
            if let Err(message) = self.resolve(b, text[inner_start..close].trim()) {
                errors.push(TplError {
                    offset: open,
                    message,
                });
            }
            pos = close + 2;
        }
        b.text(&text[pos..]);
        errors
    }

    fn resolve(&mut self, b: &mut Builder, name: &str) -> Result<(), String> {
        match name {
            "" => return Err("empty `{{}}`: put a variable name inside, e.g. {{vu}}".into()),
            "vu" => b.part(Part::Vu),
            "iteration" => b.part(Part::Iteration),
            "uuid" => b.part(Part::Uuid),
            "now" => b.part(Part::Now),
            "base_url" => b.text(&self.target.base_url),
            "auth_url" => b.text(&self.target.auth_url),
            "ws_url" => b.text(&self.target.ws_url),
            _ => {
                if let Some(spec) = name.strip_prefix("env.") {
                    return self.env_var(b, spec);
                }
                match self.vars.get(name) {
                    Some(id) => b.part(Part::Var(*id)),
                    None if self.columns_unknown => {}
                    None => return Err(self.unknown(name)),
                }
            }
        }
        Ok(())
    }

    /// `env.NAME` or `env.NAME:-default`; an empty value counts as unset when a default is given
    /// (as in the shell). Values are secrets: no message here ever contains one.
    fn env_var(&mut self, b: &mut Builder, spec: &str) -> Result<(), String> {
        let (var, default) = match spec.split_once(":-") {
            Some((v, d)) => (v.trim_end(), Some(d)),
            None => (spec, None),
        };
        if !is_identifier(var) {
            return Err(format!(
                "bad environment variable name `{var}`: use letters, digits and `_`, \
                 e.g. {{{{env.LOADTEST_PASSWORD}}}}"
            ));
        }
        match ((self.env)(var), default) {
            (Some(value), Some(d)) if value.is_empty() => b.text(d),
            (Some(value), _) => {
                b.text(&value);
                if !value.is_empty() && !self.env_values.contains(&value) {
                    self.env_values.push(value);
                }
            }
            (None, Some(d)) => b.text(d),
            (None, None) if self.allow_unset_env => {
                if !self.unset_env.iter().any(|n| n == var) {
                    self.unset_env.push(var.to_owned());
                }
            }
            (None, None) => {
                return Err(format!(
                    "environment variable `{var}` is not set and has no default: set it, or \
                     write {{{{env.{var}:-default}}}}"
                ))
            }
        }
        Ok(())
    }

    fn unknown(&self, name: &str) -> String {
        let mut msg = format!("unknown variable `{name}`");
        let known = self.var_names.iter().map(String::as_str).chain(BUILTINS);
        if let Some(close) = closest(name, known) {
            msg.push_str(&format!(" (did you mean `{close}`?)"));
        }
        if self.var_names.is_empty() {
            msg.push_str(
                "; no variables are declared (declare them in [vars], http.extract, ws.capture \
                 or a ws.respond capture)",
            );
        } else {
            msg.push_str("; declared variables: ");
            msg.push_str(&self.var_names.join(", "));
        }
        msg.push_str(
            "; built-ins: vu, iteration, uuid, now, base_url, auth_url, ws_url, env.NAME, \
             env.NAME:-default",
        );
        msg
    }

    /// Builds a JSON template from a TOML value; string values are templates whose variables
    /// are JSON-escaped when rendered.
    pub fn json(&mut self, value: &JsonSrc, path: &FieldPath) -> Result<Template, Vec<JsonError>> {
        let mut b = Builder::new(Escape::Json);
        let mut errors = Vec::new();
        self.json_into(&mut b, value, path, &mut errors);
        if errors.is_empty() {
            Ok(b.finish())
        } else {
            Err(errors)
        }
    }

    fn json_into(
        &mut self,
        b: &mut Builder,
        value: &JsonSrc,
        path: &FieldPath,
        errors: &mut Vec<JsonError>,
    ) {
        match value {
            JsonSrc::Bool(v) => b.raw(if *v { "true" } else { "false" }),
            JsonSrc::Int(v) => b.raw(&v.to_string()),
            JsonSrc::Float(v) => match serde_json::Number::from_f64(*v) {
                Some(n) => b.raw(&n.to_string()),
                None => errors.push(JsonError {
                    path: path.clone(),
                    text: String::new(),
                    error: TplError {
                        offset: 0,
                        message: "nan and inf cannot be written in JSON".into(),
                    },
                }),
            },
            JsonSrc::Str(s) => {
                b.raw("\"");
                for error in self.parse_into(b, s) {
                    errors.push(JsonError {
                        path: path.clone(),
                        text: s.clone(),
                        error,
                    });
                }
                b.raw("\"");
            }
            JsonSrc::Array(items) => {
                b.raw("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        b.raw(",");
                    }
                    self.json_into(b, item, &path.index(i), errors);
                }
                b.raw("]");
            }
            JsonSrc::Object(entries) => {
                b.raw("{");
                for (i, (key, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        b.raw(",");
                    }
                    let mut k = String::from("\"");
                    push_json_escaped(&mut k, key);
                    k.push_str("\":");
                    b.raw(&k);
                    self.json_into(b, item, &path.key(key), errors);
                }
                b.raw("}");
            }
        }
    }
}

/// The known name nearest to `name` (at most 2 edits away), for a "did you mean".
pub(crate) fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .filter(|k| edit_distance(k, name) <= 2)
        .min_by_key(|k| edit_distance(k, name))
}

/// Levenshtein distance over chars (names are short; used for "did you mean").
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::Ctx;

    fn target() -> Target {
        Target {
            base_url: "http://b:1".into(),
            auth_url: "http://a:2".into(),
            ws_url: "ws://b:1".into(),
            sources: Default::default(),
        }
    }

    fn with<R>(f: impl FnOnce(&mut Resolver) -> R) -> R {
        let t = target();
        let vars: HashMap<String, VarId> = [("token".to_string(), 0)].into_iter().collect();
        let names = vec!["token".to_string()];
        let env = |n: &str| match n {
            "SET" => Some("s\"ecret".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let mut r = Resolver {
            target: &t,
            env: &env,
            vars: &vars,
            var_names: &names,
            allow_unset_env: false,
            unset_env: Vec::new(),
            columns_unknown: false,
            env_values: Vec::new(),
        };
        f(&mut r)
    }

    #[test]
    fn folds_run_wide_values_and_merges_literals() {
        let t = with(|r| r.template("{{ base_url }}/x/{{vu}}-{{env.SET}}", Escape::None)).unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Lit("http://b:1/x/".into()),
                Part::Vu,
                Part::Lit("-s\"ecret".into())
            ]
        );
        let t = with(|r| {
            r.template(
                "a{{env.NOPE:-d}}{{env.EMPTY:-e}}{{env.EMPTY}}b",
                Escape::None,
            )
        });
        assert_eq!(t.unwrap().parts, vec![Part::Lit("adeb".into())]);
    }

    #[test]
    fn errors_have_offsets_and_never_show_env_values() {
        let e = with(|r| r.template("x {{nope}} {{env.MISSING}} {{", Escape::None)).unwrap_err();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].offset, 2);
        assert!(e[0].message.starts_with("unknown variable `nope`"));
        assert!(e[0]
            .message
            .contains("; declared variables: token; built-ins: vu,"));
        assert_eq!(e[1].offset, 11);
        assert!(e[1].message.contains("`MISSING` is not set"));
        assert_eq!(e[2].offset, 27);
        let e = with(|r| r.template("{{ a {{vu}}", Escape::None)).unwrap_err();
        assert_eq!(e[0].offset, 0);
        assert!(e[0].message.starts_with("unclosed"));
    }

    #[test]
    fn unset_env_is_noted_when_allowed() {
        let (t, unset) = with(|r| {
            r.allow_unset_env = true;
            let t = r.template("a{{env.MISSING}}b{{env.MISSING}}{{env.SET}}", Escape::None);
            (t, r.unset_env.clone())
        });
        assert_eq!(t.unwrap().parts, vec![Part::Lit("abs\"ecret".into())]);
        assert_eq!(unset, ["MISSING"]);
    }

    #[test]
    fn json_templates_render_valid_json() {
        let value = JsonSrc::Object(vec![
            ("type".into(), JsonSrc::Str("hello".into())),
            ("vu".into(), JsonSrc::Str("{{vu}}".into())),
            (
                "p".into(),
                JsonSrc::Object(vec![
                    ("t".into(), JsonSrc::Str("{{token}} {{env.SET}}".into())),
                    (
                        "n".into(),
                        JsonSrc::Array(vec![
                            JsonSrc::Int(1),
                            JsonSrc::Float(1.5),
                            JsonSrc::Bool(true),
                        ]),
                    ),
                ]),
            ),
        ]);
        let t = with(|r| r.json(&value, &FieldPath::of(&["json"]))).unwrap();
        let vars = vec![Some("a\"b".to_string())];
        let ctx = Ctx {
            vu: 7,
            iteration: 0,
            vars: &vars,
        };
        let s = t.render(&ctx).unwrap();
        assert_eq!(
            s,
            r#"{"type":"hello","vu":"7","p":{"t":"a\"b s\"ecret","n":[1,1.5,true]}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["p"]["t"], "a\"b s\"ecret");
    }

    #[test]
    fn json_errors_name_the_value() {
        let value = JsonSrc::Object(vec![(
            "a".into(),
            JsonSrc::Array(vec![JsonSrc::Str("{{x}}".into())]),
        )]);
        let e = with(|r| r.json(&value, &FieldPath::of(&["json"]))).unwrap_err();
        assert_eq!(e[0].path.to_string(), "json.a[0]");
        assert_eq!(e[0].text, "{{x}}");
    }
}
