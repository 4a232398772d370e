-- +goose Up
-- The portal's latest look at each pass it knows was made: by an issue
-- (record_id) or elsewhere (audit_id). Derived from Graph, so not part of
-- the chain. A pass is looked at until it is used, ends or is gone.
CREATE TABLE pass_watch (
    id           TEXT PRIMARY KEY,
    record_id    INTEGER NOT NULL DEFAULT 0,
    audit_id     TEXT NOT NULL DEFAULT '',
    target_id    TEXT NOT NULL,
    target_upn   TEXT NOT NULL,
    target_name  TEXT NOT NULL,
    made_us      INTEGER NOT NULL,
    tap_id       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT 'new',
    pass_use     TEXT NOT NULL DEFAULT 'unknown',
    still_usable INTEGER NOT NULL DEFAULT 0,
    after        TEXT NOT NULL DEFAULT '',
    ends_us      INTEGER NOT NULL DEFAULT 0,
    signed_in_us INTEGER NOT NULL DEFAULT 0,
    sign_in      TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    checked_us   INTEGER NOT NULL DEFAULT 0,
    next_us      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX pass_watch_next ON pass_watch (next_us) WHERE state IN ('new', 'open', 'unknown');
CREATE INDEX pass_watch_made ON pass_watch (made_us);
CREATE INDEX pass_watch_tap ON pass_watch (tap_id) WHERE tap_id <> '';

-- +goose Down
DROP TABLE pass_watch;
