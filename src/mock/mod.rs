//! The built-in mock target (STUB).
