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

UPDATE chats SET message_count = live.n
FROM (SELECT chat_id, count(*) AS n FROM messages WHERE NOT deleted GROUP BY chat_id) AS live
WHERE chats.id = live.chat_id;

INSERT INTO chat_authors (chat_id, user_id, message_count)
SELECT chat_id, author_id, count(*) FROM messages WHERE NOT deleted GROUP BY chat_id, author_id;

UPDATE chat_members SET read_count = seen.n
FROM (SELECT cm.chat_id, cm.user_id, count(*) AS n
      FROM chat_members cm
      JOIN messages m ON m.chat_id = cm.chat_id AND m.seq <= cm.last_read_seq
      WHERE NOT m.deleted AND m.author_id <> cm.user_id
      GROUP BY cm.chat_id, cm.user_id) AS seen
WHERE chat_members.chat_id = seen.chat_id AND chat_members.user_id = seen.user_id;

-- Every send updates its chat's row and its author's chat_authors row: room on each page lets
-- those updates stay on the page (HOT), so they neither touch the indexes nor grow the table.
ALTER TABLE chats SET (fillfactor = 70);
ALTER TABLE chat_authors SET (fillfactor = 70);
ALTER TABLE chat_members SET (fillfactor = 80);
