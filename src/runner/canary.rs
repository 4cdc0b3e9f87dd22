//! The canary user (`run --canary-every D`): one extra user, on its own thread, connection and
//! recorder, that starts a flow every `D` while the load runs — what a real user sees under load.
//!
//! Design choice: the pacing (`pace`) is apart from the user (`Runs`), so the tick rule is tested
//! with tokio's paused clock: a flow starts at each tick if the previous one has ended; a tick
//! that comes while a flow still runs is *skipped* (counted), never queued, so a slow target
//! does not get a burst of canary flows once it recovers. Ticks are `start + k·D` (the first at
//! the run's start) until the run's end; the stop rules are the load's (soft: no new flow; hard:
//! the flow in flight is cut off and counted as interrupted by its guard).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::vu::Vu;
use super::Stop;
use crate::metrics::recorder::Recorder;
use crate::plan::Plan;

/// What the canary measured: its own recorder (never merged into the load's) and its ticks.
#[derive(Debug, Clone)]
pub struct CanaryRecord {
    pub rec: Recorder,
    /// Ticks that came while the previous canary flow was still running (no flow started).
    pub skipped: u64,
    /// The canary's user number (`{{vu}}`).
    pub user: u64,
    /// The period between ticks.
    pub every: Duration,
}

/// The canary's figures so far, for the live sinks (the metrics page): published by the canary
/// after each of its flows (never per frame), read once per interval.
#[derive(Debug, Default)]
pub struct Live(std::sync::Mutex<Option<Snapshot>>);

/// What the canary had measured at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub rec: Recorder,
    pub skipped: u64,
}

impl Live {
    /// The last snapshot, if the canary has published one.
    pub fn get(&self) -> Option<Snapshot> {
        self.0.lock().ok().and_then(|s| s.clone())
    }

    fn set(&self, snapshot: Snapshot) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(snapshot);
        }
    }
}

/// The canary's user number: the first after the load's users (which are numbered from 0,
/// globally across shards), plus this generator's shard index, so the canaries of several
/// generators never share a user with the load nor with each other.
pub fn user_number(plan: &Plan, shard: crate::shard::Shard) -> u64 {
    u64::from(plan.load.users) + u64::from(shard.index)
}

/// One user that the pacing drives: a flow, and the end of the session.
pub(crate) trait Runs {
    /// One flow, recorded by the user itself (and by its guard if the future is dropped).
    async fn flow(&mut self);
    /// The run is over: close the session politely.
    async fn close(&mut self);
    /// A flow ended (`skipped`: the ticks skipped so far): the figures changed.
    fn changed(&mut self, _skipped: u64) {}
}

/// The canary's user, publishing its figures for the live sinks.
struct CanaryUser {
    vu: Vu<()>,
    live: Option<Arc<Live>>,
}

impl Runs for CanaryUser {
    async fn flow(&mut self) {
        self.vu.flow(None).await;
    }

    async fn close(&mut self) {
        self.vu.close().await;
    }

    fn changed(&mut self, skipped: u64) {
        if let Some(live) = &self.live {
            let rec = self.vu.rec.borrow().clone();
            live.set(Snapshot { rec, skipped });
        }
    }
}

/// Starts a flow at every tick (`stop.start + k·every`) when the previous one has ended, until
/// `stop` says so; returns the ticks skipped because a flow was still running. A hard stop
/// drops the flow in flight (its guard counts it as interrupted) and skips the closing.
pub(crate) async fn pace<R: Runs>(every: Duration, stop: &Stop, user: &mut R) -> u64 {
    let every = every.max(Duration::from_millis(1));
    let mut skipped = 0u64;
    let mut next = stop.start;
    'ticks: loop {
        tokio::select! {
            biased;
            _ = stop.soft.cancelled() => break,
            _ = stop.hard.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
        }
        if stop.should_stop(0) {
            break;
        }
        next += every;
        {
            let flow = user.flow();
            tokio::pin!(flow);
            // Ticks while the flow runs are skipped, until the run's end (later ones are not ticks).
            let mut counting = true;
            loop {
                tokio::select! {
                    biased;
                    _ = &mut flow => break,
                    _ = stop.hard.cancelled() => break 'ticks,
                    _ = tokio::time::sleep_until(next), if counting => {
                        if stop.should_stop(0) {
                            counting = false;
                        } else {
                            skipped += 1;
                            next += every;
                        }
                    }
                }
            }
        }
        user.changed(skipped);
    }
    if !stop.hard.is_cancelled() {
        user.close().await;
    }
    skipped
}

/// Runs the canary on a thread of its own (a current-thread runtime, so the load's users never
/// delay it on their workers' runtimes) until `stop`; the receiver gets its record, or an error
/// when the thread could not start (dropped unsent: the thread died).
pub(crate) fn spawn(
    plan: Arc<Plan>,
    stop: Stop,
    every: Duration,
    user: u64,
    live: Option<Arc<Live>>,
) -> Result<oneshot::Receiver<CanaryRecord>, String> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("canary".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let local = tokio::task::LocalSet::new();
            let record = local.block_on(&rt, run(plan, stop, every, user, live));
            let _ = tx.send(record);
        })
        .map_err(|e| format!("the canary's thread did not start: {e}"))?;
    Ok(rx)
}

/// The canary's own user and recorder, paced until `stop`.
async fn run(
    plan: Arc<Plan>,
    stop: Stop,
    every: Duration,
    user: u64,
    live: Option<Arc<Live>>,
) -> CanaryRecord {
    let mut recorder = Recorder::new(&plan);
    // The canary's flows start on its ticks, not on an arrival schedule: nothing to correct.
    recorder.corrected = None;
    let rec = Rc::new(RefCell::new(recorder));
    let vu = Vu::new(plan.clone(), rec.clone(), user, ());
    let mut canary = CanaryUser { vu, live };
    let skipped = pace(every, &stop, &mut canary).await;
    // The user (and a flow future it may hold) is gone before the recorder is read.
    drop(canary);
    let rec = rec.borrow().clone();
    CanaryRecord {
        rec,
        skipped,
        user,
        every,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    /// A user whose flows take `took` each, counting those started and ended, and its close.
    struct Fake {
        took: Duration,
        ended: u32,
        closed: bool,
        /// When each flow started, from `origin`.
        starts: Vec<Duration>,
        origin: Instant,
    }

    impl Fake {
        fn new(took: Duration, origin: Instant) -> Fake {
            Fake {
                took,
                ended: 0,
                closed: false,
                starts: Vec::new(),
                origin,
            }
        }

        fn started(&self) -> u32 {
            self.starts.len() as u32
        }
    }

    impl Runs for Fake {
        async fn flow(&mut self) {
            self.starts.push(self.origin.elapsed());
            tokio::time::sleep(self.took).await;
            self.ended += 1;
        }
        async fn close(&mut self) {
            self.closed = true;
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_flow_per_tick_when_each_ends_before_the_next() {
        let start = Instant::now();
        let stop = Stop::new(start, Some(ms(1000)), None);
        let mut user = Fake::new(ms(30), start);
        let skipped = pace(ms(200), &stop, &mut user).await;
        assert_eq!(skipped, 0);
        assert_eq!(user.started(), 5, "ticks at 0, 200, 400, 600, 800");
        assert_eq!(user.ended, 5);
        assert_eq!(user.starts, vec![ms(0), ms(200), ms(400), ms(600), ms(800)]);
        assert!(user.closed);
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_that_find_a_flow_running_are_skipped_not_queued() {
        let start = Instant::now();
        let stop = Stop::new(start, Some(ms(1000)), None);
        let mut user = Fake::new(ms(250), start);
        let skipped = pace(ms(100), &stop, &mut user).await;
        // Flows at 0, 300, 600, 900 (each 250 ms); ticks 100, 200, 400, 500, 700, 800 skipped;
        // the flow started at 900 ends after the run's end, whose ticks are not counted.
        assert_eq!(user.starts, vec![ms(0), ms(300), ms(600), ms(900)]);
        assert_eq!(skipped, 6);
        assert_eq!(
            user.started() as u64 + skipped,
            10,
            "every tick accounted for"
        );
        assert_eq!(user.ended, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hard_stop_cuts_the_flow_in_flight_and_skips_the_close() {
        let start = Instant::now();
        let stop = Stop::new(start, Some(ms(1000)), None);
        let hard = stop.hard.clone();
        let soft = stop.soft.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(450)).await;
            soft.cancel();
            hard.cancel();
        });
        let mut user = Fake::new(ms(100), start);
        let skipped = pace(ms(200), &stop, &mut user).await;
        assert_eq!(skipped, 0);
        assert_eq!(user.started(), 3, "at 0, 200, 400");
        assert_eq!(user.ended, 2, "the flow of 400 was cut at 450");
        assert!(!user.closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_soft_stop_lets_the_flow_in_flight_end_then_starts_no_other() {
        let start = Instant::now();
        let stop = Stop::new(start, None, None);
        let soft = stop.soft.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(450)).await;
            soft.cancel();
        });
        let mut user = Fake::new(ms(300), start);
        let skipped = pace(ms(200), &stop, &mut user).await;
        // Flows at 0 and 400 (the tick of 200 skipped; 600 comes after the stop).
        assert_eq!(user.starts, vec![ms(0), ms(400)]);
        assert_eq!(skipped, 1);
        assert_eq!(user.ended, 2);
        assert!(user.closed);
    }

    #[test]
    fn the_canary_user_follows_the_load_users_and_the_shard() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let plan = crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None)
            .unwrap();
        let users = u64::from(plan.load.users);
        assert_eq!(user_number(&plan, crate::shard::Shard::default()), users);
        let second = crate::shard::Shard { index: 1, count: 3 };
        assert_eq!(user_number(&plan, second), users + 1);
    }
}
