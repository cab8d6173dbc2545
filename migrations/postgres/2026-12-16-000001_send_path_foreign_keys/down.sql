ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE chat_events
    ADD CONSTRAINT chat_events_chat_id_fkey
    FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    ADD CONSTRAINT chat_events_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages (id);
ALTER TABLE messages
    ADD CONSTRAINT messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    ADD CONSTRAINT messages_author_id_fkey FOREIGN KEY (author_id) REFERENCES users (id),
    ADD CONSTRAINT messages_reply_to_id_fkey FOREIGN KEY (reply_to_id) REFERENCES messages (id);
