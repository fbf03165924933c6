-- The attributes of an asset beyond its key and content (SPEC section 2), and collections.
--
-- What reads return is on the asset's row: lists are JSON arrays of strings (`tags`, `skus`,
-- `collection_ids`, `favourites`), as `metadata` is a JSON object. The side tables hold the same
-- values, one row each, for search: the store writes them in the same transaction as the row,
-- from the same values. `folded` is the database's lower() of a value, computed by the database
-- on insert, as search folds what it looks for.
ALTER TABLE assets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE assets ADD COLUMN skus TEXT NOT NULL DEFAULT '[]';
ALTER TABLE assets ADD COLUMN collection_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE assets ADD COLUMN favourites TEXT NOT NULL DEFAULT '[]';
ALTER TABLE assets ADD COLUMN batch_id TEXT;
ALTER TABLE assets ADD COLUMN approved_at BIGINT ;
ALTER TABLE assets ADD COLUMN expires_at BIGINT ;
ALTER TABLE assets ADD COLUMN license_expires_at BIGINT ;
ALTER TABLE assets ADD COLUMN views BIGINT NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN downloads BIGINT NOT NULL DEFAULT 0;

CREATE TABLE collections (
    id             TEXT    PRIMARY KEY,
    account_id     BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL,
    last_modified  BIGINT  NOT NULL,
    created_by     TEXT
);
CREATE INDEX collections_account ON collections (account_id, id);

CREATE TABLE asset_tags (
    asset_id    TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL,
    tag         TEXT    NOT NULL,
    folded      TEXT    COLLATE "C" NOT NULL,
    PRIMARY KEY (asset_id, tag)
);
CREATE INDEX asset_tags_search ON asset_tags (account_id, folded, asset_id);

CREATE TABLE asset_skus (
    asset_id    TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL,
    sku         TEXT    NOT NULL,
    PRIMARY KEY (asset_id, sku)
);
CREATE INDEX asset_skus_search ON asset_skus (account_id, sku, asset_id);

CREATE TABLE asset_metadata (
    asset_id    TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    folded      TEXT    COLLATE "C" NOT NULL,
    PRIMARY KEY (asset_id, key)
);
CREATE INDEX asset_metadata_search ON asset_metadata (account_id, key, folded, asset_id);

CREATE TABLE asset_collections (
    asset_id       TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    collection_id  TEXT    NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    account_id     BIGINT  NOT NULL,
    PRIMARY KEY (asset_id, collection_id)
);
CREATE INDEX asset_collections_search ON asset_collections (collection_id, asset_id);

CREATE TABLE asset_favourites (
    asset_id    TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL,
    account_id  BIGINT  NOT NULL,
    PRIMARY KEY (asset_id, user_id)
);
CREATE INDEX asset_favourites_search ON asset_favourites (account_id, user_id, asset_id);

-- Metadata written before this step, into its side table.
INSERT INTO asset_metadata (asset_id, account_id, key, value, folded)
    SELECT a.id, a.account_id, j.key, j.value, lower(j.value) FROM assets a, json_each_text(a.metadata::json) j;
