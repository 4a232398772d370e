-- The history: one append-only table whose rows form a hash chain.
-- Times are unix microseconds so that both databases sort and compare
-- them the same way; ids are assigned by the store, never by a sequence, so
-- that they stay dense and in chain order.

-- +goose Up
CREATE TABLE events (
	id               BIGINT  PRIMARY KEY,
	time_us          BIGINT  NOT NULL,
	action           TEXT    NOT NULL,
	outcome          TEXT    NOT NULL,
	operator_id      TEXT    NOT NULL DEFAULT '',
	operator_name    TEXT    NOT NULL DEFAULT '',
	target_id        TEXT    NOT NULL DEFAULT '',
	target_upn       TEXT    NOT NULL DEFAULT '',
	target_name      TEXT    NOT NULL DEFAULT '',
	tap_id           TEXT    NOT NULL DEFAULT '',
	lifetime_minutes INTEGER NOT NULL DEFAULT 0,
	one_time         BOOLEAN NOT NULL DEFAULT FALSE,
	start_us         BIGINT  NOT NULL DEFAULT 0,
	reason           TEXT    NOT NULL DEFAULT '',
	ticket           TEXT    NOT NULL DEFAULT '',
	detail           TEXT    NOT NULL DEFAULT '',
	refusal_code     TEXT    NOT NULL DEFAULT '',
	graph_request_id TEXT    NOT NULL DEFAULT '',
	request_id       TEXT    NOT NULL DEFAULT '',
	intent_id        BIGINT  NOT NULL DEFAULT 0,
	reconciled       BOOLEAN NOT NULL DEFAULT FALSE,
	-- anchor is set on retention records only: the hash the oldest
	-- remaining record links to after the deletion.
	anchor           TEXT    NOT NULL DEFAULT '',
	prev_hash        TEXT    NOT NULL,
	hash             TEXT    NOT NULL
);

-- An intent gets at most one outcome, even when two replicas reconcile it.
CREATE UNIQUE INDEX events_intent ON events (intent_id) WHERE intent_id <> 0;
-- Each filter has an index ending in id, for keyset paging newest first.
CREATE INDEX events_operator ON events (operator_id, id);
CREATE INDEX events_target ON events (target_id, id);
CREATE INDEX events_action ON events (action, id);
CREATE INDEX events_outcome ON events (outcome, id);
-- Turns a time bound into an id bound with one lookup.
CREATE INDEX events_time ON events (time_us, id);

-- +goose Down
DROP TABLE events;
