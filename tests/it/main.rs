//! The one integration-test binary: the CLI run in-process against the built-in mock on port 0.

mod accounting;
mod cli;
mod env;
mod faults;
mod golden;
mod headers;
mod hostile_http;
mod hostile_ws;
mod messages;
mod metrics;
mod models;
mod outputs;
mod pinned;
mod raw;
mod raw_ws;
mod readme;
mod samples;
mod schema;
mod settle;
mod shards;
mod signals;
mod timing;
mod tls;
mod util;
mod validate;
mod variants;
