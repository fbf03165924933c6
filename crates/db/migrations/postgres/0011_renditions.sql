-- The renditions of content blobs (SPEC section 6), one row per version: thumbnail and web,
-- and 'original', which records the original's width and height (its blob_key is the source
-- itself). Rows belong to the blob, not to an asset: copies share them; the blob's deletion
-- removes them.
CREATE TABLE renditions (
    source_blob   TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    blob_key      TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    content_type  TEXT    NOT NULL,
    extension     TEXT    NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (source_blob, version)
);
CREATE INDEX renditions_blob ON renditions (blob_key);
