#!/usr/bin/env bash
# Runs the Python conformance suite against the neuro-local binary cargo built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/setup.sh"
venv="${NEURO_CONFORMANCE_VENV:-$here/.venv}"
target="${CARGO_TARGET_DIR:-$root/target}"
export NEURO_LOCAL_BIN="${NEURO_LOCAL_BIN:-$target/debug/neuro-local}"
if [ ! -x "$NEURO_LOCAL_BIN" ]; then
    echo "neuro-local binary not found at $NEURO_LOCAL_BIN (run: cargo build -p neuro-local)" >&2
    exit 1
fi
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
