DROP TABLE message_mentions;
ALTER TABLE messages DROP COLUMN mention_ids;
