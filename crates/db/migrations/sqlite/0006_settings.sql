-- Facts every server of a library must agree on, by name: the id of the key that signs links
-- (`signing_key_id`), so that a server whose key differs refuses to start.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
