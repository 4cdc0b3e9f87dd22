//! Open-file limits: raised to the hard limit at start, and checked against what the users need.

use crate::plan::{Plan, StepKind};
use crate::shard::Shard;

/// Files kept for the runtime, the listeners, logs and results.
const RESERVE: u64 = 64;

/// Raises the soft limit to the hard one, then checks this shard's users fit: each holds a
/// WebSocket (if the scenario opens one) and an HTTP connection (if it makes requests); an
/// in-process mock holds the server side of each.
pub fn fit(plan: &Plan, shard: Shard, in_process_mock: bool) -> Result<(), String> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
    let users = u64::from(shard.users(plan.load.users));
    let ws = plan
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::WsConnect(_)));
    let http_held = plan
        .iteration()
        .iter()
        .any(|s| matches!(s.kind, StepKind::Http(_)));
    let per_user = u64::from(ws) + u64::from(http_held || !ws);
    let per_user = per_user * if in_process_mock { 2 } else { 1 };
    let need = users * per_user + RESERVE;
    if need > limit {
        let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(limit, |(_, h)| h);
        return Err(format!(
            "{users} users need about {need} open files ({per_user} each), but this process may \
             open {limit} (hard limit {hard}). Raise the hard limit (ulimit -Hn, or docker run \
             --ulimit nofile=N:N), run fewer users, or split them over several generators with \
             --shard I/N"
        ));
    }
    Ok(())
}
