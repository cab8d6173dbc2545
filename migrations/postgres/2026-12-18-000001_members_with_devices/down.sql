CREATE FUNCTION parley_offline_devices(users BIGINT[], chat_ids BIGINT[])
RETURNS TABLE (chat_id BIGINT, user_id BIGINT, subscription_id BIGINT, notify_level TEXT,
               muted_until BIGINT, kind TEXT)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT cm.chat_id, cm.user_id, ps.id, cm.notify_level, cm.muted_until, c.kind
    FROM push_subscriptions ps
    JOIN chat_members cm ON cm.user_id = ps.user_id AND cm.chat_id = ANY (chat_ids)
    JOIN chats c ON c.id = cm.chat_id
    WHERE ps.user_id = ANY (users);
END
$$;
DROP FUNCTION parley_chat_devices(BIGINT[]);
DROP INDEX chat_members_with_devices;
ALTER TABLE chat_members DROP COLUMN has_devices;
