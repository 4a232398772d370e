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

// SessionRevoked reports whether the session id was ended by a sign-out.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, s.q(`SELECT 1 FROM revoked_sessions WHERE id = ?`), id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, unavailable(err)
	}
	return true, nil
}
