package issuance

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
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
	// requester's, with the request's public key; nil refuses them. It
	// is called again for a request left approved (SettleApprovals), so
	// a run it started already with that key is no error.
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

// ApprovalKeyLifetime is how long a requester's browser keeps the key
// their passcode is sealed to: the request's wait and a day to come back
// for it. After that, nothing sealed to the key can be opened.
func (s *Service) ApprovalKeyLifetime() time.Duration { return s.ApprovalTTL() + 24*time.Hour }

// checkApproval sends an issue to the supervisors' queue when a rule says
// so: after every guardrail and check has passed, before anything is
// recorded as an intent or made. An issue carried out for an approved
// request is not checked again, but the request must still be approved.
func (s *Service) checkApproval(ctx context.Context, p *pendingIssue) error {
	if s.approvals == nil {
		return nil
	}
	if p.approved != nil {
		return s.stillApproved(ctx, p.approved.ID)
	}
	f, req := p.f, p.req
	reasons := s.approvals.Rules.Check(approval.Request{Time: s.now(), Groups: f.groups, LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime})
	if len(reasons) == 0 {
		return nil
	}
	return s.requestApproval(ctx, p, reasons)
}

// stillApproved refuses the issue of a request that is no longer
// approved: one SettleApprovals ended because it found no issue for it.
// Both look under the target's lock, so that of the two, one acts.
func (s *Service) stillApproved(ctx context.Context, id string) error {
	r, err := s.approvals.Store.GetApproval(ctx, id)
	if err != nil {
		return err
	}
	if r.State != portal.ApprovalApproved {
		return &portal.Error{Code: portal.EConflict, Message: strings.TrimSpace("This request is no longer approved, so nothing was issued. " + r.Detail)}
	}
	return nil
}

// requestApproval keeps a request for approval, records it, and tells the
// notifier. A requester's request for the same user that is still waiting
// is answered instead of a second one: a form sent twice makes one. A
// request the history cannot record is withdrawn before anyone sees it.
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
	if err := checkKey(req.ApprovalKey); err != nil {
		return err
	}
	r := portal.ApprovalRequest{
		ID: approval.NewID(), State: portal.ApprovalPending,
		RequesterID: op.ID, RequesterName: op.Name,
		TargetID: f.user.ID, TargetUPN: f.user.UserPrincipalName, TargetName: f.user.DisplayName,
		Start: req.Start, LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime,
		Reason: recordable(req.Reason, CheckReason, "reason"), Ticket: recordable(req.Ticket, CheckTicket, "ticket"),
		Channel: string(req.Channel), Reasons: reasons, Snapshot: snapshot(p.res.Form.Verdict, f, now),
		Created: now, Expires: now.Add(s.approvals.TTL), PublicKey: req.ApprovalKey,
	}
	e := approvalEvent(r, portal.ActionApprovalRequest, op, portal.OutcomeSuccess,
		"Waiting for a second pair of eyes until "+r.Expires.UTC().Format(time.RFC3339)+": "+reasonText(reasons))
	e.Channel = req.Channel
	r, rec, err := s.keepRequest(ctx, r, e)
	if err != nil {
		return err
	}
	s.notify(ctx, portal.Notice{ID: "approval.requested:" + r.ID, Kind: portal.NoticeApprovalRequested, RecordID: rec.ID,
		Summary:  fmt.Sprintf("%s asks for a Temporary Access Pass for %s, which needs a second pair of eyes: %s", op.Name, f.user.DisplayName, reasonText(reasons)),
		TargetID: f.user.ID, TargetUPN: f.user.UserPrincipalName, TargetName: f.user.DisplayName, OperatorID: op.ID, OperatorName: op.Name})
	return &AwaitingApproval{Request: r}
}

// checkKey refuses a requester's public key that nothing can be sealed
// to, before a request is kept: found when the pass exists, it would
// leave a pass whose passcode nobody can be given.
func checkKey(public []byte) error {
	if err := approval.CheckKey(public); err != nil {
		return &portal.Error{Code: portal.EInvalid, Err: err,
			Message: "This browser sent a key the passcode cannot be sealed to, so nothing was asked or issued: reload the page and send the form again."}
	}
	return nil
}

// keepRequest keeps request r and records it as e, linking the two. No
// request waits without its record, as no cohort run starts without its
// own (bulk.Start): a request the history cannot record is withdrawn
// before anyone can decide it, and the error returned.
func (s *Service) keepRequest(ctx context.Context, r portal.ApprovalRequest, e portal.Event) (portal.ApprovalRequest, portal.Event, error) {
	st := s.approvals.Store
	if err := st.CreateApproval(ctx, r); err != nil {
		return r, portal.Event{}, err
	}
	rec, err := s.history.Record(ctx, e)
	if err != nil {
		if _, cerr := st.CancelApproval(context.WithoutCancel(ctx), r.ID, r.RequesterID, s.now()); cerr != nil {
			s.log.ErrorContext(ctx, "withdrawing a request for approval the history could not record", "approval", r.ID, "err", cerr)
		}
		return r, portal.Event{}, &portal.Error{Code: portal.EUnavailable, Err: err,
			Message: "The request for approval could not be recorded in the history, so it was withdrawn and nothing was issued: try again in a moment."}
	}
	r.RequestEventID = rec.ID
	if err := st.SetRequestEvent(ctx, r.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a request for approval to its record", "approval", r.ID, "err", err)
	}
	return r, rec, nil
}

// approvalEvent is the history record of a step of request r taken by
// op: the request, a decision, or how it ended. Its RequestID links the
// steps to each other and to the issue that follows an approval.
func approvalEvent(r portal.ApprovalRequest, action portal.Action, op portal.Operator, outcome portal.Outcome, detail string) portal.Event {
	return portal.Event{Action: action, Outcome: outcome, OperatorID: op.ID, OperatorName: op.Name,
		TargetID: r.TargetID, TargetUPN: r.TargetUPN, TargetName: r.TargetName, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime,
		Start: r.Start, Reason: r.Reason, Ticket: r.Ticket, RequestID: portal.ApprovalRequestPrefix + r.ID, Detail: detail}
}

// requester is the operator who made request r.
func requester(r portal.ApprovalRequest) portal.Operator {
	return portal.Operator{ID: r.RequesterID, Name: r.RequesterName}
}

func reasonText(reasons []portal.ApprovalReason) string {
	msgs := make([]string, len(reasons))
	for i, r := range reasons {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, " ")
}

// snapshot is what a decision about the user rests on, as a request for
// approval keeps it, for the approver to compare with the present: the
// verdict v, decided on f, and the facts themselves.
func snapshot(v Verdict, f facts, now time.Time) portal.ApprovalSnapshot {
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
	if f.current != nil && f.current.Live(now) {
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
	v.NowVerdict = s.verdict(requester(r), f)
	snap := snapshot(v.NowVerdict, f, s.now())
	v.Now, v.Changes = &snap, approval.Diff(r.Snapshot, snap)
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
//
// The request ends issued or failed, as the issue did. An issue whose
// outcome Graph left unknown is no error: the request stays approved,
// saying so, until SettleApprovals settles it from the history. Neither
// is a pass made whose passcode never reached the portal: the request is
// issued, saying that nobody holds the passcode.
func (s *Service) Approve(ctx context.Context, approver portal.Operator, id, note string) (ApprovalResult, error) {
	r, err := s.decide(ctx, approver, id, note, true)
	if err != nil {
		return ApprovalResult{Request: r}, err
	}
	if r.RunID != "" {
		return s.startApprovedRun(ctx, r)
	}
	res, err := s.issueApproved(ctx, r)
	return s.concludeApproved(ctx, r, res, err)
}

// concludeApproved ends approved request r with what its issue did: res
// and err, as issueApproved answered them.
func (s *Service) concludeApproved(ctx context.Context, r portal.ApprovalRequest, res IssueResult, err error) (ApprovalResult, error) {
	var handled *AlreadyHandledError
	var undelivered *deliveryError
	switch {
	case err == nil:
		return s.markIssued(ctx, r, res)
	case errors.Is(err, ErrIssueUnknown):
		// Not known, so not guessed: the history settles it from Graph,
		// and SettleApprovals settles the request from the history.
		detail := fmt.Sprintf("Microsoft Graph did not say whether it made the pass. The portal settles it from Graph (history record %d), "+
			"and this request follows within a few minutes: come back then.", res.IntentID)
		if nerr := s.approvals.Store.NoteApproval(ctx, r.ID, res.IntentID, detail); nerr != nil {
			s.log.ErrorContext(ctx, "noting an approval whose issue is unknown", "approval", r.ID, "err", nerr)
		}
		r.Detail, r.IssueEventID = detail, res.IntentID
		return ApprovalResult{Request: r}, nil
	case errors.Is(err, ErrPasscodeLost):
		r = s.settleApproval(ctx, r, portal.ApprovalIssued, res.RecordID, res.Issued.ID, passcodeLost)
		tap := res.Issued.TAP
		return ApprovalResult{Request: r, Issued: &tap}, nil
	case errors.As(err, &handled):
		r = s.failApproval(ctx, r, res.RecordID, "The approved pass was not issued again: "+handled.Outcome())
	case errors.As(err, &undelivered):
		// The pass was made, then revoked: the message says so, and how
		// the revocation went.
		r = s.failApproval(ctx, r, res.RecordID, portal.ErrorMessage(err))
	default:
		r = s.failApproval(ctx, r, res.RecordID, "The approved pass was not issued: "+portal.ErrorMessage(err))
	}
	return ApprovalResult{Request: r}, err
}

// passcodeLost is the detail of an approved request whose pass exists but
// whose passcode never reached the portal, or the requester.
const passcodeLost = "The pass was made, but its passcode never reached the requester, so nobody holds it: " +
	"revoke the pass from the user's page, then ask again."

// markIssued ends approved request r as issued, with what waits sealed
// for its requester. What the store cannot keep is not dropped in
// silence: the pass is revoked (unkept), unless its passcode went to the
// manager, where it belongs; that request is settled from the history.
func (s *Service) markIssued(ctx context.Context, r portal.ApprovalRequest, res IssueResult) (ApprovalResult, error) {
	tap, sealed := res.Issued.TAP, res.Delivered.Sealed
	err := s.approvals.Store.MarkApprovalIssued(ctx, r.ID, res.RecordID, tap.ID, sealed, s.now())
	if err == nil {
		r.State, r.TAPID, r.IssueEventID, r.PasscodeWaiting = portal.ApprovalIssued, tap.ID, res.RecordID, sealed != nil
		return ApprovalResult{Request: r, Issued: &tap}, nil
	}
	s.log.ErrorContext(ctx, "marking an approval issued", "approval", r.ID, "err", err)
	if sealed == nil {
		r.Detail = "The pass was issued and its passcode went by its channel; this request is brought up to date from the history within a few minutes."
		return ApprovalResult{Request: r, Issued: &tap}, nil
	}
	return s.unkept(ctx, r, res, err)
}

// unkept revokes, through the recorded path, the pass of approved request
// r whose sealed passcode the store could not keep (cause): nobody else
// may hold it, so the pass must not stand. It returns the error the
// approver is shown, which says what became of the pass.
func (s *Service) unkept(ctx context.Context, r portal.ApprovalRequest, res IssueResult, cause error) (ApprovalResult, error) {
	msg := "The pass was made, but its passcode, sealed for the requester, could not be kept (" + portal.ErrorMessage(cause) + "), so nobody holds it."
	// The revocation goes on when the approver's request has ended.
	ctx = context.WithoutCancel(ctx)
	op := requester(r)
	lock, err := s.lock(ctx, op, r.TargetID, portal.ApprovalRequestPrefix+r.ID)
	if err == nil {
		err = s.revokePass(ctx, revocation{op: op, user: portal.User{ID: r.TargetID, UserPrincipalName: r.TargetUPN, DisplayName: r.TargetName},
			tapID: res.Issued.ID, requestID: portal.ApprovalRequestPrefix + r.ID,
			reason: "The passcode sealed for the requester could not be kept, so nobody holds it: the portal revoked the pass.",
			detail: fmt.Sprintf("Revokes the pass of history record %d.", res.RecordID)})
		s.unlock(lock)
	}
	switch {
	case err == nil:
		msg += " The portal revoked the pass: the requester must ask again."
	case errors.Is(err, ErrRevokeUnknown):
		msg += " The portal asked Microsoft Graph to revoke it, and Graph did not confirm: look at the user's page in a minute, and revoke the pass there if it still shows."
	default:
		msg += " The portal could not revoke it (" + portal.ErrorMessage(err) + "): revoke it from the user's page."
	}
	r = s.failApproval(ctx, r, res.RecordID, msg)
	return ApprovalResult{Request: r}, &portal.Error{Code: portal.EUnavailable, Message: msg, Err: cause}
}

// failApproval ends approved request r as failed, saying why, and returns
// it as it now stands. A store that cannot is logged: the request stays
// approved, for SettleApprovals.
func (s *Service) failApproval(ctx context.Context, r portal.ApprovalRequest, eventID int64, detail string) portal.ApprovalRequest {
	if err := s.approvals.Store.MarkApprovalFailed(ctx, r.ID, eventID, detail, s.now()); err != nil {
		s.log.ErrorContext(ctx, "marking an approval failed", "approval", r.ID, "err", err)
		r.Detail = detail
		return r
	}
	r.State, r.Detail, r.IssueEventID = portal.ApprovalFailed, detail, eventID
	return r
}

// settleApproval ends approved request r as to (issued or failed) from
// history record eventID, saying what came of it; a store that cannot is
// logged, as in failApproval.
func (s *Service) settleApproval(ctx context.Context, r portal.ApprovalRequest, to portal.ApprovalState, eventID int64, tapID, detail string) portal.ApprovalRequest {
	if err := s.approvals.Store.SettleApproval(ctx, r.ID, to, eventID, tapID, detail, s.now()); err != nil {
		s.log.ErrorContext(ctx, "settling an approval", "approval", r.ID, "err", err)
		r.Detail = detail
		return r
	}
	r.State, r.Detail, r.IssueEventID, r.TAPID = to, detail, eventID, tapID
	return r
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
		r = s.failApproval(ctx, r, 0, "The approved run was not started: "+portal.ErrorMessage(err))
		return ApprovalResult{Request: r}, err
	}
	if err := s.approvals.Store.MarkApprovalIssued(ctx, r.ID, 0, "", nil, s.now()); err != nil {
		// The run started: SettleApprovals brings the request up to date.
		s.log.ErrorContext(ctx, "marking an approval issued", "approval", r.ID, "err", err)
		return ApprovalResult{Request: r}, nil
	}
	r.State = portal.ApprovalIssued
	return ApprovalResult{Request: r}, nil
}

// approvalSubmission is the submission id of the issue of approved
// request id: made from the id, so that a request issues at most one pass
// however often its issue is tried, and the history finds that issue by
// it (History.Submission).
func approvalSubmission(id string) string {
	sum := sha256.Sum256([]byte("tap-portal approval issue:" + id))
	return base32.StdEncoding.EncodeToString(sum[:])[:26]
}

// issueApproved issues the pass of approved request r through the guarded
// path as its requester: the target locked, every fact read again, every
// guardrail and the rate limit applied, the intent and the outcome
// recorded. The requester's sign-in is not asked again: the approver's
// fresh one stands for the decision, and the requester's role is checked
// live as for any issue.
func (s *Service) issueApproved(ctx context.Context, r portal.ApprovalRequest) (IssueResult, error) {
	req := IssueRequest{Start: r.Start, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime, Reason: r.Reason, Ticket: r.Ticket,
		Channel: portal.Channel(r.Channel), ConfirmReplace: true, RequestID: portal.ApprovalRequestPrefix + r.ID, Submission: approvalSubmission(r.ID)}
	if !req.Start.IsZero() && req.Start.Before(s.now()) {
		// A start that passed while the request waited: now.
		req.Start = time.Time{}
	}
	p, err := s.prepare(ctx, requester(r), r.TargetID, req, s.limit, issueKind{approved: &r})
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
// and a note that passes the reason's checks. No pass is issued on an
// approval the history cannot record: the request then fails, and the
// decision is recorded once the history can (SettleApprovals).
func (s *Service) decide(ctx context.Context, approver portal.Operator, id, note string, approve bool) (portal.ApprovalRequest, error) {
	r, err := s.approvalFor(ctx, approver, id)
	if err != nil {
		return r, err
	}
	action := portal.ActionApprovalReject
	if approve {
		action = portal.ActionApprovalApprove
	}
	if !approver.Supervisor {
		return r, &portal.Error{Code: portal.EDenied, Message: "Only a supervisor can approve or reject a request."}
	}
	if strings.EqualFold(approver.ID, r.RequesterID) {
		e := approvalEvent(r, action, approver, portal.OutcomeRefused, "The requester tried to decide their own request; someone else must.")
		e.RefusalCode = RefuseSelfApproval
		// The refusal stands either way, as every refusal does.
		if _, err := s.history.Record(ctx, e); err != nil {
			s.log.ErrorContext(ctx, "recording a refused decision", "approval", r.ID, "err", err)
		}
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
	rec, err := s.history.Record(ctx, approvalEvent(d, action, approver, portal.OutcomeSuccess, detail))
	if err != nil {
		s.log.ErrorContext(ctx, "recording a decision on a request for approval", "approval", r.ID, "err", err)
		if !approve {
			return d, &portal.Error{Code: portal.EUnavailable, Err: err,
				Message: "The request is rejected, and nothing was issued, but the history could not record the rejection yet: the portal records it within a few minutes."}
		}
		d = s.failApproval(ctx, d, 0, "The approval could not be recorded in the history, so nothing was issued: ask again.")
		return d, &portal.Error{Code: portal.EUnavailable, Err: err,
			Message: "The approval could not be recorded in the history, so nothing was issued and the request is closed: the requester must ask again."}
	}
	d.DecisionEventID = rec.ID
	if err := s.approvals.Store.SetDecisionEvent(ctx, d.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a decision to its record", "approval", d.ID, "err", err)
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
	if err := s.recordApprovalEnd(ctx, c, portal.ActionApprovalCancel, op, "The requester withdrew the request."); err != nil {
		return c, &portal.Error{Code: portal.EUnavailable, Err: err,
			Message: "The request is withdrawn, but the history could not record it yet: the portal records it within a few minutes."}
	}
	return c, nil
}

// ExpireApprovals ends the requests nobody decided in time, and records
// each; it returns how many ended. An expiry the history cannot record
// now is recorded by SettleApprovals.
func (s *Service) ExpireApprovals(ctx context.Context) (int, error) {
	if s.approvals == nil {
		return 0, nil
	}
	expired, err := s.approvals.Store.ExpireApprovals(ctx, s.now())
	errs := []error{err}
	for _, r := range expired {
		errs = append(errs, s.recordApprovalEnd(ctx, r, portal.ActionApprovalExpire, requester(r), expiryDetail(r)))
	}
	return len(expired), errors.Join(errs...)
}

func expiryDetail(r portal.ApprovalRequest) string {
	return "Nobody decided the request before it expired at " + r.Expires.UTC().Format(time.RFC3339) + "; nothing was issued."
}

// recordApprovalEnd records how a request ended without a decision, and
// links the record to it.
func (s *Service) recordApprovalEnd(ctx context.Context, r portal.ApprovalRequest, action portal.Action, op portal.Operator, detail string) error {
	rec, err := s.history.Record(ctx, approvalEvent(r, action, op, portal.OutcomeSuccess, detail))
	if err != nil {
		s.log.ErrorContext(ctx, "recording the end of a request for approval", "approval", r.ID, "err", err)
		return err
	}
	if err := s.approvals.Store.SetDecisionEvent(ctx, r.ID, rec.ID); err != nil {
		s.log.WarnContext(ctx, "linking a request's end to its record", "approval", r.ID, "err", err)
	}
	return nil
}

// TakeApproved hands the requester what their approved request left for
// them, once: the passcode to read out, or the link to send, opened with
// the private key their browser kept. A browser without the key, or with
// another key, is refused before anything is taken.
func (s *Service) TakeApproved(ctx context.Context, op portal.Operator, id string, private []byte) (portal.ApprovalRequest, portal.Secret, error) {
	r, err := s.approvalFor(ctx, op, id)
	if err != nil {
		return r, portal.Secret{}, err
	}
	if len(private) == 0 {
		return r, portal.Secret{}, &portal.Error{Code: portal.EDenied,
			Message: "This browser does not hold the key the passcode was sealed to: open it in the browser you asked for approval from."}
	}
	if !approval.Holds(private, r.PublicKey) {
		return r, portal.Secret{}, &portal.Error{Code: portal.EDenied,
			Message: "This browser holds another key than the one the passcode was sealed to, so nothing was taken: open it in the browser you asked for approval from."}
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
