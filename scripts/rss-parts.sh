#!/usr/bin/env bash
# Where the server's resident memory goes while it serves (issue 11): starts the server on an
# already seeded data folder, runs the posts and reads of scripts/projections-figures.sh (32
# writers, then 64 readers over berita-0 .. berita-999), and then breaks its RSS down:
#   - /proc/PID/smaps_rollup (anonymous, file-backed, shared) and the mappings of the data
#     folder's files (SQLite memory-maps nothing unless mmap_size is set; the -shm files are
#     mapped always, 32 KiB each);
#   - threads by name (each thread that allocates keeps its own allocator state);
#   - from the running process through gdb (the release binary keeps its symbols; the pause
#     lasts a second): SQLite's own memory (sqlite3_status64 MEMORY_USED, and PAGECACHE_OVERFLOW,
#     its page caches), mimalloc's committed memory (mi_process_info, Rust's heap), and glibc's
#     malloc_stats (SQLite allocates with the C library's malloc, not mimalloc).
# The two print-outs of malloc_stats and mi_stats_print go to the server's stderr (its log).
#
#   DATA=/path/to/seeded/1000000 scripts/rss-parts.sh
#
# Knobs: SARING_BIN (default target/release/saring), SERVER_ENV ("VAR=value ..."), DURATION
# (default 10s), RESTART=1 (also SIGKILL, start again and break down the restarted server after
# the same reads), KEEP_LOG (copy the server's stderr there). Listens on 127.0.0.1 only; stops every process it starts. Needs gdb.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${SARING_BIN:-$TARGET/release/saring}
LOADGEN=$TARGET/release/examples/loadgen
DATA=${DATA:?DATA must name a seeded data folder}
SERVER_ENV=${SERVER_ENV:-}
DURATION=${DURATION:-10s}
RESTART=${RESTART:-0}
WORK=$(mktemp -d)
LOG=$WORK/server.log
# A moderator token of this run only, to read the page cache's bytes from /metrics.
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
  local fifo=$WORK/out.$RANDOM
  mkfifo "$fifo"
  # shellcheck disable=SC2086
  env $SERVER_ENV SARING_MODERATOR_TOKENS="parts:$TOKEN" SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY=0 SARING_CONFIG=/dev/null NO_COLOR=1 \
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" --policies policies >"$fifo" 2>>"$LOG" &
  SERVER=$!
  read -r line <"$fifo"
  exec 3<"$fifo"
  BASE=$(echo "$line" | sed -E 's/saring listening on (http:\/\/[^ ]+).*/\1/')
  until curl -sf "$BASE/readyz" >/dev/null; do sleep 0.01; done  # caught up
}
stop_kill() { kill -KILL "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; exec 3<&-; }
result() { grep "RESULT" | grep "kind=$1 " | sed -E "s/.*$2=([0-9.]+).*/\1/" | head -1; }

kib() { awk -v k="$2" '$1 == k":" { printf "%.1f", $2 / 1024 }' "$1"; }

breakdown() {
  local pid=$1 r=/proc/$1/smaps_rollup
  echo "  VmRSS $(awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/"$pid"/status) MiB:" \
    "anonymous $(kib "$r" Anonymous), file-backed $(awk '$1=="Rss:" {r=$2} $1=="Anonymous:" {a=$2} $1=="Shmem:" {s=$2} END {printf "%.1f", (r-a-s)/1024}' "$r")," \
    "shared $(kib "$r" Shmem), in transparent huge pages $(kib "$r" AnonHugePages) MiB"
  echo "  rendered-page cache: $(curl -fsS -H "authorization: Bearer $TOKEN" "$BASE/metrics" |
    awk '/^saring_thread_cache_(pages|bytes) / { printf "%s %s  ", $1, $2 }')"
  echo "  mappings of the data folder's files (KiB resident):"
  awk -v d="$DATA" '/^[0-9a-f]+-[0-9a-f]+ / { f = (index($0, d) ? $NF : "") } f && $1 == "Rss:" { s[f] += $2 } END { for (k in s) printf "    %s %d\n", k, s[k] }' /proc/"$pid"/smaps
  echo "  threads: $(ls /proc/"$pid"/task | wc -l):" \
    "$(cat /proc/"$pid"/task/*/comm | sed -E 's/[-_ ]?[0-9]+$//' | sort | uniq -c | awk '{printf "%s x%d, ", $2, $1}')"
  echo "  anonymous mappings by size (count x MiB resident):"
  perl -ne 'if (/^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(\S*)/) { $sz = (hex($2) - hex($1)) / 1048576; $n = $3; $k = $n eq "[heap]" ? "[heap]" : $n ne "" ? "" : $sz >= 60 ? ">=60MiB" : $sz >= 1 ? "1-60MiB" : "<1MiB" } elsif (/^Rss:\s+(\d+)/ && $k ne "") { $c{$k}++; $r{$k} += $1 } END { printf "    %s: %d mappings, %.1f MiB resident\n", $_, $c{$_}, $r{$_} / 1024 for sort keys %c }' /proc/"$pid"/smaps
  gdb -q -batch -p "$pid" \
    -ex 'set $b = (long long*)malloc(128)' \
    -ex 'call (int)sqlite3_status64(0, $b, $b+1, 0)' \
    -ex 'call (int)sqlite3_status64(2, $b+2, $b+3, 0)' \
    -ex 'call (int)sqlite3_status64(9, $b+4, $b+5, 0)' \
    -ex 'printf "  SQLite: memory used %lld KiB (peak %lld), of which page caches %lld KiB (peak %lld), %lld allocations\n", $b[0]>>10, $b[1]>>10, $b[2]>>10, $b[3]>>10, $b[4]' \
    -ex 'call (void)mi_process_info($b+6, $b+7, $b+8, $b+9, $b+10, $b+11, $b+12, $b+13)' \
    -ex 'printf "  mimalloc: committed %lld KiB (peak %lld), rss as it sees it %lld KiB\n", $b[11]>>10, $b[12]>>10, $b[9]>>10' \
    -ex 'call (void)malloc_stats()' \
    -ex 'call (void)mi_stats_print(0)' \
    -ex 'call (void)free($b)' -ex detach 2>/dev/null | grep -E '^  (SQLite|mimalloc)'
}

echo "uptime before: $(uptime)"
start
echo "started $BIN on $DATA ($BASE)"
posts=$("$LOADGEN" --target "$BASE" --writers 32 --duration "$DURATION" --threads 1000 \
  --thread-prefix lt --label posts 2>/dev/null | result total stored_per_s)
reads=$("$LOADGEN" --target "$BASE" --readers 64 --duration "$DURATION" --threads 1000 \
  --thread-prefix berita --conditional 0 --label reads 2>/dev/null | result read_200 per_s)
echo "posts/s $posts, thread reads/s $reads; after posts and reads:"
breakdown "$SERVER"
if [ "$RESTART" = 1 ]; then
  stop_kill
  start
  echo "after a SIGKILL and restart: VmRSS $(awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/"$SERVER"/status) MiB"
  "$LOADGEN" --target "$BASE" --readers 64 --duration "$DURATION" --threads 1000 \
    --thread-prefix berita --conditional 0 --label reads-again >/dev/null 2>&1
  echo "restarted, after the same reads:"
  breakdown "$SERVER"
fi
stop_kill
echo "uptime after: $(uptime)"
[ -n "${KEEP_LOG:-}" ] && cp "$LOG" "$KEEP_LOG"
echo "--- allocator print-outs (server stderr) ---"
grep -E -A40 '^Arena 0:' "$LOG" | grep -E '^(Arena|system bytes|in use bytes|Total|max mmap)' | tail -40 || true
grep -E '^ *(heap stats|reserved|committed|reset|purged|touched|segments|pages|threads|mmaps|process)' "$LOG" | tail -20 || true
