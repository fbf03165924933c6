-- Accounts, users, keys, folders, assets, upload queues and the job queue: the schema of the
-- SQLite engine's 0001_core.sql, in PostgreSQL types. Times are Unix milliseconds (BIGINT).
-- Names and paths compare byte-wise, as SQLite's BINARY does and as the listing order, the
-- cursors and the subtree range `[folder/, folder0)` assume: the columns that are ordered or
-- ranged over are declared COLLATE "C", so their indexes are in byte order too.

CREATE TABLE accounts (
    id          BIGINT  PRIMARY KEY,
    name        TEXT    NOT NULL,
    public      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    admin       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE memberships (
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);

-- Only the SHA-256 of a key is stored.
CREATE TABLE api_keys (
    hash        TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id  BIGINT  REFERENCES accounts(id) ON DELETE CASCADE,
    read_only   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX api_keys_account ON api_keys (account_id) WHERE account_id IS NOT NULL;

-- Every folder that exists, implicit (while it holds something) or explicit (until deleted).
-- A folder's ancestors always exist too. Folder rows are also the locks that keep that true
-- across servers: see the locking notes in src/postgres/mod.rs.
CREATE TABLE folders (
    account_id  BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    path        TEXT    COLLATE "C" NOT NULL,
    parent      TEXT    COLLATE "C" NOT NULL,
    name        TEXT    COLLATE "C" NOT NULL,
    explicit    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (account_id, path)
);
CREATE INDEX folders_children ON folders (account_id, parent, name);

CREATE TABLE assets (
    id             TEXT    PRIMARY KEY,
    account_id     BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    path           TEXT    COLLATE "C" NOT NULL,
    name           TEXT    COLLATE "C" NOT NULL,
    size           BIGINT  NOT NULL,
    content_type   TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    blob_key       TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    last_modified  BIGINT  NOT NULL,
    created_by     TEXT,
    archived_at    BIGINT,
    sensitive_at   BIGINT
);
CREATE UNIQUE INDEX assets_key ON assets (account_id, path, name);
CREATE INDEX assets_blob ON assets (blob_key);

CREATE TABLE upload_queues (
    id               TEXT    PRIMARY KEY,
    account_id       BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status           TEXT    NOT NULL,
    total_items      BIGINT  NOT NULL,
    total_processed  BIGINT  NOT NULL,
    message          TEXT    NOT NULL,
    errors           TEXT    NOT NULL DEFAULT '[]',
    source_blob      TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX upload_queues_account ON upload_queues (account_id);
CREATE INDEX upload_queues_source ON upload_queues (source_blob) WHERE source_blob IS NOT NULL;

CREATE TABLE jobs (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        BIGINT  NOT NULL,
    locked_by     TEXT,
    locked_until  BIGINT,
    last_error    TEXT,
    created_at    BIGINT  NOT NULL
);
-- Claims take the head of one range per status, in (run_at, id) order.
CREATE INDEX jobs_due ON jobs (status, run_at, id);
