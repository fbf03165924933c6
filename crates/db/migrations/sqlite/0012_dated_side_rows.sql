-- One tag or one metadata value in date order: each tag and metadata row holds its asset's
-- creation time, and the search index of each table ends in (created_at, asset_id), so that
-- under the creation-time sort a search by one of them walks its own index entries newest
-- first (as a `pathPrefix` walks `asset_folders_search`): a page reads about a page of
-- entries however many assets share the value, with no count and no probe per asset. The store
-- writes the time with the row (upload, patch, copy, import); an asset's creation time never
-- changes. Existing rows take it from their asset.
DROP INDEX asset_tags_search;
DROP INDEX asset_metadata_search;
ALTER TABLE asset_tags ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asset_metadata ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE asset_tags SET created_at = (SELECT a.created_at FROM assets a WHERE a.id = asset_tags.asset_id);
UPDATE asset_metadata SET created_at = (SELECT a.created_at FROM assets a WHERE a.id = asset_metadata.asset_id);
CREATE INDEX asset_tags_search ON asset_tags (account_id, folded, created_at, asset_id);
CREATE INDEX asset_metadata_search ON asset_metadata (account_id, key, folded, created_at, asset_id);
