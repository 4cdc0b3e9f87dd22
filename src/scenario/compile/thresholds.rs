//! `[thresholds]`: each `"METRIC" = CHECK` entry, where CHECK is `"< 2s"`, a list of them, or a
//! table `{ check = "< 1%", abort_on_fail = true, delay = "10s" }`, checked against the steps
//! and events of the scenario, every error placed on the key or inside the check it is about.

use std::time::Duration;

use toml_edit::Value;

use super::diag::{Diags, Loc};
use crate::scenario::source::{FieldPath, Node, Seg};
use crate::thresholds::{parse_metric, Catalog, Part, Threshold};

const CHECK_KEYS: &str = "check, abort_on_fail, delay";

/// Reads `[thresholds]` (`node`), in file order.
pub fn read(d: &mut Diags, root: &Loc, node: Option<Node>, catalog: &Catalog) -> Vec<Threshold> {
    let mut out = Vec::new();
    let Some(node) = node else { return out };
    let path = FieldPath::of(&["thresholds"]);
    if !is_table(node) {
        d.field(
            root,
            &path,
            "[thresholds] must be a table of \"METRIC\" = \"OP VALUE\", e.g. \
             \"chat.agent_started.p95\" = \"< 2s\"",
        );
        return out;
    }
    let mut r = Reader {
        d,
        root,
        catalog,
        out: &mut out,
    };
    r.entries(node, &path, &[]);
    out
}

fn is_table(node: Node) -> bool {
    matches!(node, Node::Table(_) | Node::Value(Value::InlineTable(_)))
}

struct Reader<'r, 'a, 'l> {
    d: &'r mut Diags<'a>,
    root: &'r Loc<'l>,
    catalog: &'r Catalog,
    out: &'r mut Vec<Threshold>,
}

impl Reader<'_, '_, '_> {
    /// The entries of a table; a table without `check` is a dotted metric name
    /// (`chat.agent_started.p95 = ...` written without quotes) and is read through.
    fn entries(&mut self, node: Node, path: &FieldPath, prefix: &[String]) {
        for (seg, child, _) in node.children() {
            let Seg::Key(key) = seg else { continue };
            let mut names = prefix.to_vec();
            names.push(key.clone());
            let at = path.key(&key);
            if is_table(child) && child.child(&Seg::Key("check".into())).is_none() {
                self.entries(child, &at, &names);
            } else {
                self.metric(&names.join("."), child, &at);
            }
        }
    }

    /// One metric's checks.
    fn metric(&mut self, metric: &str, node: Node, path: &FieldPath) {
        // The name once, however many checks it has.
        let known = parse_metric(metric)
            .map_err(|e| e.message)
            .and_then(|m| self.catalog.check(&m));
        if let Err(message) = known {
            return self.d.key(self.root, path, message);
        }
        match node {
            Node::Value(Value::String(s)) => self.check(metric, s.value(), path, path, false, None),
            Node::Value(Value::Array(a)) => {
                for i in 0..a.len() {
                    let at = path.index(i);
                    match node.child(&Seg::Index(i)) {
                        Some((Node::Value(Value::String(s)), _)) => {
                            self.check(metric, s.value(), &at, &at, false, None)
                        }
                        Some((child, _)) if is_table(child) => self.table(metric, child, &at),
                        _ => self.d.field(self.root, &at, SHAPE),
                    }
                }
            }
            n if is_table(n) => self.table(metric, n, path),
            _ => self.d.field(self.root, path, SHAPE),
        }
    }

    /// `{ check = "< 1%", abort_on_fail = true, delay = "10s" }`.
    fn table(&mut self, metric: &str, node: Node, path: &FieldPath) {
        let (mut check, mut abort, mut delay) = (None, false, None);
        let mut ok = true;
        for (seg, child, _) in node.children() {
            let Seg::Key(key) = seg else { continue };
            let at = path.key(&key);
            match (key.as_str(), child) {
                ("check", Node::Value(Value::String(s))) => check = Some(s.value().clone()),
                ("abort_on_fail", Node::Value(Value::Boolean(b))) => abort = *b.value(),
                ("delay", Node::Value(Value::String(s))) => {
                    match crate::duration::parse_duration(s.value()) {
                        Ok(v) => delay = Some((v, at)),
                        Err(e) => {
                            ok = false;
                            self.d.field(self.root, &at, e);
                        }
                    }
                }
                ("check", _) => {
                    ok = false;
                    self.d
                        .field(self.root, &at, "check must be a string such as \"< 2s\"");
                }
                ("abort_on_fail", _) => {
                    ok = false;
                    self.d
                        .field(self.root, &at, "abort_on_fail must be true or false");
                }
                ("delay", _) => {
                    ok = false;
                    self.d
                        .field(self.root, &at, "delay must be a duration such as \"10s\"");
                }
                (other, _) => {
                    ok = false;
                    let msg = format!("unknown key `{other}`; allowed keys: {CHECK_KEYS}");
                    self.d.key(self.root, &at, msg);
                }
            }
        }
        if let Some((_, at)) = delay.as_ref().filter(|_| !abort) {
            ok = false;
            self.d.field(
                self.root,
                at,
                "delay only applies with abort_on_fail = true (it is how long the run goes \
                 before this threshold may stop it)",
            );
        }
        let Some(check) = check else {
            if ok {
                self.d.field(
                    self.root,
                    path,
                    format!("no `check`: write {{ check = \"< 2s\", ... }} ({CHECK_KEYS})"),
                );
            }
            return;
        };
        let delay = delay.map(|(d, _)| d);
        self.check(metric, &check, path, &path.key("check"), abort, delay);
    }

    /// One check of `metric`: `key` is where the metric is written, `value` the check string.
    fn check(
        &mut self,
        metric: &str,
        check: &str,
        key: &FieldPath,
        value: &FieldPath,
        abort_on_fail: bool,
        delay: Option<Duration>,
    ) {
        let span = self.root.node.span_of(value);
        let place = self.d.src.place(span.map_or(0, |s| s.start));
        let source = format!("{}:{}", place.file.display(), place.line);
        match Threshold::from_parts(metric, check, &source, self.catalog) {
            Ok(mut t) => {
                t.abort_on_fail = abort_on_fail;
                t.delay = delay.unwrap_or_default();
                self.out.push(t);
            }
            Err(e) => match e.part {
                Part::Metric => self.d.key(self.root, key, e.message),
                Part::Check => self
                    .d
                    .in_string(self.root, value, check, e.offset, e.message),
            },
        }
    }
}

const SHAPE: &str = "a threshold is \"OP VALUE\" (e.g. \"< 2s\"), a list of them, or a table \
                     { check = \"< 2s\", abort_on_fail = true, delay = \"10s\" }";
