package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Submission returns the intent recorded under a submission id and the
// newest record that settles it (following intent, outcome, settlement),
// or ENotFound.
func (s *Store) Submission(ctx context.Context, id string) (portal.SubmissionRecord, error) {
	var intentID int64
	err := s.reads.QueryRowContext(ctx, s.q("SELECT intent_id FROM submissions WHERE id = ?"), id).Scan(&intentID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return portal.SubmissionRecord{}, portal.Errorf(portal.ENotFound, "No form was submitted with this id.")
	case err != nil:
		return portal.SubmissionRecord{}, unavailable(err)
	}
	intent, err := s.Get(ctx, intentID)
	if err != nil {
		return portal.SubmissionRecord{}, err
	}
	rec := portal.SubmissionRecord{Intent: intent, Latest: intent}
	// An outcome settles the intent; an unknown outcome may be settled in
	// turn. The chain is short: at most intent, unknown, settlement.
	for range 4 {
		row := s.reads.QueryRowContext(ctx, s.q("SELECT "+eventColumns+" FROM events WHERE intent_id = ?"), rec.Latest.ID)
		next, err := newEventScanner().scan(row)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return portal.SubmissionRecord{}, unavailable(err)
		}
		rec.Latest = next
	}
	return rec, nil
}

// LockTarget implements portal.History. A lapsed lock (its replica
// stopped mid-call) is taken over.
func (s *Store) LockTarget(ctx context.Context, l portal.TargetLock) (portal.TargetLock, error) {
	now := micros(time.Now())
	if _, err := s.write.ExecContext(ctx, s.q("DELETE FROM target_locks WHERE target_id = ? AND expires_us < ?"), l.TargetID, now); err != nil {
		return portal.TargetLock{}, unavailable(err)
	}
	res, err := s.write.ExecContext(ctx, s.q(`INSERT INTO target_locks (target_id, holder, holder_name, since_us, expires_us)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (target_id) DO NOTHING`), l.TargetID, l.Holder, l.HolderName, micros(l.Since), micros(l.Expires))
	if err != nil {
		return portal.TargetLock{}, unavailable(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return portal.TargetLock{}, unavailable(err)
	} else if n == 1 {
		return l, nil
	}
	var held portal.TargetLock
	var since, expires int64
	err = s.write.QueryRowContext(ctx, s.q("SELECT target_id, holder, holder_name, since_us, expires_us FROM target_locks WHERE target_id = ?"),
		l.TargetID).Scan(&held.TargetID, &held.Holder, &held.HolderName, &since, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		// Released between the insert and the read: try once more.
		return s.LockTarget(ctx, l)
	}
	if err != nil {
		return portal.TargetLock{}, unavailable(err)
	}
	held.Since, held.Expires = fromMicros(since), fromMicros(expires)
	if held.Holder == l.Holder {
		return held, nil
	}
	return held, &portal.Error{Code: portal.EConflict, Message: "Another action for this user is in progress."}
}

// UnlockTarget implements portal.History.
func (s *Store) UnlockTarget(ctx context.Context, l portal.TargetLock) error {
	if _, err := s.write.ExecContext(ctx, s.q("DELETE FROM target_locks WHERE target_id = ? AND holder = ?"), l.TargetID, l.Holder); err != nil {
		return unavailable(err)
	}
	return nil
}

// TryLease implements portal.History.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	res, err := s.write.ExecContext(ctx, s.q(`INSERT INTO leases (name, holder, expires_us) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us
		WHERE leases.holder = excluded.holder OR leases.expires_us < ?`), name, holder, micros(now.Add(ttl)), micros(now))
	return changedOneRow(res, err)
}

// changedOneRow reports whether a conditional write took effect.
func changedOneRow(res sql.Result, err error) (bool, error) {
	n, err := changedRows(res, err)
	return n == 1, err
}

// changedRows counts the rows an exec changed, with the store's error
// when it failed.
func changedRows(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, unavailable(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable(err)
	}
	return int(n), nil
}
