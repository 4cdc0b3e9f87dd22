//! Runs a plan: worker threads, each a current-thread runtime owning its users and one recorder.
//!
//! Nothing on the hot path is shared between threads: users record into their worker's recorder.
//! Once per interval each worker moves its recorder's contents out (one message per worker per
//! second, never per request); the collector merges the workers' intervals in order for the live
//! sinks (progress, HDR interval log, time series), and the workers' totals are merged once at
//! the end. A controller turns the run's end (duration or a signal) into a soft stop (no new
//! flows), then, after the graceful-stop period, a hard stop (in-flight flows are cancelled and
//! counted as interrupted, never as failed).

pub mod canary;
pub mod closed;
pub mod exchange;
pub mod guard;
pub mod mint;
pub mod observer;
pub mod open;
pub mod pacing;
pub mod schedule;
pub mod ticker;
pub mod token;
pub mod vu;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::recorder::Recorder;
use crate::metrics::summary::{ToolError, ToolErrorKind};
use crate::plan::{Model, Plan};
use crate::report::{Sink, Tick};
use crate::shard::Shard;
use observer::Observer;
use schedule::Ramp;
use vu::Vu;

/// When users stop starting flows.
#[derive(Clone)]
pub struct Stop {
    pub start: Instant,
    /// No new flow after this instant.
    pub deadline: Option<Instant>,
    /// Iterations per user (closed model).
    pub iterations: Option<u64>,
    /// Closed model with stages: user `u` is active while the ramp is above `u`.
    pub ramp: Option<Ramp>,
    /// Soft stop: finish the current flow, start no other.
    pub soft: CancellationToken,
    /// Hard stop: cancel what is in flight now.
    pub hard: CancellationToken,
}

impl Stop {
    /// Stops after `deadline` (from `start`) or `iterations`, whichever comes first; no ramp.
    pub fn new(start: Instant, deadline: Option<Duration>, iterations: Option<u64>) -> Stop {
        Stop {
            start,
            deadline: deadline.map(|d| start + d),
            iterations,
            ramp: None,
            soft: CancellationToken::new(),
            hard: CancellationToken::new(),
        }
    }

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
    /// Length of a time-series interval.
    pub interval: Duration,
    /// Cancelled by a breached `abort_on_fail` threshold: stop at once (soft and hard stop,
    /// in-flight flows counted as interrupted).
    pub halt: CancellationToken,
    /// `--canary-every`: run the canary user (`runner::canary`) with this period.
    pub canary: Option<Duration>,
    /// Where the canary publishes its figures for the live sinks (the metrics page).
    pub canary_live: Option<Arc<canary::Live>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shard: Shard::default(),
            interrupt: CancellationToken::new(),
            abort: CancellationToken::new(),
            interval: Duration::from_secs(1),
            halt: CancellationToken::new(),
            canary: None,
            canary_live: None,
        }
    }
}

/// What a run produced.
pub struct Outcome {
    pub recorder: Recorder,
    /// The sinks given to `run`, back for their final hook.
    pub sink: Box<dyn Sink>,
    pub elapsed: Duration,
    /// True when a signal cut the run short.
    pub interrupted: bool,
    /// Failures of the runner itself (a worker thread that did not start or died): the
    /// verdict is then `error`.
    pub tool_errors: Vec<ToolError>,
    /// The canary user's measurements (`--canary-every`), apart from the load's.
    pub canary: Option<canary::CanaryRecord>,
}

/// What a worker needs; cheap to clone into each thread.
#[derive(Clone)]
pub(crate) struct WorkerCtx {
    pub plan: Arc<Plan>,
    pub index: usize,
    pub count: usize,
    pub shard: Shard,
    pub stop: Stop,
    pub interval: Duration,
    pub snapshots: mpsc::UnboundedSender<ticker::Message>,
}

/// Runs the plan to its end (duration, iterations, or interruption) and merges the recorders;
/// `sink` sees every interval as it completes.
pub async fn run(plan: Arc<Plan>, opts: RunOptions, sink: Box<dyn Sink>) -> Outcome {
    guard::install_panic_hook();
    let start = Instant::now();
    let ramp = match &plan.load.model {
        Model::Closed { stages } if !stages.is_empty() => {
            Some(Ramp::stages(0.0, stages, plan.load.duration))
        }
        _ => None,
    };
    let stop = Stop {
        ramp,
        ..Stop::new(start, plan.load.duration, plan.load.iterations)
    };
    let users = opts.shard.users(plan.load.users);
    let workers = opts.workers.min(users.max(1) as usize).max(1);
    let (tx, rx) = mpsc::unbounded_channel();
    let controller = tokio::spawn(control(plan.clone(), start, stop.clone(), opts.clone()));
    let collector = tokio::spawn(collect(rx, workers, sink, plan.clone(), opts.interval));
    let ctx = |index: usize| WorkerCtx {
        plan: plan.clone(),
        index,
        count: workers,
        shard: opts.shard,
        stop: stop.clone(),
        interval: opts.interval,
        snapshots: tx.clone(),
    };
    let mut recorder = Recorder::new(&plan);
    let mut tool_errors = Vec::new();
    // The canary stops with the load: its tokens follow the run's, and it is stopped once the
    // load's users are done (a run bounded by iterations has no deadline).
    let canary_stop = Stop {
        soft: stop.soft.child_token(),
        hard: stop.hard.child_token(),
        iterations: None,
        ramp: None,
        ..stop.clone()
    };
    let canary = opts.canary.map(|every| {
        let user = canary::user_number(&plan, opts.shard);
        let live = opts.canary_live.clone();
        canary::spawn(plan.clone(), canary_stop.clone(), every, user, live)
    });
    if opts.workers == 0 {
        let local = tokio::task::LocalSet::new();
        recorder += &local.run_until(worker(ctx(0))).await;
    } else {
        let mut receivers = Vec::new();
        for index in 0..workers {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let c = ctx(index);
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = done_tx
                                .send(Err(format!("worker {index} cannot start its runtime: {e}")));
                            return;
                        }
                    };
                    let local = tokio::task::LocalSet::new();
                    let _ = done_tx.send(Ok(local.block_on(&rt, worker(c))));
                });
            match spawned {
                Ok(_) => receivers.push((index, done_rx)),
                Err(e) => tool_errors.push(ToolError::new(
                    ToolErrorKind::WorkerNotStarted,
                    format!("worker {index} did not start: {e}"),
                )),
            }
        }
        for (index, rx) in receivers {
            match rx.await {
                Ok(Ok(rec)) => recorder += &rec,
                Ok(Err(e)) => tool_errors.push(ToolError::new(ToolErrorKind::WorkerNotStarted, e)),
                // The sender was dropped unsent: the worker thread panicked. Its users' flows
                // (and its recorder) are lost.
                Err(_) => tool_errors.push(ToolError::new(
                    ToolErrorKind::WorkerDied,
                    format!(
                        "worker {index} died (a panic in load-tester); its users' results are lost"
                    ),
                )),
            }
        }
    }
    let canary = match canary {
        None => None,
        Some(spawned) => end_canary(spawned, &canary_stop, &plan, &opts, &mut tool_errors).await,
    };
    drop(tx);
    controller.abort();
    let sink = match collector.await {
        Ok(sink) => sink,
        Err(e) => {
            tool_errors.push(ToolError::new(
                ToolErrorKind::WorkerDied,
                format!("the interval collector died: {e}; live outputs are incomplete"),
            ));
            Box::new(crate::report::Sinks::default())
        }
    };
    Outcome {
        recorder,
        sink,
        elapsed: start.elapsed(),
        interrupted: opts.interrupt.is_cancelled(),
        tool_errors,
        canary,
    }
}

/// Once the load's users are done: stops the canary (its flow in flight gets the graceful
/// period, as the load's do) and takes its record; a canary that did not start or died is a
/// tool error.
async fn end_canary(
    spawned: Result<tokio::sync::oneshot::Receiver<canary::CanaryRecord>, String>,
    stop: &Stop,
    plan: &Plan,
    opts: &RunOptions,
    tool_errors: &mut Vec<ToolError>,
) -> Option<canary::CanaryRecord> {
    let mut rx = match spawned {
        Ok(rx) => rx,
        Err(e) => {
            tool_errors.push(ToolError::new(ToolErrorKind::WorkerNotStarted, e));
            return None;
        }
    };
    stop.soft.cancel();
    let done = tokio::select! {
        r = &mut rx => r,
        _ = async {
            tokio::select! {
                _ = tokio::time::sleep(plan.load.graceful_stop) => {}
                _ = opts.abort.cancelled() => {}
                _ = opts.halt.cancelled() => {}
            }
        } => {
            stop.hard.cancel();
            rx.await
        }
    };
    match done {
        Ok(record) => Some(record),
        Err(_) => {
            tool_errors.push(ToolError::new(
                ToolErrorKind::WorkerDied,
                "the canary user's thread ended without its results (its runtime did not start, \
                 or a panic in load-tester): the canary's flows are lost",
            ));
            None
        }
    }
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
        _ = opts.halt.cancelled() => {}
    }
    stop.soft.cancel();
    // A halt skips the graceful period: the run is judged already.
    tokio::select! {
        _ = tokio::time::sleep(plan.load.graceful_stop) => {}
        _ = opts.abort.cancelled() => {}
        _ = opts.halt.cancelled() => {}
    }
    stop.hard.cancel();
}

/// Merges the workers' interval snapshots and hands each completed interval to the sink, in order.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<ticker::Message>,
    workers: usize,
    mut sink: Box<dyn Sink>,
    plan: Arc<Plan>,
    length: Duration,
) -> Box<dyn Sink> {
    // Everything so far, for the sinks that judge the run as it goes (thresholds, metrics).
    let mut total = Recorder::new(&plan);
    let mut emit = |index: u64, end: Duration, rec: &Recorder| {
        total += rec;
        sink.interval(&Tick {
            index,
            start: length * index as u32,
            end,
            interval: rec,
            total: &total,
        });
    };
    // index → (parts received, latest end, merged recorder)
    let mut pending: BTreeMap<u64, (usize, Duration, Recorder)> = BTreeMap::new();
    // For each worker, the last interval it will send (once it has finished).
    let mut last: Vec<Option<u64>> = vec![None; workers];
    let mut next = 0u64;
    while let Some(msg) = rx.recv().await {
        match msg {
            ticker::Message::Interval {
                index, end, rec, ..
            } => match pending.get_mut(&index) {
                Some(entry) => {
                    entry.0 += 1;
                    entry.1 = entry.1.max(end);
                    entry.2 += &rec;
                }
                None => {
                    pending.insert(index, (1, end, *rec));
                }
            },
            ticker::Message::Done { worker, last: l } => {
                if let Some(slot) = last.get_mut(worker) {
                    *slot = Some(l);
                }
            }
        }
        // Emit every interval that all workers still running at that point have sent.
        while let Some((parts, _, _)) = pending.get(&next) {
            let expected = last.iter().filter(|l| l.is_none_or(|l| l >= next)).count();
            if *parts < expected {
                break;
            }
            if let Some((_, end, rec)) = pending.remove(&next) {
                emit(next, end, &rec);
            }
            next += 1;
        }
    }
    for (index, (_, end, rec)) in pending {
        emit(index, end, &rec);
    }
    sink
}

/// One worker: runs its share of the users (closed or open model) and returns its recorder.
async fn worker(ctx: WorkerCtx) -> Recorder {
    if ctx.index == 0 && ctx.plan.self_test_panic == Some(crate::plan::SelfTestPanic::Worker) {
        panic!("self-test panic in worker 0");
    }
    let rec = Rc::new(RefCell::new(Recorder::new(&ctx.plan)));
    let total = Rc::new(RefCell::new(Recorder::new(&ctx.plan)));
    let ticks = tokio::task::spawn_local(ticker::run(ctx.clone(), rec.clone(), total.clone()));
    match &ctx.plan.load.model {
        Model::Open { .. } => open::worker(&ctx, &rec).await,
        Model::Closed { .. } => closed::worker(&ctx, &rec).await,
    }
    ticks.abort();
    let _ = ticks.await;
    ticker::flush(&ctx, &rec, &total);
    let out = total.borrow().clone();
    out
}

/// Waits for a worker's users; on the hard stop, cancels those still in flight (their flows
/// are then counted as interrupted by their guards). Users whose task panicked are counted in
/// the recorder as lost: a bug, which makes the verdict `error`.
pub(crate) async fn join_all<T: 'static>(
    tasks: &mut tokio::task::JoinSet<T>,
    stop: &Stop,
    rec: &Rc<RefCell<Recorder>>,
) {
    let mut hard = false;
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                None => break,
                Some(Err(e)) if e.is_panic() => rec.borrow_mut().users_lost += 1,
                Some(_) => {}
            },
            _ = stop.hard.cancelled(), if !hard => {
                hard = true;
                tasks.abort_all();
            }
        }
    }
}

/// Runs one user once (setup, then one iteration) on the caller's runtime with an observer
/// (shared, so what it saw survives a stop). `stop` cancelled: the flow is cut off at once and
/// counted as interrupted.
pub async fn run_one<O: Observer + 'static>(
    plan: Arc<Plan>,
    obs: O,
    stop: CancellationToken,
) -> (Recorder, Duration) {
    guard::install_panic_hook();
    let rec = Rc::new(RefCell::new(Recorder::new(&plan)));
    let start = Instant::now();
    let once = Stop::new(start, None, Some(1));
    let vu = Vu::new(plan.clone(), rec.clone(), 0, obs);
    let local = tokio::task::LocalSet::new();
    let task = local.spawn_local(vu.run(once));
    let cut = local
        .run_until(async {
            tokio::select! {
                r = task => r.err().filter(|e| e.is_panic()).map(|_| ()),
                _ = stop.cancelled() => None,
            }
        })
        .await;
    if cut.is_some() {
        rec.borrow_mut().users_lost += 1;
    }
    // Dropping the set drops the user's task if it still runs: its guard records it.
    drop(local);
    let elapsed = start.elapsed();
    let rec = rec.borrow().clone();
    (rec, elapsed)
}
