#!/usr/bin/env bash
# Fuzzes a live Parley through its own OpenAPI document with schemathesis, every check enabled
# (all that `--checks all` selects, named in .ci/schemathesis.toml with the few per-operation
# exceptions, each with its reason). First the document itself is validated as OpenAPI 3.1. Then two passes:
# the API as an ordinary user, then the operator routes (/admin) with the operator token.
# Bounded: at most 30 generated cases per operation and a hard stop per pass.
# (Logout is left out: it would revoke the fuzzer's own token. The tests cover it.)
#   usage: .ci/schemathesis.sh [path/to/parley] [sqlite|postgres]
#   replay a run: SCHEMATHESIS_SEED=<the seed it printed> .ci/schemathesis.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY="$(realpath "${1:-target/debug/parley}")"
BACKEND="${2:-sqlite}"
SEED="${SCHEMATHESIS_SEED:-$(python3 -c 'import random; print(random.randrange(1, 2**31))')}"
echo "schemathesis: $BACKEND backend, seed $SEED (replay with SCHEMATHESIS_SEED=$SEED)"

VENV="${SCHEMATHESIS_VENV:-/tmp/parley-schemathesis-venv}"
if [ ! -x "$VENV/bin/schemathesis" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
fi

WORK="$(mktemp -d)"
PG_ADMIN_URL="${PARLEY_TEST_POSTGRES_URL:-postgres://root@127.0.0.1:5432/test}"
PG_DB="parley_fuzz_$$"
case "$BACKEND" in
    sqlite) DATABASE="$WORK/parley.db" ;;
    postgres)
        psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
        DATABASE="${PG_ADMIN_URL%/*}/$PG_DB"
        ;;
    *) echo "schemathesis: unknown backend $BACKEND" >&2; exit 2 ;;
esac
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
OPERATOR_TOKEN="fuzz-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
DATABASE_URL="$DATABASE" PARLEY_BIND="127.0.0.1:$PORT" PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 \
    PARLEY_LOGIN_RATE=0 PARLEY_ADMIN_TOKEN="$OPERATOR_TOKEN" RUST_LOG=warn \
    "$BINARY" >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    if [ "$BACKEND" = postgres ]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

curl -fsS "$BASE/api/v1/openapi.json" >"$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"

# An authorised user with a chat, a message and a reaction, so that ids 1 and 2 exist, and a
# report of the message by the other member, so that the operators' report 1 exists.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN="$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"username": "fuzzer", "password": "fuzzer-password"}' | json '["access_token"]')"
FRIEND="$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"username": "friend", "password": "friend-password"}' | json '["access_token"]')"
auth=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
curl -fsS -X POST "$BASE/api/v1/chats" "${auth[@]}" -d '{"kind": "group", "title": "Fuzz", "member_ids": [2]}' >/dev/null
curl -fsS -X POST "$BASE/api/v1/messages" "${auth[@]}" -d '{"chat_id": 1, "content": "hello"}' >/dev/null
curl -fsS -X POST "$BASE/api/v1/messages/1/reactions" "${auth[@]}" -d '{"emoji": "👍"}' >/dev/null
curl -fsS -X POST "$BASE/api/v1/messages/1/report" -H "Authorization: Bearer $FRIEND" \
    -H 'Content-Type: application/json' -d '{"reason": "spam"}' >/dev/null

export HYPOTHESIS_STORAGE_DIRECTORY="$WORK/hypothesis"
export SCHEMATHESIS_HOOKS=schemathesis_hooks
export PYTHONPATH=".ci${PYTHONPATH:+:$PYTHONPATH}"
fuzz() {
    local token="$1"
    shift
    timeout --kill-after=10 300 "$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml --no-color run \
        "$WORK/openapi.json" \
        --url "$BASE" \
        --header "Authorization: Bearer $token" \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples 30 \
        --generation-database none \
        --request-timeout 10 \
        --workers 1 --seed "$SEED" "$@"
}
status=0
fuzz "$TOKEN" --exclude-path /api/v1/auth/logout --exclude-path-regex '^/admin' || status=$?
# After the user pass: the operator routes may deactivate the fuzzer's own account.
fuzz "$OPERATOR_TOKEN" --include-path-regex '^/admin' || status=$?
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
if [ "$status" -ne 0 ]; then
    echo "schemathesis: findings above ($BACKEND, seed $SEED)" >&2
fi
exit "$status"
