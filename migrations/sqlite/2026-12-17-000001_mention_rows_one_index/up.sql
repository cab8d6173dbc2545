-- The same primary key as on PostgreSQL, (member, chat, seq), in a table without rowids: the
-- rows are the key's B-tree itself. SQLite's mentions page keeps its index by (member,
-- message): it pages by id across the member's chats (PostgreSQL merges each chat's newest
-- rows instead, a `LATERAL` SQLite does not have).
CREATE TABLE message_mentions_by_chat (
    user_id    BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, chat_id, seq)
) WITHOUT ROWID;
INSERT INTO message_mentions_by_chat (user_id, message_id, chat_id, seq)
    SELECT user_id, message_id, chat_id, seq FROM message_mentions;
DROP TABLE message_mentions;
ALTER TABLE message_mentions_by_chat RENAME TO message_mentions;
CREATE INDEX message_mentions_page ON message_mentions (user_id, message_id);
