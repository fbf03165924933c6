-- Key/value metadata of an asset: a JSON object of strings, replaced whole.
ALTER TABLE assets ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
