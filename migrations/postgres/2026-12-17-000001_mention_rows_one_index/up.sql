-- A mention row is written to one B-tree instead of two: the primary key becomes what the
-- counts and the push delivery read by, (member, chat, seq), and carries the message's id for
-- the mentions page. The index by (member, message) goes.
--
-- Each index entry is a descent and a WAL record per mentioned member, in the send's one
-- statement. In a batch of about 44 sends naming three members each, the rows added 0.6–0.9 ms
-- to that statement's execution with two indexes, 0.3–0.65 ms with one, and sends that mention
-- went from 14 % to 5 % fewer than the same texts without `@` (docs/benchmarks.md, "Mention
-- rows in one index").
--
-- The mentions page (newest first, by message id, across the member's chats) reads each chat's
-- newest rows by seq and merges them by id. That is the same order because within a chat a
-- message's id rises with its seq: every message is stored under its chat's row lock, and the
-- send's statement takes the ids in seq order (`db::queries::batch_statements`, `ORDER BY` in
-- its `m`).
ALTER TABLE message_mentions DROP CONSTRAINT message_mentions_pkey;
DROP INDEX message_mentions_unread;
ALTER TABLE message_mentions ADD PRIMARY KEY (user_id, chat_id, seq) INCLUDE (message_id);
