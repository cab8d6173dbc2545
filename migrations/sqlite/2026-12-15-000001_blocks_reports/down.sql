DROP TABLE message_reports;
DROP TABLE user_blocks;
