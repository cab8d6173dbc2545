DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE incoming_webhooks;
DROP INDEX users_bot_owner_id;
ALTER TABLE users DROP COLUMN bot_owner_id;
ALTER TABLE users DROP COLUMN is_bot;
