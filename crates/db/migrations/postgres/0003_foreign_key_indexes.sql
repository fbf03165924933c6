-- SQLite's schema gains the foreign-key indexes PostgreSQL has had since 0001; nothing changes
-- here. The file keeps the two engines' migrations numbered alike.
SELECT 1;
