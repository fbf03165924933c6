-- Accounts, users, keys, folders, assets, upload queues and the job queue.
-- Times are Unix milliseconds. Names and paths compare byte-wise (BINARY), as the listing
-- order and cursors assume.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    public      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
    PRIMARY KEY (user_id, account_id)
);

-- Only the SHA-256 of a key is stored.
CREATE TABLE api_keys (
    hash        TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id  INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    read_only   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- Every folder that exists, implicit (while it holds something) or explicit (until deleted).
-- A folder's ancestors always exist too.
CREATE TABLE folders (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    path        TEXT    NOT NULL,
    parent      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    explicit    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, path)
) WITHOUT ROWID;
CREATE INDEX folders_children ON folders (account_id, parent, name);

CREATE TABLE assets (
    id             TEXT    PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    path           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    size           INTEGER NOT NULL,
    content_type   TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    blob_key       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    last_modified  INTEGER NOT NULL,
    created_by     TEXT,
    archived_at    INTEGER,
    sensitive_at   INTEGER
);
CREATE UNIQUE INDEX assets_key ON assets (account_id, path, name);
CREATE INDEX assets_blob ON assets (blob_key);

CREATE TABLE upload_queues (
    id               TEXT    PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status           TEXT    NOT NULL,
    total_items      INTEGER NOT NULL,
    total_processed  INTEGER NOT NULL,
    message          TEXT    NOT NULL,
    errors           TEXT    NOT NULL DEFAULT '[]',
    source_blob      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX upload_queues_source ON upload_queues (source_blob) WHERE source_blob IS NOT NULL;

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        INTEGER NOT NULL,
    locked_by     TEXT,
    locked_until  INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
