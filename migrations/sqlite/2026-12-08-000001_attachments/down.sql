ALTER TABLE messages DROP COLUMN attachment_count;
DROP TABLE attachments;
