//! The closed model: a fixed set of users, each iterating back to back.
//!
//! Without stages, users start at the spawn rate (Locust's ramp). With stages, every user of this
//! worker waits for the moment the ramp counts it in, and leaves when the ramp drops below it.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::task::JoinSet;

use super::vu::Vu;
use super::{join_all, pacing, WorkerCtx};
use crate::metrics::recorder::Recorder;

pub(crate) async fn worker(ctx: &WorkerCtx, rec: &Rc<RefCell<Recorder>>) {
    let plan = &ctx.plan;
    let stop = &ctx.stop;
    let mut users = JoinSet::new();
    for n in pacing::worker_users(ctx.index, ctx.count, ctx.shard, plan.load.users) {
        if stop.ramp.is_none() {
            let at = stop.start + pacing::spawn_offset(n, plan.load.spawn_rate);
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = stop.soft.cancelled() => break,
            }
            if stop.should_stop(0) {
                break;
            }
        }
        let vu = Vu::new(plan.clone(), rec.clone(), n, ());
        users.spawn_local(vu.run(stop.clone()));
        // Reap finished users as we go so the set stays small on long ramps (a panicked one
        // is counted, as `join_all` counts it).
        while let Some(r) = users.try_join_next() {
            if r.as_ref().is_err_and(|e| e.is_panic()) {
                rec.borrow_mut().users_lost += 1;
            }
        }
    }
    join_all(&mut users, stop, rec).await;
}
