//! Storage API of the Neuro Platform SDK.
