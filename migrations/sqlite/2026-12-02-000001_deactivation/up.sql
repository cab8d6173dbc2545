-- An operator can deactivate an account: its tokens are revoked, it cannot log in, and its
-- messages stay.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
