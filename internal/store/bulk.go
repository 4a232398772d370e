package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.BulkRuns = (*Store)(nil)

const runColumns = `id, operator_id, operator_name, file_name, created_us, state, public_key, detail, updated_us`

const rowColumns = `run_id, line, target, target_id, target_name, start_us, lifetime, one_time, reason, ticket, submission,
	state, detail, tap_id, sealed, updated_us`

// CreateRun implements portal.BulkRuns: the run and its rows in one
// transaction.
func (s *Store) CreateRun(ctx context.Context, r portal.BulkRun, rows []portal.BulkRow) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO bulk_runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.OperatorID, r.OperatorName, r.FileName, micros(r.Created), string(r.State), r.PublicKey, r.Detail, micros(r.Updated)); err != nil {
		return unavailable(err)
	}
	insert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO bulk_rows (`+rowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return unavailable(err)
	}
	defer insert.Close()
	for _, w := range rows {
		if _, err := insert.ExecContext(ctx, r.ID, w.Line, w.Target, w.TargetID, w.TargetName, micros(w.Start), w.Lifetime, w.OneTime,
			w.Reason, w.Ticket, w.Submission, string(w.State), w.Detail, w.TAPID, w.Sealed, micros(w.Updated)); err != nil {
			return unavailable(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Run implements portal.BulkRuns.
func (s *Store) Run(ctx context.Context, id string) (portal.BulkRun, error) {
	runs, err := s.runs(ctx, "WHERE id = ?", id)
	if err != nil {
		return portal.BulkRun{}, err
	}
	if len(runs) == 0 {
		return portal.BulkRun{}, &portal.Error{Code: portal.ENotFound, Message: "No such bulk run."}
	}
	return runs[0], nil
}

// Runs implements portal.BulkRuns.
func (s *Store) Runs(ctx context.Context, state portal.RunState) ([]portal.BulkRun, error) {
	return s.runs(ctx, "WHERE state = ? ORDER BY created_us, id", string(state))
}

// RecentRuns implements portal.BulkRuns.
func (s *Store) RecentRuns(ctx context.Context, operatorID string, limit int) ([]portal.BulkRun, error) {
	if operatorID == "" {
		return s.runs(ctx, "ORDER BY created_us DESC, id LIMIT ?", limit)
	}
	return s.runs(ctx, "WHERE operator_id = ? ORDER BY created_us DESC, id LIMIT ?", operatorID, limit)
}

// ConfirmRun implements portal.BulkRuns.
func (s *Store) ConfirmRun(ctx context.Context, id string, publicKey []byte, now time.Time) (bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, unavailable(err)
	}
	defer tx.Rollback()
	ok, err := changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE bulk_runs SET state = ?, public_key = ?, updated_us = ? WHERE id = ? AND state = ?`),
		string(portal.RunRunning), publicKey, micros(now), id, string(portal.RunPreview)))
	if err != nil || !ok {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE bulk_rows SET state = ?, updated_us = ? WHERE run_id = ? AND state = ?`),
		string(portal.RowQueued), micros(now), id, string(portal.RowEligible)); err != nil {
		return false, unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// RowCounts implements portal.BulkRuns.
func (s *Store) RowCounts(ctx context.Context, runID string) (map[portal.RowState]int, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT state, COUNT(*) FROM bulk_rows WHERE run_id = ? GROUP BY state`), runID)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	out := map[portal.RowState]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, unavailable(err)
		}
		out[portal.RowState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// SetRunState implements portal.BulkRuns.
func (s *Store) SetRunState(ctx context.Context, id string, from, to portal.RunState, detail string, now time.Time) (bool, error) {
	return changedOneRow(s.write.ExecContext(ctx, s.q(`UPDATE bulk_runs SET state = ?, detail = ?, updated_us = ? WHERE id = ? AND state = ?`),
		string(to), detail, micros(now), id, string(from)))
}

// Rows implements portal.BulkRuns.
func (s *Store) Rows(ctx context.Context, runID string) ([]portal.BulkRow, error) {
	return s.bulkRows(ctx, s.read, "WHERE run_id = ? ORDER BY line", runID)
}

// RowsIn implements portal.BulkRuns.
func (s *Store) RowsIn(ctx context.Context, runID string, state portal.RowState, limit int) ([]portal.BulkRow, error) {
	return s.bulkRows(ctx, s.read, "WHERE run_id = ? AND state = ? ORDER BY line LIMIT ?", runID, string(state), limit)
}

// SaveRows implements portal.BulkRuns.
func (s *Store) SaveRows(ctx context.Context, rows []portal.BulkRow) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	update, err := tx.PrepareContext(ctx, s.q(`UPDATE bulk_rows SET state = ?, detail = ?, target_id = ?, target_name = ?, tap_id = ?,
		sealed = ?, start_us = ?, lifetime = ?, updated_us = ? WHERE run_id = ? AND line = ?`))
	if err != nil {
		return unavailable(err)
	}
	defer update.Close()
	for _, w := range rows {
		if _, err := update.ExecContext(ctx, string(w.State), w.Detail, w.TargetID, w.TargetName, w.TAPID, w.Sealed, micros(w.Start), w.Lifetime,
			micros(w.Updated), w.RunID, w.Line); err != nil {
			return unavailable(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}

// MoveRows implements portal.BulkRuns.
func (s *Store) MoveRows(ctx context.Context, runID string, from, to portal.RowState, now time.Time) (int, error) {
	return changedRows(s.write.ExecContext(ctx, s.q(`UPDATE bulk_rows SET state = ?, updated_us = ? WHERE run_id = ? AND state = ?`),
		string(to), micros(now), runID, string(from)))
}

// TakeSealed implements portal.BulkRuns. The rows are locked while they
// are read, so that of two replicas taking at once, one gets them.
func (s *Store) TakeSealed(ctx context.Context, runID string) ([]portal.BulkRow, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	defer tx.Rollback()
	rows, err := s.bulkRows(ctx, tx, "WHERE run_id = ? AND sealed IS NOT NULL ORDER BY line"+s.forUpdate(), runID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE bulk_rows SET sealed = NULL WHERE run_id = ? AND sealed IS NOT NULL`), runID); err != nil {
		return nil, unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable(err)
	}
	return rows, nil
}

// querier is what both a database and a transaction can query.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) runs(ctx context.Context, rest string, args ...any) ([]portal.BulkRun, error) {
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+runColumns+" FROM bulk_runs "+rest), args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.BulkRun
	for rows.Next() {
		var r portal.BulkRun
		var state string
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.OperatorID, &r.OperatorName, &r.FileName, &created, &state, &r.PublicKey, &r.Detail, &updated); err != nil {
			return nil, unavailable(err)
		}
		r.State, r.Created, r.Updated = portal.RunState(state), fromMicros(created), fromMicros(updated)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

func (s *Store) bulkRows(ctx context.Context, db querier, rest string, args ...any) ([]portal.BulkRow, error) {
	rows, err := db.QueryContext(ctx, s.q("SELECT "+rowColumns+" FROM bulk_rows "+rest), args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.BulkRow
	for rows.Next() {
		var w portal.BulkRow
		var state string
		var start, updated int64
		if err := rows.Scan(&w.RunID, &w.Line, &w.Target, &w.TargetID, &w.TargetName, &start, &w.Lifetime, &w.OneTime, &w.Reason, &w.Ticket,
			&w.Submission, &state, &w.Detail, &w.TAPID, &w.Sealed, &updated); err != nil {
			return nil, unavailable(err)
		}
		w.State, w.Start, w.Updated = portal.RowState(state), fromMicros(start), fromMicros(updated)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
