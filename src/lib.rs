//! load-tester: golden-path load testing and probing for agent-chat backends.
//!
//! `run(cli, io)` is the whole program; `main` only builds the runtime, the process `Io` and the
//! signal handlers, and turns the returned `Exit` into the process exit code.

pub mod cli;
pub mod cmd;
pub mod compare;
pub mod duration;
pub mod env;
pub mod exit;
pub mod fanout;
pub mod fuzzing;
pub mod io;
pub mod limits;
pub mod metrics;
pub mod mock;
pub mod plan;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod size;
pub mod thresholds;
pub mod transport;
pub mod wait;

/// Runs one command to completion.
pub async fn run(cli: cli::Cli, io: &io::Io) -> exit::Exit {
    cmd::dispatch(cli.command, io).await
}
