-- A send batch as the server runs it (src/db/queries/batch_statements.rs): four messages from
-- four members into one of chats 1-10, each with a new Idempotency-Key. With `-M prepared` the
-- arrays travel as parameters, as they do from the server, so PGOPTIONS="-c
-- plan_cache_mode=..." compares planning each run (force_custom_plan) with the generic plan.
-- Needs a database after a `parley-load send --chats 10` run (chats 1-10, users 2-5 members).
\set chat random(1, 10)
SELECT '{2,3,4,5}' AS users, '{' || string_agg(md5(random()::text), ',') || '}' AS keys,
       '{' || :chat || '}' AS chats FROM generate_series(1, 4) \gset
BEGIN;
SELECT id FROM chats WHERE id = ANY(:chats::int8[]) ORDER BY id FOR NO KEY UPDATE;
SELECT k.user_id, k.key, k.fingerprint, k.status, k.body, k.created_at, k.message_id
  FROM idempotency_keys k JOIN unnest(:users::int8[], :keys::text[]) AS want(user_id, key)
    ON k.user_id = want.user_id AND k.key = want.key;
SELECT chat_id, user_id FROM chat_members
  WHERE chat_id = ANY(:chats::int8[]) AND user_id = ANY(:users::int8[]);
WITH want AS (SELECT * FROM unnest(:chats::int8[], '{4}'::int8[]) AS w(id, n)),
r AS (UPDATE chats SET last_seq = chats.last_seq + want.n, last_activity_at = 0,
                       message_count = chats.message_count + want.n
      FROM want WHERE chats.id = want.id RETURNING chats.id, chats.last_seq - want.n AS base),
m AS (INSERT INTO messages (chat_id, seq, author_id, kind, content, reply_to_id, client_id,
                            created_at, deleted, search_terms)
      SELECT s.chat_id, r.base + s.pos, s.author_id, 'text', s.content, s.reply_to_id,
             s.client_id, 0, false, s.search_terms
      FROM unnest(('{' || :chat || ',' || :chat || ',' || :chat || ',' || :chat || '}')::int8[],
                  '{1,2,3,4}'::int8[], :users::int8[], '{a,b,c,d}'::text[],
                  '{NULL,NULL,NULL,NULL}'::int8[], '{NULL,NULL,NULL,NULL}'::text[],
                  '{a,b,c,d}'::text[])
           AS s(chat_id, pos, author_id, content, reply_to_id, client_id, search_terms)
      JOIN r ON r.id = s.chat_id
      RETURNING id, chat_id, seq, author_id),
e AS (INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at)
      SELECT chat_id, seq, 'message.created', id, 0 FROM m),
a AS (INSERT INTO chat_authors (chat_id, user_id, message_count)
      SELECT chat_id, author_id, count(*) FROM m GROUP BY chat_id, author_id
      ON CONFLICT (chat_id, user_id)
      DO UPDATE SET message_count = chat_authors.message_count + EXCLUDED.message_count)
SELECT count(*) FROM m;
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at, message_id)
SELECT * FROM unnest(:users::int8[], :keys::text[], '{f,f,f,f}'::text[], '{200,200,200,200}'::int4[],
                     '{b,b,b,b}'::text[], '{0,0,0,0}'::int8[], '{NULL,NULL,NULL,NULL}'::int8[])
ON CONFLICT (user_id, key) DO NOTHING RETURNING user_id, key;
COMMIT;
