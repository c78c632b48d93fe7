#!/usr/bin/env bash
# Thread reads of two server binaries side by side: each serves its own copy of one seeded data
# folder (a data folder takes one server), both run at once, and 64 readers read
# berita-0 .. berita-999 for 5 s from one and then the other, ROUNDS times, after a 5 s warm-up
# of each. Taking turns every 5 s keeps the machine's load changes out of the ratio.
#
#   cp -a DATA DATA-copy
#   scripts/read-pairs.sh old/saring DATA new/saring DATA-copy     # ROUNDS=6 by default
#
# Needs target/release/examples/loadgen. Listens on 127.0.0.1 only; stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
LOADGEN=${CARGO_TARGET_DIR:-target}/release/examples/loadgen
BINS=("$1" "$3")
DATAS=("$2" "$4")
PIDS=()
BASES=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for i in 0 1; do
  fifo=$(mktemp -u); mkfifo "$fifo"
  SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY=0 SARING_CONFIG=/dev/null NO_COLOR=1 \
    "${BINS[$i]}" serve --listen 127.0.0.1:0 --data-dir "${DATAS[$i]}" --policies policies \
    >"$fifo" 2>/dev/null &
  PIDS+=($!)
  read -r line <"$fifo"
  exec {fd}<"$fifo"  # keep the pipe open so the server never gets SIGPIPE
  BASES+=("$(echo "$line" | sed -E 's/saring listening on (http:\/\/[^ ]+).*/\1/')")  until curl -sf "${BASES[$i]}/readyz" >/dev/null; do sleep 0.01; done  # caught up
done
reads() {
  "$LOADGEN" --target "$1" --readers 64 --duration 5s --threads 1000 --thread-prefix berita \
    --conditional 0 2>/dev/null | grep RESULT | grep "kind=read_200 " |
    sed -E 's/.*per_s=([0-9.]+).*p99_ms=([0-9.]+).*/\1 reads\/s, p99 \2 ms/'
}
for i in 0 1; do reads "${BASES[$i]}" >/dev/null; done
for r in $(seq "${ROUNDS:-6}"); do
  for i in 0 1; do
    echo "round $r ${BINS[$i]}: $(reads "${BASES[$i]}"), load $(cut -d' ' -f1 /proc/loadavg)," \
      "RSS $(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/${PIDS[$i]}/status") MiB"
  done
done
