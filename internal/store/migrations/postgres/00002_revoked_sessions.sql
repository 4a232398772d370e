-- +goose Up
-- Sessions ended by signing out. Session cookies are stateless, so a copy
-- of one stays valid until it expires unless its id is listed here.
CREATE TABLE revoked_sessions (
    id         TEXT PRIMARY KEY,
    expires_us BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expires ON revoked_sessions (expires_us);

-- +goose Down
DROP TABLE revoked_sessions;
