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

// TakeRevealLink implements portal.RevealLinks. Anyone can ask, without
// a session, so the link is looked up and its key check compared on the
// read pool first: an unknown id, a wrong check or a link that is gone
// is answered without the write transaction, which on SQLite takes the
// one writer the whole portal shares. A link's check and expiry never
// change, so what the read finds stands; only a ready link asked for
// with its check, or an expired one still holding its ciphertext, goes
// on to takeRevealLink, which reads the row again and decides.
func (s *Store) TakeRevealLink(ctx context.Context, id, check string, now time.Time) (portal.RevealLink, portal.SealedPasscode, error) {
	var held bool
	var keyCheck string
	l, err := scanRevealLink(s.reads.QueryRowContext(ctx, s.q(`SELECT `+revealColumns+`, ciphertext IS NOT NULL, key_check FROM reveal_links WHERE id = ?`), id),
		&held, &keyCheck)
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, err
	}
	switch state := revealState(l, held, now); {
	case state != portal.RevealReady && !held:
		return l, portal.SealedPasscode{}, &portal.RevealGone{State: state, Link: l}
	case state == portal.RevealReady && !checkMatches(check, keyCheck):
		return portal.RevealLink{}, portal.SealedPasscode{}, portal.ErrRevealDamaged
	}
	return s.takeRevealLink(ctx, id, check, now)
}

// takeRevealLink takes a link in one write transaction that holds its
// row (SQLite's writer lock, taken at BEGIN; PostgreSQL's row lock, taken
// by the read), so that of two takers the second sees the first's
// reveal. The same write that marks the link revealed forgets its
// ciphertext, and an expired link found still holding one forgets it on
// the way. The key check is compared again before anything is written: a
// wrong one rolls back having changed nothing.
func (s *Store) takeRevealLink(ctx context.Context, id, check string, now time.Time) (portal.RevealLink, portal.SealedPasscode, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, unavailable(err)
	}
	defer tx.Rollback()
	var sealed portal.SealedPasscode
	var keyCheck string
	l, err := scanRevealLink(tx.QueryRowContext(ctx, s.q(`SELECT `+revealColumns+`, ciphertext, nonce, key_check FROM reveal_links WHERE id = ?`+s.forUpdate()), id),
		&sealed.Ciphertext, &sealed.Nonce, &keyCheck)
	if err != nil {
		return portal.RevealLink{}, portal.SealedPasscode{}, err
	}
	state := revealState(l, !sealed.IsZero(), now)
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
	if !checkMatches(check, keyCheck) {
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

// revealState is where link l stands at now, held telling whether it
// still holds its ciphertext: a ready link without one was purged by a
// clock a moment ahead of now, and is at its expiry.
func revealState(l portal.RevealLink, held bool, now time.Time) portal.RevealState {
	state := l.State(now)
	if state == portal.RevealReady && !held {
		return portal.RevealExpired
	}
	return state
}

// checkMatches compares a link's key check with the one stored, in
// constant time, so that the answer's timing does not lead a guesser to
// the check byte by byte. An empty check never matches, even were an
// empty one stored.
func checkMatches(check, stored string) bool {
	return check != "" && subtle.ConstantTimeCompare([]byte(check), []byte(stored)) == 1
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
