-- The devices check of a send batch (`parley_offline_devices`, migration offline_devices) in a
-- large chat, measured 2026-12-07 on PostgreSQL 15 (2 CPUs, default settings): 20,000 users,
-- 200 chats, chat 1 holding all 20,000 as members, every tenth user with a device (2,000).
-- The function keeps a generic plan for its session: planned while the tables are small, it is
-- kept until an ANALYZE of one of them (autovacuum's, within a minute of enough changes).
--   psql -d postgres -c 'CREATE DATABASE parley_devices'
--   DATABASE_URL=postgres://root@127.0.0.1:5432/parley_devices parley migrate
--   psql -d parley_devices -f docs/large-db/offline-devices-plans.sql
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
SELECT count(*) FROM parley_offline_devices('{1,2,3}', '{1}');
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
SELECT '{' || string_agg(i::text, ',') || '}' AS few FROM generate_series(1, 1000, 10) i \gset
SELECT '{' || string_agg(i::text, ',') || '}' AS most FROM generate_series(100, 20000) i \gset
-- 100 offline members, with the plan made on empty tables: every member of the chat is read
-- (a bitmap scan of its 20,000 rows, hash-joined to the devices), 3.8 and 6.3 ms (two loads of
-- this file), 912 buffers.
SELECT count(*) FROM parley_offline_devices(:'few', '{1}');
ANALYZE;
-- The same after ANALYZE (the plan is made again): a probe of the devices per member, then
-- of the chat's members per device, 0.33 and 0.58 ms, 802 buffers.
SELECT count(*) FROM parley_offline_devices(:'few', '{1}');
-- 19,901 offline members (what a room of 20,000 with 99 sessions open passes with every
-- batch): 12.5 and 20.7 ms, 51,763 buffers (39,823 of them the devices' index), 1,990 devices.
SELECT count(*) FROM parley_offline_devices(:'most', '{1}');
