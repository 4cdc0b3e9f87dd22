//! The open model: flows start on the schedule, whatever the target does; a pool of users runs them.
//!
//! Arrival `k` belongs to shard `k % shards`, then to worker `(k / shards) % workers`. At its
//! intended time it goes to an idle user of this worker's pool (created on first need, setup
//! included); when none is idle it waits in a backlog, served first by the next user to finish, and
//! its latencies are measured from the intended time (coordinated-omission correction). When the
//! backlog already holds a pool's worth of arrivals, the arrival is dropped and counted — never
//! silently skipped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::schedule::{ArrivalTimes, Ramp};
use super::vu::Vu;
use super::{join_all, pacing, Stop, WorkerCtx};
use crate::metrics::recorder::Recorder;
use crate::plan::Model;

/// This worker's users and the arrivals waiting for one.
struct Pool {
    idle: Vec<Vu<()>>,
    /// User numbers not yet created (global numbers of this worker's share).
    unused: Box<dyn Iterator<Item = u64>>,
    backlog: VecDeque<Instant>,
    /// Most arrivals allowed to wait: the pool's size.
    cap: usize,
}

pub(crate) async fn worker(ctx: &WorkerCtx, rec: &Rc<RefCell<Recorder>>) {
    let plan = &ctx.plan;
    let stop = &ctx.stop;
    let Model::Open {
        rate,
        stages,
        arrivals,
    } = &plan.load.model
    else {
        return;
    };
    let ramp = if stages.is_empty() {
        Ramp::constant(*rate, plan.load.duration)
    } else {
        Ramp::stages(*rate, stages, plan.load.duration)
    };
    let ids: Vec<u64> =
        pacing::worker_users(ctx.index, ctx.count, ctx.shard, plan.load.users).collect();
    let pool = Rc::new(RefCell::new(Pool {
        cap: ids.len(),
        idle: Vec::new(),
        unused: Box::new(ids.into_iter()),
        backlog: VecDeque::new(),
    }));
    let shards = u64::from(ctx.shard.count.max(1));
    let mine = |k: u64| {
        k % shards == u64::from(ctx.shard.index)
            && (k / shards) % ctx.count as u64 == ctx.index as u64
    };
    let mut flows = JoinSet::new();
    for (_, t) in ArrivalTimes::new(ramp, *arrivals).filter(|(k, _)| mine(*k)) {
        let at = stop.start + Duration::from_secs_f64(t);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = stop.soft.cancelled() => break,
        }
        if stop.soft.is_cancelled() || stop.deadline.is_some_and(|d| at >= d) {
            break;
        }
        let vu = {
            let mut p = pool.borrow_mut();
            match p.idle.pop() {
                Some(vu) => Some(vu),
                None => p.unused.next().map(|id| {
                    Vu::new(plan.clone(), rec.clone(), id, ()).with_live(ctx.live.clone())
                }),
            }
        };
        match vu {
            Some(vu) => {
                flows.spawn_local(run_flows(vu, at, pool.clone(), stop.clone()));
            }
            None => {
                let mut p = pool.borrow_mut();
                if p.backlog.len() < p.cap {
                    p.backlog.push_back(at);
                } else {
                    rec.borrow_mut().dropped += 1;
                }
            }
        }
        while flows.try_join_next().is_some() {}
    }
    join_all(&mut flows, stop).await;
    // Arrivals still waiting when the run ended never started: they are dropped too.
    let waiting = pool.borrow_mut().backlog.drain(..).count() as u64;
    rec.borrow_mut().dropped += waiting;
    let idle: Vec<Vu<()>> = pool.borrow_mut().idle.drain(..).collect();
    for mut vu in idle {
        vu.close().await;
    }
}

/// Runs the flow due at `at`, then any waiting ones, then returns the user to the pool.
async fn run_flows(mut vu: Vu<()>, mut at: Instant, pool: Rc<RefCell<Pool>>, stop: Stop) {
    loop {
        let lag = Instant::now().saturating_duration_since(at);
        vu.flow(Some(lag)).await;
        if stop.soft.is_cancelled() {
            break;
        }
        match pool.borrow_mut().backlog.pop_front() {
            Some(next) => at = next,
            None => break,
        }
    }
    pool.borrow_mut().idle.push(vu);
}
