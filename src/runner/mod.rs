//! Runs a plan: worker threads, each a current-thread runtime owning its users and one recorder.
//!
//! Nothing on the hot path is shared between threads: users record into their worker's recorder,
//! and the recorders are merged once at the end. A controller turns the run's end (duration or a
//! signal) into a soft stop (no new iterations), then, after the graceful-stop period, a hard stop
//! (in-flight iterations are cancelled and counted as interrupted, never as failed).

pub mod exchange;
pub mod observer;
pub mod pacing;
pub mod vu;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::recorder::Recorder;
use crate::plan::Plan;
use crate::shard::Shard;
use observer::Observer;
use vu::Vu;

/// When users stop starting iterations.
#[derive(Clone)]
pub struct Stop {
    /// No new iteration after this instant.
    pub deadline: Option<Instant>,
    /// Iterations per user.
    pub iterations: Option<u64>,
    /// Soft stop: finish the current iteration, start no other.
    pub soft: CancellationToken,
    /// Hard stop: cancel what is in flight now.
    pub hard: CancellationToken,
}

impl Stop {
    pub fn should_stop(&self, iterations_done: u64) -> bool {
        self.soft.is_cancelled()
            || self.iterations.is_some_and(|n| iterations_done >= n)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// How a run is spread and stopped.
#[derive(Clone)]
pub struct RunOptions {
    /// Worker threads (each a current-thread runtime). 0: all users on the caller's runtime.
    pub workers: usize,
    /// This generator's share of the users (user numbers stay global, so they never collide).
    pub shard: Shard,
    /// Cancelled by the first Ctrl-C / SIGTERM.
    pub interrupt: CancellationToken,
    /// Cancelled by a second signal: skip the graceful period.
    pub abort: CancellationToken,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shard: Shard::default(),
            interrupt: CancellationToken::new(),
            abort: CancellationToken::new(),
        }
    }
}

/// What a run produced.
pub struct Outcome {
    pub recorder: Recorder,
    pub elapsed: Duration,
    /// True when a signal cut the run short.
    pub interrupted: bool,
}

/// Runs the plan to its end (duration, iterations, or interruption) and merges the recorders.
pub async fn run(plan: Arc<Plan>, opts: RunOptions) -> Outcome {
    let start = Instant::now();
    let stop = Stop {
        deadline: plan.load.duration.map(|d| start + d),
        iterations: plan.load.iterations,
        soft: CancellationToken::new(),
        hard: CancellationToken::new(),
    };
    let controller = tokio::spawn(control(plan.clone(), start, stop.clone(), opts.clone()));
    let mut recorder = if opts.workers == 0 {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(worker(plan.clone(), 0, 1, opts.shard, start, stop.clone()))
            .await
    } else {
        run_threads(&plan, &opts, start, &stop).await
    };
    controller.abort();
    if recorder.steps.is_empty() {
        recorder = Recorder::new(&plan);
    }
    Outcome {
        recorder,
        elapsed: start.elapsed(),
        interrupted: opts.interrupt.is_cancelled(),
    }
}

async fn run_threads(plan: &Arc<Plan>, opts: &RunOptions, start: Instant, stop: &Stop) -> Recorder {
    let mut receivers = Vec::new();
    let users = opts.shard.users(plan.load.users);
    let workers = opts.workers.min(users.max(1) as usize).max(1);
    for index in 0..workers {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (plan, stop, shard) = (plan.clone(), stop.clone(), opts.shard);
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(_) => return,
                };
                let local = tokio::task::LocalSet::new();
                let rec = local.block_on(&rt, worker(plan, index, workers, shard, start, stop));
                let _ = tx.send(rec);
            });
        if spawned.is_ok() {
            receivers.push(rx);
        }
    }
    let mut merged = Recorder::new(plan);
    for rx in receivers {
        if let Ok(rec) = rx.await {
            merged += &rec;
        }
    }
    merged
}

/// Turns the end of the run into a soft stop, then a hard stop after the graceful period.
async fn control(plan: Arc<Plan>, start: Instant, stop: Stop, opts: RunOptions) {
    let end = async {
        match plan.load.duration {
            Some(d) => tokio::time::sleep_until(start + d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = end => {}
        _ = opts.interrupt.cancelled() => {}
    }
    stop.soft.cancel();
    tokio::select! {
        _ = tokio::time::sleep(plan.load.graceful_stop) => {}
        _ = opts.abort.cancelled() => {}
    }
    stop.hard.cancel();
}

/// One worker: starts its share of users on schedule and returns its recorder when all are done.
async fn worker(
    plan: Arc<Plan>,
    index: usize,
    count: usize,
    shard: Shard,
    start: Instant,
    stop: Stop,
) -> Recorder {
    let rec = Rc::new(RefCell::new(Recorder::new(&plan)));
    let mut users = JoinSet::new();
    let mut hard = false;
    for n in pacing::worker_users(index, count, shard, plan.load.users) {
        let at = start + pacing::spawn_offset(n, plan.load.spawn_rate);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = stop.soft.cancelled() => break,
        }
        if stop.should_stop(0) {
            break;
        }
        let vu = Vu::new(plan.clone(), rec.clone(), n, ());
        users.spawn_local(vu.run(stop.clone()));
        // Reap finished users as we go so the set stays small on long ramps.
        while users.try_join_next().is_some() {}
    }
    loop {
        tokio::select! {
            r = users.join_next() => if r.is_none() { break },
            _ = stop.hard.cancelled(), if !hard => {
                hard = true;
                users.abort_all();
            }
        }
    }
    drop(users);
    Rc::try_unwrap(rec)
        .map(RefCell::into_inner)
        .unwrap_or_else(|rc| rc.borrow().clone())
}

/// Runs one user once (setup, then one iteration) on the caller's runtime with an observer.
pub async fn run_one<O: Observer + 'static>(plan: Arc<Plan>, obs: O) -> (Recorder, O, Duration) {
    let rec = Rc::new(RefCell::new(Recorder::new(&plan)));
    let stop = Stop {
        deadline: None,
        iterations: Some(1),
        soft: CancellationToken::new(),
        hard: CancellationToken::new(),
    };
    let start = Instant::now();
    let vu = Vu::new(plan.clone(), rec.clone(), 0, obs);
    let local = tokio::task::LocalSet::new();
    let obs = local.run_until(vu.run(stop)).await;
    let elapsed = start.elapsed();
    let rec = rec.borrow().clone();
    (rec, obs, elapsed)
}
