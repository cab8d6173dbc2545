#!/usr/bin/env bash
# The large-database sitting of docs/benchmarks.md ("Flat at scale"), on PostgreSQL: seeds a
# database with docs/large-db/seed-postgres.sql, then measures sends (10 minutes each into 1,
# 10 and 100 chats, per minute), the chat list, history, search and a resume, beside the same
# figures on an empty database. Run after `cargo build --release --bins`, with PostgreSQL on
# 127.0.0.1:5432 (trust auth) and nothing else busy.
#   bash docs/large-db/sitting.sh seed            # once: ~10 minutes
#   bash docs/large-db/sitting.sh sends large 600 # or: sends empty 120
#   bash docs/large-db/sitting.sh reads large     # or: reads empty
set -u
cd "$(dirname "$0")/../.."
SERVER=${SERVER:-./target/release/parley}
L=./target/release/parley-load
PG=postgres://root@127.0.0.1:5432
PORT=18400
BASE=http://127.0.0.1:$PORT
PASSWORD='correct horse battery staple'
PY=${PY:-python3}  # with the `websockets` package, for the resume

start() {  # database
  DATABASE_URL=$PG/$1 PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 \
    PARLEY_MAX_SESSIONS_PER_USER=0 PARLEY_MAX_SESSIONS_PER_IP=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
    RUST_LOG=warn "$SERVER" > "/tmp/large-db-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -sf "$BASE/health" > /dev/null && return; sleep 0.2; done
  echo "server did not start"; exit 1
}
stop() { kill -INT "$SERVER_PID"; wait "$SERVER_PID"; }
fresh() {  # database: dropped, created and migrated, with bob registered
  psql "$PG/test" -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1"
  start "$1"
  curl -sf -H 'content-type: application/json' "$BASE/api/v1/auth/register" \
    -d "{\"username\": \"bob\", \"password\": \"$PASSWORD\"}" > /dev/null
}
hot_tables() {
  psql "$PG/$1" -c "SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd, seq_scan,
      last_autovacuum, last_autoanalyze FROM pg_stat_user_tables
    WHERE relname IN ('chats', 'chat_members', 'chat_authors', 'idempotency_keys') ORDER BY relname"
}

case ${1:-} in
  seed)
    fresh parley_large; stop
    time psql "$PG/parley_large" -q -f docs/large-db/seed-postgres.sql
    ;;
  sends)  # large|empty seconds
    db=parley_large; [ "$2" = empty ] && { fresh parley_empty; stop; db=parley_empty; }
    for chats in 1 10 100; do
      start $db
      echo "== $2 sends into $chats chats, $(date -u +%H:%M:%S)"
      $L --url $BASE --quiet --server-pid $SERVER_PID --duration "$3" \
        send --clients 32 --chats $chats --count 100000000 --interval 60
      hot_tables $db
      stop
    done
    ;;
  reads)  # large|empty
    db=parley_large; [ "$2" = empty ] && { fresh parley_empty; stop; db=parley_empty; }
    start $db
    token=$(curl -sf -H 'content-type: application/json' "$BASE/api/v1/auth/login" \
      -d "{\"username\": \"bob\", \"password\": \"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    big=$(curl -sf -H "authorization: Bearer $token" "$BASE/api/v1/chats?limit=1" | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0]["id"] if l else 0)')
    echo "== $2 reads, bob's first chat $big, $(date -u +%H:%M:%S)"
    get() { $PY docs/large-db/measure.py get "$BASE" "$token" "$1"; }
    get /api/v1/chats                                        # the whole list
    get '/api/v1/chats?limit=50'                             # its first page
    get /api/v1/chats/$big
    get "/api/v1/chats/$big/messages?limit=50"               # history: newest page
    get "/api/v1/chats/$big/messages?limit=50&before_seq=500000"   # ... and deep
    get '/api/v1/search?q=report&limit=20'                   # a word in every message
    get '/api/v1/search?q=alpha%20bravox&limit=20'           # two words, rarer together
    $PY docs/large-db/measure.py resume "$BASE" "$token" "$big" 10000
    stop
    ;;
  *) sed -n 2,10p "$0"; exit 2 ;;
esac
