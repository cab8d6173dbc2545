-- Counters that make a chat's unread count for a member a sum of three numbers, whatever the
-- chat holds (src/db/queries/unread.rs):
--   unread = chats.message_count - chat_authors.message_count (own) - chat_members.read_count
-- Each is kept by the writes that change it, under the chat's lock.

-- Messages of the chat that are not deleted.
ALTER TABLE chats ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
-- Messages of others that are not deleted, up to the member's last_read_seq.
ALTER TABLE chat_members ADD COLUMN read_count BIGINT NOT NULL DEFAULT 0;
-- Messages of each author in each chat that are not deleted. Kept apart from chat_members
-- because it outlives a membership: a member who leaves and comes back finds their messages.
CREATE TABLE chat_authors (
    chat_id       BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_count BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

UPDATE chats SET message_count =
    (SELECT count(*) FROM messages m WHERE m.chat_id = chats.id AND NOT m.deleted);

INSERT INTO chat_authors (chat_id, user_id, message_count)
SELECT chat_id, author_id, count(*) FROM messages WHERE NOT deleted GROUP BY chat_id, author_id;

UPDATE chat_members SET read_count =
    (SELECT count(*) FROM messages m
     WHERE m.chat_id = chat_members.chat_id AND m.seq <= chat_members.last_read_seq
       AND NOT m.deleted AND m.author_id <> chat_members.user_id);
