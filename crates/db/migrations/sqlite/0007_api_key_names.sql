-- API keys get a public id (what the key routes name; the hash stays the secret's digest), a
-- name, and the time of their last use. Existing keys get a random id and an empty name.
ALTER TABLE api_keys ADD COLUMN id TEXT;
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET id = 'key_' || lower(hex(randomblob(12))) WHERE id IS NULL;
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
