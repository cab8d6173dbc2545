-- Full-text search. Parley splits and folds a message's words itself (the same way for both
-- backends) and stores them here, space-separated: '' for a deleted message, NULL until the
-- start-up backfill has reached a message stored before this migration. FTS5 indexes them as
-- an external-content table with the `ascii` tokenizer, which splits at the spaces between
-- them and nowhere inside one (it leaves every non-ASCII character alone). The triggers keep
-- the index in the transaction that changes the message.
ALTER TABLE messages ADD COLUMN search_terms TEXT;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    search_terms, content = 'messages', content_rowid = 'id', tokenize = 'ascii'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, search_terms) VALUES (new.id, new.search_terms);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_terms ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, search_terms)
        VALUES ('delete', old.id, old.search_terms);
    INSERT INTO messages_fts (rowid, search_terms) VALUES (new.id, new.search_terms);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, search_terms)
        VALUES ('delete', old.id, old.search_terms);
END;

-- What the start-up backfill still has to fill (empty once it has run).
CREATE INDEX messages_search_pending ON messages (id) WHERE search_terms IS NULL;
