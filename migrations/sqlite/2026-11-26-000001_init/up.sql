-- Timestamps are milliseconds since the Unix epoch (UTC) so that both backends share one
-- representation and one query code path.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE auth_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX auth_tokens_user_id ON auth_tokens (user_id);

CREATE TABLE chats (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    title            TEXT,
    -- "<lower user id>:<higher user id>" for direct chats, so the pair is unique.
    direct_key       TEXT UNIQUE,
    created_at       BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    last_activity_at BIGINT NOT NULL
);

CREATE TABLE chat_members (
    chat_id       BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at     BIGINT NOT NULL,
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user_id ON chat_members (user_id);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    author_id   BIGINT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    content     TEXT NOT NULL,
    reply_to_id BIGINT REFERENCES messages (id),
    client_id   TEXT,
    created_at  BIGINT NOT NULL,
    edited_at   BIGINT,
    deleted     BOOLEAN NOT NULL DEFAULT 0,
    UNIQUE (chat_id, seq)
);

CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    emoji      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- The chat's event log: one row per persisted change, seq 1, 2, 3 ... per chat with no gaps.
CREATE TABLE chat_events (
    chat_id             BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    message_id          BIGINT REFERENCES messages (id),
    user_id             BIGINT,
    emoji               TEXT,
    role                TEXT,
    reaction_created_at BIGINT,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

CREATE TABLE idempotency_keys (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
