-- Mentions: the members a message addresses, as the message shows them (`mention_ids`, a JSON
-- array, ascending) and as rows per mentioned member, for their counts and their mentions page.
ALTER TABLE messages ADD COLUMN mention_ids TEXT NOT NULL DEFAULT '[]';
-- No foreign keys: a send writes a row per mentioned member, and the checks of two foreign keys
-- (each a locking read of the user's and the message's rows) cost a third of the throughput of
-- sends that mention three members (docs/benchmarks.md, issue 28). Messages are never removed
-- (a deleted one is a tombstone whose rows are deleted with it) and accounts are deactivated,
-- not removed.
CREATE TABLE message_mentions (
    user_id    BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
-- A member's unread mentions in a chat: the seqs past their read marker. (A message's own rows
-- are found through its `mention_ids` and the primary key: no index by message, one index
-- fewer to write per mention.)
CREATE INDEX message_mentions_unread ON message_mentions (user_id, chat_id, seq);
