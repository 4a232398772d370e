-- +goose Up
-- How the target of an action holds power the portal protects: the
-- reason of a refusal, or what a revocation touched. It is part of the
-- chain's encoding version 2 (see chain.go).
ALTER TABLE events ADD COLUMN privilege TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN privilege;
