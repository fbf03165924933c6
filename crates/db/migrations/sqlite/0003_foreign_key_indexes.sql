-- The indexes PostgreSQL's schema has had from the start on the columns other tables point at
-- through foreign keys: without them, removing a user or an account scans these tables, and
-- the two engines' schemas differ (tests/schema.rs holds them equal).
CREATE INDEX IF NOT EXISTS memberships_account ON memberships (account_id);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys (user_id);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS upload_queues_account ON upload_queues (account_id);
