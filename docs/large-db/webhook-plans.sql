-- The statements outgoing and incoming webhooks run often, on a grown database:
-- 100,000 chats, 2,000 subscriptions (1,000 behind their chat, 500 of those held by a lease),
-- 100 logged attempts for each (200,000 rows), 20,000 incoming webhooks.
--   psql postgres://…/parley_hooks_large -f docs/large-db/webhook-plans.sql
\timing off
INSERT INTO users (username, display_name, password_hash, created_at)
SELECT 'u' || g, 'u' || g, '!', 0 FROM generate_series(1, 20001) g;
INSERT INTO chats (kind, title, created_at, last_seq, last_activity_at, message_count)
SELECT 'group', 'c' || g, 0, 10, 0, 0 FROM generate_series(1, 100000) g;
INSERT INTO webhook_subscriptions (chat_id, url, events, secret, created_by, created_at,
                                   delivered_seq, due_at, attempts)
SELECT (g * 47) % 100000 + 1, 'https://example.com/' || g, 'message.created', 'whsec_x', 1, 0,
       CASE WHEN g % 2 = 0 THEN 10 ELSE 5 END,
       CASE WHEN g % 4 = 1 THEN 9999999999999 ELSE 0 END, 0
FROM generate_series(1, 2000) g;
INSERT INTO webhook_deliveries (subscription_id, webhook_id, seq, status, attempt, at)
SELECT s.id, 'msg_' || s.chat_id || '_' || n, n, 200, 1, n FROM webhook_subscriptions s,
       generate_series(1, 100) n;
INSERT INTO incoming_webhooks (chat_id, bot_user_id, name, secret_hash, secret_salt, created_by, created_at)
SELECT g * 5, g + 1, 'h' || g, md5(g::text) || md5((g + 1)::text), 'salt', 1, 0
FROM generate_series(1, 20000) g;
ANALYZE;
\echo '--- a claim (every second, per node): 64 subscriptions behind their chat and due'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS)
UPDATE webhook_subscriptions s SET due_at = 1000 + 30000
FROM (SELECT w.id FROM webhook_subscriptions w JOIN chats c ON c.id = w.chat_id
      WHERE w.disabled_at IS NULL AND w.due_at <= 1000 AND c.last_seq > w.delivered_seq
      ORDER BY w.due_at LIMIT 64 FOR UPDATE OF w SKIP LOCKED) d
WHERE s.id = d.id
RETURNING s.id, s.chat_id, s.url, s.events, s.secret, s.created_at, s.delivered_seq,
          s.attempts, s.failing_since, s.disabled_at;
ROLLBACK;
\echo '--- the claim when every subscription has had everything (the idle state): it walks the due ones'
BEGIN;
UPDATE webhook_subscriptions SET delivered_seq = 10;
EXPLAIN (ANALYZE, BUFFERS)
UPDATE webhook_subscriptions s SET due_at = 1000 + 30000
FROM (SELECT w.id FROM webhook_subscriptions w JOIN chats c ON c.id = w.chat_id
      WHERE w.disabled_at IS NULL AND w.due_at <= 1000 AND c.last_seq > w.delivered_seq
      ORDER BY w.due_at LIMIT 64 FOR UPDATE OF w SKIP LOCKED) d
WHERE s.id = d.id RETURNING s.id;
ROLLBACK;
\echo '--- a post through an incoming webhook: finding it by its secret hash'
EXPLAIN (ANALYZE, BUFFERS)
SELECT h.id, h.chat_id, h.bot_user_id FROM incoming_webhooks h JOIN users u ON u.id = h.bot_user_id
WHERE h.secret_hash = md5('777') || md5('778') AND u.deactivated_at IS NULL LIMIT 1;
\echo '--- a delivery recorded: the log pruned to its newest 100'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id FROM webhook_deliveries WHERE subscription_id = 777 ORDER BY id DESC OFFSET 99 LIMIT 1;
BEGIN;
EXPLAIN (ANALYZE, BUFFERS)
DELETE FROM webhook_deliveries WHERE subscription_id = 777 AND id < (
  SELECT id FROM webhook_deliveries WHERE subscription_id = 777 ORDER BY id DESC OFFSET 99 LIMIT 1);
\echo '--- the cursor moved'
EXPLAIN (ANALYZE, BUFFERS)
UPDATE webhook_subscriptions SET delivered_seq = 10, attempts = 0, failing_since = NULL
WHERE id = 777 AND delivered_seq <= 10;
ROLLBACK;
\echo '--- the delivery log read by its owners'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM webhook_deliveries WHERE subscription_id = 777 ORDER BY id DESC LIMIT 100;
