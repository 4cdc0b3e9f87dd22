//! `Observer`: an optional per-user trace of steps and events (the probe's output); free when unused.

use std::time::Duration;

use crate::metrics::errors::Failure;
use crate::plan::Step;

/// How a step that passed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// It finished after this long: its latency.
    Took(Duration),
    /// Nothing more came within its `settle` (this long) once nothing more was required: a
    /// wait, not a latency, so it is counted apart (`settled`) and kept out of the percentiles.
    Settled(Duration),
}

/// Sees what one user does. Load runs use `()`, which compiles to nothing.
pub trait Observer {
    /// A step finished: its measured time or its error.
    fn step(&mut self, _step: &Step, _result: &Result<Done, Failure>) {}
    /// An expected event arrived for the first time in this step, `since_send` after the send.
    fn event(&mut self, _step: &Step, _name: &str, _since_send: Duration) {}
    /// A step was skipped because an earlier one failed.
    fn skipped(&mut self, _step: &Step) {}
}

impl Observer for () {}

/// A shared observer: the caller keeps a handle and reads it even if the user is dropped.
impl<O: Observer> Observer for std::rc::Rc<std::cell::RefCell<O>> {
    fn step(&mut self, step: &Step, result: &Result<Done, Failure>) {
        self.borrow_mut().step(step, result);
    }
    fn event(&mut self, step: &Step, name: &str, since_send: Duration) {
        self.borrow_mut().event(step, name, since_send);
    }
    fn skipped(&mut self, step: &Step) {
        self.borrow_mut().skipped(step);
    }
}
