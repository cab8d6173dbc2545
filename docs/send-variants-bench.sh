#!/usr/bin/env bash
#   RUNS="after:names after:mentions before:mentions after:plain" [CHATS=100] \
#     bash docs/send-variants-bench.sh <before>/parley <after>/parley <parley-load> <rounds>
# One sitting, on PostgreSQL, a fresh database per run: `send --clients 64` for 10 s into one
# hot chat (or CHATS chats), the variants in turn each round (plain, names, mentions, threads:
# see docs/bench-common.sh).
# Per run: answers, p50 and p99 (ms), and the batch transaction's mean (ms, from the server's
# `parley_send_batch_phase_seconds{phase="transaction"}`). Runs are bounded by time only
# (`SEND_COUNT`, docs/bench-common.sh).
set -u
. "$(dirname "$0")/bench-common.sh"
BEFORE=$1 AFTER=$2 LOAD=$3 ROUNDS=$4
PORT=18411 DB=parley_variants_bench
for round in $(seq 1 "$ROUNDS"); do
  for run in ${RUNS:-after:names after:mentions before:mentions after:plain}; do
    SERVER=$BEFORE; [ "${run%%:*}" = after ] && SERVER=$AFTER
    variant_options "${run#*:}"
    fresh_database $DB
    start_server "$SERVER" $DB $PORT
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 \
      send --clients 64 --count $SEND_COUNT ${CHATS:+--chats $CHATS} $OPTS)
    metrics=$(curl -sf -H "Authorization: Bearer $BENCH_ADMIN" "127.0.0.1:$PORT/admin/metrics")
    stop_server
    python3 - "$round" "$run" "$out" "$metrics" <<'PY'
import json, re, sys
round_, run, out, metrics = sys.argv[1:5]
o = json.loads(out)
sums = dict(re.findall(r'parley_send_batch_phase_seconds_(sum|count)\{phase="transaction"\} (\S+)', metrics))
tx = float(sums.get("sum", 0)) / max(float(sums.get("count", 1)), 1) * 1000
print("%s\t%-16s answers=%d\tp50_ms=%.1f\tp99_ms=%.1f\ttransaction_ms=%.2f" % (
    round_, run, o["statuses"].get("200", 0), o["latency"]["p50_ms"], o["latency"]["p99_ms"], tx))
PY
  done
done
