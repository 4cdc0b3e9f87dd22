//! serde mirror of the scenario file (STUB).
