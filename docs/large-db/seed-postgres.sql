-- A day of traffic and more, written by SQL into a database the server has just migrated and
-- where one account, `bob`, was registered through the API (every seeded account shares his
-- password hash). Run by docs/large-db/sitting.sh; see docs/benchmarks.md, "Flat at scale".
--   50,000 users; 10,000 group chats of 10 members (chat 1 has 11); bob in chats 1-2,000;
--   chat 1: 1,000,000 messages, chats 2-10,000: 401 each (5,009,599 in all), one in 997
--   deleted, every 7th of bob's chats' messages his; an event per message; a reaction on every
--   50th; 2,000,000 idempotency keys of the last 23 hours; 100,000 tokens; an attachment on
--   every 10th message (two on every 100th) and keys/2 (1,000,000) unsent uploads.
--   Read markers: in chat 1 bob has read nothing, members 1-5 everything, 6-10 half; elsewhere
--   everyone is a few messages behind.
-- The sizes are psql variables (sitting.sh sets them): big (chat 1's messages, 1000000),
-- per_chat (401) and keys (2000000); `seed hollow` (1, 1, 0) gives the same users, chats and
-- members with one message a chat, to compare with.
\set ON_ERROR_STOP on
\timing on

-- Rebuilt at the end: filling a GIN index row by row is the slowest part of a bulk load.
DROP INDEX messages_search;

INSERT INTO users (username, display_name, password_hash, created_at)
SELECT 'user' || i, 'User ' || i, (SELECT password_hash FROM users WHERE username = 'bob'),
       1764000000000
FROM generate_series(2, 50000) AS i;

INSERT INTO chats (id, kind, title, created_at, last_seq, last_activity_at)
SELECT c, 'group', 'Chat ' || c, 1764000000000, 0, 0 FROM generate_series(1, 10000) AS c;
SELECT setval('chats_id_seq', 10000);

-- Member k of chat c is user ((c * 37 + k * 1009) % 49999) + 2: ten distinct users, none bob.
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq, shows_presence)
SELECT c, (c * 37 + k * 1009) % 49999 + 2, CASE WHEN k = 0 THEN 'owner' ELSE 'member' END,
       1764000000000, 0, true
FROM generate_series(1, 10000) AS c, generate_series(0, 9) AS k;
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq, shows_presence)
SELECT c, (SELECT id FROM users WHERE username = 'bob'), 'member', 1764000000000, 0, true
FROM generate_series(1, 2000) AS c;

CREATE TEMP TABLE words (n int, w text);
INSERT INTO words
SELECT ordinality - 1, w FROM unnest(ARRAY['alpha','bravo','charlie','delta','echo','foxtrot',
  'golf','hotel','india','juliet','kilo','lima','mike','november','oscar','papa','quebec',
  'romeo','sierra','tango']) WITH ORDINALITY AS t(w, ordinality);

-- The author of seq s in chat c: bob for every 7th in his chats, else member s % 10.
CREATE FUNCTION pg_temp.author(c bigint, s bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c <= 2000 AND s % 7 = 0 THEN 1 ELSE (c * 37 + (s % 10) * 1009) % 49999 + 2 END
$$;

INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted, search_terms)
SELECT c, s, pg_temp.author(c, s), 'text',
       CASE WHEN s % 997 = 0 THEN '' ELSE a.w || ' ' || b.w || 'x report ' || s END,
       1764000000000 + s * 1000 + c, s % 997 = 0,
       CASE WHEN s % 997 = 0 THEN '' ELSE a.w || ' ' || b.w || 'x report ' || s END
FROM (SELECT 1 AS c, s FROM generate_series(1, :big) AS s
      UNION ALL
      SELECT c, s FROM generate_series(2, 10000) AS c, generate_series(1, :per_chat) AS s) AS g
JOIN words a ON a.n = g.s % 20
JOIN words b ON b.n = (g.s * 7 + g.c) % 20;

INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at)
SELECT chat_id, seq, 'message.created', id, created_at FROM messages;

INSERT INTO reactions (message_id, user_id, emoji, created_at)
SELECT id, (chat_id * 37 + ((seq + 1) % 10) * 1009) % 49999 + 2, '👍', created_at + 5000
FROM messages WHERE seq % 50 = 0 AND NOT deleted;

INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at, message_id)
SELECT i % 49999 + 2, md5(i::text), md5('f' || i), 200,
       '{"id":' || i || ',"chat_id":' || (i % 10000 + 1) || ',"seq":' || i
         || ',"author_id":2,"type":"text","content":"a message of about sixty characters, as the load tool sends","reply_to_id":null,"client_id":null,"created_at":"2026-12-06T12:00:00Z","edited_at":null,"deleted":false,"reactions":[]}',
       (extract(epoch FROM now()) * 1000)::bigint - (i % 82800) * 1000, i
FROM generate_series(1, :keys) AS i;

INSERT INTO auth_tokens (user_id, token_hash, created_at, expires_at, revoked_at)
SELECT i % 49999 + 2, md5('token' || i), 1764000000000, 4102444800000,
       CASE WHEN i % 5 = 0 THEN 1764000001000 END
FROM generate_series(1, 100000) AS i;

-- What the sends would have kept: each chat's last seq, live count and activity time, each
-- author's live count, each member's marker and read count.
UPDATE chats SET last_seq = m.last_seq, message_count = m.live, last_activity_at = m.at
FROM (SELECT chat_id, max(seq) AS last_seq, count(*) FILTER (WHERE NOT deleted) AS live,
             max(created_at) AS at
      FROM messages GROUP BY chat_id) AS m
WHERE chats.id = m.chat_id;

INSERT INTO chat_authors (chat_id, user_id, message_count)
SELECT chat_id, author_id, count(*) FROM messages WHERE NOT deleted GROUP BY chat_id, author_id;

UPDATE chat_members SET last_read_seq = CASE
    WHEN chat_id = 1 AND user_id = (SELECT id FROM users WHERE username = 'bob') THEN 0
    WHEN chat_id = 1 AND user_id % 2 = 0 THEN c.last_seq
    WHEN chat_id = 1 THEN c.last_seq / 2
    ELSE greatest(c.last_seq - (chat_id + user_id) % 5, 0) END
FROM chats c WHERE c.id = chat_members.chat_id;

UPDATE chat_members SET read_count = seen.n
FROM (SELECT cm.chat_id, cm.user_id, count(*) AS n
      FROM chat_members cm
      JOIN messages m ON m.chat_id = cm.chat_id AND m.seq <= cm.last_read_seq
      WHERE NOT m.deleted AND m.author_id <> cm.user_id
      GROUP BY cm.chat_id, cm.user_id) AS seen
WHERE chat_members.chat_id = seen.chat_id AND chat_members.user_id = seen.user_id;

-- Files: one on every 10th message (two on every 100th), and a million uploads of the last
-- 23 hours that no message took (yet).
INSERT INTO attachments (uploader_id, filename, content_type, size, sha256, width, height,
                         created_at, storage_key, message_id, position)
SELECT m.author_id, 'photo-' || m.id || '.png', 'image/png', 250000,
       md5(m.id::text) || md5('x' || m.id), 1024, 768, m.created_at - 1000,
       'attachments/seed-' || m.id || '-' || p, m.id, p
FROM messages m, generate_series(0, 1) AS p
WHERE m.seq % 10 = 0 AND NOT m.deleted AND (p = 0 OR m.seq % 100 = 0);

INSERT INTO attachments (uploader_id, filename, content_type, size, sha256, created_at,
                         storage_key)
SELECT i % 49999 + 2, 'unsent-' || i || '.txt', 'text/plain', 1000,
       md5(i::text) || md5('u' || i),
       (extract(epoch FROM now()) * 1000)::bigint - (i % 82800) * 1000, 'attachments/unsent-' || i
FROM generate_series(1, :keys / 2) AS i;

UPDATE messages SET attachment_count = a.n
FROM (SELECT message_id, count(*) AS n FROM attachments WHERE message_id IS NOT NULL
      GROUP BY message_id) AS a
WHERE messages.id = a.message_id;

CREATE INDEX messages_search ON messages USING gin (search_vector) WITH (fastupdate = off);
VACUUM (ANALYZE);
SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC;
