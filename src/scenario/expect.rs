//! Event expectations: a small regular language over event types, compiled once to a DFA.
//! (STUB: the API below is the contract; the implementation is being written.)

use crate::metrics::errors::{ErrorKind, EventRef};
use crate::plan::EventId;

/// A compile error in an expression, at a byte offset into the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

/// A DFA state.
pub type State = u32;

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {}

impl Expr {
    pub fn compile(_src: &str, _intern: &mut dyn FnMut(&str) -> EventId) -> Result<Expr, ExprError> {
        todo!()
    }
    pub fn alphabet(&self) -> &[EventId] {
        todo!()
    }
    pub fn symbol(&self, _e: EventId) -> Option<usize> {
        todo!()
    }
    pub fn start(&self) -> State {
        todo!()
    }
    pub fn step(&self, _s: State, _e: EventId) -> Option<State> {
        todo!()
    }
    pub fn is_accepting(&self, _s: State) -> bool {
        todo!()
    }
    pub fn can_continue(&self, _s: State) -> bool {
        todo!()
    }
    pub fn is_terminal(&self, _e: EventId) -> bool {
        todo!()
    }
    pub fn expected(&self, _s: State) -> Vec<EventId> {
        todo!()
    }
    pub fn diagnose(&self, _seq: &[EventId], _ended_by: Option<EventRef>) -> ErrorKind {
        todo!()
    }
}
