//! Fault injection: the `Fault` kinds and the exact-fraction rule that picks which flows get one.
//!
//! Design choice: selection is deterministic, not random: the n-th flow (0-based) is faulted iff
//! floor((n+1)·rate) > floor(n·rate), computed in integers (rate in parts per billion) so that a
//! rate like 0.29 never drifts by float rounding. Tests can therefore assert exact counts.
//! `slowdown` is selected by time as well: only flows started `after` the mock's start, and of
//! those the same exact fraction.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::flow::Event;
use crate::duration::parse_duration;

/// A fault applied to a selected flow (or, for `Login401`, to a selected login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `drop:EVENT`: never send events of that type in the flow.
    Drop(Event),
    /// `reorder`: send the first `agent_thinking` before `agent_started`.
    Reorder,
    /// `agent-error`: after `agent_started`, send `agent_error` and end the flow.
    AgentError,
    /// `close:CODE`: after `agent_started` and the first `agent_thinking`, close with CODE.
    Close(u16),
    /// `stall[:DURATION]`: after `agent_started`, wait (forever when `None`) then continue.
    Stall(Option<Duration>),
    /// `non-json`: after `agent_started`, send a text frame that is not JSON, then continue.
    NonJson,
    /// `login-401`: reject selected logins with 401 instead of faulting flows.
    Login401,
    /// `slowdown:after=DURATION,delay=DURATION`: flows started once `after` has passed since the
    /// mock started wait `delay` before their first event (a target that slows down mid-run).
    Slowdown { after: Duration, delay: Duration },
}

impl Fault {
    /// True when the fault applies to flows (every kind but `login-401`).
    pub fn is_flow_fault(&self) -> bool {
        !matches!(self, Fault::Login401)
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = match s.trim().split_once(':') {
            Some((k, a)) => (k, Some(a.trim())),
            None => (s.trim(), None),
        };
        let no_arg = |f: Fault| match arg {
            None => Ok(f),
            Some(_) => Err(format!("fault {kind:?} takes no argument")),
        };
        match kind {
            "drop" => {
                let name = arg.ok_or("drop needs an event: drop:EVENT")?;
                let event = Event::from_name(name).ok_or_else(|| {
                    format!(
                        "drop:{name}: unknown event (one of {})",
                        Event::NAMES.join(", ")
                    )
                })?;
                Ok(Fault::Drop(event))
            }
            "reorder" => no_arg(Fault::Reorder),
            "agent-error" => no_arg(Fault::AgentError),
            "close" => {
                let code: u16 = arg
                    .ok_or("close needs a code: close:CODE")?
                    .parse()
                    .map_err(|_| format!("invalid close code in {s:?}"))?;
                if !CloseCode::from(code).is_allowed() {
                    return Err(format!("close code {code} may not be sent on the wire"));
                }
                Ok(Fault::Close(code))
            }
            "stall" => match arg {
                None => Ok(Fault::Stall(None)),
                Some(d) => Ok(Fault::Stall(Some(parse_duration(d)?))),
            },
            "non-json" => no_arg(Fault::NonJson),
            "login-401" => no_arg(Fault::Login401),
            "slowdown" => slowdown(arg.unwrap_or_default()),
            _ => Err(format!(
                "unknown fault {s:?}: expected drop:EVENT, reorder, agent-error, close:CODE, \
                 stall[:DURATION], non-json, login-401 or slowdown:after=DURATION,delay=DURATION"
            )),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Drop(e) => write!(f, "drop:{}", e.name()),
            Fault::Reorder => f.write_str("reorder"),
            Fault::AgentError => f.write_str("agent-error"),
            Fault::Close(c) => write!(f, "close:{c}"),
            Fault::Stall(None) => f.write_str("stall"),
            Fault::Stall(Some(d)) => write!(f, "stall:{}ms", d.as_millis()),
            Fault::NonJson => f.write_str("non-json"),
            Fault::Login401 => f.write_str("login-401"),
            Fault::Slowdown { after, delay } => write!(
                f,
                "slowdown:after={}ms,delay={}ms",
                after.as_millis(),
                delay.as_millis()
            ),
        }
    }
}

/// `after=3s,delay=200ms` (in any order; `after` defaults to 0, `delay` is required).
fn slowdown(arg: &str) -> Result<Fault, String> {
    let usage = "use slowdown:after=DURATION,delay=DURATION, e.g. slowdown:after=3s,delay=200ms";
    let (mut after, mut delay) = (Duration::ZERO, None);
    for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("after", v)) => after = parse_duration(v.trim())?,
            Some(("delay", v)) => delay = Some(parse_duration(v.trim())?),
            _ => return Err(format!("slowdown: unknown setting {part:?}: {usage}")),
        }
    }
    let delay = delay.ok_or_else(|| format!("slowdown needs a delay: {usage}"))?;
    Ok(Fault::Slowdown { after, delay })
}

/// The exact-fraction selector: `hits(n)` for the n-th (0-based) flow or login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    /// The rate in parts per billion.
    ppb: u128,
}

const BILLION: u128 = 1_000_000_000;

impl Fraction {
    /// `rate` is clamped into 0..=1 (NaN counts as 0).
    pub fn new(rate: f64) -> Fraction {
        let r = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        Fraction {
            ppb: (r * BILLION as f64).round() as u128,
        }
    }

    pub fn hits(&self, n: u64) -> bool {
        let n = n as u128;
        (n + 1) * self.ppb / BILLION > n * self.ppb / BILLION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_kinds_parse_and_print() {
        let cases = [
            ("drop:tool_completed", Fault::Drop(Event::ToolCompleted)),
            ("reorder", Fault::Reorder),
            ("agent-error", Fault::AgentError),
            ("close:1011", Fault::Close(1011)),
            ("stall", Fault::Stall(None)),
            (
                "stall:250ms",
                Fault::Stall(Some(Duration::from_millis(250))),
            ),
            ("non-json", Fault::NonJson),
            ("login-401", Fault::Login401),
            (
                "slowdown:after=3000ms,delay=200ms",
                Fault::Slowdown {
                    after: Duration::from_secs(3),
                    delay: Duration::from_millis(200),
                },
            ),
        ];
        assert_eq!(
            "slowdown:delay=1s".parse::<Fault>(),
            Ok(Fault::Slowdown {
                after: Duration::ZERO,
                delay: Duration::from_secs(1)
            })
        );
        for (text, fault) in cases {
            assert_eq!(text.parse::<Fault>().as_ref(), Ok(&fault), "{text}");
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        for bad in [
            "",
            "drop",
            "drop:nope",
            "close",
            "close:1006",
            "close:x",
            "reorder:1",
            "boom",
            "slowdown",
            "slowdown:after=1s",
            "slowdown:after=1s,pause=2s",
            "slowdown:delay=soon",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn fraction_is_exact() {
        let count = |rate: f64, n: u64| (0..n).filter(|&i| Fraction::new(rate).hits(i)).count();
        assert_eq!(count(0.5, 4), 2);
        assert!(!Fraction::new(0.5).hits(0));
        assert!(Fraction::new(0.5).hits(1));
        assert_eq!(count(0.29, 100), 29);
        assert_eq!(count(0.1, 1000), 100);
        assert_eq!(count(1.0, 7), 7);
        assert_eq!(count(0.0, 7), 0);
        assert_eq!(count(f64::NAN, 7), 0);
    }
}
