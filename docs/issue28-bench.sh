#!/usr/bin/env bash
#   bash docs/issue28-bench.sh <before>/parley <after>/parley <after>/parley-load <rounds>
# One sitting: before (plain) and after (plain, names only, 3 mentions, thread replies), into
# 1 chat and into 100, alternating, each on a fresh database; answers in 10 s and machine CPU
# per answer.
set -u
BEFORE=$1 AFTER=$2 LOAD=$3 ROUNDS=$4
for round in $(seq 1 $ROUNDS); do
  for chats in 1 100; do
    bash "$(dirname "$0")/cpu-per-send.sh" "$BEFORE" "$LOAD" 1 "--chats $chats" | sed "s/^1/before $round/"
    bash "$(dirname "$0")/cpu-per-send.sh" "$AFTER" "$LOAD" 1 "--chats $chats" "--chats $chats --mentions 3 --names-only" "--chats $chats --mentions 3" "--chats $chats --threads" | sed "s/^1/after $round/"
  done
done
