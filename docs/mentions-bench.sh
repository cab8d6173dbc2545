#!/usr/bin/env bash
# Issue 28: sends that mention 3 members, and thread replies, against plain sends, and plain
# sends against the build before the issue, alternating in one sitting, each run on a fresh
# PostgreSQL database; and the same texts sent to the build before mentions, where the @names
# are only words.
#   bash docs/mentions-bench.sh <before>/parley <after>/parley <parley-load> [rounds]
set -u
BEFORE=$1 AFTER=$2 LOAD=$3 ROUNDS=${4:-2}
PORT=18406
run() {  # label server args...
  local label=$1 server=$2; shift 2
  psql -q -d test -c 'DROP DATABASE IF EXISTS parley_mb WITH (FORCE)' -c 'CREATE DATABASE parley_mb' 2>/dev/null
  DATABASE_URL=postgres://root@127.0.0.1:5432/parley_mb PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 \
    PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn "$server" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  local out
  out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 send --clients 64 "$@")
  kill -TERM $pid; wait $pid 2>/dev/null
  python3 -c '
import json,sys
o=json.loads(sys.argv[2]); ok=o["statuses"].get("200",0); l=o.get("latency") or {}
print("%s\t%s\tanswers=%d\tp50=%.1f\tp99=%.1f" % (sys.argv[1], sys.argv[3], ok, l.get("p50_ms",0), l.get("p99_ms",0)))' "$label" "$out" "$*"
}
for round in $(seq 1 "$ROUNDS"); do
  for chats in 1 100; do
    run "before/$round" "$BEFORE" --chats $chats
    run "after/$round" "$AFTER" --chats $chats
    run "after+3@/$round" "$AFTER" --chats $chats --mentions 3
    # Every send a reply in one thread per chat (its root updated by every batch).
    run "after+thread/$round" "$AFTER" --chats $chats --threads
    # The same texts to the build that knows no mentions: what the words alone cost (search).
    run "before+3@/$round" "$BEFORE" --chats $chats --mentions 3
  done
done
