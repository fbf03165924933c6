-- What search reads besides the indexes of 0005, so that each step of its two plans
-- (crates/db/src/store/search.rs) is read from one index, without a visit to the table:
-- - checking one asset's tags or metadata by its id (a walk in the sort's order checks each
--   asset it meets): the side tables' keys hold the raw value, not the folded one;
-- - gathering the ids of the assets whose folded name starts with a prefix (`q`), or that lie
--   in a folder and below it (`pathPrefix`);
-- - skipping rows in a sort's order (an offset): the sort indexes hold `archived_at`, which
--   every search tests (archived assets are hidden unless asked for).
CREATE INDEX asset_tags_asset ON asset_tags (asset_id, folded);
CREATE INDEX asset_metadata_asset ON asset_metadata (asset_id, key, folded);
DROP INDEX assets_name_folded;
CREATE INDEX assets_name_folded ON assets (account_id, name_folded, id);
CREATE INDEX assets_path ON assets (account_id, path, id);
DROP INDEX assets_created;
CREATE INDEX assets_created ON assets (account_id, created_at, id, archived_at);
DROP INDEX assets_modified;
CREATE INDEX assets_modified ON assets (account_id, last_modified, id, archived_at);
DROP INDEX assets_size;
CREATE INDEX assets_size ON assets (account_id, size, id, archived_at);
DROP INDEX assets_name;
CREATE INDEX assets_name ON assets (account_id, name, id, archived_at);
