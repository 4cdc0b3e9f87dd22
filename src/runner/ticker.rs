//! Per-worker clock work: interval snapshots of the recorder, and the generator's lag probe.
//!
//! Every interval the worker's recorder is moved out whole (a fresh one takes its place), added to
//! the worker's total and sent to the collector. A probe timer every few milliseconds measures how
//! late this worker's timers fire: the generator's own delay, which the report flags when high.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::WorkerCtx;
use crate::metrics::recorder::Recorder;

/// How often the lag probe fires.
pub const PROBE: Duration = Duration::from_millis(20);

/// What workers send to the collector.
pub enum Message {
    /// One worker's measurements of interval `index`.
    Interval {
        worker: usize,
        index: u64,
        /// From the start to the end of what this snapshot covers.
        end: Duration,
        rec: Box<Recorder>,
    },
    /// The worker has finished; `last` is the last interval it sent.
    Done { worker: usize, last: u64 },
}

/// Runs until aborted: probes lag, and at each interval boundary sends the snapshot.
pub(crate) async fn run(ctx: WorkerCtx, rec: Rc<RefCell<Recorder>>, total: Rc<RefCell<Recorder>>) {
    let start = ctx.stop.start;
    let mut probe = tokio::time::interval_at(start + PROBE, PROBE);
    probe.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut index = 0u64;
    let mut boundary = start + ctx.interval;
    loop {
        let due = probe.tick().await;
        let now = Instant::now();
        rec.borrow_mut()
            .scheduling_lag(now.saturating_duration_since(due));
        if now >= boundary {
            send(&ctx, &rec, &total, index, boundary - start);
            index += 1;
            boundary += ctx.interval;
        }
    }
}

fn send(
    ctx: &WorkerCtx,
    rec: &Rc<RefCell<Recorder>>,
    total: &Rc<RefCell<Recorder>>,
    index: u64,
    end: Duration,
) {
    let snap = std::mem::replace(&mut *rec.borrow_mut(), Recorder::new(&ctx.plan));
    // The worker keeps its first transcripts of each kind over the whole run, not per interval.
    rec.borrow_mut().transcripts.counts = snap.transcripts.counts.clone();
    *total.borrow_mut() += &snap;
    let _ = ctx.snapshots.send(Message::Interval {
        worker: ctx.index,
        index,
        end,
        rec: Box::new(snap),
    });
}

/// At the worker's end: sends what the last, partial interval holds, and says it is done.
pub(crate) fn flush(ctx: &WorkerCtx, rec: &Rc<RefCell<Recorder>>, total: &Rc<RefCell<Recorder>>) {
    let elapsed = ctx.stop.start.elapsed();
    let index = (elapsed.as_nanos() / ctx.interval.as_nanos().max(1)) as u64;
    send(ctx, rec, total, index, elapsed);
    let _ = ctx.snapshots.send(Message::Done {
        worker: ctx.index,
        last: index,
    });
}
