-- Which memberships may have a push device: a send batch's devices check reads the chat's
-- members who have one, through a partial index, instead of probing the devices of every
-- member its room found offline (12.5-20.7 ms a batch in a chat of 20,000 members:
-- docs/benchmarks.md, "The devices check in a large chat"). The flag is set when a membership
-- begins for a user with a device, and on all of a user's memberships when they subscribe a
-- device; the two hold the user's row (`queries::device_flags`), so neither misses the other.
-- It is never cleared: a membership flagged whose user has no device left costs the check a
-- probe that finds nothing.
ALTER TABLE chat_members ADD COLUMN has_devices BOOLEAN NOT NULL DEFAULT false;
UPDATE chat_members SET has_devices = true
WHERE user_id IN (SELECT user_id FROM push_subscriptions);
CREATE INDEX chat_members_with_devices ON chat_members (chat_id) WHERE has_devices;

-- The devices of the chats' members who have one, with their level and mute in the chat and
-- the chat's kind; the server keeps those of members with no session open. Like the function
-- it replaces, it keeps a generic plan for the session (planning every run cost more than
-- running it); sequential scans are ruled out, so that a plan made while the tables were
-- small is not a scan of the whole table once they have grown (that plan read all of a
-- chat's members until an ANALYZE: docs/large-db/offline-devices-plans.sql).
CREATE FUNCTION parley_chat_devices(chat_ids BIGINT[])
RETURNS TABLE (chat_id BIGINT, user_id BIGINT, subscription_id BIGINT, notify_level TEXT,
               muted_until BIGINT, kind TEXT)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
BEGIN
    RETURN QUERY
    SELECT cm.chat_id, cm.user_id, ps.id, cm.notify_level, cm.muted_until, c.kind
    FROM chat_members cm
    JOIN push_subscriptions ps ON ps.user_id = cm.user_id
    JOIN chats c ON c.id = cm.chat_id
    WHERE cm.chat_id = ANY (chat_ids) AND cm.has_devices;
END
$$;
DROP FUNCTION parley_offline_devices(BIGINT[], BIGINT[]);
