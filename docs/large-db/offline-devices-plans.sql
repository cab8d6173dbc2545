-- A send batch's devices check in a large chat, measured 2026-12-07 on PostgreSQL 15 (2 CPUs,
-- default settings): 20,000 users, 200 chats, chat 1 holding all 20,000 as members, every
-- tenth user with a device (2,000).
-- Until migration members_with_devices the check (`parley_offline_devices(users, chat_ids)`)
-- probed the devices of every member the room found offline; since, it reads the devices of
-- the chat's members flagged `has_devices` (`parley_chat_devices(chat_ids)`). Both keep a
-- generic plan for their session, made on the tables as they are at the first call.
--   psql -d postgres -c 'CREATE DATABASE parley_devices'
--   DATABASE_URL=postgres://root@127.0.0.1:5432/parley_devices parley migrate
--   psql -d parley_devices -f docs/large-db/offline-devices-plans.sql
-- What the old check measured on the same data (the commit before members_with_devices):
--   100 offline members, plan made on empty tables: 3.8 and 6.3 ms (two loads), 912 buffers,
--     every member of the chat read (a bitmap scan of its 20,000 rows);
--   the same after ANALYZE: 0.33 and 0.58 ms, 802 buffers (a probe per member);
--   19,901 offline members (a room of 20,000 with 99 sessions open): 12.5 and 20.7 ms,
--     51,763 buffers (39,823 of them the devices' index).
\set ECHO queries
-- The function's own statement's plan is printed by auto_explain (nested statements).
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_timing = off;
SET client_min_messages = log;
-- The first call plans on empty tables (as a new server's first batch with offline members).
SELECT count(*) FROM parley_chat_devices('{1}');
\timing on
INSERT INTO users (username, display_name, password_hash, created_at)
SELECT 'u' || i, 'u' || i, 'x', 0 FROM generate_series(1, 20000) i;
INSERT INTO chats (kind, title, created_at, last_activity_at)
SELECT 'group', 't' || i, 0, 0 FROM generate_series(1, 200) i;
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq)
SELECT 1 + (i % 200), i, 'member', 0, 0 FROM generate_series(1, 20000) i;
INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq)
SELECT 1, i, 'member', 0, 0 FROM generate_series(1, 20000) i ON CONFLICT DO NOTHING;
INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at)
SELECT i, 'https://push.invalid/' || i, 'k', 'a', 0 FROM generate_series(1, 20000, 10) i;
-- What the server keeps when those people subscribe (the migration's backfill).
UPDATE chat_members SET has_devices = true
WHERE user_id IN (SELECT user_id FROM push_subscriptions);
-- Chat 1's devices (the server keeps those of the members with no session open), with the
-- plan made on empty tables: the partial index of flagged members, a probe of the devices per
-- member flagged, and of the chat per member: 4.4 and 4.3 ms (two loads of this file), 10,310
-- buffers, 2,000 devices.
SELECT count(*) FROM parley_chat_devices('{1}');
ANALYZE;
-- The same after ANALYZE (the plan is made again: the devices' index read whole and hashed,
-- joined to the flagged members): 2.6 and 2.6 ms, 4,338 buffers.
SELECT count(*) FROM parley_chat_devices('{1}');
-- Chat 2: 100 members, all with a device: 0.67 and 0.67 ms, 330 buffers.
SELECT count(*) FROM parley_chat_devices('{2}');
