-- Mentions: the members a message addresses, as the message shows them (`mention_ids`, a JSON
-- array, ascending) and as rows per mentioned member, for their counts and their mentions page.
ALTER TABLE messages ADD COLUMN mention_ids TEXT NOT NULL DEFAULT '[]';
CREATE TABLE message_mentions (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id),
    chat_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
-- A member's unread mentions in a chat: the seqs past their read marker.
CREATE INDEX message_mentions_unread ON message_mentions (user_id, chat_id, seq);
CREATE INDEX message_mentions_message ON message_mentions (message_id);
