-- Whether the member's presence (online, last_seen_at) is shown to the chat's other members:
-- once they created the chat or have written in it, never merely for being added to it.
ALTER TABLE chat_members ADD COLUMN shows_presence BOOLEAN NOT NULL DEFAULT false;
UPDATE chat_members SET shows_presence = true
WHERE role = 'owner'
   OR (chat_id, user_id) IN (SELECT DISTINCT chat_id, author_id FROM messages);
