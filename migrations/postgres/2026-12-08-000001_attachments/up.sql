-- Uploaded files. The bytes live in the store under `storage_key` (a name the server made up);
-- this table is the truth about them: an object no row knows is an orphan, and the sweeper
-- removes it.
CREATE TABLE attachments (
    id            BIGSERIAL PRIMARY KEY,
    uploader_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    -- What the bytes are (detected), not what the uploader declared.
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    width         INTEGER,
    height        INTEGER,
    created_at    BIGINT NOT NULL,
    storage_key   TEXT NOT NULL UNIQUE,
    -- Set once, by the send that holds the attachment, in that send's transaction.
    message_id    BIGINT REFERENCES messages (id),
    position      INTEGER,
    -- The thumbnail's key once one has been made, or why none can be (`image_too_large`,
    -- `image_undecodable`), so that a refused image is not decoded again on every request.
    thumbnail_key TEXT,
    thumbnail_refusal TEXT,
    -- When the attachment stopped being readable (its message was deleted, or it stayed unsent
    -- too long); the sweeper then removes its bytes, then the row.
    removed_at    BIGINT
);
CREATE INDEX attachments_message_id ON attachments (message_id, position);
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL AND removed_at IS NULL;
CREATE INDEX attachments_removed ON attachments (removed_at) WHERE removed_at IS NOT NULL;

-- How many attachments a message was sent with: a page of messages reads the attachments of
-- those that have some, and spends nothing on the others (most of them).
ALTER TABLE messages ADD COLUMN attachment_count SMALLINT NOT NULL DEFAULT 0;
