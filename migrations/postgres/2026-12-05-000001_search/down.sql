DROP INDEX messages_search_pending;
DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search_vector;
ALTER TABLE messages DROP COLUMN search_terms;
