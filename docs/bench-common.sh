# Sourced by the send benches (send-variants-bench.sh, statement-stats.sh, statement-plans.sh,
# issue29-bench.sh): the load options of each send variant, and a server on a fresh PostgreSQL
# database.

BENCH_ADMIN=bench-admin-token-0123456789

# `parley-load send` stops at `--count` sends (100,000 unless given) or at `--duration`,
# whichever comes first; the benches mean the duration, and on a fast day 10 s of sends into
# one hot chat reached 100,000. Every `send` here passes this count, far above that.
SEND_COUNT=10000000

# Sets OPTS to the `parley-load send` options of variant $1:
#   plain     plain texts;
#   names     the texts of `mentions` without `@` (what the words alone cost);
#   mentions  each text names the next three senders (`--mentions 3`);
#   threads   every send a thread reply (`--threads`).
variant_options() {
  case $1 in
    plain) OPTS="";;
    names) OPTS="--mentions 3 --names-only";;
    mentions) OPTS="--mentions 3";;
    threads) OPTS="--threads";;
    *) echo "variant: plain, names, mentions or threads" >&2; exit 2;;
  esac
}

# Drops and creates database $1.
fresh_database() {
  psql -q -d test -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" 2>/dev/null
}

# Starts server binary $1 on database $2, port $3 (rate limits off, metrics behind
# $BENCH_ADMIN), sets SERVER_PID, and waits until it answers.
start_server() {
  DATABASE_URL=postgres://root@127.0.0.1:5432/$2 PARLEY_BIND=127.0.0.1:$3 \
    PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
    PARLEY_ADMIN_TOKEN=$BENCH_ADMIN RUST_LOG=warn "$1" >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$3/healthz" >/dev/null && return; sleep 0.1; done
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
}
