#!/usr/bin/env bash
#   [CHATS=100] [PRE_SQL='…'] bash docs/statement-stats.sh <parley> <parley-load> <variant>
# Where a send run's database time goes, per statement, from PostgreSQL's pg_stat_statements:
# `send --clients 64` for 10 s into one hot chat (or CHATS chats) on a fresh database, the
# counters reset 4 s in; then calls, mean planning and execution, buffers and WAL records per
# call, and the database time per batch. Variants: plain, names, mentions, threads
# (docs/bench-common.sh). PRE_SQL runs after the server's migrations, before the load (how
# the foreign keys were dropped by hand in docs/benchmarks.md, "The send path's foreign keys").
# Needs the extension preloaded, once (it restarts PostgreSQL; undo with ALTER SYSTEM RESET):
#   psql -d test -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
#   pg_ctlcluster --skip-systemctl-redirect 15 main restart
#   psql -d test -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()"
set -u
. "$(dirname "$0")/bench-common.sh"
SERVER=$1 LOAD=$2 VARIANT=$3
PORT=18412 DB=parley_statement_stats
variant_options "$VARIANT"
if [ "$(psql -Atd test -c 'SHOW shared_preload_libraries')" != pg_stat_statements ]; then
  echo "pg_stat_statements is not preloaded: see the head of $0" >&2; exit 2
fi
fresh_database $DB
psql -q -d $DB -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
start_server "$SERVER" $DB $PORT
[ -n "${PRE_SQL:-}" ] && psql -q -d $DB -c "$PRE_SQL"
( sleep 4; psql -q -d $DB -c 'SELECT pg_stat_statements_reset()' >/dev/null ) &
out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 \
  send --clients 64 --count $SEND_COUNT ${CHATS:+--chats $CHATS} $OPTS)
wait $!
ours="dbid = (SELECT oid FROM pg_database WHERE datname = '$DB')"
psql -d $DB -c "SELECT calls, round(mean_plan_time::numeric, 3) AS plan_ms,
    round(mean_exec_time::numeric, 3) AS exec_ms, shared_blks_hit / greatest(calls, 1) AS buffers,
    wal_records / greatest(calls, 1) AS wal_records,
    substr(regexp_replace(query, '\s+', ' ', 'g'), 1, 80) AS statement
  FROM pg_stat_statements WHERE $ours
  ORDER BY total_plan_time + total_exec_time DESC LIMIT 10"
psql -Atd $DB -c "SELECT 'batches ' || b.calls || ', database ms per batch '
    || round((sum(s.total_plan_time + s.total_exec_time) / b.calls)::numeric, 3)
  FROM pg_stat_statements s,
       (SELECT calls FROM pg_stat_statements WHERE $ours AND query = 'BEGIN') b
  WHERE s.$ours GROUP BY b.calls"
# Thread replies update their roots: HOT updates write no index entry.
psql -Atd $DB -c "SELECT 'messages updated ' || n_tup_upd || ', of them HOT ' || n_tup_hot_upd
  FROM pg_stat_user_tables WHERE relname = 'messages'"
stop_server
echo "$out" | python3 -c 'import json, sys; o = json.load(sys.stdin)
print("answers", o["statuses"].get("200", 0), "p99_ms", o["latency"]["p99_ms"])'
psql -q -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
