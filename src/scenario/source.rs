//! Places in a scenario's text: byte offsets to `line:col`, and field paths to spans.
//!
//! The serde mirror (`model`) carries no spans; when a check fails, `compile` names the field by
//! its path (`ws.respond[1].send`) and this module finds that path in the `toml_edit` tree, which
//! keeps the span of every key and value. Spans are only looked up on the error path.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml_edit::{ArrayOfTables, Item, Table, Value};

use crate::plan::Place;

/// The scenario text and its file name.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub text: &'a str,
    pub file: &'a Path,
    /// From `index(text)`: where lines start, and marks inside long lines.
    pub anchors: &'a [Anchor],
}

/// A known place in the text: byte offset `at` is at `line:col`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    at: usize,
    line: usize,
    col: usize,
}

/// The most bytes between two anchors of one line: turning an offset into a place counts at most
/// this many bytes, so a scenario with many steps on one long line stays linear.
const ANCHOR_EVERY: usize = 1024;

/// The anchors of `text`: every line start, and a mark every `ANCHOR_EVERY` bytes of a line.
pub fn index(text: &str) -> Vec<Anchor> {
    let mut out = vec![Anchor {
        at: 0,
        line: 1,
        col: 1,
    }];
    let (mut line, mut col, mut last) = (1, 1, 0);
    for (i, c) in text.char_indices() {
        if i - last >= ANCHOR_EVERY {
            out.push(Anchor { at: i, line, col });
            last = i;
        }
        if c == '\n' {
            line += 1;
            col = 1;
            last = i + 1;
            out.push(Anchor {
                at: last,
                line,
                col,
            });
        } else {
            col += 1;
        }
    }
    out
}

impl Source<'_> {
    /// The 1-based line and column (in chars) of a byte offset.
    pub fn place(&self, offset: usize) -> Place {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let i = self.anchors.partition_point(|a| a.at <= offset);
        let a = match i.checked_sub(1).and_then(|i| self.anchors.get(i)) {
            Some(a) => *a,
            None => Anchor {
                at: 0,
                line: 1,
                col: 1,
            },
        };
        let between = self.text.get(a.at..offset).unwrap_or("");
        Place {
            file: self.file.to_path_buf(),
            line: a.line,
            col: a.col + between.chars().count(),
        }
    }

    /// A place outside the file (values given on the command line or by env vars).
    pub fn nowhere(&self) -> Place {
        Place {
            file: self.file.to_path_buf(),
            line: 0,
            col: 0,
        }
    }

    /// The place of byte `offset` inside the string `value` written at `span`: exact when the
    /// string is written on one line without escapes, else the string's own place.
    pub fn place_in_string(&self, span: Range<usize>, value: &str, offset: usize) -> Place {
        let start = self.place(span.start);
        let raw = self.text.get(span).unwrap_or("");
        let single_line = (raw.starts_with('"') && !raw.starts_with("\"\"\""))
            || (raw.starts_with('\'') && !raw.starts_with("'''"));
        match value.get(..offset) {
            Some(prefix) if single_line && raw.len() >= 2 && &raw[1..raw.len() - 1] == value => {
                Place {
                    col: start.col + 1 + prefix.chars().count(),
                    ..start
                }
            }
            _ => start,
        }
    }
}

/// One step of a field path: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path inside a step or the document, e.g. `ws.respond[1].send`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// A path from dotted keys, e.g. `FieldPath::of(&["ws", "expect"])`.
    pub fn of(keys: &[&str]) -> Self {
        FieldPath(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
    }
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_owned()));
        p
    }
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A node of the `toml_edit` tree.
#[derive(Clone, Copy)]
pub enum Node<'a> {
    Table(&'a Table),
    Value(&'a Value),
    Tables(&'a ArrayOfTables),
}

impl<'a> Node<'a> {
    pub fn of(item: &'a Item) -> Option<Node<'a>> {
        match item {
            Item::None => None,
            Item::Table(t) => Some(Node::Table(t)),
            Item::Value(v) => Some(Node::Value(v)),
            Item::ArrayOfTables(a) => Some(Node::Tables(a)),
        }
    }

    pub fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
            Node::Tables(a) => a.span(),
        }
    }

    /// The child at `seg` and the span of its key (for keys).
    pub fn child(self, seg: &Seg) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match (self, seg) {
            (Node::Table(t), Seg::Key(k)) => {
                let (key, item) = t.get_key_value(k)?;
                Some((Node::of(item)?, key.span()))
            }
            (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                let span = t.key(k).and_then(|key| key.span());
                Some((Node::Value(t.get(k)?), span))
            }
            (Node::Value(Value::Array(a)), Seg::Index(i)) => Some((Node::Value(a.get(*i)?), None)),
            (Node::Tables(a), Seg::Index(i)) => Some((Node::Table(a.get(*i)?), None)),
            _ => None,
        }
    }

    /// All children, in file order.
    pub fn children(self) -> Vec<(Seg, Node<'a>, Option<Range<usize>>)> {
        let mut out = Vec::new();
        match self {
            Node::Table(t) => {
                for (k, _) in t.iter() {
                    out.push(Seg::Key(k.to_owned()));
                }
            }
            Node::Value(Value::InlineTable(t)) => {
                for (k, _) in t.iter() {
                    out.push(Seg::Key(k.to_owned()));
                }
            }
            Node::Value(Value::Array(a)) => out.extend((0..a.len()).map(Seg::Index)),
            Node::Tables(a) => out.extend((0..a.len()).map(Seg::Index)),
            Node::Value(_) => {}
        }
        out.into_iter()
            .filter_map(|seg| {
                let (node, key) = self.child(&seg)?;
                Some((seg, node, key))
            })
            .collect()
    }

    /// The span of the value at `path` (of its key when the value has none, e.g. a dotted-key
    /// table; of the nearest ancestor when the path is not in the tree).
    pub fn span_of(self, path: &FieldPath) -> Option<Range<usize>> {
        let mut best = self.span();
        let mut node = self;
        for seg in &path.0 {
            let Some((child, key)) = node.child(seg) else {
                break;
            };
            best = child.span().or(key).or(best);
            node = child;
        }
        best
    }

    /// The span of the last key of `path` (falls back to the value's span).
    pub fn key_span_of(self, path: &FieldPath) -> Option<Range<usize>> {
        let mut node = self;
        let mut key_span = None;
        for seg in &path.0 {
            let (child, key) = node.child(seg)?;
            key_span = key;
            node = child;
        }
        key_span.or_else(|| self.span_of(path))
    }

    /// The path of the deepest key or value that contains `span` (for serde errors).
    pub fn path_at(self, span: &Range<usize>) -> FieldPath {
        let mut path = FieldPath::default();
        let mut node = self;
        'down: loop {
            for (seg, child, key) in node.children() {
                if key.as_ref().is_some_and(|k| contains(k, span)) {
                    path.0.push(seg);
                    break 'down;
                }
                let inside = match child.span() {
                    Some(s) => contains(&s, span),
                    // Dotted-key tables have no span: look inside them.
                    None => !child.path_at(span).0.is_empty(),
                };
                if inside {
                    path.0.push(seg);
                    node = child;
                    continue 'down;
                }
            }
            break;
        }
        path
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_count_lines_and_chars() {
        let text = "a = 1\nbé = \"x\"\n";
        let anchors = index(text);
        let src = Source {
            text,
            file: Path::new("f.toml"),
            anchors: &anchors,
        };
        let p = src.place(0);
        assert_eq!((p.line, p.col), (1, 1));
        let off = src.text.find("\"x\"").unwrap();
        let p = src.place(off);
        assert_eq!((p.line, p.col), (2, 6));
        let p = src.place_in_string(off..off + 3, "x", 1);
        assert_eq!((p.line, p.col), (2, 8));
        let p = src.place(text.len());
        assert_eq!((p.line, p.col), (3, 1));
    }

    #[test]
    fn places_in_long_lines_match_a_plain_count() {
        let text = format!(
            "x = \"{}\"\nyé = [{}]\n",
            "é".repeat(3000),
            "1, ".repeat(2000)
        );
        let anchors = index(&text);
        assert!(anchors.len() > 10, "long lines get marks");
        let src = Source {
            text: &text,
            file: Path::new("f.toml"),
            anchors: &anchors,
        };
        for (offset, _) in text.char_indices().step_by(97).chain([(text.len(), ' ')]) {
            let before = &text[..offset];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let want = (
                before.matches('\n').count() + 1,
                before[line_start..].chars().count() + 1,
            );
            let p = src.place(offset);
            assert_eq!((p.line, p.col), want, "offset {offset}");
        }
    }

    #[test]
    fn finds_paths_and_spans() {
        let text = "[[steps]]\nname = \"a\"\nws.respond = [{ on = \"ping\", sendx = 1 }]\n";
        let doc = toml_edit::ImDocument::parse(text).unwrap();
        let root = Node::Table(doc.as_table());
        let step = FieldPath::of(&["steps"]).index(0);
        let at = text.find("sendx").unwrap();
        let path = root.path_at(&(at..at + 5));
        assert_eq!(path.to_string(), "steps[0].ws.respond[0].sendx");
        let on = step.key("ws").key("respond").index(0).key("on");
        let span = root.span_of(&on).unwrap();
        assert_eq!(&text[span], "\"ping\"");
        let span = root.key_span_of(&on).unwrap();
        assert_eq!(&text[span], "on");
    }
}
