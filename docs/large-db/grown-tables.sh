#!/usr/bin/env bash
# Plans that outlive their tables' size (docs/benchmarks.md, "Flat at scale"): a fresh
# PostgreSQL database, 3 s of keyed sends on small tables (PostgreSQL settles on plans for
# them), then 300,000 idempotency keys and 50,000 chats added by SQL, then 10 s of sends.
# Prints the send rates and, after each phase, sequential scans/rows read per hot table.
#   bash docs/large-db/grown-tables.sh SERVER-BINARY [LOAD-BINARY]
set -u
BIN=$1; LOAD=${2:-./target/release/parley-load}; DB=parley_grown
PG=postgres://root@127.0.0.1:5432
psql "$PG/test" -qc "DROP DATABASE IF EXISTS $DB" -qc "CREATE DATABASE $DB" 2>/dev/null
DATABASE_URL=$PG/$DB PARLEY_BIND=127.0.0.1:18300 PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 \
  PARLEY_MAX_SESSIONS_PER_USER=0 PARLEY_MAX_SESSIONS_PER_IP=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
  RUST_LOG=warn "$BIN" > /tmp/grown-tables.log 2>&1 &
pid=$!
sleep 2
$LOAD --url http://127.0.0.1:18300 --quiet send --clients 32 --chats 10 --duration 3 --count 2000 | grep "per second"
psql "$PG/$DB" -q <<'SQL'
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
SELECT (SELECT min(id) FROM users), 'k' || i, 'f', 200, repeat('x', 300),
       (extract(epoch FROM now()) * 1000)::bigint
FROM generate_series(1, 300000) AS i;
INSERT INTO chats (kind, title, created_at, last_seq, last_activity_at)
SELECT 'group', 't', 0, 0, 0 FROM generate_series(1, 50000);
SQL
Q="SELECT string_agg(relname || '=' || seq_scan || '/' || seq_tup_read, ' ' ORDER BY relname)
   FROM pg_stat_user_tables WHERE relname IN ('idempotency_keys', 'chats', 'chat_members', 'messages')"
psql "$PG/$DB" -Atc "$Q"
$LOAD --url http://127.0.0.1:18300 --quiet send --clients 32 --chats 10 --duration 10 --count 30000 | grep "per second"
kill -INT $pid; wait $pid
psql "$PG/$DB" -Atc "$Q"
