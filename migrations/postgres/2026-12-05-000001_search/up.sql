-- Full-text search. Parley splits and folds a message's words itself (the same way for both
-- backends) and stores them in `search_terms`, space-separated: '' for a deleted message, NULL
-- until the start-up backfill has reached a message stored before this migration.
-- `search_vector` holds them as a tsvector, lexemes taken as they are. It is stored, not only
-- indexed, because a search for a common word walks the newest messages and tests each: a
-- stored vector is tested in microseconds, one rebuilt from the text costs several.
ALTER TABLE messages ADD COLUMN search_terms TEXT;
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(search_terms, ' '))) STORED;
-- Straight into the index, not through GIN's pending list: a search then never scans a list
-- of recent entries, whose length would set its latency.
CREATE INDEX messages_search ON messages USING gin (search_vector) WITH (fastupdate = off);

-- What the start-up backfill still has to fill (empty once it has run).
CREATE INDEX messages_search_pending ON messages (id) WHERE search_terms IS NULL;
