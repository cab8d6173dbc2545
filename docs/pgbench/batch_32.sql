-- The same statements for 32 messages in one transaction (group commit): pgbench counts one
-- "transaction" per 32 messages.
BEGIN;
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
  SELECT 1, 'pgb-' || :client_id || '-' || g || '-' || random(), 'f', 200, '', 0 FROM generate_series(1, 32) g
  ON CONFLICT DO NOTHING;
UPDATE chats SET last_seq = last_seq + 32, last_activity_at = 0 WHERE id = 1 RETURNING last_seq \gset
WITH m AS (
  INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted)
  SELECT 1, :last_seq - 32 + g, 1, 'text', 'pgbench message', 0, false FROM generate_series(1, 32) g
  RETURNING id, seq)
INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at)
  SELECT 1, seq, 'message.created', id, 0 FROM m;
COMMIT;
