-- Bots are users: `is_bot` marks them everywhere a `User` is shown. A person's bot names its
-- owner (who lists, rotates and deletes it); an incoming webhook's bot names none (it lives
-- and dies with its webhook). A bot has no password: it signs in only by token.
ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN bot_owner_id BIGINT REFERENCES users (id);
CREATE INDEX users_bot_owner_id ON users (bot_owner_id) WHERE bot_owner_id IS NOT NULL;

-- Incoming webhooks: `POST /hooks/<secret>` posts into `chat_id` as `bot_user_id`. The secret
-- is never stored: `secret_hash` (SHA-256, hex) finds the webhook, and the URL shown again to
-- owners and admins is derived from `secret_salt` with the server's `webhook_url_key`.
CREATE TABLE incoming_webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    bot_user_id BIGINT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    secret_salt TEXT NOT NULL,
    created_by  BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX incoming_webhooks_chat_id ON incoming_webhooks (chat_id);

-- Outgoing webhooks. The chat's event log is their outbox: every event is written to
-- `chat_events` in its own transaction, and `delivered_seq` is how far this subscription has
-- come through it (every event up to it delivered, or not of a type it asked for). A node
-- claims a subscription whose chat has gone further (`chats.last_seq > delivered_seq`) and is
-- due, by moving `due_at` past a lease, and delivers its events one at a time, in seq order.
-- `attempts` and `failing_since` describe the event at `delivered_seq + 1` while it fails;
-- after a day of failure `disabled_at` is set and nothing more is sent.
CREATE TABLE webhook_subscriptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id       BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    secret        TEXT NOT NULL,
    created_by    BIGINT NOT NULL REFERENCES users (id),
    created_at    BIGINT NOT NULL,
    delivered_seq BIGINT NOT NULL,
    due_at        BIGINT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    failing_since BIGINT,
    disabled_at   BIGINT
);
CREATE INDEX webhook_subscriptions_chat_id ON webhook_subscriptions (chat_id);
CREATE INDEX webhook_subscriptions_due ON webhook_subscriptions (due_at) WHERE disabled_at IS NULL;

-- Every attempt to deliver an event, kept for the last 100 per subscription.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id BIGINT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    status          INTEGER,
    attempt         INTEGER NOT NULL,
    at              BIGINT NOT NULL,
    error           TEXT
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
