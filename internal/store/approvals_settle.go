package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// The methods here serve the portal's upkeep of requests for approval: an
// approved request whose issue the portal settles from the history, and
// the steps a failing history could not record when they happened.

// SettleApproval implements portal.Approvals.
func (s *Store) SettleApproval(ctx context.Context, id string, to portal.ApprovalState, eventID int64, tapID, detail string, now time.Time) error {
	if to != portal.ApprovalIssued && to != portal.ApprovalFailed {
		return portal.Errorf(portal.EInvalid, "An approved request is settled as issued or failed, not %s.", to)
	}
	_, err := s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET state = ?, issue_event_id = ?, tap_id = ?, detail = ?, settled_us = ?
			WHERE id = ? AND state = 'approved'`),
			string(to), eventID, tapID, detail, micros(now), id))
	}, notApproved)
	return err
}

// NoteApproval implements portal.Approvals.
func (s *Store) NoteApproval(ctx context.Context, id string, eventID int64, detail string) error {
	_, err := s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET issue_event_id = ?, detail = ? WHERE id = ? AND state = 'approved'`),
			eventID, detail, id))
	}, notApproved)
	return err
}

// ApprovedBefore implements portal.Approvals.
func (s *Store) ApprovedBefore(ctx context.Context, before time.Time, limit int) ([]portal.ApprovalRequest, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+approvalColumns+` FROM approvals
		WHERE state = 'approved' AND decided_us <= ? ORDER BY decided_us, id LIMIT ?`), micros(before), boundedLimit(limit))
	if err != nil {
		return nil, unavailable(err)
	}
	return scanApprovals(rows)
}

// UnrecordedApprovals implements portal.Approvals. The states are named,
// so that the query keeps to the rows that left pending.
func (s *Store) UnrecordedApprovals(ctx context.Context, before time.Time, limit int) ([]portal.ApprovalRequest, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+approvalColumns+` FROM approvals
		WHERE state IN ('approved', 'rejected', 'expired', 'cancelled', 'issued', 'failed')
		AND decision_event_id = 0 AND request_event_id <> 0 AND decided_us <= ?
		ORDER BY decided_us, id LIMIT ?`), micros(before), boundedLimit(limit))
	if err != nil {
		return nil, unavailable(err)
	}
	return scanApprovals(rows)
}

// boundedLimit is limit within the bounds of a list of requests.
func boundedLimit(limit int) int {
	switch {
	case limit <= 0:
		return portal.DefaultApprovalLimit
	case limit > portal.MaxApprovalLimit:
		return portal.MaxApprovalLimit
	}
	return limit
}
