#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a virtualenv) against a real Saring server on a temporary data
# folder: every operation of GET /api/v1/openapi.json, public and moderator (with a moderator
# token), failing on any 5xx and on any answer that does not match the document.
#
#   scripts/schemathesis.sh [BINARY] [MAX_EXAMPLES]    # defaults: target/debug/saring, 25
#
# SCHEMATHESIS_VENV (default ~/.cache/saring-schemathesis) holds the virtualenv; it is created
# and schemathesis installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/saring}
MAX_EXAMPLES=${2:-25}
VENV=${SCHEMATHESIS_VENV:-$HOME/.cache/saring-schemathesis}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis>=4,<5'
fi
"$VENV/bin/schemathesis" --version

DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=schemathesis-moderator-token-0123456789
SARING_LISTEN=127.0.0.1:$PORT SARING_DATA_DIR=$DATA SARING_POLICIES=policies \
  SARING_MODERATOR_TOKENS=ci:$TOKEN SARING_RATE_LIMITS=off SARING_LOG=warn \
  "$BIN" >"$DATA/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done

# not_a_server_error: no 5xx; the three conformance checks: status codes, content types and
# bodies as documented. --max-time bounds the run whatever the machine's speed.
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$MAX_EXAMPLES" --max-time 150 --workers 2 --seed 1 \
  --header "Authorization: Bearer $TOKEN" \
  --request-timeout 10 || { echo "== server log"; tail -50 "$DATA/server.log"; exit 1; }
