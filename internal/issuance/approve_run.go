package issuance

import (
	"context"
	"fmt"
	"time"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

// RunReasons are the rules that send a cohort run with rows eligible rows
// to a second pair of eyes; none when approvals are off.
func (s *Service) RunReasons(rows int) []portal.ApprovalReason {
	if s.approvals == nil {
		return nil
	}
	return s.approvals.Rules.Check(approval.Request{Time: s.now(), Bulk: true, BulkRows: rows})
}

// RunApproval is the newest request cohort run runID waited or waits on,
// or nil.
func (s *Service) RunApproval(ctx context.Context, runID string) (*portal.ApprovalRequest, error) {
	if s.approvals == nil {
		return nil, nil
	}
	rs, err := s.approvals.Store.ListApprovals(ctx, portal.ApprovalFilter{RunID: runID, Limit: 1})
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// RequestRunApproval sends op's cohort run, with rows eligible rows and
// left rows left out, to the supervisors' queue for reasons, instead of
// confirming it; public is the key its passcodes will be sealed to. A
// request of the run that is still waiting is answered instead of a
// second one. An approval confirms the run as op's (Approvals.StartRun).
func (s *Service) RequestRunApproval(ctx context.Context, op portal.Operator, run portal.BulkRun, rows, left int, reasons []portal.ApprovalReason, public []byte) (*AwaitingApproval, error) {
	now := s.now()
	if w, err := s.RunApproval(ctx, run.ID); err != nil {
		return nil, err
	} else if w != nil && w.StateAt(now) == portal.ApprovalPending {
		return &AwaitingApproval{Request: *w, Again: true}, nil
	}
	if err := checkKey(public); err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("Cohort %s: %d passes to issue, %d rows left out at the preview.", run.FileName, rows, left)
	r := portal.ApprovalRequest{
		ID: approval.NewID(), State: portal.ApprovalPending, RequesterID: op.ID, RequesterName: op.Name, RunID: run.ID,
		Reason: recordable(summary, CheckReason, "reason"), Channel: string(portal.ChannelRead), Reasons: reasons,
		Created: now, Expires: now.Add(s.approvals.TTL), PublicKey: public,
	}
	r, rec, err := s.keepRequest(ctx, r, approvalEvent(r, portal.ActionApprovalRequest, op, portal.OutcomeSuccess,
		"Cohort run "+run.ID+" waits for a second pair of eyes until "+r.Expires.UTC().Format(time.RFC3339)+": "+reasonText(reasons)))
	if err != nil {
		return nil, err
	}
	s.notify(ctx, portal.Notice{ID: "approval.requested:" + r.ID, Kind: portal.NoticeApprovalRequested, RecordID: rec.ID, RunID: run.ID,
		Summary:    fmt.Sprintf("%s asks to run the cohort %s, which needs a second pair of eyes: %s", op.Name, run.FileName, reasonText(reasons)),
		OperatorID: op.ID, OperatorName: op.Name, Counts: map[string]int{"to_issue": rows, "left_out": left}})
	return &AwaitingApproval{Request: r}, nil
}
