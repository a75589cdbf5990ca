#!/usr/bin/env bash
# Runs the Python conformance suite against the binaries cargo already built:
# neuro-local (the server) and neuro-conformance-probe (the Rust SDK side of the
# field-by-field comparisons). `cargo test --workspace` builds both into
# target/debug; `cargo xtask conformance` does that first. Arguments go to pytest
# (e.g. `run.sh -k storage -x`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/setup.sh"
venv="${NEURO_CONFORMANCE_VENV:-$here/.venv}"
target="${CARGO_TARGET_DIR:-$root/target}"
export NEURO_LOCAL_BIN="${NEURO_LOCAL_BIN:-$target/debug/neuro-local}"
export NEURO_PROBE_BIN="${NEURO_PROBE_BIN:-$target/debug/neuro-conformance-probe}"
for bin in "$NEURO_LOCAL_BIN" "$NEURO_PROBE_BIN"; do
    if [ ! -x "$bin" ]; then
        echo "$bin not found (run: cargo test --workspace --no-run)" >&2
        exit 1
    fi
done
export NEURO_TRANSCRIPTS_DIR="${NEURO_TRANSCRIPTS_DIR:-$here/transcripts}"
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -rfEX --durations=5 "$@"
