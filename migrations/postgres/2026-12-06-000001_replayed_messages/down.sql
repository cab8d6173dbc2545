DROP INDEX idempotency_keys_message;
ALTER TABLE idempotency_keys DROP COLUMN message_id;
