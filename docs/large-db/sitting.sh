#!/usr/bin/env bash
# The large-database sitting of docs/benchmarks.md ("Flat at scale"), on PostgreSQL (or on
# SQLite with BACKEND=sqlite): seeds a database with docs/large-db/seed-$BACKEND.sql, then
# measures sends (10 minutes each into 1,
# 10 and 100 chats, per minute), the chat list, history, search and a resume, beside the same
# figures on an empty database. Run after `cargo build --release --bins`, with PostgreSQL on
# 127.0.0.1:5432 (trust auth) and nothing else busy.
#   bash docs/large-db/sitting.sh seed            # once: ~5 minutes (seed hollow: the same
#                                                 # accounts and chats, a message each)
#   bash docs/large-db/sitting.sh sends large 600 # or: sends empty 120; CHATS="10" for one
#   bash docs/large-db/sitting.sh reads large     # or: reads hollow, reads empty
#   bash docs/large-db/sitting.sh plans           # every hot statement's plan, as the server
#                                                 # ran it, into docs/large-db/plans.txt
set -u
cd "$(dirname "$0")/../.."
SERVER=${SERVER:-./target/release/parley}
L=./target/release/parley-load
PG=postgres://root@127.0.0.1:5432
PORT=18400
BASE=http://127.0.0.1:$PORT
PASSWORD='correct horse battery staple'
PY=${PY:-python3}  # with the `websockets` package, for the resume
BACKEND=${BACKEND:-postgres}
SQLITE_DIR=/tmp/parley-large-db
url() {  # database name -> DATABASE_URL
  if [ "$BACKEND" = sqlite ]; then echo "$SQLITE_DIR/$1.db"; else echo "$PG/$1"; fi
}

start() {  # database
  DATABASE_URL=$(url "$1") PARLEY_BIND=127.0.0.1:$PORT PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 \
    PARLEY_MAX_SESSIONS_PER_USER=0 PARLEY_MAX_SESSIONS_PER_IP=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
    RUST_LOG=warn "$SERVER" > "/tmp/large-db-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -sf "$BASE/healthz" > /dev/null && return; sleep 0.2; done
  echo "server did not start"; exit 1
}
stop() { kill -INT "$SERVER_PID"; wait "$SERVER_PID"; }
fresh() {  # database: dropped, created and migrated, with bob registered
  if [ "$BACKEND" = sqlite ]; then
    mkdir -p $SQLITE_DIR && rm -f "$SQLITE_DIR/$1".db*
  else
    psql "$PG/test" -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1"
  fi
  start "$1"
  curl -sf -H 'content-type: application/json' "$BASE/api/v1/auth/register" \
    -d "{\"username\": \"bob\", \"password\": \"$PASSWORD\"}" > /dev/null
}
hot_tables() {
  if [ "$BACKEND" = sqlite ]; then ls -l "$SQLITE_DIR/$1".db*; return; fi
  psql "$PG/$1" -c "SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd, seq_scan,
      last_autovacuum, last_autoanalyze FROM pg_stat_user_tables
    WHERE relname IN ('chats', 'chat_members', 'chat_authors', 'idempotency_keys') ORDER BY relname"
}

case ${1:-} in
  seed)  # [hollow]: the same users, chats and members, one message a chat, no keys
    db=parley_large; sizes=(-v big=1000000 -v per_chat=401 -v keys=2000000)
    [ "${2:-}" = hollow ] && { db=parley_hollow; sizes=(-v big=1 -v per_chat=1 -v keys=0); }
    fresh $db; stop
    if [ "$BACKEND" = sqlite ]; then
      time sqlite3 "$SQLITE_DIR/$db.db" < docs/large-db/seed-sqlite.sql
    else
      time psql "$PG/$db" -q "${sizes[@]}" -f docs/large-db/seed-postgres.sql
    fi
    ;;
  sends)  # large|empty seconds
    db=parley_large; [ "$2" = empty ] && { fresh parley_empty; stop; db=parley_empty; }
    for chats in ${CHATS:-1 10 100}; do
      start $db
      echo "== $2 sends into $chats chats, $(date -u +%H:%M:%S)"
      $L --url $BASE --quiet --server-pid $SERVER_PID --duration "$3" \
        send --clients 32 --chats $chats --count 100000000 --interval 60
      hot_tables $db
      stop
    done
    ;;
  reads)  # large|hollow|empty
    db=parley_$2; [ "$2" = empty ] && { fresh parley_empty; stop; }
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
  plans)
    # auto_explain logs each statement's plan with what EXPLAIN (ANALYZE, BUFFERS) shows.
    log=$(ls /var/log/postgresql/postgresql-*-main.log | head -1); from=$(wc -l < "$log")
    psql "$PG/parley_large" -q -c "ALTER DATABASE parley_large SET session_preload_libraries = auto_explain" \
      -c "ALTER DATABASE parley_large SET auto_explain.log_min_duration = 0" \
      -c "ALTER DATABASE parley_large SET auto_explain.log_analyze = on" \
      -c "ALTER DATABASE parley_large SET auto_explain.log_buffers = on"
    start parley_large
    auth=(-H "authorization: Bearer $(curl -sf -H 'content-type: application/json' "$BASE/api/v1/auth/login" \
      -d "{\"username\": \"bob\", \"password\": \"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')")
    call() { echo "-- $*" >> /tmp/large-db-calls.log; curl -sf -o /dev/null "${auth[@]}" -H 'content-type: application/json' "$@"; }
    sends=()
    for i in 1 2 3; do  # sends into the big chat, keyed, three at once: one batch
      call -H "Idempotency-Key: plans-$RANDOM-$i" "$BASE/api/v1/messages" -d '{"chat_id": 1, "type": "text", "content": "plans"}' &
      sends+=($!)
    done; wait "${sends[@]}"
    call "$BASE/api/v1/chats"; call "$BASE/api/v1/chats?limit=50"; call "$BASE/api/v1/chats/1"
    call "$BASE/api/v1/chats/1/messages?limit=50"; call "$BASE/api/v1/chats/1/messages?limit=50&before_seq=500000"
    call "$BASE/api/v1/search?q=report&limit=20"; call "$BASE/api/v1/search?q=alpha%20bravox&limit=20&chat_id=1"
    call "$BASE/api/v1/chats/1/read" -d '{"seq": 999000}'; call "$BASE/api/v1/chats/1/read" -d '{"seq": 1000003}'
    call "$BASE/api/v1/chats/2/members" -d '{"user_id": 49000}'
    call -X DELETE "$BASE/api/v1/chats/2/members/49000"
    token=${auth[1]#authorization: Bearer }
    $PY docs/large-db/measure.py resume "$BASE" "$token" 1 10000 1
    stop
    psql "$PG/parley_large" -q -c "ALTER DATABASE parley_large RESET ALL"
    tail -n +"$from" "$log" | python3 docs/large-db/distinct_plans.py > docs/large-db/plans.txt
    ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
