DROP INDEX chat_members_with_devices;
ALTER TABLE chat_members DROP COLUMN has_devices;
