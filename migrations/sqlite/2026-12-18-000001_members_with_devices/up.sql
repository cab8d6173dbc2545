-- Which memberships may have a push device: a send batch reads the devices of the chat's
-- members who have one (a partial index) instead of those of every member found offline.
-- Set when a membership begins for a user with a device, and on all of a user's memberships
-- when they subscribe one; never cleared (see the PostgreSQL migration).
ALTER TABLE chat_members ADD COLUMN has_devices BOOLEAN NOT NULL DEFAULT 0;
UPDATE chat_members SET has_devices = 1
WHERE user_id IN (SELECT user_id FROM push_subscriptions);
CREATE INDEX chat_members_with_devices ON chat_members (chat_id) WHERE has_devices;
