#!/usr/bin/env bash
#   [CHATS=100] [SAMPLE=0.05] bash docs/statement-plans.sh <parley> <parley-load> <variant>
# The plans a send run's batches actually ran, with their triggers, buffers and WAL, from
# PostgreSQL's auto_explain (log_analyze, a SAMPLE of statements, loaded per session for this
# database only: nothing to restart): `send --clients 64` for 8 s into one hot chat (or CHATS
# chats). Prints, over the store statements sampled, the mean duration and each part's (CTE's)
# mean time, rows and WAL records, then each trigger's mean time and calls; the whole plans are
# left in the file named at the end. Variants: plain, names, mentions, threads
# (docs/bench-common.sh).
# (Times under log_analyze include its own clock reads: compare runs with each other.)
set -u
. "$(dirname "$0")/bench-common.sh"
SERVER=$1 LOAD=$2 VARIANT=$3
PORT=18413 DB=parley_statement_plans
LOG=$(ls /var/log/postgresql/postgresql-*-main.log | head -1)
OUT=${TMPDIR:-/tmp}/statement-plans-$VARIANT.log
variant_options "$VARIANT"
fresh_database $DB
for setting in "session_preload_libraries = 'auto_explain'" "auto_explain.log_min_duration = 0" \
  "auto_explain.log_analyze = on" "auto_explain.log_buffers = on" "auto_explain.log_wal = on" \
  "auto_explain.log_triggers = on" "auto_explain.sample_rate = ${SAMPLE:-0.05}"; do
  psql -q -d test -c "ALTER DATABASE $DB SET $setting"
done
start=$(wc -l < "$LOG")
start_server "$SERVER" $DB $PORT
"$LOAD" --url "http://127.0.0.1:$PORT" --quiet --json --duration 8 \
  send --clients 64 --count $SEND_COUNT ${CHATS:+--chats $CHATS} $OPTS >/dev/null
stop_server
psql -q -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
tail -n +"$start" "$LOG" > "$OUT"
python3 - "$OUT" <<'PY'
import collections, re, sys
lines = open(sys.argv[1]).read().split("\n")
parts, triggers, durations = collections.defaultdict(list), collections.defaultdict(list), []
store = False
for i, line in enumerate(lines):
    if "duration:" in line and "plan:" in line:
        store = i + 1 < len(lines) and "WITH want AS" in lines[i + 1]
        if store:
            durations.append(float(re.search(r"duration: ([\d.]+)", line).group(1)))
        continue
    if not store:
        continue
    cte = re.match(r"\s+CTE (\w+)$", line)
    if cte and i + 1 < len(lines):
        t = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+)", lines[i + 1])
        wal = next((int(m.group(1)) for j in range(i + 1, min(i + 4, len(lines)))
                    for m in [re.search(r"WAL: records=(\d+)", lines[j])] if m), 0)
        if t:
            parts[cte.group(1)].append((float(t.group(1)), int(t.group(2)), wal))
    trig = re.search(r"Trigger for constraint (\S+) on \S+: time=([\d.]+) calls=(\d+)", line)
    if trig:
        triggers[trig.group(1)].append((float(trig.group(2)), int(trig.group(3))))
print("store statements sampled: %d, mean duration %.3f ms"
      % (len(durations), sum(durations) / max(len(durations), 1)))
for name, v in parts.items():
    print("  part %-2s mean %.3f ms, rows %.0f, WAL records %.0f" % (
        name, sum(x[0] for x in v) / len(v), sum(x[1] for x in v) / len(v),
        sum(x[2] for x in v) / len(v)))
for name, v in sorted(triggers.items()):
    print("  trigger %s: mean %.3f ms, %.0f calls" % (
        name, sum(x[0] for x in v) / len(v), sum(x[1] for x in v) / len(v)))
PY
echo "plans: $OUT"
