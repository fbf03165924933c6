-- How many unarchived assets each account has in each stretch of creation time (a bucket:
-- created_at >> 26, 2^26 ms, about 18.6 hours), so that an offset deep into the creation
-- order (Hivo's `skip`) starts at its bucket instead of counting every index entry before it.
-- Each bucket's count is spread over 16 rows (`shard`, the writing backend's pid mod 16) so
-- that concurrent uploads to one account rarely wait on one row; a reader sums them. The
-- triggers keep the counts exact in every transaction: a reader's snapshot sees the counts of
-- exactly the assets it sees.
CREATE TABLE asset_time_counts (
    account_id BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    shard INTEGER NOT NULL,
    live BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, shard)
);

INSERT INTO asset_time_counts (account_id, bucket, shard, live)
SELECT account_id, created_at >> 26, 0, count(*) FROM assets WHERE archived_at IS NULL GROUP BY 1, 2;

-- Inserted and deleted rows, a statement at a time (a zip's entries, an account's cascade).
CREATE FUNCTION asset_time_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_time_counts AS c (account_id, bucket, shard, live)
    SELECT account_id, created_at >> 26, pg_backend_pid() % 16, count(*)
    FROM inserted WHERE archived_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, bucket, shard) DO UPDATE SET live = c.live + excluded.live;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_time_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_time_counts AS c (account_id, bucket, shard, live)
    SELECT account_id, created_at >> 26, pg_backend_pid() % 16, -count(*)
    FROM deleted WHERE archived_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, bucket, shard) DO UPDATE SET live = c.live + excluded.live;
    RETURN NULL;
END $$;

-- An update that archives or restores an asset, or moves it to another account or time.
CREATE FUNCTION asset_time_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.archived_at IS NULL THEN
        INSERT INTO asset_time_counts AS c (account_id, bucket, shard, live)
        VALUES (OLD.account_id, OLD.created_at >> 26, pg_backend_pid() % 16, -1)
        ON CONFLICT (account_id, bucket, shard) DO UPDATE SET live = c.live - 1;
    END IF;
    IF NEW.archived_at IS NULL THEN
        INSERT INTO asset_time_counts AS c (account_id, bucket, shard, live)
        VALUES (NEW.account_id, NEW.created_at >> 26, pg_backend_pid() % 16, 1)
        ON CONFLICT (account_id, bucket, shard) DO UPDATE SET live = c.live + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER assets_time_counts_insert AFTER INSERT ON assets
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION asset_time_counts_inserted();
CREATE TRIGGER assets_time_counts_delete AFTER DELETE ON assets
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION asset_time_counts_deleted();
CREATE TRIGGER assets_time_counts_update AFTER UPDATE OF account_id, created_at, archived_at ON assets
    FOR EACH ROW
    WHEN (OLD.account_id <> NEW.account_id OR OLD.created_at <> NEW.created_at
          OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))
    EXECUTE FUNCTION asset_time_counts_updated();
