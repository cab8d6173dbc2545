-- The attachments statements of issue 27 on the large database (docs/large-db/sitting.sh seed):
--   psql postgres://root@127.0.0.1:5432/parley_large -f docs/large-db/attachment-plans.sql
\pset pager off
SET plan_cache_mode = force_custom_plan;
\echo == history page of chat 1 (newest)
EXPLAIN (ANALYZE, BUFFERS) SELECT m.id, m.chat_id, m.seq, m.author_id, m.kind, m.content, m.reply_to_id, m.client_id, m.created_at, m.edited_at, m.deleted, m.attachment_count, COALESCE((SELECT json_agg(json_build_array(r.user_id, r.emoji, r.created_at) ORDER BY r.created_at, r.user_id, r.emoji) FROM reactions r WHERE r.message_id = m.id)::text, '[]') AS reactions FROM messages m WHERE m.chat_id = 1 AND EXISTS (SELECT 1 FROM chat_members c WHERE c.chat_id = 1 AND c.user_id = 1) AND m.seq > -9223372036854775808 AND m.seq < 9223372036854775807 ORDER BY m.seq DESC LIMIT 51;
\echo == attachments of the page (of_messages)
SELECT '{' || string_agg(id::text, ',') || '}' AS ids FROM (SELECT id FROM messages WHERE chat_id = 1 AND attachment_count > 0 ORDER BY seq DESC LIMIT 5) x \gset
EXPLAIN (ANALYZE, BUFFERS) SELECT a.* FROM attachments a WHERE a.message_id = ANY (:'ids'::int8[]) AND a.removed_at IS NULL ORDER BY a.message_id, a.position;
\echo == readable: the attachment, then the membership of the reader through its message
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM attachments WHERE id = 777777 AND removed_at IS NULL;
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM messages INNER JOIN chat_members ON chat_members.chat_id = messages.chat_id WHERE messages.id = (SELECT message_id FROM attachments WHERE id = 777777) AND messages.deleted = false AND chat_members.user_id = 5;
\echo == the check of a send: its attachments, locked
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM attachments WHERE id = ANY (ARRAY(SELECT id FROM attachments WHERE message_id IS NULL ORDER BY id DESC LIMIT 3)) ORDER BY id FOR UPDATE;
\echo == the link of a send
EXPLAIN (ANALYZE, BUFFERS) WITH l AS (UPDATE attachments SET message_id = l.message_id, position = l.position FROM unnest(ARRAY(SELECT id FROM attachments WHERE message_id IS NULL ORDER BY id DESC LIMIT 3), ARRAY[5000000::int8,5000000,5000000], ARRAY[0,1,2]) AS l(id, message_id, position) WHERE attachments.id = l.id AND attachments.message_id IS NULL RETURNING attachments.message_id), c AS (UPDATE messages SET attachment_count = n.count FROM (SELECT message_id, count(*) FROM l GROUP BY message_id) AS n(message_id, count) WHERE messages.id = n.message_id) SELECT count(*) AS linked FROM l;
ROLLBACK;
\echo == sweeper: unsent past the cutoff (none: all are younger than a day)
EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM attachments WHERE message_id IS NULL AND removed_at IS NULL AND created_at < (extract(epoch FROM now()) * 1000)::bigint - 86400000 ORDER BY created_at LIMIT 500;
\echo == sweeper: removed ones
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM attachments WHERE removed_at IS NOT NULL ORDER BY removed_at LIMIT 500;
\echo == sweeper: which of 500 listed keys rows know
EXPLAIN (ANALYZE, BUFFERS) SELECT storage_key FROM attachments WHERE storage_key = ANY (ARRAY(SELECT 'attachments/unsent-' || i FROM generate_series(1, 500) i));
\echo == sweeper: bytes stored
EXPLAIN (ANALYZE, BUFFERS) SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total FROM attachments;
