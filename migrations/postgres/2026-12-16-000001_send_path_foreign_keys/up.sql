-- The foreign keys of the rows every send writes go: a message's chat, author and the message
-- it replies to, an event's chat and message, an idempotency record's user.
--
-- PostgreSQL checks a foreign key with a locking read of the referenced row (`FOR KEY SHARE`)
-- per row inserted, after the statement. A batch of 32 sends made about 130 of them (four per
-- message, two more per thread reply's root event), and they were most of the batch's store
-- statement: 3.0 ms of it against 0.8 ms without them, and sends into one hot chat answered
-- about half again as many without them (docs/benchmarks.md, "The send path's foreign keys").
--
-- Each reference is checked where it is made instead, and no row they point to is ever
-- removed:
-- - a send's chat is locked and its author's membership read under that lock, with the message
--   it replies to and its thread root (same chat), before anything is written
--   (`db::queries::messages::store_batch`); an event names the chat it is written under the lock
--   of, and a message just stored or checked there;
-- - an idempotency record's user is the authenticated caller;
-- - chats, messages (a deleted one is a tombstone) and accounts (deactivated, not removed) are
--   never deleted, so nothing could cascade or dangle.
-- `message_mentions` was built without them for the same reason (migration `mentions`).
-- SQLite keeps its foreign keys: it checks them in-process, by an index lookup without a lock.
ALTER TABLE messages
    DROP CONSTRAINT messages_chat_id_fkey,
    DROP CONSTRAINT messages_author_id_fkey,
    DROP CONSTRAINT messages_reply_to_id_fkey;
ALTER TABLE chat_events
    DROP CONSTRAINT chat_events_chat_id_fkey,
    DROP CONSTRAINT chat_events_message_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_user_id_fkey;
