#!/usr/bin/env bash
# The whole chat list of someone in 200 chats (each last message mentions them, half are thread
# replies), 8 concurrent readers for 10 s, each server on a fresh PostgreSQL database, alternating.
#   bash docs/chatlist-bench.sh <parley-load> <rounds> <parley>...
set -u
LOAD=$1 ROUNDS=$2; shift 2
PORT=18408
for round in $(seq 1 $ROUNDS); do for server in "$@"; do
  psql -q -d test -c 'DROP DATABASE IF EXISTS parley_cl WITH (FORCE)' -c 'CREATE DATABASE parley_cl' 2>/dev/null
  DATABASE_URL=postgres://root@127.0.0.1:5432/parley_cl PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 \
    PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn "$server" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 chat-list --clients 8 --chats 200)
  kill -TERM $pid; wait $pid 2>/dev/null
  python3 -c '
import json,sys
o=json.loads(sys.argv[2]); ok=o["statuses"].get("200",0); l=o.get("latency") or {}
print("%s\t%s\tlists=%d\tp50=%.1f\tp99=%.1f\tproblems=%s" % (sys.argv[1], sys.argv[3], ok, l.get("p50_ms",0), l.get("p99_ms",0), o.get("problems")))' "$round" "$out" "$(basename $server)"
done; done
