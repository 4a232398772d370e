-- +goose Up
-- Security events queued for the webhook, one row per event, kept until
-- delivered or dead so that no replica's restart loses one. A replica
-- sends a row only while it holds the row's lease; a lease left by a
-- stopped replica lapses at lease_until_us. The payload is TEXT, not
-- JSONB: every attempt must send (and sign) the bytes first queued.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_us      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_us         BIGINT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    last_attempt_us BIGINT NOT NULL DEFAULT 0,
    delivered_us    BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until_us  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_us) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (last_attempt_us) WHERE state = 'dead';
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (delivered_us) WHERE state = 'delivered';

-- +goose Down
DROP TABLE webhook_deliveries;
