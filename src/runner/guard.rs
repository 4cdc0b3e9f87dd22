//! `FlowGuard`: every flow is accounted for, even one that never returns.
//!
//! A flow's future can end three ways: it returns (passed or failed, recorded by the flow), it is
//! dropped by a stop (the hard stop aborts the task: *interrupted*, with what it was doing), or
//! a panic unwinds through it (a bug: *failed*, kind `internal`, with the panic's message). The
//! guard lives in the flow's frame, so its `Drop` sees the last two; `done` disarms it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Once;

use tokio::time::Instant;

use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::metrics::recorder::{Activity, Recorder};

thread_local! {
    /// The message of the last panic on this thread, set by the hook before unwinding starts.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps each panic's message (and location) for the guard of the flow it unwinds through;
/// the previous hook still prints it. Installed once per process.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let _ = LAST_PANIC.try_with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    *p = Some(format!("{message}{at}"));
                }
            });
            previous(info);
        }));
    });
}

/// Records the flow as interrupted or failed if it is dropped before `done`.
pub struct FlowGuard {
    rec: Rc<RefCell<Recorder>>,
    activity: Rc<Cell<(Activity, Instant)>>,
    armed: bool,
}

impl FlowGuard {
    pub fn new(rec: Rc<RefCell<Recorder>>, activity: Rc<Cell<(Activity, Instant)>>) -> FlowGuard {
        FlowGuard {
            rec,
            activity,
            armed: true,
        }
    }

    /// The flow recorded its own outcome.
    pub fn done(mut self) {
        self.armed = false;
    }
}

impl Drop for FlowGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (at, since) = self.activity.get();
        // The recorder is never borrowed across an await, and a panic's inner frames (with any
        // borrow they held) unwind before this one: the borrow succeeds. If it did not, the flow
        // stays unaccounted, and the summary reports that as a tool error.
        let Ok(mut rec) = self.rec.try_borrow_mut() else {
            return;
        };
        if std::thread::panicking() {
            let message = LAST_PANIC
                .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take()))
                .ok()
                .flatten()
                .unwrap_or_else(|| "a panic".into());
            let f = Failure::new(ErrorKind::Internal, Phase::Internal)
                .cause(format!("panic in load-tester (a bug): {message}"));
            rec.step_err(at.step, &f);
            rec.flow_failed();
        } else {
            rec.flow_interrupted(at, since.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Overrides};

    fn recorder() -> Rc<RefCell<Recorder>> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let plan = scenario::load(&path, &Overrides::default(), &|_| None).unwrap();
        Rc::new(RefCell::new(Recorder::new(&plan)))
    }

    fn activity(step: u16) -> Rc<Cell<(Activity, Instant)>> {
        Rc::new(Cell::new((
            Activity {
                step,
                after_event: Some(3),
            },
            Instant::now(),
        )))
    }

    #[test]
    fn a_dropped_flow_is_interrupted_where_it_was() {
        let rec = recorder();
        drop(FlowGuard::new(rec.clone(), activity(2)));
        FlowGuard::new(rec.clone(), activity(2)).done();
        let r = rec.borrow();
        assert_eq!(r.flows_interrupted(), 1);
        let at = Activity {
            step: 2,
            after_event: Some(3),
        };
        assert_eq!(r.interrupted.get(&at).map(|w| w.count), Some(1));
        assert_eq!(r.flows_failed, 0);
    }

    #[test]
    fn a_panic_through_a_flow_is_a_failed_flow_of_kind_internal() {
        install_panic_hook();
        let rec = recorder();
        let (r2, a2) = (rec.clone(), activity(1));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _guard = FlowGuard::new(r2, a2);
            panic!("chunk size overflow");
        }));
        assert!(result.is_err());
        let r = rec.borrow();
        assert_eq!((r.flows_failed, r.flows_interrupted()), (1, 0));
        let (key, stat) = r.steps[1].errors.iter().next().expect("an error recorded");
        assert_eq!(*key, (ErrorKind::Internal, Phase::Internal));
        assert!(
            stat.causes[0].0.contains("chunk size overflow"),
            "{:?}",
            stat.causes
        );
    }
}
