-- +goose Up
-- The audit key a record's hash was computed with; empty for records
-- written before the chain was keyed.
ALTER TABLE events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
-- Signed statements of the chain's head, written at a steady interval and
-- logged as well: a copy of the head outside the database's control.
CREATE TABLE checkpoints (
    seq         INTEGER PRIMARY KEY,
    time_us     INTEGER NOT NULL,
    head_id     INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    count       INTEGER NOT NULL,
    interval_us INTEGER NOT NULL,
    status      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    mac         TEXT NOT NULL
);

-- +goose Down
DROP TABLE checkpoints;
ALTER TABLE events DROP COLUMN key_id;
