//! The document's top level: which sections exist, and `[load]` resolved with overrides.
//!
//! Each section is deserialized on its own, so an error in `[load]` does not hide one in a step;
//! overrides (flags, env) win field by field over the file.

use std::time::Duration;

use toml_edit::Value;

use super::diag::{de, Diags, Loc};
use crate::duration;
use crate::plan::{Arrivals, LoadProfile, Model, Stage};
use crate::scenario::model::{self, DurationSrc, Entries};
use crate::scenario::source::{FieldPath, Node, Seg};
use crate::scenario::Overrides;

const TOP_KEYS: &str = "name, description, target, load, vars, data, setup, steps, thresholds";

/// The top level, read.
#[derive(Default)]
pub struct Top<'a> {
    pub name: Option<String>,
    pub target: model::Target,
    pub load: model::Load,
    pub setup: Vec<Node<'a>>,
    pub steps: Vec<Node<'a>>,
    /// `[thresholds]`, read once the steps are known.
    pub thresholds: Option<Node<'a>>,
    /// `[data]`, when present and well-shaped (`compile::data` reads the file).
    pub data: Option<model::Data>,
}

/// Splits the document into its sections; unknown keys and bad section shapes are reported.
pub fn read<'a>(d: &mut Diags, root: &Loc<'a>) -> Top<'a> {
    let mut top = Top::default();
    for (seg, node, _) in root.node.children() {
        let Seg::Key(key) = &seg else { continue };
        let path = FieldPath::of(&[key]);
        match key.as_str() {
            "name" => match node {
                Node::Value(Value::String(s)) => top.name = Some(s.value().clone()),
                _ => d.field(root, &path, "name must be a string"),
            },
            "description" => {
                if !matches!(node, Node::Value(Value::String(_))) {
                    d.field(root, &path, "description must be a string");
                }
            }
            "target" => top.target = section(d, root, node).unwrap_or_default(),
            "load" => top.load = section(d, root, node).unwrap_or_default(),
            // Only checked here; `compile` reads the declarations from the tree.
            "vars" => {
                section::<Entries<String>>(d, root, node);
            }
            "setup" => top.setup = entries(d, root, &path, node),
            "steps" => top.steps = entries(d, root, &path, node),
            "thresholds" => top.thresholds = Some(node),
            "data" => top.data = section(d, root, node),
            other => d.key(
                root,
                &path,
                format!("unknown top-level key `{other}`; allowed keys: {TOP_KEYS}"),
            ),
        }
    }
    match &top.name {
        None => d.whole(
            root,
            "the scenario has no `name`: add name = \"...\" at the top",
        ),
        Some(n) if n.trim().is_empty() => {
            d.field(root, &FieldPath::of(&["name"]), "name must not be empty")
        }
        Some(_) => {}
    }
    if top.steps.is_empty() {
        d.whole(
            root,
            "the scenario has no [[steps]]: add at least one step to run every iteration",
        );
    }
    top
}

fn section<T: serde::de::DeserializeOwned>(d: &mut Diags, root: &Loc, node: Node) -> Option<T> {
    de(node).map_err(|e| d.serde(root, &e)).ok()
}

/// The tables of `[[setup]]` / `[[steps]]` (or an inline array of tables).
fn entries<'a>(d: &mut Diags, root: &Loc<'a>, path: &FieldPath, node: Node<'a>) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    match node {
        Node::Tables(_) | Node::Value(Value::Array(_)) => {
            for (seg, child, _) in node.children() {
                match child {
                    Node::Table(_) | Node::Value(Value::InlineTable(_)) => out.push(child),
                    _ => {
                        let Seg::Index(i) = seg else { continue };
                        d.field(
                            root,
                            &path.index(i),
                            format!("each entry of {path} must be a table"),
                        );
                    }
                }
            }
        }
        _ => d.field(
            root,
            path,
            format!("{path} must be an array of tables: write each one as [[{path}]]"),
        ),
    }
    out
}

/// `[load]` with overrides and defaults.
pub fn load(d: &mut Diags, root: &Loc, file: &model::Load, o: &Overrides) -> LoadProfile {
    let p = FieldPath::of(&["load"]);
    let users_file = file.users.and_then(|u| match u32::try_from(u) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            let msg = format!("load.users must be at least 1 (got {u})");
            d.field(root, &p.key("users"), msg);
            None
        }
    });
    if o.iterations == Some(0) {
        d.outside(
            "load.iterations",
            "iterations given on the command line or by env var must be at least 1",
        );
    }
    if o.duration.is_some_and(|x| x.is_zero()) {
        d.outside(
            "load.duration",
            "duration given on the command line or by env var must be greater than 0",
        );
    }
    if o.users == Some(0) {
        d.outside(
            "load.users",
            "users given on the command line or by env var must be at least 1",
        );
    }
    let users = o.users.or(users_file).unwrap_or(1);

    let rate_ok = |r: f64| r.is_finite() && r > 0.0;
    if let Some(r) = file.spawn_rate.filter(|r| !rate_ok(*r)) {
        let msg = format!("load.spawn_rate must be greater than 0 users per second (got {r})");
        d.field(root, &p.key("spawn_rate"), msg);
    }
    if o.spawn_rate.is_some_and(|r| !rate_ok(r)) {
        d.outside(
            "load.spawn_rate",
            "spawn rate given on the command line or by env var must be greater than 0",
        );
    }
    let spawn_rate = o
        .spawn_rate
        .or(file.spawn_rate.filter(|r| rate_ok(*r)))
        .unwrap_or(f64::from(users));

    let duration_file = file.duration.as_ref().and_then(|src| {
        let dur = duration(d, root, &p.key("duration"), src)?;
        if dur.is_zero() {
            d.field(
                root,
                &p.key("duration"),
                "load.duration must be greater than 0",
            );
        }
        Some(dur)
    });
    let iterations_file = file.iterations.and_then(|n| match u64::try_from(n) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            let msg = format!("load.iterations must be at least 1 (got {n})");
            d.field(root, &p.key("iterations"), msg);
            None
        }
    });
    let graceful_file = file
        .graceful_stop
        .as_ref()
        .and_then(|src| duration(d, root, &p.key("graceful_stop"), src));

    let stages = match &o.stages {
        Some(s) => s.clone(),
        None => stages(d, root, &p, file),
    };
    let arrival_rate_file = file.arrival_rate.and_then(|r| {
        if rate_ok(r) {
            Some(r)
        } else {
            let msg =
                format!("load.arrival_rate must be greater than 0 flows per second (got {r})");
            d.field(root, &p.key("arrival_rate"), msg);
            None
        }
    });
    if o.arrival_rate.is_some_and(|r| !rate_ok(r)) {
        d.outside(
            "load.arrival_rate",
            "arrival rate given on the command line or by env var must be greater than 0",
        );
    }
    let arrival_rate = o.arrival_rate.filter(|r| rate_ok(*r)).or(arrival_rate_file);
    let open = arrival_rate.is_some() || file.arrivals.is_some() || file.max_users.is_some();
    let arrivals = o.arrivals.unwrap_or_else(|| arrivals(d, root, &p, file));
    let max_users_file = file.max_users.and_then(|u| match u32::try_from(u) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            let msg = format!("load.max_users must be at least 1 (got {u})");
            d.field(root, &p.key("max_users"), msg);
            None
        }
    });

    // With stages, the run lasts as long as they do (or less, with an explicit duration).
    let stages_total: Duration = stages.iter().map(|s| s.duration).sum();
    let duration = o
        .duration
        .or(duration_file)
        .or((!stages.is_empty()).then_some(stages_total));
    let mut iterations = o.iterations.or(iterations_file);
    if duration.is_none() && iterations.is_none() {
        iterations = Some(1);
    }
    let model = if open {
        if arrival_rate.is_none() && stages.is_empty() {
            d.field(
                root,
                &p,
                "the open model (max_users / arrivals) needs load.arrival_rate or load.stages",
            );
        }
        if duration.is_none() {
            d.field(root, &p, "the open model needs load.duration or load.stages: arrivals go on until the run ends");
        }
        Model::Open {
            rate: arrival_rate.unwrap_or(0.0),
            stages: stages.clone(),
            arrivals,
        }
    } else {
        Model::Closed {
            stages: stages.clone(),
        }
    };
    // Open model: the pool is max_users (or users). Closed with stages: the highest target.
    let users = match &model {
        Model::Open { .. } => o.users.or(max_users_file).or(users_file).unwrap_or(100),
        Model::Closed { stages } if !stages.is_empty() && o.users.is_none() => stages
            .iter()
            .map(|s| s.target.ceil() as u32)
            .max()
            .unwrap_or(1)
            .max(1),
        Model::Closed { .. } => users,
    };
    let defaults = crate::plan::Backoff::default();
    let backoff = crate::plan::Backoff {
        base: o.backoff.unwrap_or(defaults.base),
        max: o.backoff_max.unwrap_or(defaults.max),
    };
    LoadProfile {
        backoff,
        users,
        spawn_rate,
        duration,
        iterations: if open { None } else { iterations },
        max_lateness: o
            .max_lateness
            .or_else(|| {
                file.max_lateness
                    .as_ref()
                    .and_then(|src| self::duration(d, root, &p.key("max_lateness"), src))
            })
            .unwrap_or(Duration::from_secs(10)),
        graceful_stop: o
            .graceful_stop
            .or(graceful_file)
            .unwrap_or(Duration::from_secs(5)),
        model,
    }
}

fn stages(d: &mut Diags, root: &Loc, p: &FieldPath, file: &model::Load) -> Vec<Stage> {
    let Some(list) = &file.stages else {
        return Vec::new();
    };
    if list.is_empty() {
        d.field(
            root,
            &p.key("stages"),
            "load.stages is empty: give at least one { duration, target }",
        );
    }
    list.iter()
        .enumerate()
        .filter_map(|(i, st)| {
            let at = p.key("stages").index(i);
            let duration = duration(d, root, &at.key("duration"), &st.duration)?;
            if !(st.target.is_finite() && st.target >= 0.0) {
                let msg = format!("a stage target must be 0 or more (got {})", st.target);
                d.field(root, &at.key("target"), msg);
                return None;
            }
            Some(Stage {
                duration,
                target: st.target,
            })
        })
        .collect()
}

fn arrivals(d: &mut Diags, root: &Loc, p: &FieldPath, file: &model::Load) -> Arrivals {
    let seed = match file.seed {
        None => 1,
        Some(s) => u64::try_from(s).unwrap_or_else(|_| {
            d.field(
                root,
                &p.key("seed"),
                format!("load.seed must be 0 or more (got {s})"),
            );
            1
        }),
    };
    match file.arrivals.as_deref() {
        None | Some("even") => Arrivals::Even,
        Some("poisson") => Arrivals::Poisson { seed },
        Some(other) => {
            let msg = format!("load.arrivals must be \"even\" or \"poisson\" (got \"{other}\")");
            d.field(root, &p.key("arrivals"), msg);
            Arrivals::Even
        }
    }
}

/// A duration field: a string such as `"1.5s"` or whole seconds.
pub fn duration(d: &mut Diags, loc: &Loc, path: &FieldPath, src: &DurationSrc) -> Option<Duration> {
    let result = match src {
        DurationSrc::Seconds(n) => u64::try_from(*n)
            .map(Duration::from_secs)
            .map_err(|_| format!("a duration cannot be negative (got {n})")),
        DurationSrc::Text(t) => duration::parse_duration(t),
    };
    result.map_err(|msg| d.field(loc, path, msg)).ok()
}
