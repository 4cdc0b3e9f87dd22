//! Measurement: per-worker recorders, typed error kinds, and the merged summary.

pub mod canary;
pub mod errors;
pub mod merge;
pub mod record;
pub mod recorder;
pub mod redact;
pub mod stream;
pub mod summary;
pub mod transcript;
