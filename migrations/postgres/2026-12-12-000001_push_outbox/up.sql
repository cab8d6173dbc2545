-- The push notifications owed: a row per device and chat, written in the send's own
-- transaction when a message concerns a member with no open session, and deleted once a push
-- service has taken the notification. It names no message: the delivery sends the chat's
-- newest message after `after_seq` that concerns the device's person, so a device that was
-- offline for a while gets the newest, not a backlog, and a busy chat's sends find the row
-- there and write nothing (`ON CONFLICT DO NOTHING`). `queued_at` is when the first message
-- owed committed; `due_at` when a delivering node may claim the row next: now for a fresh
-- row, later while one node holds it (a lease), while its push service asked to wait, or
-- until the chat's previous notification is a few seconds old.
CREATE TABLE push_outbox (
    subscription_id BIGINT NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    chat_id         BIGINT NOT NULL,
    after_seq       BIGINT NOT NULL,
    queued_at       BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failing_since   BIGINT,
    PRIMARY KEY (subscription_id, chat_id)
);
CREATE INDEX push_outbox_due ON push_outbox (due_at);
