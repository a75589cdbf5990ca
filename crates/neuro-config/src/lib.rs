//! Login, server configuration and local config storage for the Neuro Platform SDK.
