#!/usr/bin/env bash
#   bash docs/issue29-bench.sh <before>/parley <after>/parley <parley-load> <rounds>
# One sitting, on PostgreSQL, a fresh database per run: 64 senders (REST, no session) into one
# hot chat for 10 s, with the server before push delivery and after it:
#   plain    the 64 senders alone;
#   offline  50 more members who never connect and have no device (after: the room passes
#            them, no outbox row is written);
#   push     (after only) 50 more members who never connect, each with a device at a local Web
#            Push receiver (npm's web-push-testing): the batches queue their notifications.
# Per run: answers, p99 (ms), machine CPU per answer (/proc/stat); for `push`, after the sends
# the outbox drains and the server's metrics give the notifications delivered per second and
# the commit-to-delivery p50/p99 (from the `parley_push_delivery_seconds` histogram).
# RECEIVER_PREFIX runs the receiver under a command: `RECEIVER_PREFIX="chrt --idle 0"` gives it
# only CPU time nothing else wants, as a push service on another machine would take none of
# these two cores (docs/benchmarks.md, "The test receiver's share of the two cores").
# DELIVER=false keeps the notifications queued and sends none. Runs are bounded by time only
# (`SEND_COUNT`, docs/bench-common.sh).
set -u
. "$(dirname "$0")/bench-common.sh"
BEFORE=$1 AFTER=$2 LOAD=$3 ROUNDS=$4
PORT=18409 RECEIVER_PORT=18410
RECEIVER_JS="$(dirname "$0")/../tests/browser/node_modules/web-push-testing/src/bin/server.js"
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
metrics() { curl -sf -H "Authorization: Bearer $BENCH_ADMIN" "127.0.0.1:$PORT/admin/metrics"; }
${RECEIVER_PREFIX:-} node "$RECEIVER_JS" $RECEIVER_PORT >/dev/null 2>&1 &
receiver=$!
trap 'kill $receiver 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf -XPOST "localhost:$RECEIVER_PORT/status" >/dev/null && break; sleep 0.1; done
for round in $(seq 1 $ROUNDS); do
  for run in ${RUNS:-before:plain before:offline after:plain after:offline after:push}; do
    SERVER=$BEFORE; [ "${run%%:*}" = after ] && SERVER=$AFTER
    variant=$run
    case ${run#*:} in
      plain) opts="";;
      offline) opts="--offline-members 50";;
      push) opts="--offline-members 50 --push-receiver http://localhost:$RECEIVER_PORT";;
    esac
    psql -q -d test -c 'DROP DATABASE IF EXISTS parley_push_bench WITH (FORCE)' -c 'CREATE DATABASE parley_push_bench' 2>/dev/null
    DATABASE_URL=postgres://root@127.0.0.1:5432/parley_push_bench PARLEY_BIND=127.0.0.1:$PORT \
      PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
      PARLEY_PUSH_ALLOW_HTTP_HOSTS=localhost PARLEY_ADMIN_TOKEN=$BENCH_ADMIN PARLEY_PUSH_DELIVERY=${DELIVER:-true} RUST_LOG=warn "$SERVER" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    b0=$(busy)
    out=$("$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 10 send --clients 64 --count $SEND_COUNT $opts)
    b1=$(busy)
    sent_at_end=$(metrics | awk '/^parley_push_sent_total /{print $2}')
    start=$(date +%s.%N)
    # The outbox drains: wait until no notification went out for 2 s.
    last=-1; now_sent=${sent_at_end:-0}
    while [ "$now_sent" != "$last" ]; do last=$now_sent; sleep 2; now_sent=$(metrics | awk '/^parley_push_sent_total /{print $2}'); done
    drained=$(python3 -c "print($(date +%s.%N) - $start - 2)")
    m=$(metrics)
    kill -TERM $pid; wait $pid 2>/dev/null
    python3 - "$round" "$variant" "$out" "$b0" "$b1" "$drained" "$m" <<'PY'
import json, sys
round_, variant, out, b0, b1, drained, metrics = sys.argv[1:8]
o = json.loads(out)
ok = o["statuses"].get("200", 0)
p99 = o["latency"]["p99_ms"] if o.get("latency") else float("nan")
cpu = (int(b1) - int(b0)) * 10 / max(ok, 1)
line = "%s\t%-15s answers=%d\tp99_ms=%.1f\tcpu_ms_per_send=%.3f" % (round_, variant, ok, p99, cpu)
buckets, total, count, sent = [], 0.0, 0.0, 0.0
for row in metrics.splitlines():
    if row.startswith("parley_push_delivery_seconds_bucket"):
        le = row.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(row.split()[-1])))
    elif row.startswith("parley_push_sent_total "):
        sent = float(row.split()[1])
def quantile(q):
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    want, prev_le, prev_n = q * buckets[-1][1], 0.0, 0.0
    for le, n in buckets:
        if n >= want:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (want - prev_n) / max(n - prev_n, 1e-9)
        prev_le, prev_n = le, n
if variant.endswith("push"):
    seconds = 10 + max(float(drained), 0)
    line += "\tdelivered=%d\tdelivered_per_s=%.0f\tdelivery_p50_ms=%.0f\tdelivery_p99_ms=%.0f" % (
        sent, sent / seconds, quantile(0.5) * 1000, quantile(0.99) * 1000)
print(line)
PY
  done
done
