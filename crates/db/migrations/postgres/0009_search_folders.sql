-- Search by folder and by name prefix in date order, each step read from one index:
-- - `asset_folders`: one row per asset and per folder it lies in, at any depth (`a/b/c` gives
--   `a`, `a/b`, `a/b/c`; the root is none), with the asset's creation time, so that a
--   `pathPrefix` walks `asset_folders_search` newest first and meets only the assets of that
--   subtree. The store writes these rows in the same transaction as the asset's path (insert,
--   move, import; a delete cascades). Existing libraries are carried forward from `folders`,
--   which holds every ancestor of every asset's folder.
-- - the folded-name index also holds `created_at` and `archived_at`: the assets whose name
--   starts with a prefix (`q`) are sorted by date from the index alone, and only the page's
--   rows are read.
CREATE TABLE asset_folders (
    asset_id    TEXT    NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL,
    folder      TEXT    COLLATE "C" NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (asset_id, folder)
);
-- Statistics first: without them (a library restored or bulk-loaded moments ago) the planner
-- takes both tables for a few pages and joins every folder with every asset.
ANALYZE folders;
ANALYZE assets;
INSERT INTO asset_folders (asset_id, account_id, folder, created_at)
    SELECT a.id, a.account_id, f.path, a.created_at
    FROM folders f JOIN assets a ON a.account_id = f.account_id AND a.path = f.path
    WHERE f.path <> '';
INSERT INTO asset_folders (asset_id, account_id, folder, created_at)
    SELECT a.id, a.account_id, f.path, a.created_at
    FROM folders f JOIN assets a ON a.account_id = f.account_id AND a.path >= f.path || '/' AND a.path < f.path || '0'
    WHERE f.path <> '';
CREATE INDEX asset_folders_search ON asset_folders (account_id, folder, created_at, asset_id);

DROP INDEX assets_name_folded;
CREATE INDEX assets_name_folded ON assets (account_id, name_folded, created_at, id, archived_at);

-- The planner's statistics of the new table now, not at autovacuum's next round: a search
-- weighs the folder walk by them.
ANALYZE asset_folders;
