ALTER TABLE chat_members RESET (fillfactor);
ALTER TABLE chats RESET (fillfactor);
DROP TABLE chat_authors;
ALTER TABLE chat_members DROP COLUMN read_count;
ALTER TABLE chats DROP COLUMN message_count;
