package issuance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// SettleApprovals is the upkeep of requests for approval, run with the
// settler (one replica at a time): it settles the requests left approved
// longer than a target's lock lasts, from the history of their issue (the
// portal stopped after the approval, or Graph left the outcome unknown),
// and records the steps the history could not record when they happened.
// It returns how many requests it settled or recorded.
func (s *Service) SettleApprovals(ctx context.Context, holder string) (int, error) {
	if s.approvals == nil {
		return 0, nil
	}
	// An approval in flight holds the target's lock at most this long.
	before := s.now().Add(-s.lockTTL)
	approved, err := s.approvals.Store.ApprovedBefore(ctx, before, portal.MaxApprovalLimit)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range approved {
		ok, err := s.settleApproved(ctx, holder, r)
		if err != nil {
			s.log.WarnContext(ctx, "settling an approved request", "approval", r.ID, "err", err)
			errs = append(errs, err)
		}
		if ok {
			n++
		}
	}
	unrecorded, err := s.approvals.Store.UnrecordedApprovals(ctx, before, portal.MaxApprovalLimit)
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, r := range unrecorded {
		if err := s.recordLate(ctx, r); err != nil {
			s.log.WarnContext(ctx, "recording a step of a request for approval", "approval", r.ID, "err", err)
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// settleApproved settles approved request r from what the history holds
// of its issue, and reports whether it did. A cohort run's request starts
// its run, as the approval would have.
func (s *Service) settleApproved(ctx context.Context, holder string, r portal.ApprovalRequest) (bool, error) {
	if r.RunID != "" {
		if s.approvals.StartRun == nil {
			return false, nil
		}
		res, err := s.startApprovedRun(ctx, r)
		return res.Request.State != portal.ApprovalApproved, err
	}
	sub, err := s.history.Submission(ctx, approvalSubmission(r.ID))
	switch portal.ErrorCode(err) {
	case "":
	case portal.ENotFound:
		return s.settleUnissued(ctx, holder, r)
	default:
		return false, err
	}
	latest := sub.Latest
	switch latest.Outcome {
	case portal.OutcomePending, portal.OutcomeUnknown:
		// The settler reads Graph for the issue; the request follows it.
		if r.IssueEventID == 0 {
			detail := fmt.Sprintf("The portal stopped, or Microsoft Graph did not answer, while it issued the approved pass. "+
				"It settles the issue from Graph (history record %d), and this request follows within a few minutes.", sub.Intent.ID)
			return false, s.approvals.Store.NoteApproval(ctx, r.ID, sub.Intent.ID, detail)
		}
		return false, nil
	case portal.OutcomeSuccess:
		return s.settled(ctx, r, portal.ApprovalIssued, latest.ID, latest.TAPID, settledDetail(r, latest))
	}
	return s.settled(ctx, r, portal.ApprovalFailed, latest.ID, "", "The approved pass was not issued: "+latest.Detail)
}

// settled moves approved request r to to, and reports whether this call
// did: another replica, or the approval itself, may have first.
func (s *Service) settled(ctx context.Context, r portal.ApprovalRequest, to portal.ApprovalState, eventID int64, tapID, detail string) (bool, error) {
	err := s.approvals.Store.SettleApproval(ctx, r.ID, to, eventID, tapID, detail, s.now())
	if portal.ErrorCode(err) == portal.EConflict {
		return false, nil
	}
	return err == nil, err
}

// settledDetail says what became of approved request r whose issue
// settled as a success in latest, and what its requester should do: no
// passcode waits for them, since the request was never marked issued
// with one.
func settledDetail(r portal.ApprovalRequest, latest portal.Event) string {
	switch c := portal.Channel(r.Channel); {
	case c == portal.ChannelManager && !latest.Reconciled:
		// What the mail to the manager did.
		return latest.Detail
	case handedOver(c) && latest.Reconciled:
		return "The pass was made, but its passcode was never handed over, so the portal revokes the pass (see the user's history): ask again."
	}
	return passcodeLost
}

// settleUnissued settles approved request r, for which the history holds
// no issue: under the target's lock, which its issue would hold, so that
// an issue that began late cannot slip in between (it checks the request
// is still approved, under the same lock).
func (s *Service) settleUnissued(ctx context.Context, holder string, r portal.ApprovalRequest) (bool, error) {
	now := s.now()
	lock, err := s.history.LockTarget(ctx, portal.TargetLock{TargetID: strings.ToLower(r.TargetID), Holder: "approvals " + holder,
		HolderName: "the portal (settling an approved request)", Since: now, Expires: now.Add(s.lockTTL)})
	if portal.ErrorCode(err) == portal.EConflict {
		return false, nil // an action is in flight: look again next time
	}
	if err != nil {
		return false, err
	}
	defer s.unlock(lock)
	switch _, err := s.history.Submission(ctx, approvalSubmission(r.ID)); portal.ErrorCode(err) {
	case portal.ENotFound:
	case "":
		return false, nil // its issue began since: the next round follows it
	default:
		return false, err
	}
	return s.settled(ctx, r, portal.ApprovalFailed, 0, "",
		"No pass was issued for this approval: the history holds no issue for it, so nothing was made. Ask again if the pass is still needed.")
}

// recordLate records the step that ended request r's wait (its decision,
// expiry or withdrawal), which the history could not record when it
// happened, and links the record to the request. A record that was made
// but never linked is linked, not made again.
func (s *Service) recordLate(ctx context.Context, r portal.ApprovalRequest) error {
	var action portal.Action
	var op portal.Operator
	var detail string
	switch r.State {
	case portal.ApprovalExpired:
		action, op, detail = portal.ActionApprovalExpire, requester(r), expiryDetail(r)
	case portal.ApprovalCancelled:
		action, op, detail = portal.ActionApprovalCancel, requester(r), "The requester withdrew the request."
	case portal.ApprovalRejected:
		action, op, detail = portal.ActionApprovalReject, portal.Operator{ID: r.DeciderID, Name: r.DeciderName}, "Rejected "+r.RequesterName+"'s request."
	default: // approved, and perhaps issued or failed since
		action, op, detail = portal.ActionApprovalApprove, portal.Operator{ID: r.DeciderID, Name: r.DeciderName}, "Approved "+r.RequesterName+"'s request."
	}
	if op.ID == "" {
		return nil // nothing to record a decision by
	}
	if r.DecisionNote != "" {
		detail += " Note: " + r.DecisionNote
	}
	id, err := s.recordedStep(ctx, r, action)
	if err != nil {
		return err
	}
	if id == 0 {
		detail += " Recorded late: the history could not record it at " + r.Decided.UTC().Format(time.RFC3339) + ", when it happened."
		rec, err := s.history.Record(ctx, approvalEvent(r, action, op, portal.OutcomeSuccess, detail))
		if err != nil {
			return err
		}
		id = rec.ID
	}
	return s.approvals.Store.SetDecisionEvent(ctx, r.ID, id)
}

// recordedStep is the id of the history's record of request r's action,
// or 0 when the history holds none.
func (s *Service) recordedStep(ctx context.Context, r portal.ApprovalRequest, action portal.Action) (int64, error) {
	f := portal.EventFilter{Action: action, TargetID: r.TargetID, From: r.Decided.Add(-time.Minute), Limit: portal.MaxApprovalLimit}
	if r.TargetID == "" {
		f.OperatorID = r.RequesterID // a cohort run's steps name no user
		if action == portal.ActionApprovalApprove || action == portal.ActionApprovalReject {
			f.OperatorID = r.DeciderID
		}
	}
	evs, err := s.history.List(ctx, f)
	if err != nil {
		return 0, err
	}
	for _, e := range evs {
		if e.RequestID == portal.ApprovalRequestPrefix+r.ID && e.Outcome == portal.OutcomeSuccess {
			return e.ID, nil
		}
	}
	return 0, nil
}
