-- SQLite keeps a signature of each asset's tags and metadata values in its folder rows (its
-- 0015), for its folder walks. PostgreSQL answers such searches from its terms index (0013):
-- the column is here for the two schemas to match, stays 0, and no search reads it.
ALTER TABLE asset_folders ADD COLUMN terms BIGINT NOT NULL DEFAULT 0;
DROP INDEX asset_folders_search;
CREATE INDEX asset_folders_search ON asset_folders (account_id, folder, created_at, asset_id, terms);
