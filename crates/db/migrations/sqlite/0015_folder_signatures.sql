-- A signature of each asset's tags and metadata values in its folder rows (SQLite only), so that
-- a folder walk (`Plan::Folders`) passes over most assets that lack a wanted tag or value
-- without probing another index: `terms` has one bit per tag and per metadata key and value
-- (61 bits, a hash of the folded text: its length and a few of its characters), and the walk
-- tests the query's bits on the index entry before any probe. A set bit may belong to another
-- term (the probes still decide); a missing one never hides an asset, because triggers keep the
-- bits exact: a new folder row takes its asset's bits, a new tag or value adds its bit, and a
-- removed one recomputes them. The search (`signature` in crates/db/src/store/search.rs) hashes
-- the query's values with the same expression. PostgreSQL answers such searches from its terms
-- index (0013); its `terms` column exists for the schemas to match and stays 0.
CREATE VIEW asset_term_bits AS
    SELECT asset_id, (1 << ((length(folded) * 7 + coalesce(unicode(folded), 0) * 31 + coalesce(unicode(substr(folded, 2, 1)), 0) * 131 + coalesce(unicode(substr(folded, (length(folded) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(folded, -2, 1)), 0) * 257 + coalesce(unicode(substr(folded, -1)), 0) * 13) % 61)) AS b FROM asset_tags
    UNION ALL
    SELECT asset_id, (1 << (((length(key) * 7 + coalesce(unicode(key), 0) * 31 + coalesce(unicode(substr(key, 2, 1)), 0) * 131 + coalesce(unicode(substr(key, (length(key) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(key, -2, 1)), 0) * 257 + coalesce(unicode(substr(key, -1)), 0) * 13) * 3 + (length(folded) * 7 + coalesce(unicode(folded), 0) * 31 + coalesce(unicode(substr(folded, 2, 1)), 0) * 131 + coalesce(unicode(substr(folded, (length(folded) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(folded, -2, 1)), 0) * 257 + coalesce(unicode(substr(folded, -1)), 0) * 13) + 29) % 61)) AS b FROM asset_metadata;

ALTER TABLE asset_folders ADD COLUMN terms INTEGER NOT NULL DEFAULT 0;
UPDATE asset_folders SET terms = (SELECT coalesce(sum(DISTINCT b), 0) FROM asset_term_bits WHERE asset_id = asset_folders.asset_id);
DROP INDEX asset_folders_search;
CREATE INDEX asset_folders_search ON asset_folders (account_id, folder, created_at, asset_id, terms);

CREATE TRIGGER asset_folders_terms AFTER INSERT ON asset_folders BEGIN
    UPDATE asset_folders SET terms = (SELECT coalesce(sum(DISTINCT b), 0) FROM asset_term_bits WHERE asset_id = NEW.asset_id)
    WHERE asset_id = NEW.asset_id AND folder = NEW.folder;
END;
CREATE TRIGGER asset_tags_terms_added AFTER INSERT ON asset_tags BEGIN
    UPDATE asset_folders SET terms = terms | (1 << ((length(NEW.folded) * 7 + coalesce(unicode(NEW.folded), 0) * 31 + coalesce(unicode(substr(NEW.folded, 2, 1)), 0) * 131 + coalesce(unicode(substr(NEW.folded, (length(NEW.folded) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(NEW.folded, -2, 1)), 0) * 257 + coalesce(unicode(substr(NEW.folded, -1)), 0) * 13) % 61)) WHERE asset_id = NEW.asset_id;
END;
CREATE TRIGGER asset_tags_terms_removed AFTER DELETE ON asset_tags BEGIN
    UPDATE asset_folders SET terms = (SELECT coalesce(sum(DISTINCT b), 0) FROM asset_term_bits WHERE asset_id = OLD.asset_id) WHERE asset_id = OLD.asset_id;
END;
CREATE TRIGGER asset_metadata_terms_added AFTER INSERT ON asset_metadata BEGIN
    UPDATE asset_folders SET terms = terms | (1 << (((length(NEW.key) * 7 + coalesce(unicode(NEW.key), 0) * 31 + coalesce(unicode(substr(NEW.key, 2, 1)), 0) * 131 + coalesce(unicode(substr(NEW.key, (length(NEW.key) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(NEW.key, -2, 1)), 0) * 257 + coalesce(unicode(substr(NEW.key, -1)), 0) * 13) * 3 + (length(NEW.folded) * 7 + coalesce(unicode(NEW.folded), 0) * 31 + coalesce(unicode(substr(NEW.folded, 2, 1)), 0) * 131 + coalesce(unicode(substr(NEW.folded, (length(NEW.folded) + 1) / 2, 1)), 0) * 17 + coalesce(unicode(substr(NEW.folded, -2, 1)), 0) * 257 + coalesce(unicode(substr(NEW.folded, -1)), 0) * 13) + 29) % 61)) WHERE asset_id = NEW.asset_id;
END;
CREATE TRIGGER asset_metadata_terms_removed AFTER DELETE ON asset_metadata BEGIN
    UPDATE asset_folders SET terms = (SELECT coalesce(sum(DISTINCT b), 0) FROM asset_term_bits WHERE asset_id = OLD.asset_id) WHERE asset_id = OLD.asset_id;
END;
