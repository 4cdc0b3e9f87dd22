//! Collecting diagnostics: each check pushes its message with the place of the field it names.
//!
//! Checks never stop at the first problem; `compile` returns the list, sorted by place. A list
//! longer than `MAX_LISTED` is cut there (the rest counted, not placed): a hostile file cannot
//! make the error path slow or the output huge.

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml_edit::{DocumentMut, Value};

use crate::plan::Place;
use crate::scenario::source::{FieldPath, Node, Source};
use crate::scenario::Diagnostic;

/// Where the fields being checked live: the document root or one step's table.
pub struct Loc<'a> {
    pub node: Node<'a>,
    /// The step's name (or `steps #3` when it has none); `None` at the document root.
    pub step: Option<String>,
    /// The place of the step (its `name` value), or of the document start.
    pub place: Place,
}

/// The most diagnostics listed for one file; the rest are counted.
pub const MAX_LISTED: usize = 100;
/// The end of the last entry's message when some errors were not listed ("N" before it).
const UNLISTED_NOTE: &str = " more errors not listed (only the first 100 are)";

/// How many errors `diags` stands for: the listed ones, plus those its last entry counts.
pub fn total_errors(diags: &[super::super::Diagnostic]) -> usize {
    let unlisted = diags
        .last()
        .and_then(|d| d.message.strip_suffix(UNLISTED_NOTE))
        .and_then(|n| n.parse::<usize>().ok());
    match unlisted {
        Some(n) => diags.len() - 1 + n,
        None => diags.len(),
    }
}

/// The diagnostics found so far.
pub struct Diags<'a> {
    pub src: Source<'a>,
    pub out: Vec<Diagnostic>,
    /// Diagnostics past `MAX_LISTED`, counted only.
    pub unlisted: usize,
}

impl<'a> Diags<'a> {
    pub fn new(src: Source<'a>) -> Self {
        Diags {
            src,
            out: Vec::new(),
            unlisted: 0,
        }
    }

    /// Every diagnostic found so far, listed or not.
    pub fn len(&self) -> usize {
        self.out.len() + self.unlisted
    }

    /// True (and counted) when the list is full: the caller skips working out the place.
    fn full(&mut self) -> bool {
        let full = self.out.len() >= MAX_LISTED;
        if full {
            self.unlisted += 1;
        }
        full
    }

    /// The list, sorted by place, with a last line for the unlisted ones.
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut out = self.out;
        out.sort_by_key(|x| (x.place.line, x.place.col));
        if self.unlisted > 0 {
            out.push(Diagnostic {
                place: self.src.place(0),
                step: None,
                field: None,
                message: format!("{}{UNLISTED_NOTE}", self.unlisted),
            });
        }
        out
    }

    fn push(&mut self, place: Place, loc: &Loc, field: Option<String>, message: String) {
        self.out.push(Diagnostic {
            place,
            step: loc.step.clone(),
            field,
            message,
        });
    }

    /// A problem with the step (or document) as a whole.
    pub fn whole(&mut self, loc: &Loc, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.push(loc.place.clone(), loc, None, message.into());
    }

    /// A problem with the value at `path`.
    pub fn field(&mut self, loc: &Loc, path: &FieldPath, message: impl Into<String>) {
        if self.full() {
            return;
        }
        let place = self.place_of(loc.node.span_of(path), loc);
        self.push(place, loc, Some(path.to_string()), message.into());
    }

    /// A problem with the last key of `path` (a header name, a variable name).
    pub fn key(&mut self, loc: &Loc, path: &FieldPath, message: impl Into<String>) {
        if self.full() {
            return;
        }
        let place = self.place_of(loc.node.key_span_of(path), loc);
        self.push(place, loc, Some(path.to_string()), message.into());
    }

    /// A problem at byte `offset` inside the string `text` written at `path`.
    pub fn in_string(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) {
        if self.full() {
            return;
        }
        let place = match loc.node.span_of(path) {
            Some(span) => self.src.place_in_string(span, text, offset),
            None => loc.place.clone(),
        };
        self.push(place, loc, Some(path.to_string()), message.into());
    }

    /// A problem at a place in another file the scenario names (a line of its data file).
    pub fn in_other_file(&mut self, place: Place, field: &str, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.out.push(Diagnostic {
            place,
            step: None,
            field: Some(field.to_owned()),
            message: message.into(),
        });
    }

    /// A value given outside the file (command line or env var) is wrong.
    pub fn outside(&mut self, field: &str, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.out.push(Diagnostic {
            place: self.src.nowhere(),
            step: None,
            field: Some(field.to_owned()),
            message: message.into(),
        });
    }

    /// A shape or type error found by serde while reading `loc`'s node.
    pub fn serde(&mut self, loc: &Loc, error: &toml_edit::de::Error) {
        if self.full() {
            return;
        }
        let (place, field) = match error.span() {
            Some(span) => {
                let path = loc.node.path_at(&span);
                let field = (!path.0.is_empty()).then(|| path.to_string());
                (self.src.place(span.start), field)
            }
            None => (loc.place.clone(), None),
        };
        self.push(place, loc, field, humanize(error.message()));
    }

    fn place_of(&self, span: Option<std::ops::Range<usize>>, loc: &Loc) -> Place {
        match span {
            Some(span) => self.src.place(span.start),
            None => loc.place.clone(),
        }
    }
}

/// Reads a node of the tree into a serde type, keeping spans for errors.
pub fn de<T: DeserializeOwned>(node: Node) -> Result<T, toml_edit::de::Error> {
    match node {
        Node::Table(t) => toml_edit::de::from_document(DocumentMut::from(t.clone())),
        Node::Value(v) => T::deserialize(v.clone().into_deserializer()),
        Node::Tables(a) => T::deserialize(Value::Array(a.clone().into_array()).into_deserializer()),
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" in this file's words.
pub fn humanize(message: &str) -> String {
    let message = message.lines().next().unwrap_or(message);
    let Some(rest) = message.strip_prefix("unknown field ") else {
        return message.to_owned();
    };
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match names.split_first() {
        Some((key, [])) => format!("unknown key `{key}`; this table takes no keys"),
        Some((key, allowed)) => {
            format!("unknown key `{key}`; allowed keys: {}", allowed.join(", "))
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::humanize;

    #[test]
    fn unknown_fields_read_well() {
        assert_eq!(
            humanize("unknown field `urlx`, expected `method` or `url`"),
            "unknown key `urlx`; allowed keys: method, url"
        );
        assert_eq!(
            humanize("unknown field `x`, expected one of `a`, `b`, `c`"),
            "unknown key `x`; allowed keys: a, b, c"
        );
        assert_eq!(
            humanize("invalid type: integer `5`, expected a string"),
            "invalid type: integer `5`, expected a string"
        );
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;

    #[test]
    fn the_total_counts_the_unlisted_errors_too() {
        let text = (0..300)
            .map(|i| format!("[[steps]]\nname = \"s{i}\"\nthink = \"x\"\n"))
            .collect::<String>();
        let text = format!("name = \"many\"\n{text}");
        let path = std::path::Path::new("many.toml");
        let diags = crate::scenario::compile::compile(&text, path, &Default::default(), &|_| None)
            .expect_err("300 bad think times");
        assert_eq!(
            diags.len(),
            MAX_LISTED + 1,
            "100 listed and one line for the rest"
        );
        assert_eq!(total_errors(&diags), 300);
        assert_eq!(total_errors(&diags[..3]), 3);
    }
}
