-- The history: one append-only table whose rows form a hash chain.
-- Times are unix microseconds so that both databases sort and compare
-- them the same way; ids are assigned by the store, never by SQLite, so
-- that they stay dense and in chain order.

-- +goose Up
-- INTEGER PRIMARY KEY makes id the rowid, so rows are stored in id order.
CREATE TABLE events (
	id               INTEGER PRIMARY KEY,
	time_us          INTEGER NOT NULL,
	action           TEXT    NOT NULL,
	outcome          TEXT    NOT NULL,
	operator_id      TEXT    NOT NULL DEFAULT '',
	operator_name    TEXT    NOT NULL DEFAULT '',
	target_id        TEXT    NOT NULL DEFAULT '',
	target_upn       TEXT    NOT NULL DEFAULT '',
	target_name      TEXT    NOT NULL DEFAULT '',
	tap_id           TEXT    NOT NULL DEFAULT '',
	lifetime_minutes INTEGER NOT NULL DEFAULT 0,
	one_time         INTEGER NOT NULL DEFAULT 0,
	start_us         INTEGER NOT NULL DEFAULT 0,
	reason           TEXT    NOT NULL DEFAULT '',
	ticket           TEXT    NOT NULL DEFAULT '',
	detail           TEXT    NOT NULL DEFAULT '',
	refusal_code     TEXT    NOT NULL DEFAULT '',
	graph_request_id TEXT    NOT NULL DEFAULT '',
	request_id       TEXT    NOT NULL DEFAULT '',
	intent_id        INTEGER NOT NULL DEFAULT 0,
	reconciled       INTEGER NOT NULL DEFAULT 0,
	-- anchor is set on retention records only: the hash the oldest
	-- remaining record links to after the deletion.
	anchor           TEXT    NOT NULL DEFAULT '',
	prev_hash        TEXT    NOT NULL,
	hash             TEXT    NOT NULL
) STRICT;

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
