#!/usr/bin/env bash
# Sends for 10 s (64 clients) with each set of parley-load send options given, on a fresh
# PostgreSQL database each: answers, and the machine's CPU (every process: server, PostgreSQL,
# load tool; from /proc/stat) per answer — steadier than throughput on a 2-core machine, where
# the three compete for the same cores.
#   bash docs/cpu-per-send.sh <parley> <parley-load> <rounds> "<send options>"...
set -u
SERVER=$1 LOAD=$2 ROUNDS=$3; shift 3
PORT=18407
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for round in $(seq 1 $ROUNDS); do
  for variant in "$@"; do
    psql -q -d test -c 'DROP DATABASE IF EXISTS parley_cps WITH (FORCE)' -c 'CREATE DATABASE parley_cps' 2>/dev/null
    DATABASE_URL=postgres://root@127.0.0.1:5432/parley_cps PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 \
      PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn "$SERVER" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    b0=$(busy)
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 send --clients 64 $variant)
    b1=$(busy)
    kill -TERM $pid; wait $pid 2>/dev/null
    python3 -c '
import json,sys
o=json.loads(sys.argv[2]); ok=o["statuses"].get("200",0); jiffies=int(sys.argv[4])-int(sys.argv[3])
print("%s\t%s\tanswers=%d\tcpu_ms_per_send=%.3f" % (sys.argv[1], sys.argv[5], ok, jiffies*10/max(ok,1)))' "$round" "$out" "$b0" "$b1" "$variant"
  done
done
