ALTER TABLE chat_members DROP COLUMN shows_presence;
