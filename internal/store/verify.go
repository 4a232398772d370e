package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tapportal/portal/internal/portal"
)

// Verify walks the chain from the oldest record, streaming, and reports
// the first record whose contents do not match its hash or that does not
// link to the record before it. The oldest record must link to the
// genesis hash, or, once retention has run, to the anchor stated by the
// newest retention record: records removed from the start of the history
// other than by DeleteBefore show up too. Removing the newest records
// leaves a valid chain; only a copy of the latest hash kept elsewhere can
// show that.
func (s *Store) Verify(ctx context.Context) (portal.Verification, error) {
	var v portal.Verification
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var retention int64
		var anchor string
		err := tx.QueryRowContext(ctx, s.q("SELECT id, anchor FROM events WHERE action = ? ORDER BY id DESC LIMIT 1"),
			string(portal.ActionRetention)).Scan(&retention, &anchor)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+chainColumns+" FROM events ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		var prev, r record
		sc := newEventScanner(&r.Anchor, &r.PrevHash)
		for rows.Next() {
			if r.Event, err = sc.scan(rows); err != nil {
				return err
			}
			v.Checked++
			if problem := link(&prev, &r, retention, anchor); problem != "" {
				v.BrokenAt, v.Problem = r.ID, problem
				return nil
			}
			if r.chainHash() != r.Hash {
				v.BrokenAt = r.ID
				v.Problem = fmt.Sprintf("Record %d has been changed since it was written: its contents do not match its hash.", r.ID)
				return nil
			}
			prev = r
		}
		return rows.Err()
	})
	if err != nil {
		return portal.Verification{}, unavailable(err)
	}
	return v, nil
}

// link checks that r follows prev, the record before it in id order (zero
// when r is the oldest), and says what is wrong when it does not.
func link(prev, r *record, retention int64, anchor string) string {
	switch {
	case prev.ID == 0 && retention == 0 && r.PrevHash != genesis:
		return fmt.Sprintf("Record %d is the oldest but does not start the chain, and no retention record accounts for the records before it: they were deleted.", r.ID)
	case prev.ID == 0 && retention != 0 && r.PrevHash != anchor:
		return fmt.Sprintf("Record %d is the oldest but does not link to the anchor stated by retention record %d: records were deleted other than by retention.", r.ID, retention)
	case prev.ID == 0:
		return ""
	case r.ID == prev.ID+2:
		return fmt.Sprintf("Record %d is missing: record %d follows record %d.", prev.ID+1, r.ID, prev.ID)
	case r.ID != prev.ID+1:
		return fmt.Sprintf("Records %d to %d are missing: record %d follows record %d.", prev.ID+1, r.ID-1, r.ID, prev.ID)
	case r.PrevHash != prev.Hash:
		return fmt.Sprintf("Record %d does not link to record %d: the hash it links to is not that record's hash.", r.ID, prev.ID)
	}
	return ""
}
