#!/usr/bin/env bash
# Where the memory goes during a first start's fold (issue 11): bulk-seeds N comments
# (examples/seed_store.rs), starts the server on them (the first start folds the log into
# projections.sqlite3 before it listens) and samples it every few seconds until it is ready:
# VmRSS, its anonymous, file and shared parts and the thread count, with the position the fold
# has reached (from the server's progress log). Allocator knobs go in SERVER_ENV: Rust's
# allocations are mimalloc's (MIMALLOC_*), SQLite's are glibc malloc's (MALLOC_*).
#
#   N=1000000 scripts/fold-rss.sh
#   N=300000 SERVER_ENV="MIMALLOC_PURGE_DELAY=0" scripts/fold-rss.sh
#   DATA=/tmp/seeded N=... scripts/fold-rss.sh   # seed into (or reuse a seeded copy in) DATA
#
# Needs: cargo build --release --bin saring --example seed_store
# Listens on 127.0.0.1 only; stops the server it starts; deletes its data folder unless DATA
# was given.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
PROFILE=${PROFILE:-release}
BIN=${SARING_BIN:-$TARGET/$PROFILE/saring}
SEED=$TARGET/$PROFILE/examples/seed_store
N=${N:-1000000}
EVERY=${EVERY:-5}
SERVER_ENV=${SERVER_ENV:-}
WORK=$(mktemp -d)
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ -n "${DATA:-}" ]; then data=$DATA; else data=$WORK/data; fi
mkdir -p "$data"
if [ ! -e "$data/saring.db" ]; then
  "$SEED" --data-dir "$data" --comments "$N" --threads $(( N / 20 > 0 ? N / 20 : 1 )) \
    --policies policies 2>&1 | tail -1
fi
# A fresh fold each run: the projection file goes, the log stays.
rm -f "$data"/projections.sqlite3*

# sample PID: VmRSS, anonymous, file-backed and shared parts (MiB), and the thread count.
sample() {
  awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} /^RssShmem/ {s=$2} /^Threads/ {t=$2}
       END {printf "%6.0f %6.0f %5.0f %5.0f %4d", r/1024, a/1024, f/1024, s/1024, t}' \
    "/proc/$1/status"
}

fifo=$WORK/out
mkfifo "$fifo"
t0=$(date +%s)
# shellcheck disable=SC2086
env $SERVER_ENV SARING_RATE_LIMITS=off SARING_CONFIG=/dev/null NO_COLOR=1 \
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data" --policies policies \
  >"$fifo" 2>"$WORK/server.log" &
SERVER=$!
exec 3<"$fifo"
echo "   s    rss   anon  file shmem  thr position load"
while :; do
  if read -r -t "$EVERY" line <&3; then
    echo "ready after $(( $(date +%s) - t0 )) s: $line"
    break
  fi
  kill -0 "$SERVER" 2>/dev/null || { echo "the server stopped:"; tail -5 "$WORK/server.log"; exit 1; }
  pos=$(grep -o 'position=[0-9]*' "$WORK/server.log" | tail -1 | cut -d= -f2 || true)
  printf "%4d %s %s %s\n" "$(( $(date +%s) - t0 ))" "$(sample "$SERVER")" "${pos:--}" \
    "$(cut -d' ' -f1 /proc/loadavg)"
done
printf "ready %s\n" "$(sample "$SERVER")"
du -cb "$data"/saring.db* | tail -1 | awk '{printf "log %d MiB\n", $1/1048576}'
du -cb "$data"/projections.sqlite3* | tail -1 | awk '{printf "projections %d MiB\n", $1/1048576}'
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
