package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// head is the newest record of the chain: the one the next append links to.
type head struct {
	id     int64
	timeUS int64
	hash   string
}

// chainTx runs fn in a transaction that holds the chain lock, with the
// chain's head as it stands under that lock. Everything that appends goes
// through here, so ids, times and hashes follow one another without gaps
// or forks, whichever replica appends.
func (s *Store) chainTx(ctx context.Context, fn func(tx *sql.Tx, h *head) error) error {
	// The default isolation, READ COMMITTED, matters on PostgreSQL: each
	// statement sees every commit made before it started, so the head read
	// after the lock is granted is the real head. REPEATABLE READ would
	// have taken its snapshot before the wait for the lock.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if s.postgres {
		// Released by commit or rollback, so a replica that dies mid-append
		// cannot leave the chain locked.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", chainLockKey); err != nil {
			return unavailable(err)
		}
	}
	h := head{hash: genesis}
	err = tx.QueryRowContext(ctx, "SELECT id, time_us, hash FROM events ORDER BY id DESC LIMIT 1").Scan(&h.id, &h.timeUS, &h.hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return unavailable(err)
	}
	if err := fn(tx, &h); err != nil {
		return unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}

// stamp sets the time e will be stored with: its own (now if zero),
// truncated to microseconds, and never before the head's, so that time
// never goes backwards along the chain even when replicas' clocks differ.
// Date-range queries rely on that order.
func stamp(e *portal.Event, h *head) {
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	e.Time = fromMicros(max(t.UnixMicro(), h.timeUS))
	e.Start = fromMicros(micros(e.Start))
}

// insert appends e after the head and advances the head. It fills e's id,
// time and hash.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, h *head, e *portal.Event, anchor string) error {
	stamp(e, h)
	e.ID = h.id + 1
	key := &s.keys[0]
	r := record{Event: *e, PrevHash: h.hash, Anchor: anchor, KeyID: key.id}
	e.Hash = r.chainHash(key)
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO events (`+chainColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, micros(e.Time), string(e.Action), string(e.Outcome), e.OperatorID, e.OperatorName,
		e.TargetID, e.TargetUPN, e.TargetName, e.TAPID, e.LifetimeMinutes, e.OneTime, micros(e.Start),
		e.Reason, e.Ticket, e.Detail, e.RefusalCode, e.GraphRequestID, e.RequestID, e.IntentID,
		e.Reconciled, e.Hash, e.Privilege, string(e.Channel), r.Anchor, r.PrevHash, r.KeyID)
	if err != nil {
		if e.IntentID != 0 && isUniqueViolation(err) {
			return conflict(e.IntentID, 0)
		}
		return err
	}
	h.id, h.timeUS, h.hash = e.ID, micros(e.Time), e.Hash
	return nil
}

// checkOutcome returns EConflict when e is an outcome whose intent already
// has one. The unique index on intent_id is the backstop; this check under
// the chain lock gives the better message.
func (s *Store) checkOutcome(ctx context.Context, tx *sql.Tx, e *portal.Event) error {
	if e.IntentID == 0 {
		return nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, s.q("SELECT id FROM events WHERE intent_id = ?"), e.IntentID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return conflict(e.IntentID, id)
}

func conflict(intent, outcome int64) error {
	msg := fmt.Sprintf("History record %d already has an outcome", intent)
	if outcome != 0 {
		msg += fmt.Sprintf(" (record %d)", outcome)
	}
	return &portal.Error{Code: portal.EConflict, Message: msg + "."}
}

func validate(e *portal.Event) error {
	if e.Action == "" || e.Outcome == "" {
		return portal.Errorf(portal.EInvalid, "A history record needs an action and an outcome.")
	}
	return nil
}

// Record appends e and returns it with its id, time and hash. A zero
// Time means now; a time before the newest record's becomes that
// record's time. The id in e is ignored. An outcome (IntentID set) whose
// intent already has one returns EConflict, which makes reconciling
// unsettled intents safe on several replicas at once.
func (s *Store) Record(ctx context.Context, e portal.Event) (portal.Event, error) {
	if err := validate(&e); err != nil {
		return portal.Event{}, err
	}
	err := s.chainTx(ctx, func(tx *sql.Tx, h *head) error {
		if err := s.checkOutcome(ctx, tx, &e); err != nil {
			return err
		}
		return s.insert(ctx, tx, h, &e, "")
	})
	if err != nil {
		return portal.Event{}, err
	}
	return e, nil
}

// RecordIntent appends the intent e like Record, unless e's operator
// already has o.Limit.Max issue intents counting against the limit in the
// o.Limit.Window before e's time (ELimited), or o.Submission was recorded
// before (EConflict). The checks and the append share the chain lock, so
// replicas cannot overshoot the limit or record one submission twice.
func (s *Store) RecordIntent(ctx context.Context, e portal.Event, o portal.IntentOptions) (portal.Event, error) {
	if err := validate(&e); err != nil {
		return portal.Event{}, err
	}
	err := s.chainTx(ctx, func(tx *sql.Tx, h *head) error {
		stamp(&e, h)
		if o.Limit.Max > 0 && o.Limit.Window > 0 {
			if err := s.checkLimit(ctx, tx, &e, o.Limit); err != nil {
				return err
			}
		}
		if err := s.checkOutcome(ctx, tx, &e); err != nil {
			return err
		}
		if o.Submission != "" {
			var prior int64
			err := tx.QueryRowContext(ctx, s.q("SELECT intent_id FROM submissions WHERE id = ?"), o.Submission).Scan(&prior)
			switch {
			case err == nil:
				return &portal.Error{Code: portal.EConflict, Message: fmt.Sprintf("This form was already submitted (record %d).", prior)}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if err := s.insert(ctx, tx, h, &e, ""); err != nil {
			return err
		}
		if o.Submission != "" {
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO submissions (id, intent_id, time_us) VALUES (?, ?, ?)"),
				o.Submission, e.ID, micros(e.Time)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return portal.Event{}, err
	}
	return e, nil
}

// checkLimit returns ELimited when e's operator is at the limit.
func (s *Store) checkLimit(ctx context.Context, tx *sql.Tx, e *portal.Event, l portal.Limit) error {
	// The window's start becomes an id bound (see firstAtOrAfter), so the
	// count walks the operator's index over the window only.
	from, ok, err := s.idAtOrAfter(ctx, tx, e.Time.Add(time.Microsecond-l.Window))
	if err != nil || !ok {
		return err
	}
	// An intent counts unless its outcome says no pass came of it (failed,
	// or refused by Graph): passes issued, and those whose outcome is not
	// known yet, the stricter reading.
	// Bulk rows and single issues each count against their own limit.
	kind := "NOT LIKE"
	if l.Bulk {
		kind = "LIKE"
	}
	filter := `operator_id = ? AND action = ? AND outcome = ? AND id >= ? AND request_id ` + kind + ` ?
		AND NOT EXISTS (SELECT 1 FROM events o WHERE o.intent_id = events.id AND o.intent_id <> 0 AND o.outcome IN (?, ?))`
	args := []any{e.OperatorID, string(portal.ActionIssue), string(portal.OutcomePending), from, portal.BulkRequestPrefix + "%",
		string(portal.OutcomeFailed), string(portal.OutcomeRefused)}
	var n, unsure int
	err = tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (
			SELECT 1 FROM events o WHERE o.intent_id = events.id AND o.intent_id <> 0 AND o.outcome = ?) THEN 1 ELSE 0 END), 0)
		FROM events WHERE `+filter), append([]any{string(portal.OutcomeSuccess)}, args...)...).Scan(&n, &unsure)
	if err != nil {
		return err
	}
	if n < l.Max {
		return nil
	}
	// A slot frees when the intent that put the operator at the limit
	// leaves the window.
	var oldest int64
	err = tx.QueryRowContext(ctx, s.q("SELECT time_us FROM events WHERE "+filter+" ORDER BY id LIMIT 1 OFFSET ?"),
		append(args, n-l.Max)...).Scan(&oldest)
	if err != nil {
		return err
	}
	wait := fromMicros(oldest).Add(l.Window).Sub(e.Time)
	passes := "passes"
	if n == 1 {
		passes = "pass"
	}
	if l.Bulk {
		passes += " in bulk runs"
	}
	known := ""
	if unsure > 0 {
		known = fmt.Sprintf(" (%d of them with an outcome not known yet, which count until Graph shows no pass came of them)", unsure)
	}
	return &portal.Error{Code: portal.ELimited, Message: fmt.Sprintf(
		"You have issued %d %s in the last %s%s: the limit is %d. Try again %s, or ask a supervisor.",
		n, passes, window(l.Window), known, l.Max, after(wait))}
}

// window says d as the end of "in the last …".
func window(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d == 24*time.Hour:
		return "day"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// after says when a wait of d ends, rounded up so that trying at that
// time works.
func after(d time.Duration) string {
	switch {
	case d <= time.Minute:
		return "in a minute"
	case d <= 90*time.Minute:
		return fmt.Sprintf("in %d minutes", (d+time.Minute-1)/time.Minute)
	}
	return fmt.Sprintf("in %d hours", (d+time.Hour-1)/time.Hour)
}

// DeleteBefore deletes the records older than t and appends a retention
// record built from by (its operator, request id, reason and ticket are
// kept), all in one transaction under the chain lock. The retention
// record states the hash of the last deleted record: the anchor the
// oldest remaining record links to, which Verify checks, so the shortened
// chain stays verifiable and a deletion outside retention does not pass
// for one. The requests for approval and the one-time links whose every
// step is older than t go with the records of those steps (see
// deleteOldRows). It returns the number of records deleted.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, by portal.Event) (int64, error) {
	var n int64
	err := s.chainTx(ctx, func(tx *sql.Tx, h *head) error {
		// Time grows with id, so the records older than t are exactly those
		// before the first record at or after t: deleting by id keeps the
		// deletion a prefix of the chain.
		cut, ok, err := s.idAtOrAfter(ctx, tx, t)
		if err != nil {
			return err
		}
		if !ok {
			cut = h.id + 1
		}
		anchor, err := s.anchorAt(ctx, tx, cut)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM events WHERE id < ?"), cut)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		approvals, links, err := s.deleteOldRows(ctx, tx, t)
		if err != nil {
			return err
		}
		e := by
		e.Action, e.Outcome = portal.ActionRetention, portal.OutcomeSuccess
		e.IntentID = 0
		e.Time = time.Time{}
		e.Detail = fmt.Sprintf("Retention deleted %d records older than %s. The remaining history links to anchor hash %s.",
			n, t.UTC().Format(time.RFC3339Nano), anchor)
		if approvals > 0 || links > 0 {
			e.Detail += fmt.Sprintf(" With them went %s and %s whose every step was older.",
				plural(approvals, "request for approval", "requests for approval"), plural(links, "one-time link", "one-time links"))
		}
		return s.insert(ctx, tx, h, &e, anchor)
	})
	if err != nil {
		return 0, err
	}
	// The deletion is done; fresher statistics are only a bonus.
	_ = s.optimize(ctx)
	return n, nil
}

// deleteOldRows deletes, in tx, the requests for approval and the
// one-time links whose every step is older than t, as retention deletes
// the records of those steps: a request that came to its end, was
// decided, settled and had its passcode taken before t, and a link
// revealed, or expired unrevealed, before t. A request still holding a
// sealed passcode stays until PurgeSealedApprovals forgets it, and a
// link that can still be opened stays: retention takes nothing anyone
// can still use. It returns how many of each it deleted.
func (s *Store) deleteOldRows(ctx context.Context, tx *sql.Tx, t time.Time) (approvals, links int, err error) {
	at := micros(t)
	approvals, err = changedRows(tx.ExecContext(ctx, s.q(`DELETE FROM approvals
		WHERE state IN ('rejected', 'expired', 'cancelled', 'issued', 'failed') AND sealed IS NULL
		AND created_us < ? AND decided_us < ? AND settled_us < ? AND taken_us < ?`), at, at, at, at))
	if err != nil {
		return 0, 0, err
	}
	links, err = changedRows(tx.ExecContext(ctx, s.q(`DELETE FROM reveal_links
		WHERE created_us < ? AND (revealed_us < ? OR (revealed_us IS NULL AND expires_us <= ?))`), at, at, at))
	if err != nil {
		return 0, 0, err
	}
	return approvals, links, nil
}

// plural counts n of something, as "1 link" or "2 links".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// anchorAt returns the hash the record cut will link to once every
// record before it is deleted: that of the newest record before cut, or,
// when there is none, the chain's current start.
func (s *Store) anchorAt(ctx context.Context, tx *sql.Tx, cut int64) (string, error) {
	var anchor string
	err := tx.QueryRowContext(ctx, s.q("SELECT hash FROM events WHERE id < ? ORDER BY id DESC LIMIT 1"), cut).Scan(&anchor)
	if !errors.Is(err, sql.ErrNoRows) {
		return anchor, err
	}
	err = tx.QueryRowContext(ctx, "SELECT prev_hash FROM events ORDER BY id LIMIT 1").Scan(&anchor)
	if errors.Is(err, sql.ErrNoRows) {
		return genesis, nil
	}
	return anchor, err
}
