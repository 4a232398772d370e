package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.RevealLinks = (*Store)(nil)

// revealColumns are a link's facts: everything but its ciphertext, nonce
// and key check, which only TakeRevealLink reads.
const revealColumns = `id, event_id, target_id, operator_id, created_us, expires_us, revealed_us`

// CreateRevealLink implements portal.RevealLinks.
func (s *Store) CreateRevealLink(ctx context.Context, l portal.RevealLink, sealed portal.SealedPasscode) error {
	switch {
	case l.ID == "" || l.TargetID == "" || l.OperatorID == "":
		return portal.Errorf(portal.EInvalid, "A reveal link needs an id, a user and an operator.")
	case len(sealed.Ciphertext) == 0 || len(sealed.Nonce) == 0:
		return portal.Errorf(portal.EInvalid, "A reveal link needs a sealed passcode.")
	case sealed.Check == "":
		// Without a check the link could never be taken.
		return portal.Errorf(portal.EInvalid, "A reveal link needs a key check.")
	case !l.Expires.After(l.Created):
		return portal.Errorf(portal.EInvalid, "A reveal link must expire after it is made.")
	case !l.Revealed.IsZero():
		return portal.Errorf(portal.EInvalid, "A new reveal link cannot be revealed already.")
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO reveal_links (id, event_id, target_id, operator_id, ciphertext, nonce, key_check, created_us, expires_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		l.ID, l.EventID, l.TargetID, l.OperatorID, sealed.Ciphertext, sealed.Nonce, sealed.Check, micros(l.Created), micros(l.Expires))
	switch {
	case isUniqueViolation(err):
		return portal.Errorf(portal.EConflict, "A reveal link with this id exists already.")
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// SetRevealLinkEvent implements portal.RevealLinks.
func (s *Store) SetRevealLinkEvent(ctx context.Context, id string, eventID int64) error {
	ok, err := changedOneRow(s.write.ExecContext(ctx, s.q(`UPDATE reveal_links SET event_id = ? WHERE id = ?`), eventID, id))
	if err != nil {
		return err
	}
	if !ok {
		return revealNotFound()
	}
	return nil
}

// TakeRevealLink implements portal.RevealLinks. The row is read and
// written in one transaction that holds it (SQLite's writer lock, taken
// at BEGIN; PostgreSQL's row lock, taken by the read), so that of two
// takers the second sees the first's reveal. The same write that marks
// the link revealed forgets its ciphertext, and an expired link found
// still holding one forgets it on the way. The key check is compared in
// the same transaction, before anything is written: a wrong one rolls
// back having changed nothing.
func (s *Store) TakeRevealLink(ctx context.Context, id, check string, now time.Time) (portal.RevealLink, portal.SealedPasscode, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, unavailable(err)
	}
	defer tx.Rollback()
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE"
	}
	var sealed portal.SealedPasscode
	var keyCheck string
	l, err := scanRevealLink(tx.QueryRowContext(ctx, s.q(`SELECT `+revealColumns+`, ciphertext, nonce, key_check FROM reveal_links WHERE id = ?`+lock), id),
		&sealed.Ciphertext, &sealed.Nonce, &keyCheck)
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, err
	}
	state := l.State(now)
	if state == portal.RevealReady && sealed.IsZero() {
		// Purged by a clock a moment ahead of this one: it is at its
		// expiry.
		state = portal.RevealExpired
	}
	// A link that is gone is said to be gone before the check is looked
	// at, whatever the check: its page says as much, with the same time,
	// to anyone who has its id, so this tells someone without the key
	// nothing more. And it is the safer answer for the person with a
	// damaged key: "damaged, the passcode is still safe" would be false
	// of a passcode someone else revealed, which they must report. The
	// expired link's ciphertext, forgotten here, could never be taken.
	if state != portal.RevealReady {
		if !sealed.IsZero() {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE reveal_links SET ciphertext = NULL, nonce = NULL WHERE id = ?`), id); err != nil {
				return portal.RevealLink{}, portal.SealedPasscode{}, unavailable(err)
			}
			if err := tx.Commit(); err != nil {
				return portal.RevealLink{}, portal.SealedPasscode{}, unavailable(err)
			}
		}
		return l, portal.SealedPasscode{}, &portal.RevealGone{State: state, Link: l}
	}
	// In constant time, so that the answer's timing does not lead a
	// guesser to the check byte by byte. An empty check never matches,
	// even were an empty one stored.
	if check == "" || subtle.ConstantTimeCompare([]byte(check), []byte(keyCheck)) != 1 {
		return portal.RevealLink{}, portal.SealedPasscode{}, portal.ErrRevealDamaged
	}
	revealed := micros(now)
	ok, err := changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE reveal_links SET revealed_us = ?, ciphertext = NULL, nonce = NULL
		WHERE id = ? AND revealed_us IS NULL AND ciphertext IS NOT NULL`), revealed, id))
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, err
	}
	if !ok {
		// The row is held by this transaction: nothing can have
		// changed it since it was read.
		return portal.RevealLink{}, portal.SealedPasscode{}, &portal.Error{Code: portal.EInternal, Message: "The reveal link changed while it was being revealed."}
	}
	if err := tx.Commit(); err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, unavailable(err)
	}
	l.Revealed = fromMicros(revealed)
	return l, sealed, nil
}

// RevealLinkStatus implements portal.RevealLinks.
func (s *Store) RevealLinkStatus(ctx context.Context, id string) (portal.RevealLink, error) {
	return scanRevealLink(s.reads.QueryRowContext(ctx, s.q(`SELECT `+revealColumns+` FROM reveal_links WHERE id = ?`), id))
}

// PurgeRevealLinks implements portal.RevealLinks. The links stay, as the
// record of what was sent and whether it was revealed.
func (s *Store) PurgeRevealLinks(ctx context.Context, before time.Time) (int, error) {
	return changedRows(s.write.ExecContext(ctx, s.q(`UPDATE reveal_links SET ciphertext = NULL, nonce = NULL WHERE ciphertext IS NOT NULL AND expires_us <= ?`),
		micros(before)))
}

// scanRevealLink reads revealColumns, then into extra whatever else the
// query selected.
func scanRevealLink(row *sql.Row, extra ...any) (portal.RevealLink, error) {
	var l portal.RevealLink
	var created, expires int64
	var revealed sql.NullInt64
	err := row.Scan(append([]any{&l.ID, &l.EventID, &l.TargetID, &l.OperatorID, &created, &expires, &revealed}, extra...)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return portal.RevealLink{}, revealNotFound()
	case err != nil:
		return portal.RevealLink{}, unavailable(err)
	}
	l.Created, l.Expires = fromMicros(created), fromMicros(expires)
	if revealed.Valid {
		l.Revealed = fromMicros(revealed.Int64)
	}
	return l, nil
}

func revealNotFound() error {
	return &portal.Error{Code: portal.ENotFound, Message: "No such reveal link."}
}
