#!/usr/bin/env bash
# Search on 1,000,000 messages, PostgreSQL then SQLite, in one sitting (docs/benchmarks.md).
# Run after `cargo build --release --bins`, with PostgreSQL on 127.0.0.1:5432 (trust auth).
# While the corpus grows, `ANALYZE` runs every 15 seconds, as autovacuum does on a
# stock PostgreSQL: search plans from those statistics (docs/deploy.md), and the machine
# these figures come from has autovacuum turned off.
set -u
cd "$(dirname "$0")/.."
L=./target/release/parley-load
PG=postgres://root@127.0.0.1:5432
run() {  # name database_url
  DATABASE_URL="$2" PARLEY_BIND=127.0.0.1:18300 PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 RUST_LOG=warn \
    ./target/release/parley > "/tmp/search-bench-$1.log" 2>&1 &
  local pid=$!
  sleep 3
  echo "== $1 $(date -u +%H:%M:%S)"
  $L --url http://127.0.0.1:18300 --quiet --duration 20 --server-pid $pid \
     search --messages 1000000 --chats 100 --seeders 64 --clients 1,16 --count 100000
  kill -INT $pid; wait $pid
}
psql "$PG/test" -qc 'DROP DATABASE IF EXISTS parley_search_bench' -qc 'CREATE DATABASE parley_search_bench'
( for _ in $(seq 1 40); do sleep 15; psql "$PG/parley_search_bench" -qc 'ANALYZE' 2>/dev/null; done ) &
analyze=$!
run postgres "$PG/parley_search_bench"
kill $analyze 2>/dev/null
rm -rf /tmp/parley-search-bench && mkdir -p /tmp/parley-search-bench
run sqlite /tmp/parley-search-bench/parley.db
echo "== done $(date -u +%H:%M:%S)"
