-- The statements of blocks and reports (issue 31) on a grown database, measured 2026-12-07 on
-- PostgreSQL 15.20 (2 CPUs, shared_buffers 128MB, default planner costs: random_page_cost 4):
--   200,000 users; 100,000 chats (30,000 direct with a direct_key and 2 members, 70,000 groups
--   of 5-50: 1,989,984 members); 3,049,998 messages (chat 1: 500,000, the others 1-50 each, ids
--   in time order across chats, chats.last_seq and message_count kept); 105,099 blocks (users
--   2, 5, 8, 11 and 14 block 1,000 people each, every third user 1-3, and the first member of
--   every 10th of direct chats 2-1,000 the other); 200,624 reports (~317-byte snapshots;
--   12,796 open: those of the last 7 days and 1 in 100 older ones, the rest resolved; chat 1's
--   six members report 3,473-6,946 each, reporters 100-104 2,000 each with 100 in the last
--   hour, everyone else a few).
-- The file loads the data (2 min 20 s) into a database the migrations have just made, then runs
-- every plan; the comment under each statement is what that run measured (execution time, with
-- the range over five runs in brackets when it varied).
--   psql postgres://root@127.0.0.1:5432/postgres -c 'CREATE DATABASE parley_plans31'
--   for d in $(ls migrations/postgres | sort); do
--     psql postgres://root@127.0.0.1:5432/parley_plans31 -f migrations/postgres/$d/up.sql; done
--   psql postgres://root@127.0.0.1:5432/parley_plans31 -f docs/large-db/moderation-plans.sql
-- The statements are written with their values, as the server's sessions plan them
-- (plan_cache_mode = force_custom_plan); arrays are passed as one array value, as Diesel binds
-- them.
-- Found: every statement is an index scan under 1 ms but two.
--   * The block list of someone with more than ~700 blocks (MAX_BLOCKS is 1,000) joins by a
--     hash over a sequential scan of users: 45 ms [39-54] with 200,000 users, growing with them.
--     No index fixes it (users_pkey is there; the planner prices 1,000 probes above a scan).
--     As two statements (the ids in order, then users WHERE id = ANY) it is 0.4 + 2.6 ms; with
--     random_page_cost = 1.1 the join is a nested loop, 4.3 ms [3.4-10.9].
--   * The operators' list by status walks the primary key backwards and filters: fine while
--     open reports are spread (0.06 ms; 0.4 ms [0.4-0.9] below id 100000), 3.3 ms [1.6-3.8] for
--     the resolved ones (past the 5,000 newest open), and 44 ms [44-86] for the page past the
--     last open report when open reports are the newest ones (187,828 rows read, none kept).
--     message_reports_status (status, id) is not chosen at these proportions (it was in a
--     separate test with 2.5 % open). Partial indexes (id) WHERE status = 'open' and (id)
--     WHERE status = 'resolved' make each page a walk of 50 entries: 0.03-0.21 ms.
-- Taken up in issue 31 after this run: the migration has the two partial indexes instead of
-- message_reports_status; the block list is two statements; the send batch's check for a
-- bot's owner is a UNION ALL of two index probes rather than a join on `a OR b`, which was
-- measured at 1.3 ms against 0.2 ms for ten pairs with a peer who blocks 1,000 people.
--   * Minor: refuse_if_blocked_by with 999 blockers is 999 primary key probes, 0.8 ms [0.6-1.4]
--     (plus 0.5-1 ms planning the array); an index (blocked_id, blocker_id) makes it 0.04 ms, for
--     one more index written per block.

-- The data.
\set ON_ERROR_STOP on
\timing on
-- "Now" of the data set: 2026-12-07 12:00 UTC, in milliseconds.
\set now 1796644800000

-- Rebuilt at the end: filling a GIN index row by row is the slowest part of a bulk load.
DROP INDEX messages_search;

INSERT INTO users (username, display_name, password_hash, created_at)
SELECT 'user' || i, 'User ' || i, '!', :now - 200 * 86400000::bigint
FROM generate_series(1, 200000) AS i;

-- Chat c is direct when c % 10 is 2, 5 or 8 (30 %), its two members users a(c) and b(c) below;
-- else a group of 5 + c % 46 members (5-50).
CREATE FUNCTION pg_temp.is_direct(c bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT c % 10 IN (2, 5, 8) $$;
CREATE FUNCTION pg_temp.size(c bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN c % 10 IN (2, 5, 8) THEN 2 ELSE 5 + c % 46 END $$;
-- Member k (taken modulo the chat's size) of chat c. 7919 is prime to 200,000, so no two
-- direct chats share a pair.
CREATE FUNCTION pg_temp.member(c bigint, k bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c % 10 IN (2, 5, 8) THEN (c * 7919 + (k % 2) * 100003) % 200000 + 1
              ELSE (c * 37 + (k % (5 + c % 46)) * 1009) % 200000 + 1 END
$$;
-- Messages in chat c: chat 1 holds 500,000, the others 1-50.
CREATE FUNCTION pg_temp.msgs(c bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN c = 1 THEN 500000 ELSE 1 + c % 50 END $$;

INSERT INTO chats (id, kind, title, direct_key, created_at, last_seq, last_activity_at)
SELECT c, CASE WHEN pg_temp.is_direct(c) THEN 'direct' ELSE 'group' END,
       CASE WHEN pg_temp.is_direct(c) THEN NULL ELSE 'Chat ' || c END,
       CASE WHEN pg_temp.is_direct(c)
            THEN least(pg_temp.member(c, 0), pg_temp.member(c, 1)) || ':'
                 || greatest(pg_temp.member(c, 0), pg_temp.member(c, 1)) END,
       :now - 181 * 86400000::bigint, 0, 0
FROM generate_series(1, 100000) AS c;
SELECT setval('chats_id_seq', 100000);

INSERT INTO chat_members (chat_id, user_id, role, joined_at, shows_presence)
SELECT c, pg_temp.member(c, k), CASE WHEN k = 0 THEN 'owner' ELSE 'member' END,
       :now - 181 * 86400000::bigint, true
FROM generate_series(1, 100000) AS c, LATERAL generate_series(0, pg_temp.size(c) - 1) AS k;

-- Seq s of chat c: written by member s, spread over the last 180 days, the chats' messages
-- interleaved in time (ids in the order they were sent).
INSERT INTO messages (chat_id, seq, author_id, kind, content, search_terms, created_at)
SELECT c, s, pg_temp.member(c, s), 'text', t, t,
       :now - 180 * 86400000::bigint + s * (180 * 86400000::bigint / (pg_temp.msgs(c) + 1)) + c % 1000
FROM generate_series(1, 100000) AS c, LATERAL generate_series(1, pg_temp.msgs(c)) AS s,
     LATERAL (SELECT (ARRAY['alpha','bravo','charlie','delta','echo','foxtrot','golf','hotel',
                            'india','juliet'])[s % 10 + 1] || ' message ' || s || ' in chat ' || c
                     AS t) AS w
ORDER BY 7;

UPDATE chats SET last_seq = m.last_seq, message_count = m.n, last_activity_at = m.at
FROM (SELECT chat_id, max(seq) AS last_seq, count(*) AS n, max(created_at) AS at
      FROM messages GROUP BY chat_id) AS m
WHERE chats.id = m.chat_id;

-- Blocks: users 2, 5, 8, 11 and 14 block 1,000 people each; every third user blocks 0-3.
INSERT INTO user_blocks (blocker_id, blocked_id, created_at)
SELECT h, (h * 31 + j * 197) % 200000 + 1, :now - (1001 - j) * 3600000::bigint
FROM unnest(ARRAY[2, 5, 8, 11, 14]) AS h, generate_series(1, 1000) AS j
WHERE (h * 31 + j * 197) % 200000 + 1 <> h;
INSERT INTO user_blocks (blocker_id, blocked_id, created_at)
SELECT i, b, :now - (i + j) * 60000::bigint
FROM generate_series(3, 200000, 3) AS i, LATERAL generate_series(1, (i / 3) % 4) AS j,
     LATERAL (SELECT (i * 131 + j * 7717) % 200000 + 1 AS b) AS x
WHERE b <> i;
-- Each direct chat of chats 2-1,000 whose id ends in 2: its first member blocks the other.
INSERT INTO user_blocks (blocker_id, blocked_id, created_at)
SELECT pg_temp.member(c, 0), pg_temp.member(c, 1), :now - 86400000
FROM generate_series(2, 1000, 10) AS c ON CONFLICT DO NOTHING;

-- Reports: of every 16th message (~190,000), by another member of its chat, within a day of
-- it; open when less than 7 days old, and one in 100 older ones still open; the rest resolved.
-- Users 100-104 report much: 2,000 each, 100 of them in the last hour (as with a higher
-- PARLEY_REPORTS_PER_HOUR), all of those open.
CREATE TEMP TABLE r AS
SELECT m.id AS message_id, m.chat_id, pg_temp.member(m.chat_id, m.seq + 1) AS reporter_id,
       m.author_id, m.seq, least(m.created_at + m.id % 86400000, :now - 3600000) AS created_at
FROM messages m WHERE m.id % 16 = 0
UNION ALL
SELECT message_id, chat_id, reporter_id, author_id, seq,
       CASE WHEN rn <= 100 THEN :now - rn * 30000 ELSE :now - 3600000 - rn * 7000000 END
FROM (SELECT m.id AS message_id, m.chat_id, 100 + (m.id / 16) % 5 AS reporter_id, m.author_id,
             m.seq, row_number() OVER (PARTITION BY (m.id / 16) % 5 ORDER BY m.id DESC) AS rn
      FROM messages m WHERE m.id % 16 = 8 AND m.id % 19 = 0) AS h
WHERE rn <= 2000;

INSERT INTO message_reports (message_id, chat_id, reporter_id, author_id, reason, comment,
                             snapshot, status, created_at, resolution, resolved_at)
SELECT message_id, chat_id, reporter_id, author_id,
       (ARRAY['spam','harassment','hate','other'])[message_id % 4 + 1],
       CASE WHEN message_id % 3 = 0 THEN 'see the message' END,
       '{"id":' || message_id || ',"chat_id":' || chat_id || ',"seq":' || seq
         || ',"author_id":' || author_id || ',"type":"text","content":"a reported message of '
         || 'about sixty characters, as people write","reply_to_id":null,"client_id":null,'
         || '"created_at":"2026-12-06T12:00:00Z","edited_at":null,"deleted":false,'
         || '"reactions":[],"mentions":[],"attachments":[],"thread_root_id":null}',
       o.status, created_at,
       CASE WHEN o.status = 'resolved'
            THEN (ARRAY['dismiss','delete_message','deactivate_author'])[message_id % 3 + 1] END,
       CASE WHEN o.status = 'resolved' THEN created_at + 3600000 + message_id % 86400000 END
FROM r, LATERAL (SELECT CASE WHEN created_at > :now - 7 * 86400000::bigint OR message_id % 100 = 0
                             THEN 'open' ELSE 'resolved' END AS status) AS o
ORDER BY created_at;

CREATE INDEX messages_search ON messages USING gin (search_vector) WITH (fastupdate = off);
-- The reports' indexes as the migration was first written, which the plans below measured
-- ("before"); the partial indexes the migration has now are made in the section that measured
-- them.
DROP INDEX message_reports_open;
DROP INDEX message_reports_resolved;
CREATE INDEX message_reports_status ON message_reports (status, id);
VACUUM (ANALYZE);

-- The plans.
\timing off
\pset pager off
\set now 1796644800000
SET plan_cache_mode = force_custom_plan;

\echo '--- a. the send batch block check, one direct pair (15839 blocks 115842)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT blocker_id, blocked_id FROM user_blocks
WHERE blocker_id = ANY ('{15839}'::int8[]) AND blocked_id = ANY ('{115842}'::int8[]);
-- Index Only Scan using user_blocks_pkey, Index Cond on both columns (one probe): 1 row,
-- 0.09 ms [0.04-0.09], 4 buffers.
\echo '--- a. ten direct pairs in one batch, one peer (user 2) blocking 1,000 people'
EXPLAIN (ANALYZE, BUFFERS)
SELECT blocker_id, blocked_id FROM user_blocks
WHERE blocker_id = ANY ('{15839,39596,63353,95029,18789,42546,74222,97979,21733,2}'::int8[])
  AND blocked_id = ANY ('{115842,139599,163356,195032,118786,142543,174219,197976,121736,99999}'::int8[]);
-- Index Only Scan using user_blocks_pkey: Index Cond blocker_id = ANY (10 probes), blocked_id
-- as a Filter (PostgreSQL 15 keeps one array in the condition), so peer 2's 1,000 rows are
-- read and 1,005 removed: 2 rows, 0.31 ms [0.15-0.31], 37 buffers. A blocker's rows are at
-- most MAX_BLOCKS (1,000) per peer, so 10 heavy blockers would read ~10,000 index entries.

\echo '--- b. refuse_if_blocked_by, one blocker (direct chat 22: 174219 blocks 74222)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocked_id = 74222 AND blocker_id = ANY ('{174219}'::int8[]));
-- Result over InitPlan: Index Only Scan using user_blocks_pkey, both columns in the condition:
-- 0.07 ms [0.04-0.07], 7 buffers.
\echo '--- b. 999 blockers: a group made with users 2-1000 (2, 5, 8 block 1,000 each), none blocks user 1'
SELECT '{' || string_agg(i::text, ',') || '}' AS members FROM generate_series(2, 1000) AS i \gset
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocked_id = 1 AND blocker_id = ANY (:'members'::int8[]));
-- Result over InitPlan: Index Only Scan using user_blocks_pkey, Index Cond blocker_id = ANY
-- (999 values) AND blocked_id = 1: 999 descents of 3 pages, no row, 0.8 ms [0.6-1.4] (1.40 in
-- this run), 2,997 buffers; planning 0.5-1.0 ms (the array).
\echo '--- b. the same with an index by the blocked person (not in the migrations)'
BEGIN;
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id, blocker_id);
ANALYZE user_blocks;
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocked_id = 1 AND blocker_id = ANY (:'members'::int8[]));
ROLLBACK;
-- Index Only Scan using user_blocks_blocked, Index Cond blocked_id = 1, Filter blocker_id = ANY:
-- 0.04 ms [0.04-0.07], 3 buffers. An index for a rare statement (making a group, adding
-- members) that every block would write; not needed while the probes stay near 1 ms.

\echo '--- c. the block count before a block, of a user with 1,000 blocks and of one with 1'
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM user_blocks WHERE blocker_id = 2;
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM user_blocks WHERE blocker_id = 3;
-- Aggregate over Index Only Scan using user_blocks_pkey: 1,000 entries, 0.16 ms [0.15-0.24],
-- 7 buffers; 1 entry, 0.01 ms, 4 buffers.
\echo '--- c. the list (GET /users/me/blocks) of the user with 1,000 blocks, then of one with 3'
EXPLAIN (ANALYZE, BUFFERS)
SELECT u.* FROM user_blocks b JOIN users u ON u.id = b.blocked_id
WHERE b.blocker_id = 2 ORDER BY b.created_at, u.id;
EXPLAIN (ANALYZE, BUFFERS)
SELECT u.* FROM user_blocks b JOIN users u ON u.id = b.blocked_id
WHERE b.blocker_id = 9 ORDER BY b.created_at, u.id;
-- 1,000 blocks: Sort over Hash Join, the hash of a Bitmap Heap Scan of user_blocks (Bitmap Index
-- Scan on user_blocks_pkey, 13 buffers) probed by a Seq Scan on users (200,000 rows,
-- 2,168 buffers, 30 ms of it): 45 ms [39-54]. The seq scan plan is chosen above ~700 blocks
-- (at 701 it was still a nested loop, 5.8 ms; measured by trimming user 5's blocks), and its
-- cost grows with the users table, whatever the list's length.
-- 3 blocks: Sort over Nested Loop, Index Scan on user_blocks_pkey then users_pkey per row:
-- 0.08 ms, 16 buffers.
\echo '--- c. the 1,000-block list planned for pages that are in memory (random_page_cost = 1.1)'
BEGIN;
SET LOCAL random_page_cost = 1.1;
EXPLAIN (ANALYZE, BUFFERS)
SELECT u.* FROM user_blocks b JOIN users u ON u.id = b.blocked_id
WHERE b.blocker_id = 2 ORDER BY b.created_at, u.id;
ROLLBACK;
-- Sort over Nested Loop: Index Scan using user_blocks_pkey, then Index Scan using users_pkey
-- 1,000 times: 4.3 ms [3.4-10.9], ~4,000 buffers (the same plan is forced with enable_hashjoin
-- and enable_mergejoin off: 7.8 ms, partly read from the OS cache).
\echo '--- c. the same list as two statements: the ids in order, then their users'
EXPLAIN (ANALYZE, BUFFERS)
SELECT blocked_id FROM user_blocks WHERE blocker_id = 2 ORDER BY created_at, blocked_id;
SELECT '{' || string_agg(blocked_id::text, ',' ORDER BY created_at, blocked_id) || '}' AS blocked
FROM user_blocks WHERE blocker_id = 2 \gset
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM users WHERE id = ANY (:'blocked'::int8[]);
-- The ids: Sort over Bitmap Heap Scan (Bitmap Index Scan on user_blocks_pkey): 0.39 ms [0.33-0.52],
-- 13 buffers. The users: Index Scan using users_pkey, Index Cond id = ANY (1,000 values):
-- 2.6 ms [2.6-3.8], 4,000 buffers. Together ~3 ms against 45 ms, and not growing with users.
-- (A LATERAL subquery with OFFSET 0 keeps the join in one statement as a nested loop: 4.0 ms.)

\echo '--- d. the duplicate check of a report: an open one exists, then none'
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM message_reports
               WHERE message_id = 3049880 AND reporter_id = 102 AND status = 'open');
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM message_reports
               WHERE message_id = 1499999 AND reporter_id = 38 AND status = 'open');
-- Result over InitPlan: Index Only Scan using message_reports_one_open (the partial unique
-- index, both columns in the condition): hit 0.03 ms, 4 buffers; miss 0.03 ms, 2 buffers.

\echo '--- e. the rate check: reporter 102 (2,001 reports, 100 of the last hour), then 5083 (6,946, none)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT created_at FROM message_reports WHERE reporter_id = 102 AND created_at > :now - 3600000
ORDER BY created_at DESC LIMIT 20;
EXPLAIN (ANALYZE, BUFFERS)
SELECT created_at FROM message_reports WHERE reporter_id = 5083 AND created_at > :now - 3600000
ORDER BY created_at DESC LIMIT 20;
-- Limit over Index Only Scan Backward using message_reports_reporter, both columns in the
-- condition: 20 rows of 100, 0.03 ms, 5 buffers; none of 6,946, 0.02 ms, 3 buffers.

\echo '--- f. the operators list: open ones, newest first; the page below id 100000; all; all below 100000'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'open' ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'open' AND id < 100000 ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE id < 100000 ORDER BY id DESC LIMIT 50;
-- Open, newest first: Limit over Index Scan Backward using message_reports_pkey, Filter
-- status = 'open' (message_reports_status not chosen): 0.06 ms [0.06-0.09], 11 buffers (the
-- newest reports are open).
-- Open below id 100000: the same plan, Index Cond id < 100000, 1,200 rows removed by the filter
-- (1 in 100 old reports is open): 0.41 ms [0.41-0.85], 87 buffers.
-- All statuses, and all below id 100000: Limit over Index Scan Backward using
-- message_reports_pkey: 0.03 ms, 11 and 8 buffers.
\echo '--- f. the resolved ones, newest first (past the open ones)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'resolved' ORDER BY id DESC LIMIT 50;
-- Limit over Index Scan Backward using message_reports_pkey, Filter status = 'resolved', 4,972
-- open rows removed: 3.3 ms [1.6-3.8], 741 buffers.
\echo '--- f. when the open reports are only the newest (the same rows, the newest 12,796 open): the page past them'
CREATE TABLE reports_newest_open (LIKE message_reports INCLUDING DEFAULTS);
INSERT INTO reports_newest_open
SELECT id, message_id, chat_id, reporter_id, author_id, reason, comment, snapshot,
       CASE WHEN id > 200624 - 12796 THEN 'open' ELSE 'resolved' END, created_at,
       resolution, resolved_at
FROM message_reports ORDER BY id;
ALTER TABLE reports_newest_open ADD PRIMARY KEY (id);
CREATE INDEX reports_newest_open_status ON reports_newest_open (status, id);
VACUUM ANALYZE reports_newest_open;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM reports_newest_open WHERE status = 'open' AND id < 187829 ORDER BY id DESC LIMIT 50;
-- Limit over Index Scan Backward using reports_newest_open_pkey, Filter status = 'open': all
-- 187,828 older rows read and removed, 0 rows: 44 ms [44-86], 12,239 buffers. The planner
-- expects 6 % of the rows below the cursor to be open (~11,800 rows) and so 50 within ~800.
\echo '--- f. the same with a partial index of the open ones (not in the migrations)'
CREATE INDEX reports_newest_open_open ON reports_newest_open (id) WHERE status = 'open';
ANALYZE reports_newest_open;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM reports_newest_open WHERE status = 'open' AND id < 187829 ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM reports_newest_open WHERE status = 'open' ORDER BY id DESC LIMIT 50;
DROP TABLE reports_newest_open;
-- Limit over Index Scan Backward using reports_newest_open_open (Index Cond id < 187829): 0 rows,
-- 0.03 ms, 2 buffers; the first page: 50 rows, 0.04 ms, 6 buffers.
\echo '--- f. this data set with a partial index per status (not in the migrations): open, open below 100000, resolved'
BEGIN;
CREATE INDEX message_reports_open ON message_reports (id) WHERE status = 'open';
CREATE INDEX message_reports_resolved ON message_reports (id) WHERE status = 'resolved';
ANALYZE message_reports;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'open' ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'open' AND id < 100000 ORDER BY id DESC LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM message_reports WHERE status = 'resolved' ORDER BY id DESC LIMIT 50;
ROLLBACK;
ANALYZE message_reports;
-- Open: Limit over Index Scan Backward using message_reports_open, 0.06 ms, 10 buffers (was 0.06).
-- Open below id 100000: the same, Index Cond id < 100000, nothing filtered, 0.17 ms [0.17-0.21],
-- 52 buffers (was 0.41, 87 buffers).
-- Resolved: Limit over Index Scan Backward using message_reports_resolved, 0.04 ms, 7 buffers
-- (was 3.3 ms, 741 buffers).
-- With message_reports_status dropped as well, the resolve (g) probes message_reports_open
-- (Index Cond id = 200124, Filter status = 'open'): 0.20 ms, as now.

\echo '--- g. resolving report 200124 (chat 1), then the other open reports of its message'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS)
UPDATE message_reports SET status = 'resolved', resolution = 'dismiss', resolved_at = :now
WHERE id = 200124 AND status = 'open' RETURNING *;
EXPLAIN (ANALYZE, BUFFERS)
UPDATE message_reports SET status = 'resolved', resolution = 'dismiss', resolved_at = :now
WHERE message_id = 3049984 AND status = 'open';
ROLLBACK;
-- By id: Update over Index Scan using message_reports_status (Index Cond status = 'open' AND
-- id = 200124): 0.20 ms [0.17-0.31], 29 buffers (2 dirtied; every index gets the new row
-- version: status is indexed, so the update is not HOT).
-- By message: Update over Index Scan using message_reports_one_open (Index Cond message_id,
-- Filter status): nothing left, 0.02 ms [0.02-0.12], 3 buffers.

\echo '--- h. the context of message 1499999, seq 250000 of chat 1 (500,000 messages): 3 before, 4 from it'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM messages WHERE chat_id = 1 AND seq < 250000 ORDER BY seq DESC LIMIT 3;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM messages WHERE chat_id = 1 AND seq >= 250000 ORDER BY seq ASC LIMIT 4;
-- Limit over Index Scan Backward using messages_chat_id_seq_key (chat_id = 1 AND seq < 250000):
-- 3 rows, 0.05 ms [0.04-0.07], 4 buffers. Forward (seq >= 250000): 4 rows, 0.03 ms, 4 buffers.
\echo '--- h. the same in chat 27950 (one message)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM messages WHERE chat_id = 27950 AND seq < 1 ORDER BY seq DESC LIMIT 3;
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM messages WHERE chat_id = 27950 AND seq >= 1 ORDER BY seq ASC LIMIT 4;
-- The same two index scans on messages_chat_id_seq_key: 0 and 1 row, 0.04 ms, 3-4 buffers.

\echo '--- i. a room starts: chat 1, then direct chat 64642'
EXPLAIN (ANALYZE, BUFFERS) SELECT last_seq, kind FROM chats WHERE id = 1 LIMIT 1;
EXPLAIN (ANALYZE, BUFFERS) SELECT last_seq, kind FROM chats WHERE id = 64642 LIMIT 1;
-- Limit over Index Scan using chats_pkey (Diesel's .first() adds the LIMIT): 0.03 ms, 4 buffers,
-- for the 500,000-message chat as for a direct one.
