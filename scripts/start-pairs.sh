#!/usr/bin/env bash
# Time to ready of two (or more) server binaries, started alternately on one data folder: the
# time from spawn to /readyz 200 (the server listens at once and says ready once its projections
# caught up; binaries older than Dec 7 listen only after it), and VmRSS then; each
# start is ended with SIGKILL, as a crash would. Alternating keeps the machine's load changes
# out of the comparison.
#
#   scripts/start-pairs.sh DATA_DIR old/saring new/saring        # ROUNDS=5 by default
#
# Listens on 127.0.0.1 only; stops every process it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1; shift
ROUNDS=${ROUNDS:-5}
for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    fifo=$(mktemp -u); mkfifo "$fifo"
    t0=$(date +%s%N)
    SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY=0 SARING_CONFIG=/dev/null NO_COLOR=1 \
      "$bin" serve --listen 127.0.0.1:0 --data-dir "$DATA" --policies policies >"$fifo" 2>/dev/null &
    pid=$!
    read -r line <"$fifo"
    exec 3<"$fifo"  # keep the pipe open so the server never gets SIGPIPE
    base=$(echo "$line" | sed -E 's/saring listening on (http:\/\/[^ ]+).*/\1/')
    until curl -sf "$base/readyz" >/dev/null; do sleep 0.01; done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; exec 3<&-; rm -f "$fifo"
    echo "$bin ${ms} ms ${rss} MiB, load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
