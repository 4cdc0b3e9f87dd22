//! The open model: flows start on a schedule, whatever the target does, from a pool of users.
//!
//! Each of the `users` users of the pool owns its share of the schedule — user `u` of `P` takes
//! the arrivals `k` with `k % P == u` (even spacing), or an independent Poisson stream at `1/P` of
//! the rate — like a wrk2 connection, or a person who sends their next message when they meant to.
//! A user still busy when its next arrival is due starts it as soon as it is free, and every
//! latency of that flow is also measured from the intended start, so a stall cannot hide the wait
//! it caused (coordinated-omission correction). An arrival already later than `max_lateness` when
//! its user could start it is dropped and counted (k6's dropped_iterations), as are arrivals that
//! came due but never started before the run ended: never silently skipped.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::schedule::{ArrivalTimes, Ramp};
use super::vu::Vu;
use super::{join_all, pacing, Stop, WorkerCtx};
use crate::metrics::recorder::Recorder;
use crate::plan::{Arrivals, Model};

/// What a pool user does: run one flow, and close at the end.
pub trait FlowUser: 'static {
    /// Runs one flow that started `lag` after its intended start.
    fn flow(&mut self, lag: Duration) -> impl Future<Output = bool>;
    fn close(&mut self) -> impl Future<Output = ()>;
}

impl FlowUser for Vu<()> {
    fn flow(&mut self, lag: Duration) -> impl Future<Output = bool> {
        Vu::flow(self, Some(lag))
    }
    fn close(&mut self) -> impl Future<Output = ()> {
        Vu::close(self)
    }
}

/// The whole schedule, shared by this worker's users.
pub(crate) struct Schedule {
    pub ramp: Ramp,
    pub arrivals: Arrivals,
    /// The pool: users of all shards and workers together.
    pub pool: u64,
    pub max_lateness: Duration,
}

pub(crate) async fn worker(ctx: &WorkerCtx, rec: &Rc<RefCell<Recorder>>) {
    let plan = &ctx.plan;
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
    let schedule = Rc::new(Schedule {
        ramp,
        arrivals: *arrivals,
        pool: u64::from(plan.load.users),
        max_lateness: plan.load.max_lateness,
    });
    let ids = pacing::worker_users(ctx.index, ctx.count, ctx.shard, plan.load.users);
    let users = ids.map(|id| {
        let mut vu = Vu::new(plan.clone(), rec.clone(), id, ());
        vu.run_start = ctx.stop.start;
        (id, vu)
    });
    run(schedule, users, &ctx.stop, rec).await;
}

/// Runs every user on its own share of the schedule until the schedule or the run ends.
pub(crate) async fn run<U: FlowUser>(
    schedule: Rc<Schedule>,
    users: impl Iterator<Item = (u64, U)>,
    stop: &Stop,
    rec: &Rc<RefCell<Recorder>>,
) {
    let mut tasks = JoinSet::new();
    for (id, user) in users {
        tasks.spawn_local(user_loop(
            user,
            id,
            schedule.clone(),
            stop.clone(),
            rec.clone(),
        ));
    }
    join_all(&mut tasks, stop, rec).await;
}

async fn user_loop<U: FlowUser>(
    mut user: U,
    id: u64,
    schedule: Rc<Schedule>,
    stop: Stop,
    rec: Rc<RefCell<Recorder>>,
) {
    let times = ArrivalTimes::for_user(&schedule.ramp, schedule.arrivals, id, schedule.pool);
    let mut times = times
        .map(|(_, t)| stop.start + Duration::from_secs_f64(t))
        .peekable();
    // An arrival taken from the schedule but not started when the run stopped.
    let mut unstarted = None;
    // When the user last became free: the run's start, then the end of each flow.
    let mut free_at = stop.start;
    for at in times.by_ref() {
        if stop.deadline.is_some_and(|d| at >= d) {
            break;
        }
        // Late only by the time the user was still busy after the arrival was due: an idle
        // user's timer firing a little late is not lateness (so max_lateness 0 drops only the
        // arrivals that found their user busy, as k6 drops those that find no free VU).
        let busy_for = free_at.saturating_duration_since(at);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = stop.soft.cancelled() => {}
        }
        if stop.soft.is_cancelled() {
            unstarted = Some(at);
            break;
        }
        if busy_for > schedule.max_lateness {
            rec.borrow_mut().dropped += 1;
            continue;
        }
        let lag = Instant::now().saturating_duration_since(at);
        user.flow(lag).await;
        free_at = Instant::now();
    }
    // Arrivals that came due while this user was busy or stopping, but never started.
    let now = Instant::now();
    let end = stop.deadline.map_or(now, |d| d.min(now));
    let missed = unstarted
        .into_iter()
        .chain(times)
        .take_while(|at| *at < end)
        .count() as u64;
    rec.borrow_mut().dropped += missed;
    user.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Overrides};

    const NORMAL: Duration = Duration::from_millis(1);
    const STALL: Duration = Duration::from_secs(1);
    const EVERY: u64 = 100;

    /// Flow time of global arrival `k`: every 100th flow stalls 1 s (as `mock --fault stall:1s
    /// --fault-rate 0.01` does), the others take 1 ms.
    fn service(k: u64) -> Duration {
        if k % EVERY == EVERY - 1 {
            STALL
        } else {
            NORMAL
        }
    }

    /// A user whose flows take `service(k)`, recording like a real one: raw time from the actual
    /// start, corrected from the intended start.
    struct Fake {
        id: u64,
        pool: u64,
        done: u64,
        rec: Rc<RefCell<Recorder>>,
    }

    impl FlowUser for Fake {
        async fn flow(&mut self, lag: Duration) -> bool {
            let k = self.id + self.pool * self.done;
            self.done += 1;
            self.rec.borrow_mut().flow_started();
            let started = Instant::now();
            tokio::time::sleep(service(k)).await;
            self.rec
                .borrow_mut()
                .flow_passed(started.elapsed(), Some(lag), false);
            true
        }
        async fn close(&mut self) {}
    }

    /// The same schedule worked out by hand: arrival k at k / rate, run by user k % pool one after
    /// another; each flow's time from intended start to end, in µs.
    fn from_schedule(rate: f64, secs: f64, pool: u64) -> Vec<u64> {
        let mut free = vec![0.0f64; pool as usize];
        (0..(rate * secs) as u64)
            .map(|k| {
                let u = (k % pool) as usize;
                let arrive = k as f64 / rate;
                free[u] = arrive.max(free[u]) + service(k).as_secs_f64();
                ((free[u] - arrive) * 1e6).round() as u64
            })
            .collect()
    }

    fn p99(mut v: Vec<u64>) -> f64 {
        v.sort_unstable();
        v[((v.len() as f64) * 0.99).ceil() as usize - 1] as f64
    }

    async fn simulate(rate: f64, secs: u64, pool: u64, max_lateness: Duration) -> Recorder {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/http-health.toml");
        let o = Overrides {
            arrival_rate: Some(rate),
            users: Some(pool as u32),
            duration: Some(Duration::from_secs(secs)),
            ..Overrides::default()
        };
        let plan = scenario::load(&path, &o, &|_| None).unwrap();
        let rec = Rc::new(RefCell::new(Recorder::new(&plan)));
        let start = Instant::now();
        let stop = Stop::new(start, Some(Duration::from_secs(secs)), None);
        let schedule = Rc::new(Schedule {
            ramp: Ramp::constant(rate, Some(Duration::from_secs(secs))),
            arrivals: Arrivals::Even,
            pool,
            max_lateness,
        });
        let r = rec.clone();
        let users = (0..pool).map(move |id| {
            (
                id,
                Fake {
                    id,
                    pool,
                    done: 0,
                    rec: r.clone(),
                },
            )
        });
        let local = tokio::task::LocalSet::new();
        local.run_until(run(schedule, users, &stop, &rec)).await;
        let out = rec.borrow().clone();
        out
    }

    /// 200 flows/s, every 100th flow stalls 1 s, a pool of 13 users; on tokio's virtual clock.
    #[tokio::test(start_paused = true)]
    async fn corrected_p99_reflects_a_stall_that_raw_p99_hides() {
        let rec = simulate(200.0, 20, 13, Duration::from_secs(60)).await;
        assert_eq!(rec.flows_passed, 4000);
        assert_eq!(rec.dropped, 0);
        let raw_p99 = rec.iteration.value_at_quantile(0.99) as f64;
        let corrected = &rec
            .corrected
            .as_ref()
            .expect("open model records corrected")
            .iteration;
        let corrected_p99 = corrected.value_at_quantile(0.99) as f64;
        let want = p99(from_schedule(200.0, 20.0, 13));
        eprintln!(
            "raw p99 {raw_p99} µs, corrected p99 {corrected_p99} µs, from the schedule {want} µs"
        );
        assert!(raw_p99 < 5_000.0, "raw p99 {raw_p99} µs hides the stall");
        assert!(
            want > 500_000.0,
            "the schedule predicts a long wait: {want} µs"
        );
        assert!(
            (corrected_p99 - want).abs() <= want * 0.10,
            "corrected p99 {corrected_p99} µs vs {want} µs from the schedule"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn arrivals_later_than_max_lateness_are_dropped_and_counted() {
        // One user at 100 flows/s: each 1 s stall leaves ~100 arrivals behind; those later than
        // 200 ms are dropped.
        let rec = simulate(100.0, 10, 1, Duration::from_millis(200)).await;
        assert_eq!(
            rec.flows_passed + rec.dropped,
            1000,
            "every arrival runs or is counted"
        );
        // The same rule by hand: an arrival more than 200 ms late when the user is free is dropped.
        let (mut now, mut ran, mut dropped) = (0.0f64, 0u64, 0u64);
        for k in 0..1000u64 {
            let at = k as f64 / 100.0;
            now = now.max(at);
            if now - at > 0.2 + 1e-9 {
                dropped += 1;
                continue;
            }
            now += service(ran).as_secs_f64();
            ran += 1;
        }
        assert_eq!(rec.dropped, dropped);
        let corrected = &rec.corrected.as_ref().unwrap().iteration;
        // A flow that started waited at most max_lateness, plus its own (≤ 1 s) time.
        assert!(corrected.max() <= 1_201_000, "max {}", corrected.max());
    }
}
