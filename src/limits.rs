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
        let room = limit.saturating_sub(RESERVE).max(1);
        let procs = need.div_ceil(room).max(2);
        return Err(format!(
            "{users} users need about {need} open files ({per_user} each), but this process may \
             open {limit} (hard limit {hard}). Split them over several processes with \
             --processes {procs}, raise the hard limit (ulimit -Hn, or docker run --ulimit \
             nofile=N:N), or use several generators with --shard I/N"
        ));
    }
    let ports = ephemeral_ports();
    let sources = plan.local_addrs.len().max(1) as u64;
    let conns = users * (per_user / if in_process_mock { 2 } else { 1 });
    if conns > ports * sources {
        return Err(format!(
            "{users} users open about {conns} connections, but one source address reaches one \
             destination through {ports} ephemeral ports at most: spread them with \
             --local-addrs (e.g. 127.0.0.0/28 on loopback), or run several generators"
        ));
    }
    Ok(())
}

/// The size of the kernel's ephemeral port range.
fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
            Some(it.next_back()? - it.next()? + 1)
        })
        .unwrap_or(28_232)
}
