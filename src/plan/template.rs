//! `{{...}}` templates, split once at compile time into literal and variable parts.
//!
//! Rendering is a concatenation into a caller-owned `String`: no parsing, no map look-ups. Run-wide
//! values (`{{base_url}}`, `{{env.NAME}}`) are folded into literals when the scenario is compiled;
//! what remains are per-user values (`{{vu}}`, `{{iteration}}`, `{{uuid}}`, `{{now}}`, variables).

use std::fmt::Write as _;

use crate::plan::VarId;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text, already escaped for the template's context.
    Lit(String),
    /// The virtual user's number (0-based, unique across shards).
    Vu,
    /// The iteration number of this user (0-based; 0 during setup).
    Iteration,
    /// A fresh random UUID v4.
    Uuid,
    /// The current time, ISO-8601 UTC.
    Now,
    /// A scenario variable (extracted, captured or declared in `[vars]`).
    Var(VarId),
}

/// How substituted values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As is (URLs, headers, raw bodies).
    None,
    /// Inside a JSON string literal.
    Json,
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    pub escape: Escape,
}

/// The per-user values a template can see.
pub struct Ctx<'a> {
    pub vu: u64,
    pub iteration: u64,
    pub vars: &'a [Option<String>],
}

/// Rendering failed: a variable had no value yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unset(pub VarId);

impl Template {
    /// A template that is one literal.
    pub fn literal(text: impl Into<String>, escape: Escape) -> Self {
        Template {
            parts: vec![Part::Lit(text.into())],
            escape,
        }
    }

    /// True when rendering needs no per-user value.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = VarId> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(*v),
            _ => None,
        })
    }

    /// Appends the rendered text to `out`.
    pub fn render_into(&self, ctx: &Ctx<'_>, out: &mut String) -> Result<(), Unset> {
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Vu => {
                    let _ = write!(out, "{}", ctx.vu);
                }
                Part::Iteration => {
                    let _ = write!(out, "{}", ctx.iteration);
                }
                Part::Uuid => {
                    let _ = write!(out, "{}", uuid::Uuid::new_v4());
                }
                Part::Now => push_escaped(out, &now_iso8601(), self.escape),
                Part::Var(v) => match ctx.vars.get(*v as usize).and_then(|x| x.as_deref()) {
                    Some(value) => push_escaped(out, value, self.escape),
                    None => return Err(Unset(*v)),
                },
            }
        }
        Ok(())
    }

    /// Renders into a new `String`.
    pub fn render(&self, ctx: &Ctx<'_>) -> Result<String, Unset> {
        let mut out = String::new();
        self.render_into(ctx, &mut out)?;
        Ok(out)
    }
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Json => push_json_escaped(out, value),
    }
}

/// Escapes `value` for use inside a JSON string literal (without the quotes).
pub fn push_json_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// The current UTC time as ISO-8601 with milliseconds, e.g. `2026-11-25T17:28:59.123Z`.
pub fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(now.as_secs(), now.subsec_millis())
}

/// Formats seconds since the Unix epoch as ISO-8601 UTC (civil-from-days, H. Hinnant's algorithm).
pub fn iso8601(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parts_and_escapes_json() {
        let t = Template {
            parts: vec![
                Part::Lit("{\"email\":\"u".into()),
                Part::Vu,
                Part::Lit("\",\"x\":\"".into()),
                Part::Var(0),
                Part::Lit("\"}".into()),
            ],
            escape: Escape::Json,
        };
        let vars = vec![Some("a\"b\\c\n".to_string())];
        let ctx = Ctx {
            vu: 42,
            iteration: 3,
            vars: &vars,
        };
        let s = t.render(&ctx).unwrap();
        assert_eq!(s, r#"{"email":"u42","x":"a\"b\\c\n"}"#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["x"], "a\"b\\c\n");
    }

    #[test]
    fn unset_variable_is_an_error() {
        let t = Template {
            parts: vec![Part::Lit("x".into()), Part::Var(1)],
            escape: Escape::None,
        };
        let vars = vec![Some("a".into()), None];
        let ctx = Ctx {
            vu: 0,
            iteration: 0,
            vars: &vars,
        };
        assert_eq!(t.render(&ctx), Err(Unset(1)));
    }

    #[test]
    fn iso8601_known_dates() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_760_000_000, 5), "2025-10-09T08:53:20.005Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
