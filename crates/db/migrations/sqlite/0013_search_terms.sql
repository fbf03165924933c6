-- PostgreSQL's 0013 adds a GIN index of every asset's terms (tags, metadata values, folders)
-- for conjunctions of broad filters. SQLite has no index of many values a row; its searches
-- walk the folder's rows (0009) or a tag's or metadata value's rows (0012) instead. This step
-- keeps the two engines' migration numbers in step.
SELECT 1;
