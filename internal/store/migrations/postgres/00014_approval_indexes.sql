-- +goose Up
-- A cohort run's page looks up its request for approval by run_id, and
-- the supervisors' list shows the requests in one state, newest first:
-- each walks an index instead of the table. The purge of the passcodes
-- no requester can open any more looks for the oldest sealed ones.
CREATE INDEX approvals_run ON approvals (run_id, created_us);
CREATE INDEX approvals_state ON approvals (state, created_us);
CREATE INDEX approvals_sealed ON approvals (created_us) WHERE sealed IS NOT NULL;

-- +goose Down
DROP INDEX approvals_sealed;
DROP INDEX approvals_state;
DROP INDEX approvals_run;
