-- +goose Up
-- The state of every completed sign-in, until its login would have
-- expired: a replayed callback finds it used.
CREATE TABLE used_states (
    state      TEXT PRIMARY KEY,
    expires_us INTEGER NOT NULL
);
-- Every session of a subject created before before_us has ended (sign out
-- everywhere, or a supervisor ending an operator's sessions).
CREATE TABLE revoked_subjects (
    subject    TEXT PRIMARY KEY,
    before_us  INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);

-- +goose Down
DROP TABLE revoked_subjects;
DROP TABLE used_states;
