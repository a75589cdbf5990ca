//! Data model, platform URIs and wire (de)serialisation of the Neuro Platform API.
//!
//! This crate does no I/O. It holds the types every other crate of the workspace
//! shares: the exact JSON payloads in [`wire`], and the model built from them.

pub mod uri;
pub mod wire;
