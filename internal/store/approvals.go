package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.Approvals = (*Store)(nil)

// approvalColumns are a request's facts: everything but the sealed
// passcode itself, of which they say only whether one waits. Only
// TakeSealedApproval reads the passcode.
const approvalColumns = `id, state, requester_id, requester_name, target_id, target_upn, target_name, run_id, start_us, lifetime, one_time,
	reason, ticket, channel, reasons, snapshot, created_us, expires_us, decider_id, decider_name, decided_us, decision_note,
	request_event_id, decision_event_id, issue_event_id, tap_id, detail, settled_us, public_key, sealed IS NOT NULL, taken_us`

// maxApprovalID bounds an id, which the portal makes 22 characters long.
const maxApprovalID = 64

// CreateApproval implements portal.Approvals.
func (s *Store) CreateApproval(ctx context.Context, r portal.ApprovalRequest) error {
	switch {
	case r.ID == "" || len(r.ID) > maxApprovalID:
		return portal.Errorf(portal.EInvalid, "A request for approval needs an id of at most %d characters.", maxApprovalID)
	case r.RequesterID == "":
		return portal.Errorf(portal.EInvalid, "A request for approval needs a requester.")
	case (r.TargetID == "") == (r.RunID == ""):
		return portal.Errorf(portal.EInvalid, "A request for approval is for either a user or a cohort run.")
	case r.TargetID != "" && r.LifetimeMinutes <= 0:
		return portal.Errorf(portal.EInvalid, "A request for approval needs the pass's lifetime.")
	case len(r.Reasons) == 0:
		return portal.Errorf(portal.EInvalid, "A request for approval needs the reasons it needs one.")
	case r.Channel == "":
		return portal.Errorf(portal.EInvalid, "A request for approval needs the channel its passcode is to go by.")
	case !r.Expires.After(r.Created):
		return portal.Errorf(portal.EInvalid, "A request for approval must expire after it is made.")
	case r.State != "" && r.State != portal.ApprovalPending:
		return portal.Errorf(portal.EInvalid, "A new request for approval is pending, not %s.", r.State)
	case r.DeciderID != "" || !r.Decided.IsZero() || r.Sealed != nil || !r.Taken.IsZero():
		return portal.Errorf(portal.EInvalid, "A new request for approval cannot be decided or issued already.")
	}
	reasons, err := json.Marshal(r.Reasons)
	if err != nil {
		return &portal.Error{Code: portal.EInternal, Message: "The reasons of a request for approval cannot be stored.", Err: err}
	}
	snapshot, err := json.Marshal(r.Snapshot)
	if err != nil {
		return &portal.Error{Code: portal.EInternal, Message: "The snapshot of a request for approval cannot be stored.", Err: err}
	}
	if r.PublicKey == nil {
		r.PublicKey = []byte{}
	}
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO approvals (id, state, requester_id, requester_name, target_id, target_upn, target_name,
		run_id, start_us, lifetime, one_time, reason, ticket, channel, reasons, snapshot, created_us, expires_us, request_event_id, public_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, string(portal.ApprovalPending), r.RequesterID, r.RequesterName, r.TargetID, r.TargetUPN, r.TargetName, r.RunID,
		micros(r.Start), r.LifetimeMinutes, r.OneTime, r.Reason, r.Ticket, r.Channel, string(reasons), string(snapshot),
		micros(r.Created), micros(r.Expires), r.RequestEventID, r.PublicKey)
	switch {
	case isUniqueViolation(err):
		return portal.Errorf(portal.EConflict, "A request for approval with this id exists already.")
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// GetApproval implements portal.Approvals.
func (s *Store) GetApproval(ctx context.Context, id string) (portal.ApprovalRequest, error) {
	return scanApproval(s.reads.QueryRowContext(ctx, s.q(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`), id))
}

// ListApprovals implements portal.Approvals.
func (s *Store) ListApprovals(ctx context.Context, f portal.ApprovalFilter) ([]portal.ApprovalRequest, error) {
	var where []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"state", string(f.State)}, {"requester_id", f.RequesterID}, {"target_id", f.TargetID}, {"run_id", f.RunID},
	} {
		if c.value != "" {
			where = append(where, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	query := `SELECT ` + approvalColumns + ` FROM approvals`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = portal.DefaultApprovalLimit
	case limit > portal.MaxApprovalLimit:
		limit = portal.MaxApprovalLimit
	}
	if f.State != "" {
		// One state: newest first is the whole order, and the state's
		// index gives it without a sort.
		query += ` ORDER BY created_us DESC, id LIMIT ?`
	} else {
		query += ` ORDER BY CASE WHEN state = 'pending' THEN 0 ELSE 1 END, created_us DESC, id LIMIT ?`
	}
	rows, err := s.read.QueryContext(ctx, s.q(query), append(args, limit)...)
	if err != nil {
		return nil, unavailable(err)
	}
	return scanApprovals(rows)
}

// DecideApproval implements portal.Approvals. The update's condition is
// the whole rule (pending, not expired, not the requester's own), so that
// of two deciders the second finds the row no longer pending, on SQLite
// behind the single writer and on PostgreSQL once the first's row lock
// is released; only when it changes nothing is the row read, to say why.
func (s *Store) DecideApproval(ctx context.Context, id string, decider portal.Operator, approve bool, note string, now time.Time) (portal.ApprovalRequest, error) {
	if decider.ID == "" {
		return portal.ApprovalRequest{}, portal.Errorf(portal.EInvalid, "A decision on a request for approval needs the decider's id.")
	}
	to := portal.ApprovalRejected
	if approve {
		to = portal.ApprovalApproved
	}
	return s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET state = ?, decider_id = ?, decider_name = ?, decided_us = ?, decision_note = ?
			WHERE id = ? AND state = 'pending' AND expires_us > ? AND lower(requester_id) <> lower(?)`),
			string(to), decider.ID, decider.Name, micros(now), note, id, micros(now), decider.ID))
	}, func(r portal.ApprovalRequest) error {
		if strings.EqualFold(r.RequesterID, decider.ID) {
			return portal.Errorf(portal.EDenied, "You made this request: someone else must approve or reject it.")
		}
		return notPending(r, now)
	})
}

// CancelApproval implements portal.Approvals.
func (s *Store) CancelApproval(ctx context.Context, id, requesterID string, now time.Time) (portal.ApprovalRequest, error) {
	return s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET state = ?, decided_us = ?
			WHERE id = ? AND state = 'pending' AND expires_us > ? AND lower(requester_id) = lower(?)`),
			string(portal.ApprovalCancelled), micros(now), id, micros(now), requesterID))
	}, func(r portal.ApprovalRequest) error {
		if !strings.EqualFold(r.RequesterID, requesterID) {
			return portal.Errorf(portal.EDenied, "Only the operator who made a request can cancel it.")
		}
		return notPending(r, now)
	})
}

// MarkApprovalIssued implements portal.Approvals.
func (s *Store) MarkApprovalIssued(ctx context.Context, id string, eventID int64, tapID string, sealed []byte, now time.Time) error {
	var blob any // NULL when nothing is sealed for the requester
	if len(sealed) > 0 {
		blob = sealed
	}
	_, err := s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET state = ?, issue_event_id = ?, tap_id = ?, sealed = ?, settled_us = ?
			WHERE id = ? AND state = 'approved'`),
			string(portal.ApprovalIssued), eventID, tapID, blob, micros(now), id))
	}, notApproved)
	return err
}

// MarkApprovalFailed implements portal.Approvals.
func (s *Store) MarkApprovalFailed(ctx context.Context, id string, eventID int64, detail string, now time.Time) error {
	_, err := s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET state = ?, issue_event_id = ?, detail = ?, settled_us = ?
			WHERE id = ? AND state = 'approved'`),
			string(portal.ApprovalFailed), eventID, detail, micros(now), id))
	}, notApproved)
	return err
}

// SetRequestEvent implements portal.Approvals.
func (s *Store) SetRequestEvent(ctx context.Context, id string, eventID int64) error {
	return s.linkApproval(ctx, id, "request_event_id", eventID, func(r portal.ApprovalRequest) int64 { return r.RequestEventID })
}

// SetDecisionEvent implements portal.Approvals.
func (s *Store) SetDecisionEvent(ctx context.Context, id string, eventID int64) error {
	return s.linkApproval(ctx, id, "decision_event_id", eventID, func(r portal.ApprovalRequest) int64 { return r.DecisionEventID })
}

// linkApproval sets a request's link to a history record once: a link is
// never moved to another record.
func (s *Store) linkApproval(ctx context.Context, id, column string, eventID int64, linked func(portal.ApprovalRequest) int64) error {
	if eventID <= 0 {
		return portal.Errorf(portal.EInvalid, "A request for approval links to a history record by its id.")
	}
	_, err := s.moveApproval(ctx, id, func(tx *sql.Tx) (bool, error) {
		return changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET `+column+` = ? WHERE id = ? AND (`+column+` = 0 OR `+column+` = ?)`),
			eventID, id, eventID))
	}, func(r portal.ApprovalRequest) error {
		return portal.Errorf(portal.EConflict, "The request for approval is linked to history record %d already.", linked(r))
	})
	return err
}

// TakeSealedApproval implements portal.Approvals. The row is read and
// written in one transaction that holds it (SQLite's writer lock, taken
// at BEGIN; PostgreSQL's row lock, taken by the read), so that of two
// takers the second finds the passcode gone.
func (s *Store) TakeSealedApproval(ctx context.Context, id, requesterID string, now time.Time) (portal.ApprovalRequest, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return portal.ApprovalRequest{}, unavailable(err)
	}
	defer tx.Rollback()
	var sealed []byte
	r, err := scanApproval(tx.QueryRowContext(ctx, s.q(`SELECT `+approvalColumns+`, sealed FROM approvals WHERE id = ?`+s.forUpdate()), id), &sealed)
	switch {
	case err != nil:
		return portal.ApprovalRequest{}, err
	case !strings.EqualFold(r.RequesterID, requesterID):
		return portal.ApprovalRequest{}, portal.Errorf(portal.EDenied, "Only the operator who made a request can take its passcode.")
	case len(sealed) == 0 && !r.Taken.IsZero():
		return portal.ApprovalRequest{}, portal.Errorf(portal.EConflict,
			"The passcode was taken already, at %s, and the portal does not keep it: revoke a pass whose passcode was lost and ask for another.", when(r.Taken))
	case len(sealed) == 0 && r.Detail == sealedForgotten:
		return portal.ApprovalRequest{}, portal.Errorf(portal.EConflict, "%s", sealedForgotten)
	case len(sealed) == 0 && r.State == portal.ApprovalIssued:
		return portal.ApprovalRequest{}, portal.Errorf(portal.EConflict, "No passcode waits for this request: it went by the %s channel.", r.Channel)
	case len(sealed) == 0:
		return portal.ApprovalRequest{}, portal.Errorf(portal.EConflict, "No passcode waits for this request: it is %s.", statePhrase(r.State))
	}
	ok, err := changedOneRow(tx.ExecContext(ctx, s.q(`UPDATE approvals SET sealed = NULL, taken_us = ? WHERE id = ? AND sealed IS NOT NULL`), micros(now), id))
	if err != nil {
		return portal.ApprovalRequest{}, err
	}
	if !ok {
		// The row is held by this transaction: nothing can have changed
		// it since it was read.
		return portal.ApprovalRequest{}, &portal.Error{Code: portal.EInternal, Message: "The request for approval changed while its passcode was being taken."}
	}
	if err := tx.Commit(); err != nil {
		return portal.ApprovalRequest{}, unavailable(err)
	}
	r.Sealed, r.PasscodeWaiting, r.Taken = sealed, false, fromMicros(micros(now))
	return r, nil
}

// sealedForgotten is the detail of an issued request whose passcode
// PurgeSealedApprovals forgot unopened.
const sealedForgotten = "The passcode was never opened, and the portal forgot it once no browser could hold the key to it any more: " +
	"revoke the pass if it is not needed, and ask for another if one still is."

// PurgeSealedApprovals forgets the passcodes still sealed for requests
// made before before, and returns how many it forgot. The caller passes
// the time before which no requester's browser can still hold the key a
// passcode is sealed to: the key lives in a cookie made with the request,
// which lasts the request's wait and a day. Such a passcode can never be
// opened, so there is no reason to keep it. The request stays, as the
// record of what happened, its detail saying the passcode was forgotten.
func (s *Store) PurgeSealedApprovals(ctx context.Context, before time.Time) (int, error) {
	return changedRows(s.write.ExecContext(ctx, s.q(`UPDATE approvals SET sealed = NULL, detail = ? WHERE sealed IS NOT NULL AND created_us < ?`),
		sealedForgotten, micros(before)))
}

// ExpireApprovals implements portal.Approvals. One statement moves the
// requests and returns them: on PostgreSQL a replica expiring the same
// rows at the same moment waits on their locks, then finds them no longer
// pending, so each is returned once. Requests are made by hand, one at a
// time, so a sweep's batch stays small without a bound.
func (s *Store) ExpireApprovals(ctx context.Context, now time.Time) ([]portal.ApprovalRequest, error) {
	rows, err := s.write.QueryContext(ctx, s.q(`UPDATE approvals SET state = ?, decided_us = expires_us
		WHERE state = 'pending' AND expires_us <= ? RETURNING `+approvalColumns), string(portal.ApprovalExpired), micros(now))
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := scanApprovals(rows)
	if err != nil {
		return nil, err
	}
	// RETURNING follows no order.
	slices.SortFunc(out, func(a, b portal.ApprovalRequest) int {
		return cmp.Or(a.Expires.Compare(b.Expires), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// moveApproval runs change in a write transaction; when it changes
// nothing, it reads the request in the same transaction and returns
// explain's error for it (ENotFound when there is none). On success it
// returns the request as changed.
func (s *Store) moveApproval(ctx context.Context, id string, change func(tx *sql.Tx) (bool, error), explain func(portal.ApprovalRequest) error) (portal.ApprovalRequest, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return portal.ApprovalRequest{}, unavailable(err)
	}
	defer tx.Rollback()
	ok, err := change(tx)
	if err != nil {
		return portal.ApprovalRequest{}, err
	}
	r, err := scanApproval(tx.QueryRowContext(ctx, s.q(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`), id))
	if err != nil {
		return portal.ApprovalRequest{}, err
	}
	if !ok {
		return portal.ApprovalRequest{}, explain(r)
	}
	if err := tx.Commit(); err != nil {
		return portal.ApprovalRequest{}, unavailable(err)
	}
	return r, nil
}

// notPending says why a request cannot be decided or cancelled at now.
func notPending(r portal.ApprovalRequest, now time.Time) error {
	switch r.StateAt(now) {
	case portal.ApprovalExpired:
		return portal.Errorf(portal.EConflict, "This request expired at %s, before anyone decided it.", when(r.Expires))
	case portal.ApprovalCancelled:
		return portal.Errorf(portal.EConflict, "%s cancelled this request at %s.", cmp.Or(r.RequesterName, "Its requester"), when(r.Decided))
	case portal.ApprovalRejected:
		return portal.Errorf(portal.EConflict, "%s rejected this request already, at %s.", cmp.Or(r.DeciderName, r.DeciderID), when(r.Decided))
	case portal.ApprovalApproved, portal.ApprovalIssued, portal.ApprovalFailed:
		return portal.Errorf(portal.EConflict, "%s approved this request already, at %s.", cmp.Or(r.DeciderName, r.DeciderID), when(r.Decided))
	}
	return &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("The request for approval is %s, yet it could not be changed.", r.State)}
}

// notApproved says why a request cannot be marked issued or failed.
func notApproved(r portal.ApprovalRequest) error {
	return portal.Errorf(portal.EConflict, "This request is %s: only an approved request is issued.", statePhrase(r.State))
}

// statePhrase says where a request stands, after "This request is".
func statePhrase(st portal.ApprovalState) string {
	switch st {
	case portal.ApprovalPending:
		return "still waiting for a decision"
	case portal.ApprovalApproved:
		return "approved, and not yet issued"
	case portal.ApprovalIssued:
		return "issued already"
	case portal.ApprovalFailed:
		return "approved, but its issue failed"
	}
	return string(st)
}

// when writes a time for a message, in UTC: the page that shows the
// message may not know the reader's zone.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// scanApproval reads approvalColumns, then into extra whatever else the
// query selected.
func scanApproval(row scanner, extra ...any) (portal.ApprovalRequest, error) {
	var r portal.ApprovalRequest
	var state, reasons, snapshot string
	var start, created, expires, decided, settled, taken int64
	err := row.Scan(append([]any{&r.ID, &state, &r.RequesterID, &r.RequesterName, &r.TargetID, &r.TargetUPN, &r.TargetName, &r.RunID,
		&start, &r.LifetimeMinutes, &r.OneTime, &r.Reason, &r.Ticket, &r.Channel, &reasons, &snapshot, &created, &expires,
		&r.DeciderID, &r.DeciderName, &decided, &r.DecisionNote, &r.RequestEventID, &r.DecisionEventID, &r.IssueEventID,
		&r.TAPID, &r.Detail, &settled, &r.PublicKey, &r.PasscodeWaiting, &taken}, extra...)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return portal.ApprovalRequest{}, &portal.Error{Code: portal.ENotFound, Message: "No such request for approval."}
	case err != nil:
		return portal.ApprovalRequest{}, unavailable(err)
	}
	if err := json.Unmarshal([]byte(reasons), &r.Reasons); err != nil {
		return portal.ApprovalRequest{}, &portal.Error{Code: portal.EInternal, Message: "The reasons of a stored request for approval cannot be read.", Err: err}
	}
	if err := json.Unmarshal([]byte(snapshot), &r.Snapshot); err != nil {
		return portal.ApprovalRequest{}, &portal.Error{Code: portal.EInternal, Message: "The snapshot of a stored request for approval cannot be read.", Err: err}
	}
	r.State = portal.ApprovalState(state)
	r.Start, r.Created, r.Expires, r.Decided = fromMicros(start), fromMicros(created), fromMicros(expires), fromMicros(decided)
	r.Settled, r.Taken = fromMicros(settled), fromMicros(taken)
	return r, nil
}

func scanApprovals(rows *sql.Rows) ([]portal.ApprovalRequest, error) {
	defer rows.Close()
	var out []portal.ApprovalRequest
	for rows.Next() {
		r, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
