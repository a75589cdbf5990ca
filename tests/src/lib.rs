//! Integration tests live in `tests/tests/`; this library is intentionally empty.
//!
//! The crate also builds `neuro-conformance-probe` (`src/bin/`), which prints what
//! the Rust SDK reads as JSON for the Python conformance suite to compare with
//! the real Python client.
