-- Secrets the server makes for itself and every node must share: the VAPID key pair of Web
-- Push (`vapid_private_key`, the P-256 scalar in base64url), made by the first node to start.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Where a user's devices receive push notifications: the browser's PushSubscription. An
-- endpoint names one browser, so it is unique: subscribing it under another account moves it.
CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_user_id ON push_subscriptions (user_id);
