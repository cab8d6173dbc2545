DROP INDEX messages_search_pending;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_insert;
DROP TABLE messages_fts;
ALTER TABLE messages DROP COLUMN search_terms;
