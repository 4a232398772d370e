-- +goose Up
-- What the portal read of the directory audit log: pass creations and
-- deletions, each matched to the portal's intent it carried out
-- (intent_id) or made elsewhere (intent_id 0). Derived from Graph, so not
-- part of the chain: a tampered row shows against the audit log itself.
CREATE TABLE directory_audits (
    id           TEXT PRIMARY KEY,
    time_us      INTEGER NOT NULL,
    activity     TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    target_upn   TEXT NOT NULL,
    target_name  TEXT NOT NULL,
    by_user_id   TEXT NOT NULL,
    by_user_upn  TEXT NOT NULL,
    by_app_id    TEXT NOT NULL,
    by_app_name  TEXT NOT NULL,
    seen_us      INTEGER NOT NULL,
    intent_id    INTEGER NOT NULL DEFAULT 0,
    -- For a pass created elsewhere: whether the target's privilege was
    -- checked, what it found, and why a check did not complete.
    checked      INTEGER NOT NULL DEFAULT 0,
    privilege    TEXT NOT NULL DEFAULT '',
    check_detail TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX directory_audits_time ON directory_audits (time_us);
CREATE INDEX directory_audits_target ON directory_audits (target_id, time_us);
-- One entry per intent, whichever replica matched it.
CREATE UNIQUE INDEX directory_audits_intent ON directory_audits (intent_id) WHERE intent_id <> 0;

-- How far the audit log has been read (one row), and why the last read
-- failed, if it did.
CREATE TABLE audit_cursor (
    name       TEXT PRIMARY KEY,
    from_us    INTEGER NOT NULL,
    to_us      INTEGER NOT NULL,
    problem    TEXT NOT NULL DEFAULT '',
    problem_us INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The portal's completed actions the audit log does not show after its
-- delay; a row goes when an entry arrives late and matches.
CREATE TABLE unaudited (
    intent_id  INTEGER PRIMARY KEY,
    flagged_us INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE unaudited;
DROP TABLE audit_cursor;
DROP TABLE directory_audits;
