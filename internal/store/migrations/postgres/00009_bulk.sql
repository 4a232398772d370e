-- +goose Up
-- Bulk runs: a cohort file's rows, each issued as its own history record.
-- A run's state lives here so that any replica resumes it after a restart.
-- Passcodes are kept only sealed to the run's public key (the private key
-- is the operator's alone), and only until they are shown.
CREATE TABLE bulk_runs (
    id            TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    created_us    BIGINT NOT NULL,
    state         TEXT NOT NULL,
    public_key    BYTEA NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    updated_us    BIGINT NOT NULL
);
CREATE INDEX bulk_runs_state ON bulk_runs (state);

CREATE TABLE bulk_rows (
    run_id       TEXT NOT NULL REFERENCES bulk_runs (id),
    line         INTEGER NOT NULL,
    target       TEXT NOT NULL,
    target_id    TEXT NOT NULL DEFAULT '',
    target_name  TEXT NOT NULL DEFAULT '',
    start_us     BIGINT NOT NULL DEFAULT 0,
    lifetime     INTEGER NOT NULL,
    one_time     BOOLEAN NOT NULL,
    reason       TEXT NOT NULL,
    ticket       TEXT NOT NULL,
    submission   TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    tap_id       TEXT NOT NULL DEFAULT '',
    sealed       BYTEA,
    updated_us   BIGINT NOT NULL,
    PRIMARY KEY (run_id, line)
);

-- +goose Down
DROP TABLE bulk_rows;
DROP TABLE bulk_runs;
