#!/usr/bin/env bash
# Saring's load test in one run (see docs/loadtest.md):
#   1. builds the release binary and the two examples (loadgen, bare_axum);
#   2. starts the real server on the embedded store, rate limits off, in a fresh data folder;
#   3. seeds 100 threads with 20 comments each (a full first page);
#   4. runs the full reader flow (captcha, solve, post) with 32 writers, and reports the server's
#      CPU per stored comment beside the rate (the steadier figure when other jobs share the cores);
#   5. reads thread pages at 64 connections, then the bare axum server answering a body of the
#      same size at 64 connections, and prints the ratio;
#   6. on a second fresh server, stores 100,000 comments over 10,000 threads and reports the
#      server's memory (VmRSS / VmHWM) after seeding, after reading every thread, and after a
#      restart; then runs the reader flow again on that grown store.
# Everything listens on 127.0.0.1 and every process it starts is stopped at the end.
#
#
# STORES=1 instead compares the stores in one run: the embedded SQLite store, PostgreSQL with one
# replica and PostgreSQL with two replicas on one database (each replica gets half the clients,
# each client one replica, as a balancer hashing on the client address would do): seeded
# threads, the reader flow with WRITERS writers, thread reads with READERS readers. It needs
# PG_URL (or SARING_TEST_PG) naming a user that may create databases, e.g. the throw-away cluster
# of scripts/pg-throwaway.sh, and `psql`; each configuration gets a fresh database.
#
# Knobs (environment): DURATION (20s), WRITERS (32), READERS (64), SEED_THREADS (100),
# SEED_PER_THREAD (20), RSS_COMMENTS (100000), RSS_THREADS (10000), SKIP_BENCH=1, SKIP_RSS=1,
# SKIP_BUILD=1, FLOW_ONLY=1 (stop after the reader flow, for
# alternated pairs of binaries), SARING_BIN (another saring binary to measure, e.g. a patched build), RESULTS (where the log is copied, default $CARGO_TARGET_DIR/loadtest-results.log),
# CARGO_TARGET_DIR (target), KEEP=1 keeps the work folder.
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
WRITERS=${WRITERS:-32}
READERS=${READERS:-64}
SEED_THREADS=${SEED_THREADS:-100}
SEED_PER_THREAD=${SEED_PER_THREAD:-20}
RSS_COMMENTS=${RSS_COMMENTS:-100000}
RSS_THREADS=${RSS_THREADS:-10000}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/saring-loadtest.XXXXXX")
LOG="$WORK/results.log"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

say() { echo "== $*" | tee -a "$LOG"; }

# The field FIELD of the RESULT line with label LABEL and kind KIND.
result() {
    awk -v l="label=$1" -v k="kind=$2" -v f="$3" '
        $1 == "RESULT" && $2 == l && $3 == k {
            for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] }
        }' "$LOG" | tail -n 1
}

rss() { # PID -> "VmRSS=... VmHWM=..." in MiB
    awk '/^VmRSS|^VmHWM/ { sub(":", "", $1); printf "%s=%.1fMiB ", $1, $2 / 1024 }' "/proc/$1/status"
}

# Starts the server on DATA_DIR; sets SARING_PID and SARING_URL. Waits for the "listening" line,
# then for /readyz 200 (the projections caught up).
# A second argument names the store (`--store`), e.g. a PostgreSQL URL.
start_saring() {
    STARTS=$((${STARTS:-0} + 1))
    local data=$1 out="$WORK/saring.$STARTS.out"
    local store=()
    if [[ -n "${2:-}" ]]; then store=(--store "$2"); fi
    # The proof of work is off: this measures the server; what the stamp costs a script is
    # scripts/pow-cost.sh.
    SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY=0 SARING_MODERATOR_TOKENS="loadtest:$MOD_TOKEN" SARING_LOG=warn \
        SARING_CAPTCHA_SECRET="$MOD_TOKEN-captcha" \
        "$BIN/saring" serve --listen 127.0.0.1:0 --data-dir "$data" "${store[@]}" >"$out" 2>>"$WORK/saring.err" &
    SARING_PID=$!
    PIDS+=("$SARING_PID")
    local deadline=$((SECONDS + 300))
    until grep -q "listening on" "$out" 2>/dev/null; do
        if ! kill -0 "$SARING_PID" 2>/dev/null || ((SECONDS > deadline)); then
            echo "saring did not start; its log:" >&2
            tail -n 20 "$WORK/saring.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    SARING_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out" | head -n 1)
    # It listens at once; /readyz says 200 once its projections caught up with the log.
    until curl -sf "$SARING_URL/readyz" >/dev/null; do
        if ((SECONDS > deadline)); then
            echo "saring did not catch up with its log in time" >&2
            exit 1
        fi
        sleep 0.1
    done
}

stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

loadgen() { "$BIN/loadgen" "$@" | tee -a "$LOG"; }

# CPU seconds (user + system) process PID has used so far, from /proc: a measure of the server's
# work per comment that other jobs on the machine disturb far less than its throughput.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release --bin saring --example loadgen --example bare_axum
fi
# Copies, so a build running elsewhere on the same target folder cannot swap them mid-run.
BIN="$WORK/bin"
mkdir -p "$BIN"
cp "${SARING_BIN:-$TARGET_DIR/release/saring}" "$BIN/saring"
cp "$TARGET_DIR/release/examples/loadgen" "$TARGET_DIR/release/examples/bare_axum" "$BIN/"
MOD_TOKEN="loadtest-$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM-token"

say "machine: $(nproc) cores, $(uname -sr); load before: $(uptime | sed 's/.*load average: //')"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# ---- stores: embedded SQLite vs PostgreSQL with one and two replicas (STORES=1) -------------------
if [[ "${STORES:-0}" == 1 ]]; then
    PG=${PG_URL:-${SARING_TEST_PG:?STORES=1 needs PG_URL or SARING_TEST_PG}}
    fresh_db() {
        local name="saring_load_$RANDOM$RANDOM"
        psql -q "$PG" -c "CREATE DATABASE $name" >/dev/null
        echo "${PG%/*}/$name"
    }
    position() { # URL -> the projection position of that server
        curl -s -H "authorization: Bearer $MOD_TOKEN" "$1/readyz" | grep -o '"position":[0-9]*' | cut -d: -f2
    }
    # Runs loadgen with ARGS against every URL in URLS at once, CLIENTS split evenly; labels
    # LABEL-1 .. LABEL-n; prints the sum of FIELD of KIND over them.
    split_run() {
        local label=$1 kind=$2 field=$3 role=$4 clients=$5; shift 5
        local n=${#URLS[@]} i=0 pids=()
        for url in "${URLS[@]}"; do
            i=$((i + 1))
            "$BIN/loadgen" --target "$url" "$role" $((clients / n)) "$@" --label "$label-$i" >>"$LOG" &
            pids+=($!)
        done
        wait "${pids[@]}"
        sum_field "$label" "$kind" "$field"
    }
    sum_field() { # LABEL KIND FIELD: the sum over LABEL-1 .. LABEL-n, n = ${#URLS[@]}
        local sum=0
        for i in $(seq 1 "${#URLS[@]}"); do
            sum=$(awk -v a="$sum" -v b="$(result "$1-$i" "$2" "$3")" 'BEGIN { printf "%.1f", a + b }')
        done
        echo "$sum"
    }
    compare() { # NAME STORE REPLICAS
        local name=$1 store=$2 replicas=$3 pids=()
        URLS=()
        for r in $(seq 1 "$replicas"); do
            start_saring "$WORK/data-$name-$r" "$store"
            URLS+=("$SARING_URL")
            pids+=("$SARING_PID")
        done
        say "$name: ${URLS[*]}"
        loadgen --target "${URLS[0]}" --writers 32 --threads "$SEED_THREADS" --thread-prefix page \
            --comments $((SEED_THREADS * SEED_PER_THREAD)) --duration 300s --approve-token "$MOD_TOKEN" --label "$name-seed" >/dev/null
        local want deadline=$((SECONDS + 60))
        want=$(position "${URLS[0]}")
        for url in "${URLS[@]}"; do
            until [[ "$(position "$url")" -ge "$want" ]]; do
                ((SECONDS < deadline)) || { echo "$url did not catch up" >&2; exit 1; }
                sleep 0.1
            done
        done
        FLOW[$name]=$(split_run "$name-flow" total stored_per_s --writers "$WRITERS" --threads 100 \
            --thread-prefix flow --duration "$DURATION")
        READ[$name]=$(split_run "$name-reads" read_200 per_s --readers "$READERS" --threads "$SEED_THREADS" \
            --thread-prefix page --conditional 0 --duration "$DURATION")
        ERRS[$name]=$(( $(sum_field "$name-flow" total errors | cut -d. -f1) + $(sum_field "$name-reads" total errors | cut -d. -f1) ))
        say "$name: ${FLOW[$name]} comments/s through the reader flow, ${READ[$name]} thread reads/s, ${ERRS[$name]} errors"
        for pid in "${pids[@]}"; do stop_pid "$pid"; done
    }
    declare -A FLOW READ ERRS
    compare sqlite "" 1
    compare postgres-1 "$(fresh_db)" 1
    compare postgres-2 "$(fresh_db)" 2
    say "summary (load after: $(uptime | sed 's/.*load average: //')); $WRITERS writers, $READERS readers, $DURATION each"
    {
        echo "| store | reader flow, comments/s | thread reads/s | errors |"
        echo "|---|---:|---:|---:|"
        echo "| embedded SQLite, 1 server | ${FLOW[sqlite]} | ${READ[sqlite]} | ${ERRS[sqlite]} |"
        echo "| PostgreSQL, 1 replica | ${FLOW[postgres-1]} | ${READ[postgres-1]} | ${ERRS[postgres-1]} |"
        echo "| PostgreSQL, 2 replicas | ${FLOW[postgres-2]} | ${READ[postgres-2]} | ${ERRS[postgres-2]} |"
    } | tee -a "$LOG"
    cp "$LOG" "${RESULTS:-$TARGET_DIR/loadtest-results.log}"
    echo "full log: ${RESULTS:-$TARGET_DIR/loadtest-results.log}"
    exit 0
fi

# ---- throughput and latency -------------------------------------------------------------------
if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
start_saring "$WORK/data-bench"
say "saring $SARING_URL (pid $SARING_PID)"

say "seeding $SEED_THREADS threads x $SEED_PER_THREAD comments"
loadgen --target "$SARING_URL" --writers 32 --threads "$SEED_THREADS" --thread-prefix page \
    --comments $((SEED_THREADS * SEED_PER_THREAD)) --duration 300s --approve-token "$MOD_TOKEN" --label seed

say "reader flow: $WRITERS writers for $DURATION"
CPU_BEFORE=$(cpu_seconds "$SARING_PID")
loadgen --target "$SARING_URL" --writers "$WRITERS" --threads 100 --thread-prefix flow \
    --duration "$DURATION" --label flow
CPU_FLOW=$(awk -v a="$CPU_BEFORE" -v b="$(cpu_seconds "$SARING_PID")" 'BEGIN { printf "%.3f", b - a }')
echo "RESULT label=flow kind=server_cpu server_cpu_s=$CPU_FLOW ms_per_comment=$(awk -v c="$CPU_FLOW" \
    -v n="$(result flow total stored)" 'BEGIN { if (n > 0) printf "%.3f", 1000 * c / n; else print "n/a" }')" | tee -a "$LOG"

if [[ "${FLOW_ONLY:-0}" == 1 ]]; then
    stop_pid "$SARING_PID"
    cp "$LOG" "${RESULTS:-$TARGET_DIR/loadtest-results.log}"
    exit 0
fi

say "thread reads: $READERS connections for $DURATION, unconditional"
loadgen --target "$SARING_URL" --readers "$READERS" --threads "$SEED_THREADS" --thread-prefix page \
    --conditional 0 --duration "$DURATION" --label reads
BODY_BYTES=$(result reads read_200 mean_bytes)

say "bare axum with a $BODY_BYTES-byte body: $READERS connections for $DURATION"
"$BIN/bare_axum" --listen 127.0.0.1:0 --body-bytes "$BODY_BYTES" >"$WORK/bare.out" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
deadline=$((SECONDS + 30))
until grep -q "listening on" "$WORK/bare.out" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "bare_axum did not start" >&2; exit 1; }
    sleep 0.1
done
BARE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/bare.out" | head -n 1)
loadgen --target "$BARE_URL" --readers "$READERS" --url / --duration "$DURATION" --label bare
stop_pid "$BARE_PID"

say "thread reads with If-None-Match on half of them (widgets revalidating)"
loadgen --target "$SARING_URL" --readers "$READERS" --threads "$SEED_THREADS" --thread-prefix page \
    --conditional 0.5 --duration "$DURATION" --label reads_cond

say "mixed: $WRITERS writers and $READERS readers together"
loadgen --target "$SARING_URL" --writers "$WRITERS" --readers "$READERS" --threads "$SEED_THREADS" \
    --thread-prefix page --conditional 0 --duration "$DURATION" --label mixed
say "saring memory after the throughput runs: $(rss "$SARING_PID")"
stop_pid "$SARING_PID"
fi

# ---- memory ---------------------------------------------------------------------------------------
if [[ "${SKIP_RSS:-0}" != 1 ]]; then
    start_saring "$WORK/data-rss"
    say "fresh server, idle: $(rss "$SARING_PID")"
    say "storing $RSS_COMMENTS comments over $RSS_THREADS threads"
    loadgen --target "$SARING_URL" --writers 32 --threads "$RSS_THREADS" --thread-prefix rss \
        --comments "$RSS_COMMENTS" --duration 600s --approve-token "$MOD_TOKEN" --label rss_seed
    RSS_SEEDED=$(rss "$SARING_PID")
    say "after storing: $RSS_SEEDED"
    loadgen --target "$SARING_URL" --readers "$READERS" --threads "$RSS_THREADS" --thread-prefix rss \
        --conditional 0 --duration 10s --label rss_reads
    RSS_READ=$(rss "$SARING_PID")
    say "after reading the threads: $RSS_READ"
    stop_pid "$SARING_PID"
    restart_started=$SECONDS
    start_saring "$WORK/data-rss"
    say "restarted in about $((SECONDS - restart_started)) s: $(rss "$SARING_PID")"
    loadgen --target "$SARING_URL" --readers "$READERS" --threads "$RSS_THREADS" --thread-prefix rss \
        --conditional 0 --duration 10s --label rss_reads_restart
    RSS_RESTART=$(rss "$SARING_PID")
    say "after restart and reading the threads: $RSS_RESTART"
    say "store on disk: $(du -sh "$WORK/data-rss" | cut -f1)"
    say "reader flow on the store of $RSS_COMMENTS comments: $WRITERS writers for $DURATION"
    loadgen --target "$SARING_URL" --writers "$WRITERS" --threads 100 --thread-prefix flow \
        --duration "$DURATION" --label flow_big
    stop_pid "$SARING_PID"
fi

# ---- summary ----------------------------------------------------------------------------------------
say "summary (load after: $(uptime | sed 's/.*load average: //'))"
{
    if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
        READS=$(result reads read_200 per_s)
        BARE=$(result bare url per_s)
        echo "reader flow:   $(result flow total stored_per_s) comments/s stored ($WRITERS writers); flow p50 $(result flow flow p50_ms) ms, p99 $(result flow flow p99_ms) ms; server CPU $(result flow server_cpu ms_per_comment) ms per comment"
        echo "thread reads:  $READS req/s, p50 $(result reads read_200 p50_ms) ms, p99 $(result reads read_200 p99_ms) ms, p99.9 $(result reads read_200 p999_ms) ms ($READERS connections, $BODY_BYTES-byte pages)"
        echo "bare axum:     $BARE req/s, p50 $(result bare url p50_ms) ms, p99 $(result bare url p99_ms) ms (same body size, same client)"
        echo "ratio:         $(awk -v a="$READS" -v b="$BARE" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }') of bare axum"
        echo "revalidating:  $(result reads_cond total requests_per_s) req/s with half If-None-Match (304 p99 $(result reads_cond read_304 p99_ms) ms)"
        echo "mixed:         $(result mixed read_200 per_s) reads/s (p99 $(result mixed read_200 p99_ms) ms) + $(result mixed total stored_per_s) comments/s"
    fi
    if [[ "${SKIP_RSS:-0}" != 1 ]]; then
        echo "flow at scale: $(result flow_big total stored_per_s) comments/s stored with $RSS_COMMENTS comments already stored; post p99 $(result flow_big post p99_ms) ms, p99.9 $(result flow_big post p999_ms) ms"
        echo "memory, $RSS_COMMENTS comments / $RSS_THREADS threads: stored $RSS_SEEDED; read $RSS_READ; restarted+read $RSS_RESTART"
    fi
} | tee -a "$LOG"
cp "$LOG" "${RESULTS:-$TARGET_DIR/loadtest-results.log}"
echo "full log: ${RESULTS:-$TARGET_DIR/loadtest-results.log}"
