#!/usr/bin/env bash
# Storage transfer benchmarks with `cp` as the floor (`cargo xtask bench`
# compares Rust and Python only): starts a release neuro-local, runs each
# storage-* scenario of neuro-bench and its Python counterpart
# (xtask/bench/py/storage_*.py, neuro-sdk==22.7.1), times `cp` of the same data
# on the same disk, and prints medians and ratios.
#
#   bash xtask/bench/storage.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
PY=${NEURO_BENCH_PYTHON:-tests/conformance/.venv/bin/python}
[ -x "$PY" ] || bash tests/conformance/setup.sh
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
cargo build --release -q -p neuro-local --bin neuro-local
cargo build --release -q -p neuro-bench
BIN=target/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/neuro-bench-storage.XXXXXX")
export NEURO_BENCH_WORK_DIR="$WORK/work"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/neuro-local" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --no-client-config \
  >"$WORK/neuro-local.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
export NEURO_BENCH_API_URL="http://127.0.0.1:$PORT/api/v1"
NEURO_BENCH_TOKEN=$("$BIN/neuro-local" token create bench --data-dir "$WORK/data")
export NEURO_BENCH_TOKEN

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { "$PY" -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d['$1'])"; }

# `cp` of the same data on this disk (the data is made by a first Rust run).
cp_time() {
  local src=$1 dst="$WORK/cp-dst"
  rm -rf "$dst"; sync
  local t0 t1; t0=$(date +%s.%N); cp -r "$src" "$dst"; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

printf '%-24s %9s %9s %9s %9s %9s %11s\n' scenario rust python cp py/rust rust/cp rust_rss_kb
for scenario in storage-upload-1g storage-download-1g storage-upload-tree storage-download-tree; do
  script="xtask/bench/py/$(echo "$scenario" | tr - _).py"
  rust=(); python=(); cps=(); rss=0
  for _ in $(seq "$RUNS"); do
    line=$("$BIN/neuro-bench" "$scenario")
    rust+=("$(echo "$line" | field seconds)")
    r=$(echo "$line" | field peak_rss_kb); [ "$r" -gt "$rss" ] && rss=$r
    python+=("$(cd xtask/bench/py && "$PY" "$(basename "$script")" | field seconds)")
    case $scenario in
      *-1g) cps+=("$(cp_time "$NEURO_BENCH_WORK_DIR/big.bin")") ;;
      *) cps+=("$(cp_time "$NEURO_BENCH_WORK_DIR/tree")") ;;
    esac
  done
  r=$(printf '%s\n' "${rust[@]}" | median)
  p=$(printf '%s\n' "${python[@]}" | median)
  c=$(printf '%s\n' "${cps[@]}" | median)
  printf '%-24s %9.3f %9.3f %9.3f %9.1f %9.2f %11s\n' "$scenario" "$r" "$p" "$c" \
    "$(echo "$p / $r" | bc -l)" "$(echo "$r / $c" | bc -l)" "$rss"
done
