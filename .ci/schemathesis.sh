#!/usr/bin/env bash
# Fuzzes a live Parley (SQLite, debug build) through its own OpenAPI document with schemathesis:
# no 500 and no response outside the documented schema, with an authorised user. Bounded: at
# most 30 generated cases per operation and a hard 8-minute stop.
# (Logout is left out: it would revoke the fuzzer's own token. The tests cover it.)
#   usage: .ci/schemathesis.sh [path/to/parley]
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY="${1:-target/debug/parley}"
VENV="${SCHEMATHESIS_VENV:-/tmp/parley-schemathesis-venv}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==4.32.5"
fi

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DATABASE_URL="$WORK/parley.db" PARLEY_BIND="127.0.0.1:$PORT" PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 \
    RUST_LOG=warn "$BINARY" >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

# An authorised user with a chat, a message and a reaction, so that ids 1 and 2 exist.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN="$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"username": "fuzzer", "password": "fuzzer-password"}' | json '["access_token"]')"
curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"username": "friend", "password": "friend-password"}' >/dev/null
auth=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
curl -fsS -X POST "$BASE/api/v1/chats" "${auth[@]}" -d '{"kind": "group", "title": "Fuzz", "member_ids": [2]}' >/dev/null
curl -fsS -X POST "$BASE/api/v1/messages" "${auth[@]}" -d '{"chat_id": 1, "content": "hello"}' >/dev/null
curl -fsS -X POST "$BASE/api/v1/messages/1/reactions" "${auth[@]}" -d '{"emoji": "👍"}' >/dev/null

printf '[cache]\nenabled = false\n' >"$WORK/schemathesis.toml"
export HYPOTHESIS_STORAGE_DIRECTORY="$WORK/hypothesis"
status=0
timeout --kill-after=10 480 "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" --no-color run \
    "$BASE/api/v1/openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $TOKEN" \
    --exclude-path /api/v1/auth/logout \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples 30 \
    --generation-database none \
    --request-timeout 10 --wait-for-schema 30 \
    --workers 1 --seed 1 || status=$?
if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "schemathesis: the server died during the run" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi
if grep -q "panicked" "$WORK/server.log"; then
    echo "schemathesis: the server panicked" >&2
    grep -A5 panicked "$WORK/server.log" >&2
    exit 1
fi
exit "$status"
