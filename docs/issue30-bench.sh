#!/usr/bin/env bash
#   bash docs/issue30-bench.sh <parley> <parley-load> <rounds>
# One sitting, on PostgreSQL, a fresh database per run, 64 senders for 10 s; runs alternate:
#   api:1 / api:100      POST /api/v1/messages into 1 hot chat / spread over 100 chats;
#   hook:1 / hook:100    the same posts through each chat's incoming webhook (/hooks/<secret>);
#   sub:1 / sub:100      POST /api/v1/messages while every chat has an outgoing webhook to a
#                        local receiver (docs/webhook-receiver.py), which counts what arrives.
# Per run: answers, p50/p99 (ms), machine CPU per answer (/proc/stat); for `sub`, after the
# sends the receiver is read until nothing new arrived for 2 s: events delivered, per second
# (from the first arrival to the last), duplicates, out-of-order, commit-to-arrival p50/p99.
set -u
SERVER=$1 LOAD=$2 ROUNDS=$3
PORT=18411
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for round in $(seq 1 "$ROUNDS"); do
  for run in ${RUNS:-api:1 hook:1 sub:1 api:100 hook:100 sub:100}; do
    kind=${run%%:*} chats=${run#*:} opts="" receiver=""
    if [ "$kind" = hook ]; then opts="--through-hooks"; fi
    if [ "$kind" = sub ]; then
      RPORT=$((18420 + round))
      python3 "$(dirname "$0")/webhook-receiver.py" $RPORT & receiver=$!
      sleep 0.5
      opts="--webhook-receiver http://127.0.0.1:$RPORT/events"
    fi
    psql -q -d test -c 'DROP DATABASE IF EXISTS parley_hook_bench WITH (FORCE)' -c 'CREATE DATABASE parley_hook_bench' 2>/dev/null
    DATABASE_URL=postgres://root@127.0.0.1:5432/parley_hook_bench PARLEY_BIND=127.0.0.1:$PORT \
      PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
      PARLEY_HOOK_POSTS_PER_MINUTE=0 PARLEY_WEBHOOK_ALLOW_HOSTS=127.0.0.1 RUST_LOG=warn \
      "$SERVER" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    b0=$(busy)
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 send --clients 64 --chats "$chats" $opts)
    b1=$(busy)
    stats="{}"
    if [ -n "$receiver" ]; then
      last=-1; now=0
      while [ "$now" != "$last" ]; do
        last=$now; sleep 2
        now=$(curl -sf "127.0.0.1:$RPORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
      done
      stats=$(curl -sf "127.0.0.1:$RPORT/stats")
      kill $receiver; wait $receiver 2>/dev/null
    fi
    kill -TERM $pid; wait $pid 2>/dev/null
    python3 - "$round" "$run" "$out" "$b0" "$b1" "$stats" <<'PY'
import json, sys
round_, run, out, b0, b1, stats = sys.argv[1:7]
o, s = json.loads(out), json.loads(stats)
ok = o["statuses"].get("200", 0)
lat = o.get("latency") or {}
cpu = (int(b1) - int(b0)) * 10 / max(ok, 1)
line = "%s\t%-9s answers=%d\tp50_ms=%.1f\tp99_ms=%.1f\tcpu_ms_per_answer=%.3f" % (
    round_, run, ok, lat.get("p50_ms", 0), lat.get("p99_ms", 0), cpu)
if s:
    line += "\tdelivered=%d\tper_s=%.0f\tdup=%d\tout_of_order=%d\tp50_ms=%.0f\tp99_ms=%.0f" % (
        s["events"], s["per_second"], s["duplicates"], s["out_of_order"], s["p50_ms"], s["p99_ms"])
print(line)
PY
  done
done
