//! The one integration-test binary: the CLI run in-process against the built-in mock on port 0.

mod accounting;
mod cli;
mod faults;
mod golden;
mod models;
mod raw;
mod readme;
mod schema;
mod shards;
mod signals;
mod timing;
mod util;
mod validate;
mod variants;
