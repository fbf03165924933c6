-- Web UI sessions (SPEC 8): signing in with an API key gives a cookie; only the SHA-256 of
-- the cookie's secret is kept, with the key it was given for and when it ends. Revoking the
-- key (deleting its row) ends its sessions; signing out deletes the row.
CREATE TABLE sessions (
    hash        TEXT    PRIMARY KEY,
    key_hash    TEXT    NOT NULL REFERENCES api_keys(hash) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_hash);
CREATE INDEX sessions_expiry ON sessions (expires_at);
