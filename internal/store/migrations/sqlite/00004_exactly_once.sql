-- +goose Up
-- The single-use id of each submitted form, with the intent it recorded:
-- a repeat never reaches Graph.
CREATE TABLE submissions (
    id        TEXT PRIMARY KEY,
    intent_id INTEGER NOT NULL,
    time_us   INTEGER NOT NULL
);
-- One action in flight per target user, across replicas. A lock lapses at
-- expires_us if its replica stopped mid-call.
CREATE TABLE target_locks (
    target_id   TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    since_us    INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL
);
-- Work one replica at a time does (settling unknown outcomes).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_us INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE target_locks;
DROP TABLE submissions;
