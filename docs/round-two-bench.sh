#!/usr/bin/env bash
# Issue 12's scenarios in one sitting (docs/benchmarks.md): the server binary given as $1
# (default ./target/release/parley), on PostgreSQL (a fresh database per run) and on SQLite,
# each driven by this checkout's parley-load. Run after `cargo build --release --bins`, with
# PostgreSQL on 127.0.0.1:5432 (trust auth) and nothing else busy.
#   bash docs/round-two-bench.sh [server-binary] [label] ["postgres sqlite"]
set -u
cd "$(dirname "$0")/.."
SERVER=${1:-./target/release/parley}
LABEL=${2:-$(git rev-parse --short HEAD)}
BACKENDS=${3:-postgres sqlite}
L=./target/release/parley-load
PG=postgres://root@127.0.0.1:5432
PORT=18200
run() {  # backend scenario-args...
  local backend=$1; shift
  local url
  if [ "$backend" = postgres ]; then
    psql "$PG/test" -qc 'DROP DATABASE IF EXISTS parley_round_two' -qc 'CREATE DATABASE parley_round_two' 2>/dev/null
    url="$PG/parley_round_two"
  else
    rm -rf /tmp/parley-round-two && mkdir -p /tmp/parley-round-two
    url=/tmp/parley-round-two/parley.db
  fi
  DATABASE_URL=$url PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 \
    PARLEY_MAX_SESSIONS_PER_USER=0 PARLEY_MAX_SESSIONS_PER_IP=0 PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn \
    "$SERVER" > "/tmp/round-two-$LABEL-$backend.log" 2>&1 &
  local pid=$!
  sleep 3
  echo "== $LABEL $backend $(date -u +%H:%M:%S): $*"
  $L --url http://127.0.0.1:$PORT --quiet --server-pid $pid "$@"
  kill -INT $pid; wait $pid
}
for backend in $BACKENDS; do
  run "$backend" idle --sessions 10000 --users 400 --duration 5
  run "$backend" fanout --sessions 10000 --users 200 --rate 20 --messages 240 --senders 4 --threads 2 --duration 12
  run "$backend" fanout --sessions 1000 --users 20 --rate 1000 --messages 12000 --senders 32 --threads 2 --duration 12
  run "$backend" history --clients 16 --messages 500 --duration 10
done
