#!/usr/bin/env bash
# One sitting, two builds, alternating: send, fan-out and history, each on a fresh PostgreSQL
# database, with the same load tool for both. Prints one line per run.
#   bash docs/bench-ab.sh <server A> <server B> <parley-load> [rounds]
# DIRECT=1 adds sends by 63 people, each in their own direct chat with a 64th (needs a load
# tool with `send --direct`).
set -euo pipefail
A=$1 B=$2 LOAD=$3 ROUNDS=${4:-2}
PORT=18400
run_one() {
    local label=$1 server=$2 scenario=$3
    shift 3
    psql -q -d test -c 'DROP DATABASE IF EXISTS parley_ab WITH (FORCE)' -c 'CREATE DATABASE parley_ab'
    DATABASE_URL=postgres://root@127.0.0.1:5432/parley_ab PARLEY_BIND=127.0.0.1:$PORT \
        PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 RUST_LOG=warn \
        PARLEY_MAX_SESSIONS_PER_USER=0 PARLEY_MAX_SESSIONS_PER_IP=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
        "$server" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do
        curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break
        sleep 0.1
    done
    local out
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json "$scenario" "$@")
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    python3 - "$label" "$scenario $*" "$out" <<'PY'
import json, sys
label, what, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lat = out.get("latency") or {}
ok = sum(v for k, v in out["statuses"].items() if k == "200" or k == "201")
print(f"{label}\t{what}\tanswers={ok}\tp50={lat.get('p50_ms', 0):.1f}\tp99={lat.get('p99_ms', 0):.1f}")
PY
}
for round in $(seq 1 "$ROUNDS"); do
    for side in A B; do
        server=$A; [ $side = B ] && server=$B
        run_one "$side/$round" "$server" send --clients 64 --chats 1 --duration 10
        run_one "$side/$round" "$server" send --clients 64 --chats 100 --duration 10
        [ -n "${DIRECT:-}" ] && run_one "$side/$round" "$server" send --clients 64 --direct --duration 10
        run_one "$side/$round" "$server" history --clients 16 --messages 500 --duration 10
        run_one "$side/$round" "$server" fanout --sessions 1000 --users 20 --rate 500 --messages 1000 --duration 15
    done
done
