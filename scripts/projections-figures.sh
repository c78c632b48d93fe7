#!/usr/bin/env bash
# Figures for issue 11 (projections on disk): for each store size N, bulk-seed N comments through
# the store (examples/seed_store.rs, 20 per thread), start the server (first start folds the log
# into projections.sqlite3), measure time to ready, RSS, posts/s and thread reads/s with
# examples/loadgen.rs, restart it (SIGKILL, then start again) and measure time to ready and RSS
# again, and the bytes per comment of the log and of the projection file. The bare axum server
# (examples/bare_axum.rs, answering a body of the size of a seeded thread page) is measured
# first with the same client, so the read figures have their ceiling from the same run.
# RSS is VmRSS, with its anonymous part (heap: what the caches and allocators hold) beside it.
#
#   scripts/projections-figures.sh            # N = pages 100000 1000000
#   SIZES="pages 1000000" DURATION=10s scripts/projections-figures.sh
#
# The readers read the threads berita-0 .. berita-999, which hold 20 comments each at every
# seeded size. The size "pages" is the fair small store: those 1,000 threads' 20 comments and
# nothing else (20,000 comments), so its reads are the same 20-comment pages as at 1,000,000;
# the size 0 (an empty store) reads threads that do not exist (80-byte answers), which is not
# a fair baseline for the read ratio (docs/loadtest.md).
#
# Needs: cargo build --release --bin saring --example seed_store --example loadgen \
#   --example bare_axum
# Knobs: SARING_BIN (the server binary), SERVER_ENV (extra VAR=value settings for the server,
# e.g. "SARING_PAGE_CACHE_BYTES=0"), SEED_BATCH, SEED_POLICIES (default policies), REBUILD=1
# (after seeding, build the projections with `saring projections rebuild`, the bulk path,
# instead of the first start's fold; its time is printed, and "first start" is then an open),
# REUSE_DIR (a folder holding data folders named after the sizes, e.g. REUSE_DIR/1000000, already
# seeded: used as they are, not seeded and not deleted; "pages" is always seeded afresh).
# Listens on 127.0.0.1 only; stops every process it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
PROFILE=${PROFILE:-release}
BIN=${SARING_BIN:-$TARGET/$PROFILE/saring}
SEED=$TARGET/$PROFILE/examples/seed_store
LOADGEN=$TARGET/$PROFILE/examples/loadgen
BARE=$TARGET/$PROFILE/examples/bare_axum
SEED_BATCH=${SEED_BATCH:-1024}
SEED_POLICIES=${SEED_POLICIES:-policies}
SERVER_ENV=${SERVER_ENV:-}
REBUILD=${REBUILD:-0}
SIZES=${SIZES:-"pages 100000 1000000"}
REUSE_DIR=${REUSE_DIR:-}
DURATION=${DURATION:-10s}
WORK=$(mktemp -d)
# A moderator token of this run only, to read the fold's time by phase from /metrics.
METRICS_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

rss() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
anon() { awk '/RssAnon/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
load() { cut -d' ' -f1 /proc/loadavg; }

# start DATA LOG: starts the server, waits for its address and for /readyz 200; sets SERVER, BASE,
# READY_MS.
start() {
  local data=$1 log=$2 t0 fifo
  t0=$(date +%s%N)
  fifo=$WORK/out.$RANDOM
  mkfifo "$fifo"
  # No proof of work: these figures are the server's (scripts/pow-cost.sh measures the stamp).
  # shellcheck disable=SC2086
  env $SERVER_ENV SARING_MODERATOR_TOKENS="figures:$METRICS_TOKEN" SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY=0 SARING_CONFIG=/dev/null NO_COLOR=1 \
    "$BIN" serve --listen 127.0.0.1:0 \
    --data-dir "$data" --policies policies >"$fifo" 2>>"$log" &
  SERVER=$!
  read -r line <"$fifo"
  exec 3<"$fifo"  # keep the pipe open so the server never gets SIGPIPE
  BASE=$(echo "$line" | sed -E 's/saring listening on (http:\/\/[^ ]+).*/\1/')
  # It listens at once and folds what the log holds beyond its projections meanwhile: ready is
  # /readyz 200, not the "listening" line.
  until curl -sf "$BASE/readyz" >/dev/null; do sleep 0.01; done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop_kill() { kill -KILL "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; exec 3<&-; }

# The follower's batches so far and its time per batch by phase, from /metrics; of the commit
# phase, the wait for the writer (held by the text indexer) and SQLite's commit; and the text
# indexer's rounds (each holds the writer for its whole time).
fold_per_batch() {
  curl -fsS -H "authorization: Bearer $METRICS_TOKEN" "$BASE/metrics" | awk '
    /^saring_projection_folds_total/ { n = $2 }
    /^saring_projection_fold_microseconds_total/ {
      match($0, /phase="[^"]+"/); p = substr($0, RSTART + 7, RLENGTH - 8); us[p] = $2; all += $2 }
    /^saring_projection_writer_wait_microseconds_total/ { wait = $2 }
    /^saring_projection_commit_microseconds_total/ { commit = $2 }
    /^saring_text_index_batches_total/ { tb = $2 }
    /^saring_text_index_microseconds_total/ { tus = $2 }
    /^saring_text_index_merge_microseconds_total/ { mus = $2 }
    /^saring_text_index_merges_total/ { mn = $2 }
    END { if (n == 0) { print "no batches"; exit }
      printf "%d batches, %.2f ms", n, all / n / 1000
      for (p in us) printf ", %s %.2f", p, us[p] / n / 1000
      if (wait != "") printf " (writer wait %.2f, sqlite commit %.2f)", wait / n / 1000, commit / n / 1000
      if (tb > 0) printf "; text indexer %d rounds, %.1f ms each", tb, tus / tb / 1000
      if (mn > 0) printf "; merge steps %d, %.2f ms each", mn, mus / mn / 1000
      print "" }'
}

result() { grep "RESULT" | grep "kind=$1 " | sed -E "s/.*$2=([0-9.]+).*/\1/" | head -1; }

# The ceiling: bare axum answering a 20-comment page's worth of bytes, with the same client.
bare_fifo=$WORK/bare.out
mkfifo "$bare_fifo"
"$BARE" --listen 127.0.0.1:0 --body-bytes 11000 >"$bare_fifo" 2>/dev/null &
BARE_PID=$!
read -r line <"$bare_fifo"
exec 4<"$bare_fifo"
bare_base=$(echo "$line" | sed -E 's/bare_axum listening on (http:\/\/[^ ]+).*/\1/')
bareout=$("$LOADGEN" --target "$bare_base" --url / --readers 64 --duration "$DURATION" \
  --label bare 2>/dev/null)
kill "$BARE_PID"; wait "$BARE_PID" 2>/dev/null || true; exec 4<&-
echo "bare axum (11,000-byte body, 64 connections): $(echo "$bareout" | result url per_s) req/s," \
  "p99 $(echo "$bareout" | result url p99_ms) ms; load $(load)"

printf "%-9s | %-10s | %-13s | %-8s | %-8s | %-9s | %-13s | %-10s | %-13s | %-13s | %-8s | %-9s | %-5s\n" \
  comments first_ms rss/anon_MiB posts/s reads/s read_p99 after_load restart_ms after_restart \
  restart+reads log_B/c proj_B/c load
for size in $SIZES; do
  # "pages": the 1,000 threads the readers read, 20 comments each, and nothing else.
  if [ "$size" = pages ]; then n=20000; else n=$size; fi
  data=$WORK/data-$size
  seeded=0
  # Every run adds its posts to a reused folder: the small store is seeded afresh each time
  # (two seconds), or after a few runs it is no longer small (one grew to 253,190 comments).
  if [ -n "$REUSE_DIR" ] && [ -d "$REUSE_DIR/$size" ] && [ "$size" != pages ]; then
    data=$REUSE_DIR/$size
    seeded=1
    echo "reusing $data (already seeded)"
  fi
  mkdir -p "$data"
  threads=$(( n / 20 > 0 ? n / 20 : 1 ))
  if [ "$n" -gt 0 ] && [ "$seeded" = 0 ]; then
    "$SEED" --data-dir "$data" --comments "$n" --threads "$threads" \
      --batch "$SEED_BATCH" --policies "$SEED_POLICIES" 2>>"$WORK/seed.log"
    tail -1 "$WORK/seed.log"
  fi
  if [ "$n" -gt 0 ] && [ "$seeded" = 0 ] && [ "$REBUILD" = 1 ]; then
    echo "rebuild: $(SARING_CONFIG=/dev/null NO_COLOR=1 "$BIN" projections rebuild \
      --data-dir "$data" --policies policies 2>>"$WORK/seed.log"); load $(load)"
  fi
  start "$data" "$WORK/server-$n.log"
  first=$READY_MS
  rss0="$(rss "$SERVER")/$(anon "$SERVER")"
  load_at=$(load)
  posts=$("$LOADGEN" --target "$BASE" --writers 32 --duration "$DURATION" --threads 1000 \
    --thread-prefix lt --label "posts-$n" 2>/dev/null | result total stored_per_s)
  fold=$(fold_per_batch)
  readout=$("$LOADGEN" --target "$BASE" --readers 64 --duration "$DURATION" --threads 1000 \
    --thread-prefix berita --conditional 0 --label "reads-$n" 2>/dev/null)
  reads=$(echo "$readout" | result read_200 per_s)
  p99=$(echo "$readout" | result read_200 p99_ms)
  rss1="$(rss "$SERVER")/$(anon "$SERVER")"
  stop_kill
  start "$data" "$WORK/server-$n.log"
  restart=$READY_MS
  rss2="$(rss "$SERVER")/$(anon "$SERVER")"
  # After a restart the server has read nothing yet; the same reads again fill its caches.
  "$LOADGEN" --target "$BASE" --readers 64 --duration "$DURATION" --threads 1000 \
    --thread-prefix berita --conditional 0 --label "reads-again-$n" >/dev/null 2>&1
  rss3="$(rss "$SERVER")/$(anon "$SERVER")"
  stop_kill
  stored=$(( n > 0 ? n : 1 ))
  logb=$(du -cb "$data"/saring.db* 2>/dev/null | tail -1 | cut -f1)
  projb=$(du -cb "$data"/projections*.sqlite3* | tail -1 | cut -f1)
  printf "%-9s | %-10s | %-13s | %-8s | %-8s | %-9s | %-13s | %-10s | %-13s | %-13s | %-8s | %-9s | %-5s\n" \
    "$size" "$first" "$rss0" "$posts" "$reads" "$p99" "$rss1" "$restart" "$rss2" "$rss3" \
    "$(( logb / stored ))" "$(( projb / stored ))" "$load_at"
  echo "  $size: fold per batch during the posts: $fold"
  if [ "$seeded" = 0 ]; then rm -rf "$data"; fi
done
