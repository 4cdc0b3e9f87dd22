//! Lowers a scenario file into a `Plan`, collecting every error with its place (k6's
//! `Validate() []error`), never stopping at the first.
//!
//! The text is parsed once into a `toml_edit` tree, which keeps spans. The top-level sections and
//! each `[[setup]]`/`[[steps]]` entry are then deserialized into the serde mirror one by one, so
//! a shape error (unknown key, wrong type) ends only its own entry. Document-wide checks (names,
//! variables, socket order) read the tree itself, and every entry that deserialized is lowered
//! with all its semantic checks. Diagnostics come back sorted by place.

mod data;
mod diag;
pub use self::diag::total_errors;
mod header;
mod headers;
mod jwt;
mod limits;
mod steps;
mod target;
mod templates;
pub(crate) use self::templates::closest;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_identity;
#[cfg(test)]
mod tests_target;
mod thresholds;
mod ws;

use std::collections::HashMap;
use std::path::Path;

use toml_edit::{ImDocument, Value};

use self::diag::{de, Diags, Loc};
use self::templates::{is_identifier, Resolver, BUILTINS};
use super::source::{FieldPath, Node, Seg, Source};
use super::{model, Diagnostic, Overrides};
use crate::plan::{Envelope, Plan, StepId, VarDecl, VarId};

/// Compiles scenario `text` read from `file`. `env` resolves `{{env.NAME}}`.
pub fn compile(
    text: &str,
    file: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    let anchors = super::source::index(text);
    let src = Source {
        text,
        file,
        anchors: &anchors,
    };
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let lines: Vec<&str> = e.message().lines().map(str::trim).collect();
            let message = lines.join("; ");
            return Err(vec![Diagnostic {
                place: src.place(e.span().map_or(0, |s| s.start)),
                step: None,
                field: None,
                message: format!("TOML syntax error: {message}"),
            }]);
        }
    };
    let mut d = Diags::new(src);
    let root = Loc {
        node: Node::Table(doc.as_table()),
        step: None,
        place: src.place(0),
    };
    let top = header::read(&mut d, &root);
    let target = target::target(&mut d, &root, &top.target, overrides);
    let load = header::load(&mut d, &root, &top.load, overrides);
    let raw = read_steps(&mut d, &top);
    check_names(&mut d, &raw);
    let mut vars = collect_vars(&mut d, &root, &raw);
    let (feeder, columns_unknown) = data::feeder(&mut d, &root, &top, file, &load, &mut vars);
    check_sockets(&mut d, &raw);
    if raw.len() > usize::from(StepId::MAX) {
        d.whole(&root, format!("too many steps: at most {}", StepId::MAX));
    }

    let names: Vec<String> = vars.decls.iter().map(|v| v.name.clone()).collect();
    let mut lower = steps::Lower {
        d,
        res: Resolver {
            target: &target,
            env,
            vars: &vars.ids,
            var_names: &names,
            allow_unset_env: overrides.allow_unset_env,
            unset_env: Vec::new(),
            columns_unknown,
            env_values: Vec::new(),
        },
        events: Vec::new(),
        metrics: Vec::new(),
    };
    let steps: Vec<_> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, r)| lower.step(r, i as StepId))
        .collect();
    let steps::Lower {
        mut d,
        events,
        metrics,
        res,
    } = lower;
    let mut steps = steps;
    ws::know_every_event(&mut steps, &events);
    let secrets = crate::plan::Secrets(res.env_values);
    let mut unset_env = res.unset_env;
    unset_env.sort();
    if events.len() > usize::from(u16::MAX) {
        d.whole(&root, "too many distinct event types");
    }
    let step_names: Vec<&str> = raw.iter().filter_map(|r| r.name.as_deref()).collect();
    let catalog = crate::thresholds::Catalog::of_steps(&step_names, &steps, &events);
    let thresholds = thresholds::read(&mut d, &root, top.thresholds, &catalog);
    if d.len() > 0 {
        return Err(d.finish());
    }
    Ok(Plan {
        name: top.name.unwrap_or_default(),
        source: file.to_path_buf(),
        digest: super::digest(text),
        target,
        load,
        steps,
        setup_len: top.setup.len(),
        events,
        vars: vars.decls,
        event_metrics: metrics,
        envelope: Envelope::default(),
        local_addrs: Vec::new(),
        token_refresh: true,
        transcripts: crate::metrics::transcript::DEFAULT_PER_KIND,
        secrets,
        self_test_panic: None,
        unset_env,
        thresholds,
        feeder,
    })
}

/// `[[setup]]` runs once per user, `[[steps]]` every iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Setup,
    Steps,
}

impl Phase {
    fn key(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Steps => "steps",
        }
    }
}

/// One step entry: where it is, its name, and its serde mirror when it deserialized.
pub(super) struct RawStep<'a> {
    pub phase: Phase,
    pub loc: Loc<'a>,
    pub name: Option<String>,
    pub model: Option<model::Step>,
}

fn read_steps<'a>(d: &mut Diags, top: &header::Top<'a>) -> Vec<RawStep<'a>> {
    let phases = [(Phase::Setup, &top.setup), (Phase::Steps, &top.steps)];
    let mut out = Vec::new();
    for (phase, nodes) in phases {
        for (i, node) in nodes.iter().enumerate() {
            let name_path = FieldPath::of(&["name"]);
            let name = match node.child(&Seg::Key("name".into())) {
                Some((Node::Value(Value::String(s)), _)) => Some(s.value().clone()),
                _ => None,
            };
            let span = node.span_of(&name_path);
            let loc = Loc {
                node: *node,
                step: Some(
                    name.clone()
                        .unwrap_or_else(|| format!("{} #{}", phase.key(), i + 1)),
                ),
                place: d.src.place(span.map_or(0, |s| s.start)),
            };
            let model = de::<model::Step>(*node).map_err(|e| d.serde(&loc, &e)).ok();
            out.push(RawStep {
                phase,
                loc,
                name,
                model,
            });
        }
    }
    out
}

/// Every step has a name of `[A-Za-z0-9_-]`, unique across setup and steps.
fn check_names(d: &mut Diags, raw: &[RawStep]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let path = FieldPath::of(&["name"]);
    for r in raw {
        if r.loc.node.child(&Seg::Key("name".into())).is_none() {
            d.whole(
                &r.loc,
                "step has no `name`: every step needs a unique name of letters, digits, `_` and `-`",
            );
            continue;
        }
        let Some(name) = r.name.as_deref() else {
            continue; // not a string: serde reported it
        };
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            d.field(
                &r.loc,
                &path,
                format!(
                    "step name \"{name}\" may only contain letters, digits, `_` and `-` \
                     (dots are reserved for metric keys such as `chat.agent_started.p95`)"
                ),
            );
        }
        match seen.get(name) {
            Some(line) => d.field(
                &r.loc,
                &path,
                format!(
                    "step name `{name}` is already used by the step on line {line}; step names \
                     must be unique across [[setup]] and [[steps]]"
                ),
            ),
            None => {
                seen.insert(name, r.loc.place.line);
            }
        }
    }
}

/// The scenario's variables, in declaration order.
struct Vars {
    ids: HashMap<String, VarId>,
    decls: Vec<VarDecl>,
}

impl Vars {
    fn declare(
        &mut self,
        d: &mut Diags,
        loc: &Loc,
        path: &FieldPath,
        name: &str,
        default: Option<&str>,
    ) {
        if BUILTINS.contains(&name) {
            let msg = format!("`{name}` is a built-in name; choose another variable name");
            return d.key(loc, path, msg);
        }
        if !is_identifier(name) {
            let msg = format!(
                "variable name `{name}` must start with a letter or `_` and contain only letters, \
                 digits and `_`"
            );
            return d.key(loc, path, msg);
        }
        if self.ids.contains_key(name) {
            return;
        }
        if self.decls.len() > usize::from(VarId::MAX) {
            return d.key(loc, path, "too many variables");
        }
        self.ids.insert(name.to_owned(), self.decls.len() as VarId);
        self.decls.push(VarDecl {
            name: name.to_owned(),
            default: default.map(str::to_owned),
            secret: false,
        });
    }
}

/// Variables come from `[vars]`, `http.extract`, `ws.respond[].capture` and `ws.capture`,
/// anywhere in the file (the order in which they get values is the runner's business). They are
/// read from the tree, not the mirror, so a typo elsewhere in a step does not also make every
/// use of its variables an "unknown variable".
fn collect_vars(d: &mut Diags, root: &Loc, raw: &[RawStep]) -> Vars {
    let mut vars = Vars {
        ids: HashMap::new(),
        decls: Vec::new(),
    };
    let vars_path = FieldPath::of(&["vars"]);
    for (name, value) in keys_at(root.node, &vars_path) {
        let default = match value {
            Node::Value(Value::String(s)) => Some(s.value().as_str()),
            _ => None, // not a string: reported when `[vars]` is read
        };
        vars.declare(d, root, &vars_path.key(&name), &name, default);
    }
    for r in raw {
        let node = r.loc.node;
        let mut tables = vec![FieldPath::of(&["http", "extract"])];
        let respond = FieldPath::of(&["ws", "respond"]);
        if let Some(Node::Value(Value::Array(a))) = walk(node, &respond) {
            tables.extend((0..a.len()).map(|i| respond.index(i).key("capture")));
        }
        tables.push(FieldPath::of(&["ws", "capture"]));
        for table in tables {
            for (name, _) in keys_at(node, &table) {
                vars.declare(d, &r.loc, &table.key(&name), &name, None);
            }
        }
        // A minted token is a secret.
        let into = FieldPath::of(&["jwt", "into"]);
        if let Some(Node::Value(Value::String(s))) = walk(node, &into) {
            let name = s.value();
            vars.declare(d, &r.loc, &into, name, None);
            if let Some(&id) = vars.ids.get(name.as_str()) {
                vars.decls[usize::from(id)].secret = true;
            }
        }
    }
    vars
}

/// The node at `path`, if there is one.
fn walk<'a>(node: Node<'a>, path: &FieldPath) -> Option<Node<'a>> {
    path.0
        .iter()
        .try_fold(node, |n, seg| n.child(seg).map(|(child, _)| child))
}

/// The keys and values of the table at `path` (none when it is absent or not a table).
fn keys_at<'a>(node: Node<'a>, path: &FieldPath) -> Vec<(String, Node<'a>)> {
    let Some(table) = walk(node, path) else {
        return Vec::new();
    };
    if !matches!(table, Node::Table(_) | Node::Value(Value::InlineTable(_))) {
        return Vec::new();
    }
    table
        .children()
        .into_iter()
        .filter_map(|(seg, child, _)| match seg {
            Seg::Key(k) => Some((k, child)),
            Seg::Index(_) => None,
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Socket {
    Connect,
    Exchange,
    Close,
}

/// Which WebSocket step kind an entry is, read from the tree (so that a typo elsewhere in a
/// connect step does not also make every later exchange step an error).
fn socket_kind(node: Node) -> Option<(Socket, FieldPath)> {
    let (ws, _) = node.child(&Seg::Key("ws".into()))?;
    let has = |k: &str| ws.child(&Seg::Key(k.into())).is_some();
    let field = |k: &str| FieldPath::of(&["ws", k]);
    if has("connect") {
        Some((Socket::Connect, field("connect")))
    } else if has("close") {
        Some((Socket::Close, field("close")))
    } else if has("send") {
        Some((Socket::Exchange, field("send")))
    } else if has("expect") {
        Some((Socket::Exchange, field("expect")))
    } else {
        None
    }
}

/// An exchange or close step needs a connect step before it in its phase; iteration steps may
/// use a socket opened in setup. A close ends the socket until the next connect.
fn check_sockets(d: &mut Diags, raw: &[RawStep]) {
    // (open, the step that closed it)
    let mut open = false;
    let mut closed_by: Option<String> = None;
    for r in raw {
        let Some((kind, field)) = socket_kind(r.loc.node) else {
            continue;
        };
        if kind == Socket::Connect {
            open = true;
            continue;
        }
        if !open {
            let what = format!("`{field}` needs an open WebSocket");
            let msg = match (&closed_by, r.phase) {
                (Some(by), _) => format!(
                    "{what}, but step `{by}` closed it: add a step with ws.connect between them"
                ),
                (None, Phase::Setup) => {
                    format!("{what}: add a step with ws.connect before it in [[setup]]")
                }
                (None, Phase::Steps) => format!(
                    "{what}: add a step with ws.connect before it in [[steps]] or in [[setup]]"
                ),
            };
            d.field(&r.loc, &field, msg);
        }
        if kind == Socket::Close {
            open = false;
            closed_by = r.loc.step.clone();
        }
    }
}
