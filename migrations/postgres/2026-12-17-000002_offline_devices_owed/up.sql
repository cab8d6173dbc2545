-- The devices check of a batch also says, per device and chat, whether a notification is
-- owed already (its `push_outbox` row is there). Such a device needs no row from the batch:
-- the row sends the chat's newest message when it comes due. In a busy chat nearly every
-- device's row is there, and the store statement then has no push part at all, where it used
-- to plan one and probe the outbox once per device on every batch (docs/benchmarks.md, "Push:
-- devices already owed").
-- Read under the chat's lock, as the store statement's own probe was: a row deleted meanwhile
-- by a delivery that found nothing to send is looked at again once this batch commits
-- (`PushClaims::await_chat_sends`).
DROP FUNCTION parley_offline_devices(BIGINT[], BIGINT[]);
CREATE FUNCTION parley_offline_devices(users BIGINT[], chat_ids BIGINT[])
RETURNS TABLE (chat_id BIGINT, user_id BIGINT, subscription_id BIGINT, notify_level TEXT,
               muted_until BIGINT, kind TEXT, owed BOOLEAN)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT cm.chat_id, cm.user_id, ps.id, cm.notify_level, cm.muted_until, c.kind,
           EXISTS (SELECT 1 FROM push_outbox q
                   WHERE q.subscription_id = ps.id AND q.chat_id = cm.chat_id)
    FROM push_subscriptions ps
    JOIN chat_members cm ON cm.user_id = ps.user_id AND cm.chat_id = ANY (chat_ids)
    JOIN chats c ON c.id = cm.chat_id
    WHERE ps.user_id = ANY (users);
END
$$;
