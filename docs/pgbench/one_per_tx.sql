-- One transaction per message, as Parley without group commit does it: idempotency record,
-- seq bump on the (hot) chat row, message, event.
\set key random(1, 1000000000)
BEGIN;
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
  VALUES (1, 'pgb-' || :client_id || '-' || :key || '-' || random(), 'f', 0, '', 0) ON CONFLICT DO NOTHING;
UPDATE chats SET last_seq = last_seq + 1, last_activity_at = 0 WHERE id = 1 RETURNING last_seq \gset
INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted)
  VALUES (1, :last_seq, 1, 'text', 'pgbench message', 0, false) RETURNING id \gset
INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at) VALUES (1, :last_seq, 'message.created', :id, 0);
COMMIT;
