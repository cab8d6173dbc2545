-- docs/large-db/seed-postgres.sql for SQLite: the same rows, written by the sqlite3 shell into
-- a file the server has just migrated, where `bob` was registered through the API.
.bail on
.timer on
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;

BEGIN;
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO users (username, display_name, password_hash, created_at)
SELECT 'user' || i, 'User ' || i, (SELECT password_hash FROM users WHERE username = 'bob'),
       1764000000000 FROM n;

WITH RECURSIVE n(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM n WHERE c < 10000)
INSERT INTO chats (id, kind, title, created_at, last_seq, last_activity_at)
SELECT c, 'group', 'Chat ' || c, 1764000000000, 0, 0 FROM n;

WITH RECURSIVE n(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM n WHERE c < 10000),
     k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < 9)
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq, shows_presence)
SELECT c, (c * 37 + k * 1009) % 49999 + 2, CASE WHEN k = 0 THEN 'owner' ELSE 'member' END,
       1764000000000, 0, 1 FROM n, k;
WITH RECURSIVE n(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM n WHERE c < 2000)
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq, shows_presence)
SELECT c, 1, 'member', 1764000000000, 0, 1 FROM n;

CREATE TEMP TABLE words (n INTEGER PRIMARY KEY, w TEXT);
INSERT INTO words VALUES (0,'alpha'),(1,'bravo'),(2,'charlie'),(3,'delta'),(4,'echo'),
  (5,'foxtrot'),(6,'golf'),(7,'hotel'),(8,'india'),(9,'juliet'),(10,'kilo'),(11,'lima'),
  (12,'mike'),(13,'november'),(14,'oscar'),(15,'papa'),(16,'quebec'),(17,'romeo'),
  (18,'sierra'),(19,'tango');

WITH RECURSIVE s(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM s WHERE s < 1000000),
     c(c) AS (SELECT 2 UNION ALL SELECT c + 1 FROM c WHERE c < 10000),
     t(t) AS (SELECT 1 UNION ALL SELECT t + 1 FROM t WHERE t < 401),
     g(c, s) AS (SELECT 1, s FROM s UNION ALL SELECT c, t FROM c, t),
     m(c, s, text) AS (
       SELECT g.c, g.s, CASE WHEN g.s % 997 = 0 THEN '' ELSE a.w || ' ' || b.w || 'x report ' || g.s END
       FROM g JOIN words a ON a.n = g.s % 20 JOIN words b ON b.n = (g.s * 7 + g.c) % 20)
INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted, search_terms)
SELECT c, s, CASE WHEN c <= 2000 AND s % 7 = 0 THEN 1 ELSE (c * 37 + (s % 10) * 1009) % 49999 + 2 END,
       'text', text, 1764000000000 + s * 1000 + c, s % 997 = 0, text
FROM m;

INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at)
SELECT chat_id, seq, 'message.created', id, created_at FROM messages;

INSERT INTO reactions (message_id, user_id, emoji, created_at)
SELECT id, (chat_id * 37 + ((seq + 1) % 10) * 1009) % 49999 + 2, '👍', created_at + 5000
FROM messages WHERE seq % 50 = 0 AND NOT deleted;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at, message_id)
SELECT i % 49999 + 2, 'seed-key-' || i, 'f' || i, 200,
       '{"id":' || i || ',"chat_id":' || (i % 10000 + 1) || ',"seq":' || i
         || ',"author_id":2,"type":"text","content":"a message of about sixty characters, as the load tool sends","reply_to_id":null,"client_id":null,"created_at":"2026-12-06T12:00:00Z","edited_at":null,"deleted":false,"reactions":[]}',
       unixepoch('now') * 1000 - (i % 82800) * 1000, i
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO auth_tokens (user_id, token_hash, created_at, expires_at, revoked_at)
SELECT i % 49999 + 2, 'seed-token-' || i, 1764000000000, 4102444800000,
       CASE WHEN i % 5 = 0 THEN 1764000001000 END FROM n;

UPDATE chats SET (last_seq, message_count, last_activity_at) = (
  SELECT max(seq), sum(NOT deleted), max(created_at) FROM messages m WHERE m.chat_id = chats.id);

INSERT INTO chat_authors (chat_id, user_id, message_count)
SELECT chat_id, author_id, count(*) FROM messages WHERE NOT deleted GROUP BY chat_id, author_id;

UPDATE chat_members SET last_read_seq = (
  SELECT CASE
    WHEN chat_members.chat_id = 1 AND chat_members.user_id = 1 THEN 0
    WHEN chat_members.chat_id = 1 AND chat_members.user_id % 2 = 0 THEN c.last_seq
    WHEN chat_members.chat_id = 1 THEN c.last_seq / 2
    ELSE max(c.last_seq - (chat_members.chat_id + chat_members.user_id) % 5, 0) END
  FROM chats c WHERE c.id = chat_members.chat_id);

UPDATE chat_members SET read_count = (
  SELECT count(*) FROM messages m
  WHERE m.chat_id = chat_members.chat_id AND m.seq <= chat_members.last_read_seq
    AND NOT m.deleted AND m.author_id <> chat_members.user_id);
COMMIT;
ANALYZE;
SELECT 'messages', count(*) FROM messages;
