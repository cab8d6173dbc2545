-- Threads: a reply names its root (`thread_root_id`); a root keeps its thread's summary, written
-- by the reply's own transaction under the chat's lock: how many replies are not deleted, when
-- the latest of them was sent, and who wrote them, as one JSON object
-- (`{"reply_count", "last_reply_at", "participant_ids"}`; NULL while it has no replies). One
-- column, not three: a root's summary is only ever read and written whole.
-- No foreign key on `thread_root_id`: the send's checks read the root under the chat's lock
-- (same chat, not itself a reply), and messages are never removed, only made tombstones.
ALTER TABLE messages ADD COLUMN thread_root_id BIGINT;
ALTER TABLE messages ADD COLUMN thread_summary TEXT;
-- A thread's replies in order. Partial: a message outside any thread writes no entry here.
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- Notification level per member per chat ('all', 'mentions' or 'none'), and until when the
-- member muted the chat (milliseconds; NULL when not muted). Read by push notifications.
ALTER TABLE chat_members ADD COLUMN notify_level TEXT NOT NULL DEFAULT 'all';
ALTER TABLE chat_members ADD COLUMN muted_until BIGINT;
