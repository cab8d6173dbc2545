#!/usr/bin/env bash
# Attachments (issue 27): `upload` (16 clients, a 256 KiB PNG each, then its thumbnail) and
# `transfer` (100 MiB up and down, with the server's RSS sampled every 20 ms), on a directory
# store and on s3s-fs, PostgreSQL, a fresh database and store for each run.
#   bash docs/files-bench.sh <parley> <parley-load>      (KINDS, SECS, CLIENTS, NOTRANSFER vary it)
set -u
SERVER=$1 LOAD=$2
PORT=18402
S3PORT=18403
run() {  # store-kind scenario args...
  local kind=$1; shift
  psql -q -d test -c 'DROP DATABASE IF EXISTS parley_files WITH (FORCE)' -c 'CREATE DATABASE parley_files' 2>/dev/null
  local dir; dir=$(mktemp -d)
  local extra=()
  local s3pid=
  if [ "$kind" = s3 ]; then
    mkdir -p "$dir/s3/parley"
    s3s-fs --host 127.0.0.1 --port $S3PORT --access-key k --secret-key secretsecret "$dir/s3" >/dev/null 2>&1 &
    s3pid=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$S3PORT) 2>/dev/null && break; sleep 0.1; done
    extra=(AWS_ENDPOINT_URL=http://127.0.0.1:$S3PORT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=secretsecret PARLEY_STORAGE_URL=s3://parley/bench)
  else
    extra=(PARLEY_STORAGE_URL=$dir/files)
  fi
  env "${extra[@]}" DATABASE_URL=postgres://root@127.0.0.1:5432/parley_files PARLEY_BIND=127.0.0.1:$PORT \
    PARLEY_SEND_RATE=0 PARLEY_AUTH_RATE=0 PARLEY_LOGIN_RATE=0 PARLEY_MAX_REQUESTS_PER_IP=0 \
    PARLEY_MAX_UPLOAD_BYTES=209715200 RUST_LOG=warn "$SERVER" >/tmp/files-bench-server.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  echo "== $kind $* ($(date -u +%H:%M:%S))"
  "$LOAD" --url "http://127.0.0.1:$PORT" --quiet --server-pid $pid "$@"
  kill -TERM $pid; wait $pid 2>/dev/null
  [ -n "$s3pid" ] && { kill $s3pid; wait $s3pid 2>/dev/null; }
  rm -rf "$dir"
}
for kind in ${KINDS:-directory s3}; do
  run $kind --duration ${SECS:-20} upload --clients ${CLIENTS:-16}
  [ -z "${NOTRANSFER:-}" ] && run $kind transfer --mib 100
done
