-- +goose Up
-- Requests for a pass that a rule sends to a second pair of eyes. Each
-- leaves pending once (decided, cancelled or expired), and an approved one
-- ends issued or failed; the history records every step, and the record
-- ids are kept here to link them. The pass's passcode is never stored as
-- such: sealed holds it encrypted to public_key, whose private key only
-- the requester's browser has, and only until the requester takes it
-- (taken_us), when it is set to NULL. reasons and snapshot are JSON. A
-- request is for one user (target_*) or for a cohort run (run_id).
CREATE TABLE approvals (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'issued', 'failed')),
    requester_id      TEXT NOT NULL,
    requester_name    TEXT NOT NULL,
    target_id         TEXT NOT NULL,
    target_upn        TEXT NOT NULL,
    target_name       TEXT NOT NULL,
    run_id            TEXT NOT NULL DEFAULT '',
    start_us          INTEGER NOT NULL,
    lifetime          INTEGER NOT NULL,
    one_time          INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    ticket            TEXT NOT NULL,
    channel           TEXT NOT NULL,
    reasons           TEXT NOT NULL,
    snapshot          TEXT NOT NULL,
    created_us        INTEGER NOT NULL,
    expires_us        INTEGER NOT NULL,
    decider_id        TEXT NOT NULL DEFAULT '',
    decider_name      TEXT NOT NULL DEFAULT '',
    decided_us        INTEGER NOT NULL DEFAULT 0,
    decision_note     TEXT NOT NULL DEFAULT '',
    request_event_id  INTEGER NOT NULL DEFAULT 0,
    decision_event_id INTEGER NOT NULL DEFAULT 0,
    issue_event_id    INTEGER NOT NULL DEFAULT 0,
    tap_id            TEXT NOT NULL DEFAULT '',
    detail            TEXT NOT NULL DEFAULT '',
    settled_us        INTEGER NOT NULL DEFAULT 0,
    public_key        BLOB NOT NULL,
    sealed            BLOB,
    taken_us          INTEGER NOT NULL DEFAULT 0,
    -- A request is for a user or for a run, never both.
    CHECK ((target_id = '') <> (run_id = '')),
    -- No one decides their own request: the store refuses it, and so
    -- does the table, whatever writes to it.
    CHECK (decider_id = '' OR lower(decider_id) <> lower(requester_id)),
    -- A passcode waits only for an issued request, and is never put back
    -- once taken.
    CHECK (sealed IS NULL OR (state = 'issued' AND taken_us = 0))
) STRICT;
-- The queue and the expiry sweep read the pending requests.
CREATE INDEX approvals_pending ON approvals (expires_us) WHERE state = 'pending';
CREATE INDEX approvals_created ON approvals (created_us);
CREATE INDEX approvals_requester ON approvals (requester_id, created_us);
CREATE INDEX approvals_target ON approvals (target_id, created_us);

-- +goose Down
DROP TABLE approvals;
