package issuance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// errNoOperatorRole is the refusal of an operator whose portal role was
// removed in Entra ID after they signed in: the session's roles date from
// the sign-in, the directory's are live.
var errNoOperatorRole = &portal.Error{Code: portal.EDenied,
	Message: "Your TAP Portal role is no longer assigned to you in Microsoft Entra ID, so the portal will not act for you. Nothing was changed. Ask an administrator, then sign in again."}

// checkOperator confirms, before a write, that the operator still holds
// one of the operator roles among st (the holders read with the facts,
// which the directory caches for at most a minute, so a removal takes
// effect within one), directly or through a group. It returns
// errNoOperatorRole, the error of a read that failed, or nil; without
// staff checks, nil.
func (s *Service) checkOperator(ctx context.Context, op portal.Operator, st *portal.Staff) error {
	if !s.staffApp || st == nil {
		return nil
	}
	var groups []string
	for _, h := range st.Holders {
		role, ok := st.Role(h.AppRoleID)
		if !ok || !slices.Contains(s.opRoles, role.Value) {
			continue
		}
		if !h.Group && strings.EqualFold(h.PrincipalID, op.ID) {
			return nil
		}
		if h.Group {
			groups = append(groups, h.PrincipalID)
		}
	}
	if len(groups) > 0 && portal.IsObjectID(op.ID) {
		in, err := s.dir.MemberOf(ctx, op.ID, groups)
		if err != nil {
			return err
		}
		if len(in) > 0 {
			return nil
		}
	}
	return errNoOperatorRole
}

// refuseOperator records why the operator may not act: their role is
// gone, or it could not be confirmed.
func (s *Service) refuseOperator(ctx context.Context, op portal.Operator, u portal.User, req IssueRequest, err error) {
	if err == errNoOperatorRole {
		s.refuse(ctx, op, u, req, Refusal{RefuseOperatorRole, "The operator no longer holds a portal role in Microsoft Entra ID."}, "")
		return
	}
	s.refuse(ctx, op, u, req, Refusal{RefuseCheckFailed, "The operator's own portal role could not be confirmed: " + portal.ErrorMessage(err)}, portal.RequestID(err))
}

// RecordOperatorChange records that the fresh sign-in before an issue
// returned cur instead of prev, who had filled in the form: prev's draft
// was discarded and cur has a session of their own.
func (s *Service) RecordOperatorChange(ctx context.Context, prev, cur portal.Operator, target portal.User, requestID string) {
	e := s.event(prev, target, IssueRequest{RequestID: requestID}, portal.ActionIssue, portal.OutcomeRefused)
	s.record(ctx, e, Refusal{RefuseOperatorChanged, "The fresh sign-in before issuing returned another person, " + cur.Name + " (" + cur.ID +
		"): the form " + nameOr(prev.Name, prev.ID) + " filled in was discarded and a new session started."}, "")
	s.log.WarnContext(ctx, "step-up sign-in returned another person", "previous", prev.ID, "current", cur.ID, "request_id", requestID)
}

// RecordBulkRun records that op confirmed the cohort run id of file name,
// with issue rows to issue and left rows left out at its preview. The
// record's request id links it to the run and to each row's records.
func (s *Service) RecordBulkRun(ctx context.Context, op portal.Operator, id, name string, issue, left int) error {
	rec, err := s.history.Record(ctx, portal.Event{Action: portal.ActionBulkRun, Outcome: portal.OutcomeSuccess,
		OperatorID: op.ID, OperatorName: op.Name, RequestID: portal.BulkRequestPrefix + id,
		Detail: fmt.Sprintf("Cohort %s confirmed: %d rows to issue, %d left out at the preview.", name, issue, left)})
	if err == nil {
		s.notify(ctx, portal.Notice{ID: "bulk.run:" + id, Kind: portal.NoticeBulkRun, RunID: id, RecordID: rec.ID,
			Summary:    fmt.Sprintf("%s confirmed the cohort %s: %d passes to issue, %d rows left out.", op.Name, name, issue, left),
			OperatorID: op.ID, OperatorName: op.Name, Counts: map[string]int{"to_issue": issue, "left_out": left}})
	}
	return err
}

// RecordSessionsEnded records that sup ended every session of the
// operator with object id target.
func (s *Service) RecordSessionsEnded(ctx context.Context, sup portal.Operator, target, requestID string) error {
	_, err := s.history.Record(ctx, portal.Event{Action: portal.ActionEndSessions, Outcome: portal.OutcomeSuccess,
		OperatorID: sup.ID, OperatorName: sup.Name, TargetID: target, RequestID: requestID,
		Detail: "Every session of this operator was ended, on every browser: they must sign in again."})
	return err
}
