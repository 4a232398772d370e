package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// DeliveryState is where a webhook delivery stands.
type DeliveryState string

// The states of a webhook delivery.
const (
	// DeliveryPending waits for its next attempt.
	DeliveryPending DeliveryState = "pending"
	// DeliveryDelivered was answered with a 2xx.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryDead failed every attempt; only a supervisor's Requeue
	// sends it again.
	DeliveryDead DeliveryState = "dead"
)

// MaxDeliveryError bounds the error text kept for a failed attempt: a
// receiver's answer is not the store's to keep whole.
const MaxDeliveryError = 1000

// Delivery is one event queued for the webhook, and what became of it.
type Delivery struct {
	ID int64
	// EventID identifies the event: an event is queued once, however
	// often it is enqueued.
	EventID string
	Kind    string
	// Payload is the JSON body every attempt sends.
	Payload  []byte
	Created  time.Time
	Attempts int
	// Next is when the next attempt is due, while pending.
	Next  time.Time
	State DeliveryState
	// LastStatus is the HTTP status of the last attempt, 0 when none came
	// back; LastError says why it failed.
	LastStatus  int
	LastError   string
	LastAttempt time.Time
	Delivered   time.Time
	// LeaseOwner is the sender that may attempt it until LeaseUntil.
	LeaseOwner string
	LeaseUntil time.Time
}

// Attempt is the outcome of one attempt to send a delivery.
type Attempt struct {
	// Owner is the sender that made it, under its lease.
	Owner string
	At    time.Time
	// Status is the HTTP status answered, 0 when none came back.
	Status int
	// Error says why a failed attempt failed; it is kept as portal.Clip
	// leaves it, at most MaxDeliveryError bytes.
	Error string
}

// DeliveryCounts count the deliveries in each state, for a supervisor's
// page.
type DeliveryCounts struct {
	Pending, Delivered, Dead int
	// OldestPending is when the oldest pending delivery was queued; zero
	// when none is.
	OldestPending time.Time
}

const deliveryColumns = `id, event_id, kind, payload, created_us, attempts, next_us, state, last_status, last_error,
	last_attempt_us, delivered_us, lease_owner, lease_until_us`

// Enqueue queues an event's payload for the webhook, due at once, and
// reports whether it was queued: an event id already queued (whatever its
// state) is left as it is, so a notice raised twice is sent once.
func (s *Store) Enqueue(ctx context.Context, eventID, kind string, payload []byte, at time.Time) (bool, error) {
	return changedOneRow(s.write.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (event_id, kind, payload, created_us, next_us)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`), eventID, kind, string(payload), micros(at), micros(at)))
}

// claimPostgres leases due deliveries on PostgreSQL. The rows are locked
// as they are picked and rows another claimer has locked are skipped, so
// two claimers never pick one row; a row whose lease a claimer has just
// committed is re-read on locking and no longer qualifies. MATERIALIZED
// keeps the pick to one run of the locking query.
const claimPostgres = `WITH due AS MATERIALIZED (
		SELECT id AS due_id FROM webhook_deliveries
		WHERE state = 'pending' AND next_us <= $3 AND lease_until_us <= $4
		ORDER BY next_us, id LIMIT $5 FOR UPDATE SKIP LOCKED)
	UPDATE webhook_deliveries SET lease_owner = $1, lease_until_us = $2 FROM due WHERE id = due.due_id
	RETURNING ` + deliveryColumns

// claimSQLite leases due deliveries on SQLite, where the statement holds
// the database's one write lock from its pick to its update.
const claimSQLite = `UPDATE webhook_deliveries SET lease_owner = ?, lease_until_us = ?
	WHERE id IN (SELECT id FROM webhook_deliveries
		WHERE state = 'pending' AND next_us <= ? AND lease_until_us <= ?
		ORDER BY next_us, id LIMIT ?)
	RETURNING ` + deliveryColumns

// ClaimDue leases to owner, until now+lease, at most limit pending
// deliveries that are due at now and whose lease is free or has lapsed,
// and returns them, the longest due first. Of several claimers, on one
// database or several replicas, each delivery goes to one.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := claimSQLite
	if s.postgres {
		query = claimPostgres
	}
	rows, err := s.write.QueryContext(ctx, query, owner, micros(now.Add(lease)), micros(now), micros(now), limit)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, err
	}
	// RETURNING lists rows in no particular order.
	slices.SortFunc(out, func(a, b Delivery) int {
		return cmp.Or(a.Next.Compare(b.Next), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// MarkDelivered records a delivery's successful attempt and reports
// whether it was still pending. It does not ask for the lease: the
// receiver has the event, whichever sender holds the lease now, and
// receivers drop a repeat by its webhook-id.
func (s *Store) MarkDelivered(ctx context.Context, id int64, a Attempt) (bool, error) {
	at := micros(a.At)
	return changedOneRow(s.write.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1,
		last_status = ?, last_error = '', last_attempt_us = ?, delivered_us = ?, lease_owner = '', lease_until_us = 0
		WHERE id = ? AND state = 'pending'`), a.Status, at, at, id))
}

// MarkFailed records a delivery's failed attempt: it is due again at
// retry, or dead once it has had maxAttempts attempts. It returns the
// delivery's new state, or "" when a.Owner no longer holds its lease (a
// lapsed lease another sender has taken, whose own attempt counts) or it
// is no longer pending.
func (s *Store) MarkFailed(ctx context.Context, id int64, a Attempt, retry time.Time, maxAttempts int) (DeliveryState, error) {
	var state string
	err := s.write.QueryRowContext(ctx, s.q(`UPDATE webhook_deliveries SET attempts = attempts + 1,
		state = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE 'pending' END,
		next_us = ?, last_status = ?, last_error = ?, last_attempt_us = ?, lease_owner = '', lease_until_us = 0
		WHERE id = ? AND state = 'pending' AND lease_owner = ?
		RETURNING state`), maxAttempts, micros(retry), a.Status, portal.Clip(a.Error, MaxDeliveryError), micros(a.At), id, a.Owner).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", unavailable(err)
	}
	return DeliveryState(state), nil
}

// Requeue makes a dead delivery pending again, due at now with its
// attempts counted afresh, and reports whether it was dead. Its last
// status and error stay until its next attempt.
func (s *Store) Requeue(ctx context.Context, id int64, now time.Time) (bool, error) {
	return changedOneRow(s.write.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_us = ?,
		lease_owner = '', lease_until_us = 0 WHERE id = ? AND state = 'dead'`), micros(now), id))
}

// FindDelivery returns the delivery of an event, or ENotFound.
func (s *Store) FindDelivery(ctx context.Context, eventID string) (Delivery, error) {
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE event_id = ?"), eventID)
	if err != nil {
		return Delivery{}, unavailable(err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return Delivery{}, err
	}
	if len(out) == 0 {
		return Delivery{}, &portal.Error{Code: portal.ENotFound, Message: "No webhook delivery for this event."}
	}
	return out[0], nil
}

// ListDead lists the dead deliveries, the latest to die first, at most
// limit (50 when limit is not between 1 and 500).
func (s *Store) ListDead(ctx context.Context, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+deliveryColumns+` FROM webhook_deliveries WHERE state = 'dead'
		ORDER BY last_attempt_us DESC, id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, unavailable(err)
	}
	return scanDeliveries(rows)
}

// DeliveryCounts counts the deliveries in each state.
func (s *Store) DeliveryCounts(ctx context.Context) (DeliveryCounts, error) {
	var c DeliveryCounts
	var oldest int64
	// One subquery per state, so that each counts through its state's
	// partial index rather than the whole table.
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'),
		(SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'),
		(SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'dead'),
		(SELECT COALESCE(MIN(created_us), 0) FROM webhook_deliveries WHERE state = 'pending')`).
		Scan(&c.Pending, &c.Delivered, &c.Dead, &oldest)
	if err != nil {
		return c, unavailable(err)
	}
	c.OldestPending = fromMicros(oldest)
	return c, nil
}

// PruneDeliveries deletes the deliveries delivered before t and returns
// how many. Pending and dead ones stay: they are still owed.
func (s *Store) PruneDeliveries(ctx context.Context, t time.Time) (int, error) {
	return changedRows(s.write.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_us < ?`), micros(t)))
}

// scanDeliveries reads and closes rows of deliveryColumns.
func scanDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var payload, state string
		var created, next, lastAttempt, delivered, leaseUntil int64
		if err := rows.Scan(&d.ID, &d.EventID, &d.Kind, &payload, &created, &d.Attempts, &next, &state, &d.LastStatus, &d.LastError,
			&lastAttempt, &delivered, &d.LeaseOwner, &leaseUntil); err != nil {
			return nil, unavailable(err)
		}
		d.Payload, d.State = []byte(payload), DeliveryState(state)
		d.Created, d.Next, d.LastAttempt = fromMicros(created), fromMicros(next), fromMicros(lastAttempt)
		d.Delivered, d.LeaseUntil = fromMicros(delivered), fromMicros(leaseUntil)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
