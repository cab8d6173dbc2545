DROP TABLE push_subscriptions;
DROP TABLE server_secrets;
