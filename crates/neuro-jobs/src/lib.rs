//! Jobs API of the Neuro Platform SDK.
