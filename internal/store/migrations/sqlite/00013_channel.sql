-- +goose Up
-- How an issued pass's passcode reached its user: read out by the
-- operator, mailed to the user's manager, or through a one-time link.
-- It is part of the chain's encoding version 4 (see chain.go).
ALTER TABLE events ADD COLUMN channel TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN channel;
