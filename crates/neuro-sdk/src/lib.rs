//! Rust SDK for the Neuro Platform: Client, Factory and re-exports of the domain crates.
