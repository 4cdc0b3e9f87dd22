//! load-tester: golden-path load testing and probing for agent-chat backends.

pub mod metrics;
pub mod mock;
pub mod plan;
pub mod scenario;
pub mod transport;
pub mod runner;
