#!/usr/bin/env bash
#   RUNS="after:names after:mentions before:mentions after:plain" [CHATS=100] \
#     bash docs/send-variants-bench.sh <before>/parley <after>/parley <parley-load> <rounds>
# One sitting, on PostgreSQL, a fresh database per run: `send --clients 64` for 10 s into one
# hot chat (or CHATS chats), the variants in turn each round:
#   plain     plain texts;
#   names     the texts of `mentions` without `@` (what the words alone cost);
#   mentions  each text names the next three senders (`--mentions 3`);
#   threads   every send a thread reply (`--threads`).
# Per run: answers, p50 and p99 (ms), and the batch transaction's mean (ms, from the server's
# `parley_send_batch_phase_seconds{phase="transaction"}`).
set -u
BEFORE=$1 AFTER=$2 LOAD=$3 ROUNDS=$4
PORT=18411 ADMIN=bench-admin-token-0123456789
for round in $(seq 1 "$ROUNDS"); do
  for run in ${RUNS:-after:names after:mentions before:mentions after:plain}; do
    SERVER=$BEFORE; [ "${run%%:*}" = after ] && SERVER=$AFTER
    case ${run#*:} in
      plain) opts="";;
      names) opts="--mentions 3 --names-only";;
      mentions) opts="--mentions 3";;
      threads) opts="--threads";;
    esac
    psql -q -d test -c 'DROP DATABASE IF EXISTS parley_variants_bench WITH (FORCE)' \
      -c 'CREATE DATABASE parley_variants_bench' 2>/dev/null
    DATABASE_URL=postgres://root@127.0.0.1:5432/parley_variants_bench PARLEY_BIND=127.0.0.1:$PORT \
      PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
      PARLEY_ADMIN_TOKEN=$ADMIN RUST_LOG=warn "$SERVER" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 \
      send --clients 64 ${CHATS:+--chats $CHATS} $opts)
    metrics=$(curl -sf -H "Authorization: Bearer $ADMIN" "127.0.0.1:$PORT/admin/metrics")
    kill -TERM $pid; wait $pid 2>/dev/null
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
