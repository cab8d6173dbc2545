-- Blocks: `blocked_id` may no longer open a direct chat with `blocker_id`, write into their
-- direct chat, or add them to a group. Every check names both users, so the primary key
-- answers it; nobody but the blocker ever reads their rows.
CREATE TABLE user_blocks (
    blocker_id BIGINT NOT NULL REFERENCES users (id),
    blocked_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

-- Reports of messages to the operators. `snapshot` is the message (a `Message` as JSON) as it
-- was when reported, so that an edit or a delete afterwards cannot hide it. A reporter has at
-- most one open report per message; `resolution` and `resolved_at` record what an operator
-- did, and when.
CREATE TABLE message_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  BIGINT NOT NULL REFERENCES messages (id),
    chat_id     BIGINT NOT NULL REFERENCES chats (id),
    reporter_id BIGINT NOT NULL REFERENCES users (id),
    author_id   BIGINT NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    comment     TEXT,
    snapshot    TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',
    created_at  BIGINT NOT NULL,
    resolution  TEXT,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX message_reports_one_open ON message_reports (message_id, reporter_id)
    WHERE status = 'open';
-- The operators' lists, newest first, of each status (one index on `(status, id)` is not
-- chosen over the primary key, which then skips every report of the other status).
CREATE INDEX message_reports_open ON message_reports (id) WHERE status = 'open';
CREATE INDEX message_reports_resolved ON message_reports (id) WHERE status = 'resolved';
-- A reporter's reports of the last hour (the rate limit).
CREATE INDEX message_reports_reporter ON message_reports (reporter_id, created_at);
