ALTER TABLE chat_members DROP COLUMN muted_until;
ALTER TABLE chat_members DROP COLUMN notify_level;
DROP INDEX messages_thread;
ALTER TABLE messages DROP COLUMN thread_summary;
ALTER TABLE messages DROP COLUMN thread_root_id;
