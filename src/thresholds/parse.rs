//! Reading thresholds: the metric name (`STEP[.EVENT].STAT` or a run-level one), the comparison
//! and the limit with its unit, each error saying which part is wrong and how to write it.

use super::{FlowStat, Metric, Op, Stat};
use crate::metrics::summary::{Summary, ThresholdUnit};
use crate::plan::{Plan, Step, StepKind};
use crate::scenario::compile::closest;

/// The part of a threshold an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Metric,
    /// The check (`< 2s`): its comparison or its value.
    Check,
}

/// What is wrong, and where: `offset` is a byte offset into the part's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub part: Part,
    pub offset: usize,
    pub message: String,
}

fn metric_error(message: String) -> ParseError {
    ParseError {
        part: Part::Metric,
        offset: 0,
        message,
    }
}

const FORM: &str = "write METRIC OP VALUE, e.g. `chat.agent_started.p95 < 2s`";
const RUN_LEVEL: &str = "iteration.STAT, flows.failed_rate, flows.rate, flows.passed, \
                         flows.failed, flows.interrupted, flows.goodput, flows.good_rate, \
                         flows.late_rate, flows.good, flows.late, dropped, dropped_rate";

/// Splits `chat.p95 < 2s` into the metric and the check (`< 2s`).
pub(super) fn split_expr(expr: &str) -> Result<(&str, &str), ParseError> {
    let at = expr.find(['<', '>', '=', '!']).ok_or_else(|| ParseError {
        part: Part::Check,
        offset: expr.len(),
        message: format!(
            "no comparison (<, <=, > or >=) in `{}`: {FORM}",
            expr.trim()
        ),
    })?;
    let (metric, check) = expr.split_at(at);
    if metric.trim().is_empty() {
        return Err(metric_error(format!(
            "no metric before the comparison: {FORM}"
        )));
    }
    Ok((metric, check))
}

/// Reads a metric name; step and event names are checked by `Catalog::check`.
pub fn parse_metric(text: &str) -> Result<Metric, ParseError> {
    if let Some(inner) = canary_metric(text) {
        return inner;
    }
    match text {
        "dropped" => return Ok(Metric::Dropped),
        "dropped_rate" => return Ok(Metric::DroppedRate),
        _ => {}
    }
    let split = match text.strip_suffix(".p99.9") {
        Some(head) => Some((head, "p99.9")),
        None => text.rsplit_once('.'),
    };
    let Some((head, stat_text)) = split else {
        return Err(metric_error(format!(
            "`{text}` is not a metric: write STEP.STAT or STEP.EVENT.STAT (e.g. \
             `chat.agent_started.p95`), or one of {RUN_LEVEL}"
        )));
    };
    if head == "flows" {
        return FlowStat::ALL
            .iter()
            .find(|(n, _)| *n == stat_text)
            .map(|(_, f)| Metric::Flows(*f))
            .ok_or_else(|| {
                let names = FlowStat::ALL.map(|(n, _)| format!("flows.{n}"));
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                metric_error(format!(
                    "unknown metric `{text}`{}; flows metrics: {}",
                    did_you_mean(text, &names),
                    names.join(", ")
                ))
            });
    }
    let names = Stat::ALL.map(|(n, _)| n);
    let stat = Stat::ALL
        .iter()
        .find(|(n, _)| *n == stat_text)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            metric_error(format!(
                "unknown statistic `{stat_text}` in `{text}`{}; statistics: {}",
                did_you_mean(stat_text, &names),
                names.join(", ")
            ))
        })?;
    if head == "iteration" {
        if stat.is_step_only() {
            return Err(metric_error(format!(
                "`iteration.{}`: an iteration has no errors of its own; use flows.failed or \
                 flows.failed_rate",
                stat.name()
            )));
        }
        return Ok(Metric::Iteration(stat));
    }
    let parts: Vec<&str> = head.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) || parts.len() > 2 {
        return Err(metric_error(format!(
            "`{text}` is not a metric: write STEP.STAT or STEP.EVENT.STAT (e.g. \
             `chat.agent_started.p95`), or one of {RUN_LEVEL}"
        )));
    }
    let event = parts.get(1).map(|e| (*e).to_owned());
    if event.is_some() && stat.is_step_only() {
        return Err(metric_error(format!(
            "`{}` is a statistic of a step, not of an event: write `{}.{}`",
            stat.name(),
            parts[0],
            stat.name()
        )));
    }
    Ok(Metric::Step {
        step: parts[0].to_owned(),
        event,
        stat,
    })
}

/// `canary.METRIC`: the canary user's step, iteration or flows metric. `None` when the text
/// is not one (a step named `canary` keeps its metrics: `canary.p95` is that step's).
fn canary_metric(text: &str) -> Option<Result<Metric, ParseError>> {
    let rest = text.strip_prefix("canary.")?;
    match parse_metric(rest) {
        Err(_) => None,
        Ok(Metric::Dropped | Metric::DroppedRate | Metric::Canary(_)) => {
            Some(Err(metric_error(format!(
                "`{text}`: the canary has no arrivals to drop; canary metrics: canary.STEP.STAT, \
                 canary.STEP.EVENT.STAT, canary.iteration.STAT, canary.flows.*"
            ))))
        }
        Ok(m) => Some(Ok(Metric::Canary(Box::new(m)))),
    }
}

fn did_you_mean(name: &str, known: &[&str]) -> String {
    closest(name, known.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Reads a check (`< 2s`) for `metric`: the comparison, the limit in the metric's unit, and the
/// value as written.
pub fn parse_check<'a>(check: &'a str, metric: &Metric) -> Result<(Op, f64, &'a str), ParseError> {
    let start = check.len() - check.trim_start().len();
    let rest = &check[start..];
    let err = |offset: usize, message: String| ParseError {
        part: Part::Check,
        offset,
        message,
    };
    let (op, len) = if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        let word: String = rest
            .chars()
            .take_while(|c| !c.is_ascii_alphanumeric() && !c.is_whitespace())
            .collect();
        let what = if word.is_empty() {
            "expected a comparison".to_string()
        } else {
            format!("unknown comparison `{word}`")
        };
        return Err(err(
            start,
            format!("{what}: use <, <=, > or >=, then the value, e.g. `< 2s`"),
        ));
    };
    let after = &rest[len..];
    let value_at = start + len + (after.len() - after.trim_start().len());
    let value = after.trim();
    if value.is_empty() {
        return Err(err(value_at, format!("no value after `{}`", op.as_str())));
    }
    let limit = parse_value(value, metric).map_err(|m| err(value_at, m))?;
    Ok((op, limit, value))
}

/// A limit in the metric's unit: milliseconds, percent, per second or a count.
fn parse_value(value: &str, metric: &Metric) -> Result<f64, String> {
    let name = metric.name();
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(end);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| {
            format!(
                "`{value}` is not a number with a unit (`{name}`: {})",
                example(metric)
            )
        })?;
    if n < 0.0 {
        return Err(format!("`{value}`: a limit cannot be negative"));
    }
    let suffix = suffix.trim();
    match metric.unit() {
        ThresholdUnit::Ms => {
            let per_ms = match suffix {
                "us" | "µs" => 0.001,
                "ms" => 1.0,
                "s" => 1000.0,
                "m" => 60_000.0,
                "h" => 3_600_000.0,
                "" => {
                    return Err(format!(
                        "`{value}` has no unit: `{name}` is a duration; write {}",
                        example(metric)
                    ))
                }
                other => {
                    return Err(format!(
                        "unknown unit `{other}` in `{value}`: `{name}` is a duration in us, ms, s, \
                         m or h, e.g. {}",
                        example(metric)
                    ))
                }
            };
            Ok(n * per_ms)
        }
        ThresholdUnit::Percent => match suffix {
            "%" if n <= 100.0 => Ok(n),
            "%" => Err(format!("`{value}`: a percentage is at most 100%")),
            "" => Err(format!(
                "`{value}` needs `%`: `{name}` is a percentage; write {}",
                example(metric)
            )),
            other => Err(format!(
                "unknown unit `{other}` in `{value}`: `{name}` is a percentage; write {}",
                example(metric)
            )),
        },
        ThresholdUnit::PerS => match suffix {
            "" | "/s" => Ok(n),
            other => Err(format!(
                "unknown unit `{other}` in `{value}`: `{name}` is a rate per second; write {}",
                example(metric)
            )),
        },
        ThresholdUnit::Count => match suffix {
            "" => Ok(n),
            other => Err(format!(
                "unknown unit `{other}` in `{value}`: `{name}` is a count; write {}",
                example(metric)
            )),
        },
    }
}

fn example(metric: &Metric) -> &'static str {
    match metric.unit() {
        ThresholdUnit::Ms => "a duration such as `2s`, `500ms`, `1.5s` or `250us`",
        ThresholdUnit::Percent => "a percentage such as `1%` or `0.5%`",
        ThresholdUnit::PerS => "a plain number (per second) such as `50`",
        ThresholdUnit::Count => "a plain number such as `10`",
    }
}

/// The event types a step's expectation names (none for a step that is not an exchange).
fn step_events(step: &Step, events: &[String]) -> Vec<String> {
    match &step.kind {
        StepKind::WsExchange(x) => x
            .expect
            .as_ref()
            .map(|e| {
                e.expr
                    .alphabet()
                    .iter()
                    .map(|id| events.get(*id as usize).cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The names a threshold may use: the steps and, per step, its events.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Each step with its events; `None` when they are not known (a step with errors of its
    /// own), so no event name is refused for it.
    pub steps: Vec<(String, Option<Vec<String>>)>,
}

impl Catalog {
    /// The names of a compiled plan (setup steps included: they are in the results too).
    pub fn of_plan(plan: &Plan) -> Catalog {
        let steps = plan
            .steps
            .iter()
            .map(|s| (s.name.clone(), Some(step_events(s, &plan.events))))
            .collect();
        Catalog { steps }
    }

    /// The names of a scenario being compiled: `names` are every step's name, `steps` those
    /// that compiled (the others' events are unknown, so not checked).
    pub fn of_steps(names: &[&str], steps: &[Step], events: &[String]) -> Catalog {
        let steps = names
            .iter()
            .map(|n| {
                let known = steps.iter().find(|s| s.name == *n);
                ((*n).to_owned(), known.map(|s| step_events(s, events)))
            })
            .collect();
        Catalog { steps }
    }

    /// The names in results (for `merge`).
    pub fn of_summary(s: &Summary) -> Catalog {
        let steps = s
            .steps
            .iter()
            .map(|st| {
                let events = st.events.iter().map(|e| e.name.clone()).collect();
                (st.name.clone(), Some(events))
            })
            .collect();
        Catalog { steps }
    }

    /// Whether the metric's step and event exist, with a did-you-mean when they do not.
    pub fn check(&self, metric: &Metric) -> Result<(), String> {
        if let Metric::Canary(m) = metric {
            // The canary runs the scenario's steps.
            return self.check(m);
        }
        let Metric::Step { step, event, .. } = metric else {
            return Ok(());
        };
        let names: Vec<&str> = self.steps.iter().map(|(n, _)| n.as_str()).collect();
        let Some((_, events)) = self.steps.iter().find(|(n, _)| n == step) else {
            return Err(format!(
                "unknown step `{step}`{}; steps: {}; run-level metrics: {RUN_LEVEL}",
                did_you_mean(step, &names),
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ));
        };
        match (event, events) {
            (Some(e), Some(events)) if !events.iter().any(|x| x == e) => {
                if events.is_empty() {
                    return Err(format!(
                        "step `{step}` has no events (only a ws exchange step with ws.expect has \
                         them); write `{step}.STAT` for the step itself"
                    ));
                }
                let known: Vec<&str> = events.iter().map(String::as_str).collect();
                Err(format!(
                    "step `{step}` has no event `{e}`{}; its events: {}",
                    did_you_mean(e, &known),
                    known.join(", ")
                ))
            }
            _ => Ok(()),
        }
    }
}
