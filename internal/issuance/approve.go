package issuance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

// Approvals configure four-eyes approval: which issues wait for a
// supervisor other than their requester, for how long, and where the
// requests are kept.
type Approvals struct {
	Rules approval.Rules
	TTL   time.Duration
	Store portal.Approvals
	// StartRun confirms the cohort run of an approved request as its
	// requester's, with the request's public key; nil refuses them.
	StartRun func(ctx context.Context, r portal.ApprovalRequest) error
}

// AwaitingApproval is the answer to an issue a rule sends to a second
// pair of eyes: nothing was issued; Request waits in the supervisors'
// queue. Again is set when the same requester's earlier request for the
// user was waiting already, and is the one returned.
type AwaitingApproval struct {
	Request portal.ApprovalRequest
	Again   bool
}

func (a *AwaitingApproval) Error() string {
	return "issuance: the pass waits for approval (request " + a.Request.ID + ")"
}

// ApprovalsOn reports whether issues can wait for approval; false for a
// nil Service, as a server without one serves no issue.
func (s *Service) ApprovalsOn() bool { return s != nil && s.approvals != nil }

// ApprovalTTL is how long a request waits before it expires.
func (s *Service) ApprovalTTL() time.Duration {
	if s.approvals == nil {
		return 0
	}
	return s.approvals.TTL
}

// checkApproval sends an issue to the supervisors' queue when a rule says
// so: after every guardrail and check has passed, before anything is
// recorded as an intent or made. An issue carried out for an approved
// request is not checked again.
func (s *Service) checkApproval(ctx context.Context, p *pendingIssue) error {
	if s.approvals == nil || p.approved != nil {
		return nil
	}
	f, req := p.f, p.req
	reasons := s.approvals.Rules.Check(approval.Request{Time: s.now(), Groups: f.groups, LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime})
	if len(reasons) == 0 {
		return nil
	}
	return s.requestApproval(ctx, p, reasons)
}

// requestApproval keeps a request for approval, records it, and tells the
// notifier. A requester's request for the same user that is still waiting
// is answered instead of a second one: a form sent twice makes one.
func (s *Service) requestApproval(ctx context.Context, p *pendingIssue, reasons []portal.ApprovalReason) error {
	st, op, f, req, now := s.approvals.Store, p.op, p.f, p.req, s.now()
	waiting, err := st.ListApprovals(ctx, portal.ApprovalFilter{State: portal.ApprovalPending, RequesterID: op.ID, TargetID: f.user.ID, Limit: 1})
	if err != nil {
		return err
	}
	if len(waiting) > 0 && waiting[0].StateAt(now) == portal.ApprovalPending {
		return &AwaitingApproval{Request: waiting[0], Again: true}
	}
	if len(req.ApprovalKey) == 0 {
		return &portal.Error{Code: portal.EInternal, Message: "The request for approval has no key to seal the passcode to."}
	}
	r := portal.ApprovalRequest{
		ID: approval.NewID(), State: portal.ApprovalPending,
		RequesterID: op.ID, RequesterName: op.Name,
		TargetID: f.user.ID, TargetUPN: f.user.UserPrincipalName, TargetName: f.user.DisplayName,
		Start: req.Start, LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime,
		Reason: recordable(req.Reason, CheckReason, "reason"), Ticket: recordable(req.Ticket, CheckTicket, "ticket"),
		Channel: string(req.Channel), Reasons: reasons, Snapshot: s.snapshot(op, f),
		Created: now, Expires: now.Add(s.approvals.TTL), PublicKey: req.ApprovalKey,
	}
	if err := st.CreateApproval(ctx, r); err != nil {
		return err
	}
	e := s.event(op, f.user, req, portal.ActionApprovalRequest, portal.OutcomeSuccess)
	e.RequestID, e.Channel = portal.ApprovalRequestPrefix+r.ID, req.Channel
	e.Detail = "Waiting for a second pair of eyes until " + r.Expires.UTC().Format(time.RFC3339) + ": " + reasonText(reasons)
	rec, err := s.history.Record(ctx, e)
	if err != nil {
		s.log.ErrorContext(ctx, "recording a request for approval", "approval", r.ID, "err", err)
	} else if err := st.SetRequestEvent(ctx, r.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a request for approval to its record", "approval", r.ID, "err", err)
	}
	r.RequestEventID = rec.ID
	s.notify(ctx, portal.Notice{ID: "approval.requested:" + r.ID, Kind: portal.NoticeApprovalRequested, RecordID: rec.ID,
		Summary:  fmt.Sprintf("%s asks for a Temporary Access Pass for %s, which needs a second pair of eyes: %s", op.Name, f.user.DisplayName, reasonText(reasons)),
		TargetID: f.user.ID, TargetUPN: f.user.UserPrincipalName, TargetName: f.user.DisplayName, OperatorID: op.ID, OperatorName: op.Name})
	return &AwaitingApproval{Request: r}
}

func reasonText(reasons []portal.ApprovalReason) string {
	msgs := make([]string, len(reasons))
	for i, r := range reasons {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, " ")
}

// snapshot is what a decision about the user rests on, as a request for
// approval keeps it, for the approver to compare with the present.
func (s *Service) snapshot(op portal.Operator, f facts) portal.ApprovalSnapshot {
	v := s.verdict(op, f)
	snap := portal.ApprovalSnapshot{Eligible: v.Eligible(), DisplayName: f.user.DisplayName, AccountEnabled: f.user.AccountEnabled,
		Policy: portal.SnapshotPolicy{Enabled: f.policy.Enabled, MinLifetimeMinutes: f.policy.MinLifetimeMinutes,
			MaxLifetimeMinutes: f.policy.MaxLifetimeMinutes, DefaultLifetimeMinutes: f.policy.DefaultLifetimeMinutes, OneTimeForced: f.policy.OneTimeForced}}
	for _, r := range v.Refusals {
		snap.Refusals = append(snap.Refusals, r.Message)
	}
	for _, g := range f.groups {
		snap.Groups = append(snap.Groups, portal.SnapshotGroup{ID: strings.ToLower(g.ID), Name: g.DisplayName})
	}
	for _, p := range privileges(f) {
		snap.Roles = append(snap.Roles, p.Text)
	}
	if f.current != nil && f.current.Live(s.now()) {
		snap.LivePass, snap.PassID = true, f.current.ID
	}
	return snap
}

// ApprovalView is a request as its page shows it: for a pending request,
// what a decision about the user rests on now, and what changed since the
// request.
type ApprovalView struct {
	Request portal.ApprovalRequest
	// State is where the request stands now.
	State portal.ApprovalState
	// Now, Changes and NowEligible are read afresh for a pending request
	// a supervisor may decide; Changes is nil when nothing changed.
	Now         *portal.ApprovalSnapshot
	Changes     []string
	NowVerdict  Verdict
	ReadProblem string
}

// Approval returns a request as op may see it: its requester, or any
// supervisor; anyone else gets ENotFound, as for a request that does not
// exist. For a supervisor who may decide it, the user's facts are read
// afresh and compared with the request's.
func (s *Service) Approval(ctx context.Context, op portal.Operator, id string) (ApprovalView, error) {
	r, err := s.approvalFor(ctx, op, id)
	if err != nil {
		return ApprovalView{}, err
	}
	v := ApprovalView{Request: r, State: r.StateAt(s.now())}
	if v.State != portal.ApprovalPending || !op.Supervisor || strings.EqualFold(op.ID, r.RequesterID) || r.TargetID == "" {
		return v, nil
	}
	f, _, err := s.facts(ctx, r.TargetID, read{})
	if err != nil {
		// The approval itself reads the facts again and refuses if it
		// cannot: here the page says what it could not read.
		v.ReadProblem = portal.ErrorMessage(err)
		return v, nil
	}
	snap := s.snapshot(portal.Operator{ID: r.RequesterID, Name: r.RequesterName}, f)
	v.Now, v.Changes = &snap, approval.Diff(r.Snapshot, snap)
	v.NowVerdict = s.verdict(portal.Operator{ID: r.RequesterID, Name: r.RequesterName}, f)
	return v, nil
}

// approvalFor reads request id for op: its requester or a supervisor.
func (s *Service) approvalFor(ctx context.Context, op portal.Operator, id string) (portal.ApprovalRequest, error) {
	notFound := &portal.Error{Code: portal.ENotFound, Message: "There is no such request for approval."}
	if s.approvals == nil || !approval.IsID(id) {
		return portal.ApprovalRequest{}, notFound
	}
	r, err := s.approvals.Store.GetApproval(ctx, id)
	if err != nil {
		return portal.ApprovalRequest{}, err
	}
	if !op.Supervisor && !strings.EqualFold(op.ID, r.RequesterID) {
		return portal.ApprovalRequest{}, notFound
	}
	return r, nil
}

// Approvals lists the requests op may see: a supervisor's every request,
// an operator's own.
func (s *Service) Approvals(ctx context.Context, op portal.Operator, state portal.ApprovalState) ([]portal.ApprovalRequest, error) {
	if s.approvals == nil {
		return nil, nil
	}
	f := portal.ApprovalFilter{State: state, Limit: portal.DefaultApprovalLimit}
	if !op.Supervisor {
		f.RequesterID = op.ID
	}
	return s.approvals.Store.ListApprovals(ctx, f)
}

// ApprovalResult is what came of an approval.
type ApprovalResult struct {
	Request portal.ApprovalRequest
	// Issued is the pass made for it, without its passcode, which waits
	// sealed for the requester or went to the user by the request's
	// channel.
	Issued *portal.TAP
}

// ErrSelfApproval means an approver tried to decide their own request.
var ErrSelfApproval = &portal.Error{Code: portal.EDenied, Message: "You made this request: another supervisor must approve or reject it."}

// Approve approves request id as approver, a supervisor other than its
// requester, with a fresh sign-in (ErrStaleSignIn otherwise), and issues
// the pass through the same guarded path as any issue, as the requester,
// with every fact read again. The passcode is never shown to the
// approver: read out, it waits sealed for the requester; otherwise it goes
// by the request's channel. Every step is recorded.
func (s *Service) Approve(ctx context.Context, approver portal.Operator, id, note string) (ApprovalResult, error) {
	r, err := s.decide(ctx, approver, id, note, true)
	if err != nil {
		return ApprovalResult{Request: r}, err
	}
	if r.RunID != "" {
		return s.startApprovedRun(ctx, r)
	}
	res, err := s.issueApproved(ctx, r)
	if err != nil {
		detail := "The approved pass was not issued: " + portal.ErrorMessage(err)
		var handled *AlreadyHandledError
		if errors.As(err, &handled) {
			detail = "The approved pass was not issued again: " + handled.Outcome()
		}
		if merr := s.approvals.Store.MarkApprovalFailed(ctx, r.ID, 0, detail, s.now()); merr != nil {
			s.log.ErrorContext(ctx, "marking an approval failed", "approval", r.ID, "err", merr)
		}
		r.State, r.Detail = portal.ApprovalFailed, detail
		return ApprovalResult{Request: r}, err
	}
	// What reaches the requester, sealed to their key as it was handed
	// over: the passcode to read out, or the link to send; a passcode
	// mailed to the manager leaves nothing.
	sealed := res.Delivered.Sealed
	if err := s.approvals.Store.MarkApprovalIssued(ctx, r.ID, res.RecordID, res.Issued.ID, sealed, s.now()); err != nil {
		s.log.ErrorContext(ctx, "marking an approval issued", "approval", r.ID, "err", err)
	}
	r.State, r.TAPID, r.PasscodeWaiting = portal.ApprovalIssued, res.Issued.ID, sealed != nil
	tap := res.Issued.TAP
	return ApprovalResult{Request: r, Issued: &tap}, nil
}

// startApprovedRun confirms the cohort run of approved request r: its
// rows then issue through the guarded path, their passcodes sealed to the
// requester's key.
func (s *Service) startApprovedRun(ctx context.Context, r portal.ApprovalRequest) (ApprovalResult, error) {
	err := errors.New("cohort runs cannot be started from an approval here")
	if s.approvals.StartRun != nil {
		err = s.approvals.StartRun(ctx, r)
	}
	if err != nil {
		detail := "The approved run was not started: " + portal.ErrorMessage(err)
		if merr := s.approvals.Store.MarkApprovalFailed(ctx, r.ID, 0, detail, s.now()); merr != nil {
			s.log.ErrorContext(ctx, "marking an approval failed", "approval", r.ID, "err", merr)
		}
		r.State, r.Detail = portal.ApprovalFailed, detail
		return ApprovalResult{Request: r}, err
	}
	if err := s.approvals.Store.MarkApprovalIssued(ctx, r.ID, 0, "", nil, s.now()); err != nil {
		s.log.ErrorContext(ctx, "marking an approval issued", "approval", r.ID, "err", err)
	}
	r.State = portal.ApprovalIssued
	return ApprovalResult{Request: r}, nil
}

// issueApproved issues the pass of approved request r through the guarded
// path as its requester: the target locked, every fact read again, every
// guardrail and the rate limit applied, the intent and the outcome
// recorded. The requester's sign-in is not asked again: the approver's
// fresh one stands for the decision, and the requester's role is checked
// live as for any issue.
func (s *Service) issueApproved(ctx context.Context, r portal.ApprovalRequest) (IssueResult, error) {
	op := portal.Operator{ID: r.RequesterID, Name: r.RequesterName}
	req := IssueRequest{Start: r.Start, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime, Reason: r.Reason, Ticket: r.Ticket,
		Channel: portal.Channel(r.Channel), ConfirmReplace: true, RequestID: portal.ApprovalRequestPrefix + r.ID, Submission: NewSubmission()}
	if !req.Start.IsZero() && req.Start.Before(s.now()) {
		// A start that passed while the request waited: now.
		req.Start = time.Time{}
	}
	p, err := s.prepare(ctx, op, r.TargetID, req, s.limit, issueKind{approved: &r})
	if err != nil {
		return p.res, err
	}
	issued, err := s.dir.CreateTAP(ctx, p.f.user.ID, p.newTAP())
	return s.finishIssue(ctx, p, issued, err)
}

// Reject rejects request id as approver, a supervisor other than its
// requester; the note says why. It is recorded.
func (s *Service) Reject(ctx context.Context, approver portal.Operator, id, note string) (portal.ApprovalRequest, error) {
	return s.decide(ctx, approver, id, note, false)
}

// decide approves or rejects a pending request and records the decision:
// a supervisor other than its requester, with a fresh sign-in to approve,
// and a note that passes the reason's checks.
func (s *Service) decide(ctx context.Context, approver portal.Operator, id, note string, approve bool) (portal.ApprovalRequest, error) {
	r, err := s.approvalFor(ctx, approver, id)
	if err != nil {
		return r, err
	}
	action := portal.ActionApprovalReject
	if approve {
		action = portal.ActionApprovalApprove
	}
	record := func(outcome portal.Outcome, detail string) portal.Event {
		e := portal.Event{Action: action, Outcome: outcome, OperatorID: approver.ID, OperatorName: approver.Name,
			TargetID: r.TargetID, TargetUPN: r.TargetUPN, TargetName: r.TargetName, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime,
			Start: r.Start, Reason: r.Reason, Ticket: r.Ticket, RequestID: portal.ApprovalRequestPrefix + r.ID, Detail: detail}
		if outcome == portal.OutcomeRefused {
			e.RefusalCode = RefuseSelfApproval
		}
		rec, err := s.history.Record(ctx, e)
		if err != nil {
			s.log.ErrorContext(ctx, "recording a decision on a request for approval", "approval", r.ID, "err", err)
		}
		return rec
	}
	if !approver.Supervisor {
		return r, &portal.Error{Code: portal.EDenied, Message: "Only a supervisor can approve or reject a request."}
	}
	if strings.EqualFold(approver.ID, r.RequesterID) {
		record(portal.OutcomeRefused, "The requester tried to decide their own request; someone else must.")
		s.observe(action, portal.OutcomeRefused, RefuseSelfApproval)
		return r, ErrSelfApproval
	}
	fe := FieldErrors{}
	if note = strings.TrimSpace(note); note != "" || !approve {
		CheckReason(fe, note)
	}
	if len(fe) > 0 {
		return r, FieldErrors{"note": fe["reason"]}
	}
	if approve && !s.FreshSignIn(approver) {
		return r, ErrStaleSignIn
	}
	d, err := s.approvals.Store.DecideApproval(ctx, r.ID, approver, approve, note, s.now())
	if err != nil {
		return r, err
	}
	verb := "Rejected"
	if approve {
		verb = "Approved"
	}
	detail := fmt.Sprintf("%s %s's request.", verb, r.RequesterName)
	if note != "" {
		detail += " Note: " + note
	}
	rec := record(portal.OutcomeSuccess, detail)
	if rec.ID != 0 {
		if err := s.approvals.Store.SetDecisionEvent(ctx, d.ID, rec.ID); err != nil {
			s.log.WarnContext(ctx, "linking a decision to its record", "approval", d.ID, "err", err)
		}
	}
	s.observe(action, portal.OutcomeSuccess, "")
	return d, nil
}

// Cancel withdraws a pending request, for its requester; it is recorded.
func (s *Service) Cancel(ctx context.Context, op portal.Operator, id string) (portal.ApprovalRequest, error) {
	r, err := s.approvalFor(ctx, op, id)
	if err != nil {
		return r, err
	}
	c, err := s.approvals.Store.CancelApproval(ctx, r.ID, op.ID, s.now())
	if err != nil {
		return r, err
	}
	s.recordApprovalEnd(ctx, c, portal.ActionApprovalCancel, op, "The requester withdrew the request.")
	return c, nil
}

// ExpireApprovals ends the requests nobody decided in time, and records
// each; it returns how many ended.
func (s *Service) ExpireApprovals(ctx context.Context) (int, error) {
	if s.approvals == nil {
		return 0, nil
	}
	expired, err := s.approvals.Store.ExpireApprovals(ctx, s.now())
	for _, r := range expired {
		s.recordApprovalEnd(ctx, r, portal.ActionApprovalExpire, portal.Operator{ID: r.RequesterID, Name: r.RequesterName},
			"Nobody decided the request before it expired at "+r.Expires.UTC().Format(time.RFC3339)+"; nothing was issued.")
	}
	return len(expired), err
}

// recordApprovalEnd records how a request ended without a decision, and
// links the record to it.
func (s *Service) recordApprovalEnd(ctx context.Context, r portal.ApprovalRequest, action portal.Action, op portal.Operator, detail string) {
	rec, err := s.history.Record(ctx, portal.Event{Action: action, Outcome: portal.OutcomeSuccess, OperatorID: op.ID, OperatorName: op.Name,
		TargetID: r.TargetID, TargetUPN: r.TargetUPN, TargetName: r.TargetName, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime,
		Start: r.Start, Reason: r.Reason, Ticket: r.Ticket, RequestID: portal.ApprovalRequestPrefix + r.ID, Detail: detail})
	if err != nil {
		s.log.ErrorContext(ctx, "recording the end of a request for approval", "approval", r.ID, "err", err)
		return
	}
	if err := s.approvals.Store.SetDecisionEvent(ctx, r.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a request's end to its record", "approval", r.ID, "err", err)
	}
}

// TakeApproved hands the requester what their approved request left for
// them, once: the passcode to read out, or the link to send, opened with
// the private key their browser kept. A browser without the key is
// refused before anything is taken.
func (s *Service) TakeApproved(ctx context.Context, op portal.Operator, id string, private []byte) (portal.ApprovalRequest, portal.Secret, error) {
	r, err := s.approvalFor(ctx, op, id)
	if err != nil {
		return r, portal.Secret{}, err
	}
	if len(private) == 0 {
		return r, portal.Secret{}, &portal.Error{Code: portal.EDenied,
			Message: "This browser does not hold the key the passcode was sealed to: open it in the browser you asked for approval from."}
	}
	taken, err := s.approvals.Store.TakeSealedApproval(ctx, r.ID, op.ID, s.now())
	if err != nil {
		return r, portal.Secret{}, err
	}
	secret, err := approval.Open(private, taken.ID, taken.Sealed)
	if err != nil {
		return taken, portal.Secret{}, &portal.Error{Code: portal.EDenied, Err: err,
			Message: "The passcode could not be opened with this browser's key; it is gone now. Revoke the pass and issue another."}
	}
	return taken, portal.NewSecret(secret), nil
}

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
	summary := fmt.Sprintf("Cohort %s: %d passes to issue, %d rows left out at the preview.", run.FileName, rows, left)
	r := portal.ApprovalRequest{
		ID: approval.NewID(), State: portal.ApprovalPending, RequesterID: op.ID, RequesterName: op.Name, RunID: run.ID,
		Reason: recordable(summary, CheckReason, "reason"), Channel: string(portal.ChannelRead), Reasons: reasons,
		Created: now, Expires: now.Add(s.approvals.TTL), PublicKey: public,
	}
	if err := s.approvals.Store.CreateApproval(ctx, r); err != nil {
		return nil, err
	}
	rec, err := s.history.Record(ctx, portal.Event{Action: portal.ActionApprovalRequest, Outcome: portal.OutcomeSuccess,
		OperatorID: op.ID, OperatorName: op.Name, RequestID: portal.ApprovalRequestPrefix + r.ID, Reason: r.Reason,
		Detail: "Cohort run " + run.ID + " waits for a second pair of eyes until " + r.Expires.UTC().Format(time.RFC3339) + ": " + reasonText(reasons)})
	if err != nil {
		s.log.ErrorContext(ctx, "recording a request for approval", "approval", r.ID, "err", err)
	} else if err := s.approvals.Store.SetRequestEvent(ctx, r.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a request for approval to its record", "approval", r.ID, "err", err)
	}
	s.notify(ctx, portal.Notice{ID: "approval.requested:" + r.ID, Kind: portal.NoticeApprovalRequested, RecordID: rec.ID, RunID: run.ID,
		Summary:    fmt.Sprintf("%s asks to run the cohort %s, which needs a second pair of eyes: %s", op.Name, run.FileName, reasonText(reasons)),
		OperatorID: op.ID, OperatorName: op.Name, Counts: map[string]int{"to_issue": rows, "left_out": left}})
	return &AwaitingApproval{Request: r}, nil
}
