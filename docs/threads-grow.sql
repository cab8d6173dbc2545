-- Grows chat :chat to 1,000,000 messages by :author above seq :base, every tenth a thread root
-- whose next three messages are its replies (30 % replies), for the plans in docs/benchmarks.md:
--   psql -d <db> -v chat=1 -v base=0 -v author=1 -f docs/threads-grow.sql
INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted, search_terms, thread_root_id, thread_summary)
SELECT :chat, :base + i, :author, 'text', 'bulk ' || i, 1700000000000 + i, false, '',
       NULL, NULL
FROM generate_series(1, 1000000) AS g(i);
-- Link the replies to their roots (found by seq).
UPDATE messages r SET thread_root_id = root.id
FROM messages root
WHERE r.chat_id = :chat AND root.chat_id = :chat
  AND r.seq > :base AND (r.seq - :base) % 10 BETWEEN 1 AND 3
  AND root.seq = r.seq - ((r.seq - :base) % 10);
UPDATE messages SET thread_summary = '{"reply_count":3,"last_reply_at":1700000000003,"participant_ids":[' || :author || ']}'
WHERE chat_id = :chat AND seq > :base AND (seq - :base) % 10 = 0;
UPDATE chats SET last_seq = :base + 1000000, message_count = message_count + 1000000 WHERE id = :chat;
ANALYZE;
