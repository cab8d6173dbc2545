-- When each user was last online: written from memory at most once a minute per user (while
-- online, and once after going offline), never on connect. NULL: never seen online.
ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
