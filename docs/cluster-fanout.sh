#!/usr/bin/env bash
# One sitting of `parley-load fanout` through 1, 2 and 3 nodes on one PostgreSQL database with NATS between them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/parley
L=./target/release/parley-load
NATS_PORT=14222
nats-server -a 127.0.0.1 -p $NATS_PORT >/dev/null 2>&1 &
NATS_PID=$!
trap 'kill $NATS_PID 2>/dev/null || true; pkill -f "target/release/parley$" || true' EXIT
sleep 0.5
SESSIONS=${SESSIONS:-600}
RATE=${RATE:-100}
MESSAGES=${MESSAGES:-1000}
for N in 1 2 3; do
  DB=parley_bench_nodes_$N
  psql postgres://root@127.0.0.1:5432/test -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  PIDS=()
  URLS=()
  for i in $(seq 1 $N); do
    PORT=$((18000 + N * 10 + i))
    DATABASE_URL=postgres://root@127.0.0.1:5432/$DB PARLEY_NATS_URL=nats://127.0.0.1:$NATS_PORT \
      PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 \
      PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn $BIN >/dev/null 2>&1 &
    PIDS+=($!)
    URLS+=(--url http://127.0.0.1:$PORT)
  done
  for i in $(seq 1 $N); do
    PORT=$((18000 + N * 10 + i))
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
  done
  echo "== $N node(s): $L fanout ${URLS[*]} --sessions $SESSIONS --users 20 --rate $RATE --messages $MESSAGES --duration 20 --quiet"
  $L fanout "${URLS[@]}" --sessions $SESSIONS --users 20 --rate $RATE --messages $MESSAGES --duration 20 --quiet
  kill "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null || true
done
