-- A conjunction of filters that each match many assets and few together (a popular tag, a
-- common metadata value and a large folder): every asset's terms in one GIN index, whose
-- lists PostgreSQL intersects without reading a row. The terms are an expression of the row
-- (tags, metadata, path), so every write keeps them as it keeps the row, with nothing more to
-- write. The search (`Plan::Terms` in crates/db/src/store/search.rs) builds its terms with
-- the same functions:
--   t:<lower(tag)>                               each tag, folded as asset_tags.folded
--   m:<length(key)>:<key>=<lower(value)>         each metadata value, folded as asset_metadata.folded;
--                                                the length keeps a key holding '=' apart
--   d:<folder>                                   each folder the asset lies in: a, a/b, a/b/c
-- SQLite has no such index; it walks (0009, 0012).
CREATE FUNCTION asset_terms(tags TEXT, metadata TEXT, path TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT ARRAY(
    SELECT 't:' || lower(t) FROM json_array_elements_text(tags::json) AS t
    UNION ALL
    SELECT 'm:' || length(m.key) || ':' || m.key || '=' || lower(m.value) FROM json_each_text(metadata::json) AS m
    UNION ALL
    SELECT 'd:' || array_to_string((string_to_array(path, '/'))[1:n], '/')
    FROM generate_series(1, cardinality(string_to_array(path, '/'))) AS n WHERE path <> ''
)
$$;
CREATE INDEX assets_terms ON assets USING gin (asset_terms(tags, metadata, path));
-- The planner's statistics of the new expression now, not at autovacuum's next round.
ANALYZE assets;
