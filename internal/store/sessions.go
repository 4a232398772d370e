package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// RevokeSession lists a session id as ended until it would have expired,
// so a copied cookie cannot be used after its owner signed out, on any
// replica. Expired entries are pruned on the way.
func (s *Store) RevokeSession(ctx context.Context, id string, until time.Time) error {
	now := micros(time.Now())
	if _, err := s.write.ExecContext(ctx, s.q(`DELETE FROM revoked_sessions WHERE expires_us < ?`), now); err != nil {
		return unavailable(err)
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO revoked_sessions (id, expires_us) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		id, micros(until))
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// SessionRevoked reports whether the session id was ended by a sign-out,
// or every session of its subject created before it was (created is the
// session's start).
func (s *Store) SessionRevoked(ctx context.Context, id, subject string, created time.Time) (bool, error) {
	var one int
	err := s.reads.QueryRowContext(s.reads.quick(ctx), s.q(`SELECT 1 FROM revoked_sessions WHERE id = ?
		UNION ALL SELECT 1 FROM revoked_subjects WHERE subject = ? AND before_us > ?`), id, subject, micros(created)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, unavailable(err)
	}
	return true, nil
}

// RevokeSubject ends every session of subject started before before, on
// every replica, until until (when the last of them would have expired).
func (s *Store) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO revoked_subjects (subject, before_us, expires_us) VALUES (?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET before_us = excluded.before_us, expires_us = excluded.expires_us`),
		subject, micros(before), micros(until))
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// UseState records that a sign-in's state completed, and reports whether
// it was the first time: a state is good for one callback, on any
// replica. Expired entries are pruned on the way.
func (s *Store) UseState(ctx context.Context, state string, until time.Time) (bool, error) {
	if _, err := s.write.ExecContext(ctx, s.q(`DELETE FROM used_states WHERE expires_us < ?`), micros(time.Now())); err != nil {
		return false, unavailable(err)
	}
	res, err := s.write.ExecContext(ctx, s.q(`INSERT INTO used_states (state, expires_us) VALUES (?, ?) ON CONFLICT (state) DO NOTHING`),
		state, micros(until))
	return changedOneRow(res, err)
}
