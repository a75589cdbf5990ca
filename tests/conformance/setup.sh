#!/usr/bin/env bash
# Creates (or reuses) the conformance venv with the real Python client,
# neuro-sdk==22.7.1 and neuro-cli==22.7.1, pinned by constraints.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${NEURO_CONFORMANCE_VENV:-$here/.venv}"
stamp="$venv/.installed-$(sha256sum "$here/constraints.txt" "$here/requirements.txt" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c "$here/constraints.txt" -r "$here/requirements.txt"
"$venv/bin/neuro" --version
touch "$stamp"
