ALTER TABLE message_mentions DROP CONSTRAINT message_mentions_pkey;
ALTER TABLE message_mentions ADD PRIMARY KEY (user_id, message_id);
CREATE INDEX message_mentions_unread ON message_mentions (user_id, chat_id, seq);
