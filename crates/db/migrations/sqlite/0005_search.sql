-- What search sorts and filters on, each served by an index of the account's assets: the four
-- sorts (ties broken by id), the name folded for case-insensitive prefixes (`q`), the batch and
-- the content type. `name_folded` is the database's lower() of the name, as the side tables'
-- `folded` is of their values (see 0004).
ALTER TABLE assets ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
UPDATE assets SET name_folded = lower(name);

CREATE INDEX assets_created ON assets (account_id, created_at, id);
CREATE INDEX assets_modified ON assets (account_id, last_modified, id);
CREATE INDEX assets_size ON assets (account_id, size, id);
CREATE INDEX assets_name ON assets (account_id, name, id);
CREATE INDEX assets_name_folded ON assets (account_id, name_folded);
CREATE INDEX assets_batch ON assets (account_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX assets_type ON assets (account_id, content_type);
