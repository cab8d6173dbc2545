-- Full-text search. Parley splits and folds a message's words itself (the same way for both
-- backends) and stores them here, space-separated: '' for a deleted message, NULL until the
-- start-up backfill has reached a message stored before this migration. The index holds them
-- as a tsvector, lexemes taken as they are.
ALTER TABLE messages ADD COLUMN search_terms TEXT;
CREATE INDEX messages_search ON messages
    USING gin (array_to_tsvector(string_to_array(search_terms, ' ')));

-- What the start-up backfill still has to fill (empty once it has run).
CREATE INDEX messages_search_pending ON messages (id) WHERE search_terms IS NULL;
