//! JUnit XML: the model (suites of test cases with failures) and its writer; what each command
//! reports as test cases is built by that command's module (`from_summary`, `compare`).
//!
//! The format is the one CI systems read (Jenkins, GitLab, GitHub test reporters): `<testsuites>`
//! holding `<testsuite>`s of `<testcase>`s, a failed case carrying one `<failure message=...>`
//! with the figures in its text.

pub mod canary;
pub mod sink;
pub mod summary;

use std::io::{self, Write};

pub use summary::from_summary;

/// One `<testsuite>`: a group of cases (a command's steps, events, thresholds or compared metrics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    /// Seconds.
    pub time_s: f64,
    /// `<properties>`: name, value.
    pub properties: Vec<(String, String)>,
    pub cases: Vec<Case>,
}

/// One `<testcase>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    pub name: String,
    pub classname: String,
    /// Seconds.
    pub time_s: f64,
    pub failure: Option<Failure>,
    /// Not run, with the reason.
    pub skipped: Option<String>,
    /// `<system-out>`: the figures of a case that passed.
    pub system_out: Option<String>,
}

/// A failed case: a one-line message (with the values) and the details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Failure {
    pub message: String,
    /// The failure's type attribute, e.g. `threshold`, `regression`, `step_failed`.
    pub kind: String,
    pub text: String,
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
    fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.failure.is_none() && c.skipped.is_some())
            .count()
    }
}

/// Writes `<testsuites name=...>` with every suite.
pub fn write(name: &str, suites: &[Suite], w: &mut dyn Write) -> io::Result<()> {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let time: f64 = suites.iter().map(|s| s.time_s).sum();
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        w,
        r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="0" time="{}">"#,
        esc(name),
        secs(time)
    )?;
    for (id, s) in suites.iter().enumerate() {
        writeln!(
            w,
            r#"  <testsuite name="{}" id="{id}" tests="{}" failures="{}" errors="0" skipped="{}" time="{}">"#,
            esc(&s.name),
            s.cases.len(),
            s.failures(),
            s.skipped(),
            secs(s.time_s)
        )?;
        if !s.properties.is_empty() {
            writeln!(w, "    <properties>")?;
            for (k, v) in &s.properties {
                writeln!(
                    w,
                    r#"      <property name="{}" value="{}"/>"#,
                    esc(k),
                    esc(v)
                )?;
            }
            writeln!(w, "    </properties>")?;
        }
        for c in &s.cases {
            write!(
                w,
                r#"    <testcase name="{}" classname="{}" time="{}""#,
                esc(&c.name),
                esc(&c.classname),
                secs(c.time_s)
            )?;
            if c.failure.is_none() && c.skipped.is_none() && c.system_out.is_none() {
                writeln!(w, "/>")?;
                continue;
            }
            writeln!(w, ">")?;
            if let Some(f) = &c.failure {
                writeln!(
                    w,
                    r#"      <failure message="{}" type="{}">{}</failure>"#,
                    esc(&f.message),
                    esc(&f.kind),
                    esc(&f.text)
                )?;
            } else if let Some(why) = &c.skipped {
                writeln!(w, r#"      <skipped message="{}"/>"#, esc(why))?;
            }
            if let Some(out) = &c.system_out {
                writeln!(w, "      <system-out>{}</system-out>", esc(out))?;
            }
            writeln!(w, "    </testcase>")?;
        }
        writeln!(w, "  </testsuite>")?;
    }
    writeln!(w, "</testsuites>")
}

/// Seconds with millisecond precision, never negative nor NaN (schemas require a decimal).
fn secs(s: f64) -> String {
    if s.is_finite() && s > 0.0 {
        format!("{s:.3}")
    } else {
        "0.000".into()
    }
}

/// Escapes text for an attribute or element; drops characters XML 1.0 cannot hold.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_escapes() {
        let suites = vec![Suite {
            name: "steps".into(),
            time_s: 1.5,
            properties: vec![("target".into(), "http://a?b=<1>".into())],
            cases: vec![
                Case {
                    name: "connect".into(),
                    classname: "golden.steps".into(),
                    time_s: 0.01,
                    ..Case::default()
                },
                Case {
                    name: "chat \"x\" & y".into(),
                    classname: "golden.steps".into(),
                    failure: Some(Failure {
                        message: "p95 3.0 ms > 2 ms".into(),
                        kind: "threshold".into(),
                        text: "line1\nline2\u{1}".into(),
                    }),
                    ..Case::default()
                },
            ],
        }];
        let mut out = Vec::new();
        write("run", &suites, &mut out).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(
                r#"<testsuites name="run" tests="2" failures="1" errors="0" time="1.500">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"name="chat &quot;x&quot; &amp; y""#),
            "{xml}"
        );
        assert!(xml.contains(r#"value="http://a?b=&lt;1&gt;""#), "{xml}");
        assert!(xml.contains("line1&#10;line2?</failure>"), "{xml}");
        assert!(
            xml.contains(r#"<testcase name="connect" classname="golden.steps" time="0.010"/>"#),
            "{xml}"
        );
    }
}
