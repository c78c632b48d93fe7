#!/usr/bin/env bash
# What the proof of work costs a script, in one run (docs/edge.md, "The cost for a script"):
# for each difficulty, a fresh release server (embedded store, rate limits off) and the load
# generator's full reader flow (captcha, sum by regular expression, stamp in native SHA-256,
# post) with WRITERS writers for DURATION. Prints comments stored per second and per CPU-second
# of the load generator (its own user + system time, hashing included) and of the server, and
# each one's ratio to the run without a stamp. Ends with `pow_cost` (the server's verify cost).
#
# Each difficulty is measured as set, with risk raising it off (`[captcha] pow_step = 0`); a
# difficulty written with an `r` (`16r`) runs the shipped settings instead, where a flood from
# one address into a few threads raises the difficulty by `pow_step` per risk signal.
#
# Knobs (environment): DIFFICULTIES ("0 12 16 20 16r"; 0 is the stamp off), DURATION (10s),
# WRITERS (32), CLIENT_THREADS (2), SKIP_BUILD=1, CARGO_TARGET_DIR (target), KEEP=1.
set -euo pipefail

cd "$(dirname "$0")/.."

DIFFICULTIES=${DIFFICULTIES:-"0 12 16 20 16r"}
DURATION=${DURATION:-10s}
WRITERS=${WRITERS:-32}
CLIENT_THREADS=${CLIENT_THREADS:-2}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/saring-powcost.XXXXXX")
LOG="$WORK/results.log"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP:-0}" == 1 ]]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release --bin saring --example loadgen --example pow_cost
fi
# Copies, so a build running elsewhere on the same target folder cannot swap them mid-run.
BIN="$WORK/bin"
mkdir -p "$BIN"
cp "$TARGET_DIR/release/saring" "$TARGET_DIR/release/examples/loadgen" \
    "$TARGET_DIR/release/examples/pow_cost" "$BIN/"

# CPU seconds (user + system) a process has used, from /proc.
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# The field FIELD of the last RESULT line with label LABEL and kind KIND.
result() {
    awk -v l="label=$1" -v k="kind=$2" -v f="$3" '
        $1 == "RESULT" && $2 == l && $3 == k {
            for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] }
        }' "$LOG" | tail -n 1
}

echo "machine: $(nproc) cores; load before: $(uptime | sed 's/.*load average: //')" | tee -a "$LOG"
printf '[captcha]\npow_step = 0\n' >"$WORK/fixed.toml"
printf '# shipped settings\n' >"$WORK/shipped.toml"
declare -A RATE CPU SERVER
for bits in $DIFFICULTIES; do
    data="$WORK/data-$bits" out="$WORK/saring-$bits.out" config="$WORK/fixed.toml"
    if [[ "$bits" == *r ]]; then config="$WORK/shipped.toml"; fi
    mkdir -p "$data"
    SARING_CONFIG="$config" SARING_RATE_LIMITS=off SARING_POW_DIFFICULTY="${bits%r}" SARING_LOG=warn \
        "$BIN/saring" serve --listen 127.0.0.1:0 --data-dir "$data" >"$out" 2>>"$WORK/saring.err" &
    pid=$!
    PIDS+=("$pid")
    deadline=$((SECONDS + 120))
    until grep -q "listening on" "$out" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
            echo "saring did not start; its log:" >&2
            tail -n 20 "$WORK/saring.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out" | head -n 1)
    before=$(cpu_of "$pid")
    "$BIN/loadgen" --target "$url" --writers "$WRITERS" --duration "$DURATION" \
        --client-threads "$CLIENT_THREADS" --pow solve --label "pow$bits" | tee -a "$LOG"
    after=$(cpu_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    stored=$(result "pow$bits" total stored)
    RATE[$bits]=$(result "pow$bits" total stored_per_s)
    CPU[$bits]=$(result "pow$bits" cpu stored_per_cpu_s)
    SERVER[$bits]=$(awk -v s="$stored" -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", s / ((b - a) > 0 ? (b - a) : 1e-9) }')
    echo "RESULT label=pow$bits kind=server stored_per_server_cpu_s=${SERVER[$bits]}" | tee -a "$LOG"
done
echo "load after: $(uptime | sed 's/.*load average: //')" | tee -a "$LOG"

base=$(echo "$DIFFICULTIES" | awk '{ print $1 }')
echo
echo "| difficulty | comments/s | comments per loadgen CPU-second | drop against $base | comments per server CPU-second |"
echo "|---|---|---|---|---|"
for bits in $DIFFICULTIES; do
    drop=$(awk -v a="${CPU[$base]}" -v b="${CPU[$bits]}" 'BEGIN { printf "%.1f×", a / (b > 0 ? b : 1e-9) }')
    echo "| $bits | ${RATE[$bits]} | ${CPU[$bits]} | $drop | ${SERVER[$bits]} |"
done
echo
"$BIN/pow_cost"
