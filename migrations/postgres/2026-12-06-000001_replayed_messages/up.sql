-- The message an idempotency record's stored answer shows (a send, an edit, a reaction), so
-- that deleting the message rewrites what the record replays to the tombstone.
ALTER TABLE idempotency_keys ADD COLUMN message_id BIGINT;
CREATE INDEX idempotency_keys_message ON idempotency_keys (message_id) WHERE message_id IS NOT NULL;
