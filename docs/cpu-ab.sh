#!/usr/bin/env bash
# A against B, alternating, each run on a fresh PostgreSQL database: answers in 10 s and the
# server's CPU per answer (parley-load --server-pid).  bash docs/cpu-ab.sh <A> <B> <parley-load> <rounds> [history|send|direct]
set -u
A=$1 B=$2 LOAD=$3 ROUNDS=$4 SCEN=${5:-history}
PORT=18401
for round in $(seq 1 $ROUNDS); do for side in A B; do
  server=$A; [ $side = B ] && server=$B
  psql -q -d test -c 'DROP DATABASE IF EXISTS parley_cpu WITH (FORCE)' -c 'CREATE DATABASE parley_cpu' 2>/dev/null
  DATABASE_URL=postgres://root@127.0.0.1:5432/parley_cpu PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 RUST_LOG=warn PARLEY_MAX_REQUESTS_PER_IP=0 "$server" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  if [ "$SCEN" = history ]; then
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --server-pid $pid history --clients 16 --messages 500 --duration 10)
  elif [ "$SCEN" = direct ]; then
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --server-pid $pid send --clients 64 --direct --duration 10)
  else
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --server-pid $pid send --clients 64 --chats 1 --duration 10)
  fi
  kill -TERM $pid; wait $pid 2>/dev/null
  python3 -c '
import json,sys
o=json.loads(sys.argv[2]); ok=sum(v for k,v in o["statuses"].items() if k in("200","201"))
f=o.get("figures",{}); cpu=f.get("server CPU (% of a core)",0); tool=f.get("load tool CPU (% of a core)",0)
print(sys.argv[1], ok, "server%%=%.0f tool%%=%.0f server-ms-per-page=%.3f" % (cpu, tool, cpu*10/100*1000/max(ok,1)))' "$side/$round" "$out"
done; done
