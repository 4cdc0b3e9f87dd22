//! The one line `run` prints before it starts: what load runs, against what.

/// One line saying what load runs, e.g. "open model, 100 flows/s (even), pool of 50 users, 30s".
pub(super) fn load(load: &crate::plan::LoadProfile, users: u32) -> String {
    use crate::duration::human;
    use crate::plan::{Arrivals, Model};
    let end = match (load.duration, load.iterations) {
        (Some(d), Some(n)) => format!("{} or {n} iterations each", human(d)),
        (Some(d), None) => human(d),
        (None, Some(n)) => format!("{n} iteration(s) each"),
        (None, None) => "until stopped".into(),
    };
    let stages = |stages: &[crate::plan::Stage]| {
        stages
            .iter()
            .map(|s| format!("{}→{}", human(s.duration), s.target))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &load.model {
        Model::Open {
            rate,
            stages: st,
            arrivals,
        } => {
            let kind = match arrivals {
                Arrivals::Even => "even".to_string(),
                Arrivals::Poisson { seed } => format!("poisson, seed {seed}"),
            };
            let ramp = if st.is_empty() {
                String::new()
            } else {
                format!(", stages {}", stages(st))
            };
            format!("open model, {rate} flows/s ({kind}){ramp}, pool of {users} users, {end}")
        }
        Model::Closed { stages: st } if !st.is_empty() => {
            format!(
                "closed model, stages {} (up to {users} users), {end}",
                stages(st)
            )
        }
        Model::Closed { .. } => format!(
            "closed model, {users} users, spawn rate {}/s, {end}",
            load.spawn_rate
        ),
    }
}
