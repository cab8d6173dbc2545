CREATE TABLE message_mentions_by_message (
    user_id    BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
INSERT INTO message_mentions_by_message (user_id, message_id, chat_id, seq)
    SELECT user_id, message_id, chat_id, seq FROM message_mentions;
DROP TABLE message_mentions;
ALTER TABLE message_mentions_by_message RENAME TO message_mentions;
CREATE INDEX message_mentions_unread ON message_mentions (user_id, chat_id, seq);
