//! `Observer`: an optional per-user trace of steps and events (the probe's output); free when unused.

use std::time::Duration;

use crate::metrics::errors::ErrorKind;
use crate::plan::Step;

/// Sees what one user does. Load runs use `()`, which compiles to nothing.
pub trait Observer {
    /// A step finished: its measured time or its error.
    fn step(&mut self, _step: &Step, _result: &Result<Duration, ErrorKind>) {}
    /// An expected event arrived for the first time in this step, `since_send` after the send.
    fn event(&mut self, _step: &Step, _name: &str, _since_send: Duration) {}
    /// A step was skipped because an earlier one failed.
    fn skipped(&mut self, _step: &Step) {}
}

impl Observer for () {}
