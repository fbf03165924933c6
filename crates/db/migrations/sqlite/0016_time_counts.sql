-- PostgreSQL's 0016 keeps counts of each account's unarchived assets by stretch of creation
-- time, so that a deep offset starts near its place instead of counting every index entry
-- before it. SQLite counts the entries of its index faster than that table would answer (a
-- deep offset passes its target there). This step keeps the two engines' migration numbers in
-- step.
SELECT 1;
