package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/tapportal/portal/internal/portal"
)

// Verify walks the chain and checks it against the checkpoints in the
// database; see VerifyWith.
func (s *Store) Verify(ctx context.Context) (portal.Verification, error) {
	return s.VerifyWith(ctx, nil)
}

// VerifyWith walks the chain from the oldest record, streaming, and
// reports the first record whose contents do not match its keyed hash or
// that does not link to the record before it. The oldest record must link
// to the genesis hash, or, once retention has run, to the anchor stated by
// the newest retention record: records removed from the start of the
// history other than by DeleteBefore show up too.
//
// The chain alone cannot show its newest records deleted, nor a history
// rewritten by someone holding the audit key. The checkpoints can: each
// verified checkpoint, from the database or from logged (read from the
// portal's log by ReadCheckpoints), must name a record that still has the
// hash it had, and no checkpoint may name a record newer than the newest.
// Logged checkpoints are also compared with the database's, which shows
// checkpoints deleted or rewritten there.
func (s *Store) VerifyWith(ctx context.Context, logged []LoggedCheckpoint) (portal.Verification, error) {
	return s.verify(ctx, logged, false)
}

// verify is VerifyWith. With adopt set, as for the checkpoint being
// written, records written before the chain was keyed need nothing to
// vouch for them while no keyed record and no checkpoint exists yet: the
// first checkpoint after the upgrade takes them over.
func (s *Store) verify(ctx context.Context, logged []LoggedCheckpoint, adopt bool) (portal.Verification, error) {
	var v portal.Verification
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var retention int64
		var anchor string
		err := tx.QueryRowContext(ctx, s.q("SELECT id, anchor FROM events WHERE action = ? ORDER BY id DESC LIMIT 1"),
			string(portal.ActionRetention)).Scan(&retention, &anchor)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stored, err := s.storedCheckpoints(ctx, tx)
		if err != nil {
			return err
		}
		w := walk{s: s, v: &v, retention: retention, anchor: anchor, adopt: adopt && len(stored) == 0}
		w.checkpoints = w.reconcile(stored, logged)
		rows, err := tx.QueryContext(ctx, "SELECT "+chainColumns+" FROM events ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		var r record
		sc := newEventScanner(&r.Anchor, &r.PrevHash, &r.KeyID)
		for rows.Next() {
			if r.Event, err = sc.scan(rows); err != nil {
				return err
			}
			if !w.step(&r) {
				return nil
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		w.finish()
		return nil
	})
	if err != nil {
		return portal.Verification{}, unavailable(err)
	}
	return v, nil
}

// walk is the state of one verification.
type walk struct {
	s         *Store
	v         *portal.Verification
	retention int64
	anchor    string
	// checkpoints are the verified checkpoints, by head id; next is the
	// first whose head the walk has not reached.
	checkpoints []portal.Checkpoint
	next        int
	prev        record
	// keyed is the newest keyed record; unkeyed the newest unkeyed one.
	keyed, unkeyed int64
	// vouched is the newest head a checkpoint confirmed.
	vouched int64
	// adopt lets unkeyed records stand unvouched (see verify).
	adopt bool
}

// step checks r, the next record in id order, and reports whether the
// walk goes on.
func (w *walk) step(r *record) bool {
	w.v.Checked++
	if problem := link(&w.prev, r, w.retention, w.anchor); problem != "" {
		return w.broken(r.ID, problem)
	}
	if problem := w.checkHash(r); problem != "" {
		return w.broken(r.ID, problem)
	}
	w.checkpointsAt(r)
	w.prev = *r
	w.v.HeadID, w.v.HeadHash = r.ID, r.Hash
	return true
}

func (w *walk) broken(id int64, problem string) bool {
	w.v.BrokenAt, w.v.Problem = id, problem
	return false
}

// checkHash recomputes r's hash with the key it names.
func (w *walk) checkHash(r *record) string {
	var key *auditKey
	if r.KeyID == "" {
		if w.keyed != 0 {
			return fmt.Sprintf("Record %d carries no audit key, though record %d before it does: it was written or re-hashed by someone without the key.", r.ID, w.keyed)
		}
		w.unkeyed = r.ID
	} else {
		if key = w.s.key(r.KeyID); key == nil {
			return fmt.Sprintf("Record %d is keyed with audit key %s, which is not configured: PORTAL_AUDIT_KEY must keep every retired key while records it keyed remain.", r.ID, r.KeyID)
		}
		w.keyed = r.ID
	}
	if r.chainHash(key) != r.Hash {
		return fmt.Sprintf("Record %d has been changed since it was written: its contents do not match its hash.", r.ID)
	}
	return ""
}

// checkpointsAt checks the checkpoints whose head is r, skipping those
// whose head retention has deleted.
func (w *walk) checkpointsAt(r *record) {
	for ; w.next < len(w.checkpoints) && w.checkpoints[w.next].HeadID <= r.ID; w.next++ {
		c := &w.checkpoints[w.next]
		if c.HeadID < r.ID {
			// Before the oldest record: deleted by retention, as the link
			// check of the oldest record has established.
			continue
		}
		switch {
		case c.HeadHash != r.Hash:
			w.find(fmt.Sprintf("Record %d is not the record checkpoint %d (%s) vouched for: its hash differs, so the history was rewritten after that checkpoint, or records were deleted and others written in their place.",
				r.ID, c.Seq, stamp3339(c)))
		case w.retention <= c.HeadID && w.v.Checked != c.Count:
			w.find(fmt.Sprintf("Checkpoint %d (%s) counted %d records up to record %d; the history now holds %d: records were removed.",
				c.Seq, stamp3339(c), c.Count, r.ID, w.v.Checked))
		default:
			w.vouched = r.ID
		}
	}
}

// finish checks what only the end of the chain shows.
func (w *walk) finish() {
	if n := len(w.checkpoints); n > 0 && w.checkpoints[n-1].HeadID > w.v.HeadID {
		c := &w.checkpoints[n-1]
		w.find(fmt.Sprintf("Checkpoint %d (%s) names record %d as the newest, but the newest record is %d: records %d to %d were deleted.",
			c.Seq, stamp3339(c), c.HeadID, w.v.HeadID, w.v.HeadID+1, c.HeadID))
	}
	switch {
	case w.unkeyed <= w.keyed || w.vouched >= w.unkeyed:
	case w.adopt && w.keyed == 0:
		w.v.Notes = append(w.v.Notes, fmt.Sprintf("Records up to %d were written before the chain was keyed; the first checkpoint vouches for them.", w.unkeyed))
	default:
		w.broken(w.unkeyed, fmt.Sprintf("Records up to %d carry no audit key, and neither a keyed record nor a checkpoint vouches for them: they may have been re-hashed by someone without the key.", w.unkeyed))
	}
}

func (w *walk) find(s string) { w.v.Findings = append(w.v.Findings, s) }

// reconcile verifies the stored and logged checkpoints, compares the
// two, and returns those that verified, by head id.
func (w *walk) reconcile(stored []portal.Checkpoint, logged []LoggedCheckpoint) []portal.Checkpoint {
	valid := make([]portal.Checkpoint, 0, len(stored)+len(logged))
	// bySeq holds every stored checkpoint, nil for one that failed.
	bySeq := make(map[int64]*portal.Checkpoint, len(stored))
	for i := range stored {
		c := &stored[i]
		if problem := w.s.checkMAC(c); problem != "" {
			w.find(fmt.Sprintf("Checkpoint %d in the database %s", c.Seq, problem))
			bySeq[c.Seq] = nil
			continue
		}
		bySeq[c.Seq] = c
		valid = append(valid, *c)
	}
	// The log may merge several replicas' lines in any order: the numbers
	// give the order.
	logged = slices.Clone(logged)
	slices.SortStableFunc(logged, func(a, b LoggedCheckpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	var prev *LoggedCheckpoint
	for i := range logged {
		l := &logged[i]
		if problem := w.s.checkMAC(&l.Checkpoint); problem != "" {
			w.find(fmt.Sprintf("Checkpoint %d on line %d of the log %s", l.Seq, l.Line, problem))
			continue
		}
		if prev != nil && prev.Seq == l.Seq {
			if prev.MAC != l.MAC {
				w.find(fmt.Sprintf("Checkpoint %d is on lines %d and %d of the log with different contents: its number was used twice, so checkpoints were deleted from the database.", l.Seq, prev.Line, l.Line))
			}
			continue
		}
		switch c, ok := bySeq[l.Seq]; {
		case ok && c == nil:
			// Reported above; the logged copy stands in for it.
			valid = append(valid, l.Checkpoint)
		case !ok:
			w.find(fmt.Sprintf("Checkpoint %d (%s, line %d of the log) is missing from the database: checkpoints were deleted there.", l.Seq, stamp3339(&l.Checkpoint), l.Line))
			valid = append(valid, l.Checkpoint)
		case c.MAC != l.MAC:
			w.find(fmt.Sprintf("Checkpoint %d differs between the log (line %d, %s) and the database (%s): the database's checkpoints were deleted and written again.",
				l.Seq, l.Line, stamp3339(&l.Checkpoint), stamp3339(c)))
			valid = append(valid, l.Checkpoint)
		}
		w.checkSequence(prev, l)
		prev = l
	}
	w.v.Checkpoints = len(valid)
	slices.SortStableFunc(valid, func(a, b portal.Checkpoint) int { return cmp.Compare(a.HeadID, b.HeadID) })
	return valid
}

// checkSequence compares a logged checkpoint with the one numbered
// before it in the log.
func (w *walk) checkSequence(prev, l *LoggedCheckpoint) {
	switch {
	case prev == nil:
	case l.Seq == prev.Seq+2:
		w.find(fmt.Sprintf("Checkpoint %d is missing from the log (checkpoints %d and %d are on lines %d and %d): log lines were lost or removed.", prev.Seq+1, prev.Seq, l.Seq, prev.Line, l.Line))
	case l.Seq > prev.Seq+2:
		w.find(fmt.Sprintf("Checkpoints %d to %d are missing from the log (checkpoints %d and %d are on lines %d and %d): log lines were lost or removed.", prev.Seq+1, l.Seq-1, prev.Seq, l.Seq, prev.Line, l.Line))
	case l.Time.Sub(prev.Time) > 2*prev.Interval:
		w.v.Notes = append(w.v.Notes, fmt.Sprintf("No checkpoint between %s and %s (one is due every %s): the portal was not running.",
			stamp3339(&prev.Checkpoint), stamp3339(&l.Checkpoint), prev.Interval))
	}
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
