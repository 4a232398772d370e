package issuance

import (
	"context"
	"errors"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// IssueRequest is an operator's request for a pass.
type IssueRequest struct {
	// Start is zero for "now".
	Start time.Time
	// LifetimeMinutes is 0 for the policy's default.
	LifetimeMinutes int
	OneTime         bool
	Reason          string
	Ticket          string
	// ConfirmReplace is set once the operator has confirmed replacing an
	// existing pass.
	ConfirmReplace bool
	// Channel is how the passcode is to reach the user; empty for the
	// default channel.
	Channel portal.Channel
	// ApprovalKey is the requester's public key, for an issue that may
	// wait for approval: what reaches them after it is sealed to it.
	ApprovalKey []byte
	RequestID   string
	// Submission is the form's single-use id: a form is handled once,
	// however often it is sent.
	Submission string
	// Malformed holds the fields the form parser could not read; Issue
	// reports them with its own findings and issues nothing.
	Malformed FieldErrors
}

// IssueForm is what an issue form is decided and shown on, read in one
// round: the user, the tenant policy, the pass a new one would replace,
// and the verdict.
type IssueForm struct {
	User   portal.User
	Policy portal.Policy
	// Replaces is the user's live pass, which a new one would replace, or
	// nil; ReplacesState is where it stands.
	Replaces      *portal.TAP
	ReplacesState portal.TAPState
	Verdict       Verdict
}

// IssueResult is what came of an issue request.
type IssueResult struct {
	// Form is what the decision was made on. It is set whenever the facts
	// could be read, on success and on every refusal, so that the form can
	// be shown again without reading Graph twice.
	Form IssueForm
	// Issued is the new pass, on success; its passcode only when the
	// channel is ChannelRead, for the operator to read out. With
	// ErrPasscodeLost it names the pass that exists, without a passcode.
	Issued portal.IssuedTAP
	// Delivered says how the passcode was handed over.
	Delivered Delivered
	// IntentID is the history record of the issue's intent, once it is
	// recorded; RecordID the record of its outcome, once that is: 0
	// before, and when the history could not record it.
	IntentID int64
	RecordID int64
}

// ErrNeedsConfirmation means the user already has a pass that the new one
// would replace, and the operator has not confirmed.
var ErrNeedsConfirmation = errors.New("issuance: replacing the current pass needs confirmation")

// ErrStaleSignIn means the operator must sign in again before issuing.
var ErrStaleSignIn = errors.New("issuance: the sign-in is too old to issue a pass")

// ErrStaleForm means the form carries no valid submission id: it was not
// served by this portal as it is now, and is not sent on.
var ErrStaleForm = &portal.Error{Code: portal.EInvalid, Message: "The form is out of date: reload the page and fill it in again. Nothing was issued."}

func (s *Service) form(op portal.Operator, f facts) IssueForm {
	form := IssueForm{User: f.user, Policy: f.policy, Verdict: s.verdict(op, f)}
	if now := s.now(); f.current != nil && f.current.Live(now) {
		form.Replaces, form.ReplacesState = f.current, f.current.State(now)
	}
	return form
}

// IssueForm gathers what the issue form needs, in one round of reads.
func (s *Service) IssueForm(ctx context.Context, op portal.Operator, userID string) (IssueForm, error) {
	f, _, err := s.facts(ctx, userID, read{})
	if err != nil {
		return IssueForm{}, err
	}
	return s.form(op, f), nil
}

// Issue issues a pass after the guardrails, recording the intent before
// and the outcome after the Graph call. Nothing is issued when it returns
// an error: ErrStaleSignIn, FieldErrors for invalid input,
// ErrNeedsConfirmation, EPolicy with every reason for a refusal (recorded
// too), or the error of a read, a write or the store.
func (s *Service) Issue(ctx context.Context, op portal.Operator, userID string, req IssueRequest) (IssueResult, error) {
	// Nothing is recorded about a target that is not a user's name.
	if err := portal.CheckTarget(userID); err != nil {
		return IssueResult{}, err
	}
	if !s.FreshSignIn(op) {
		u, err := s.dir.User(ctx, userID)
		if err != nil {
			u = portal.User{ID: userID}
		}
		s.refuse(ctx, op, u, req, Refusal{RefuseStaleSignIn, "The operator's sign-in was too old; they were sent to sign in again before issuing."}, "")
		return IssueResult{}, ErrStaleSignIn
	}
	p, err := s.prepare(ctx, op, userID, req, s.limit, issueKind{})
	if err != nil {
		return p.res, err
	}
	issued, err := s.dir.CreateTAP(ctx, p.f.user.ID, p.newTAP())
	return s.finishIssue(ctx, p, issued, err)
}

// pendingIssue is an issue checked by every guardrail and recorded as an
// intent, its target locked, waiting for Graph's create.
type pendingIssue struct {
	op     portal.Operator
	f      facts
	req    IssueRequest
	res    IssueResult
	intent portal.Event
	lock   portal.TargetLock
	// manager receives the passcode by mail (ChannelManager); link is
	// the one-time link made for it (ChannelLink).
	manager *portal.User
	link    string
	issueKind
}

// issueKind says what an issue is part of: a cohort's batch, whose
// passcodes are sealed to the operator's browser and announced by the
// run's own event, or an approved request, which no rule sends back to
// the queue, which must still be approved when its intent is recorded,
// and whose passcode (or link) is sealed to its requester's key.
type issueKind struct {
	batch    bool
	approved *portal.ApprovalRequest
}

func (p *pendingIssue) newTAP() portal.NewTAP {
	return portal.NewTAP{Start: p.req.Start, LifetimeMinutes: p.req.LifetimeMinutes, OneTime: p.req.OneTime}
}

// prepare does everything an issue does before Graph's create, once
// the operator's sign-in is known fresh: the form's single use, the
// target's lock, the facts
// and the verdict, the request's checks, and the intent, counted against
// limit. On an error nothing is left locked, and the result holds the form
// when it was read.
func (s *Service) prepare(ctx context.Context, op portal.Operator, userID string, req IssueRequest, limit portal.Limit, kind issueKind) (*pendingIssue, error) {
	p := &pendingIssue{op: op, req: req, issueKind: kind}
	// Nothing is recorded about a target that is not a user's name.
	if err := portal.CheckTarget(userID); err != nil {
		return p, err
	}
	if !validSubmission(req.Submission) {
		return p, ErrStaleForm
	}
	// A form sent twice (a double click, a second tab, the back button)
	// is answered from its first submission, without going near Graph.
	if err := s.alreadyHandled(ctx, req.Submission); err != nil {
		return p, err
	}
	lock, err := s.lock(ctx, op, userID, req.RequestID)
	if err != nil {
		return p, err
	}
	p.lock = lock
	if err := s.checkIssue(ctx, p, userID, limit); err != nil {
		s.unlock(lock)
		return p, err
	}
	return p, nil
}

// checkIssue reads the facts of a locked target, decides, and records
// the intent.
func (s *Service) checkIssue(ctx context.Context, p *pendingIssue, userID string, limit portal.Limit) error {
	op, req := p.op, &p.req
	f, _, err := s.facts(ctx, userID, read{})
	if err != nil {
		if code := portal.ErrorCode(err); code == portal.ENotFound || code == portal.EInvalid {
			return err
		}
		// The guardrails could not be checked: refuse, and say so.
		s.refuse(ctx, op, portal.User{ID: userID}, *req, Refusal{RefuseCheckFailed, "The eligibility checks could not be completed: " + portal.ErrorMessage(err)}, portal.RequestID(err))
		return err
	}
	p.f = f
	if opErr := s.checkOperator(ctx, op, f.staff); opErr != nil {
		s.refuseOperator(ctx, op, f.user, *req, opErr)
		return opErr
	}
	p.res = IssueResult{Form: s.form(op, f)}
	if req.LifetimeMinutes == 0 {
		req.LifetimeMinutes = f.policy.DefaultLifetimeMinutes
	}
	// The verdict comes first: an attempt on an account the portal
	// protects is recorded as such, whatever else is wrong with it.
	if v := p.res.Form.Verdict; !v.Eligible() {
		s.refuseWith(ctx, op, f, *req, v.Refusals[0], v.Refusals[1:]...)
		return &portal.Error{Code: portal.EPolicy, Message: v.Message()}
	}
	if fe := s.validate(ctx, op, f, *req); len(fe) > 0 {
		return fe
	}
	if p.batch {
		p.req.Channel = portal.ChannelRead
	} else if err := s.checkChannel(ctx, p); err != nil {
		return err
	}
	if p.res.Form.Replaces != nil && !req.ConfirmReplace {
		return ErrNeedsConfirmation
	}
	if !p.batch {
		if err := s.checkApproval(ctx, p); err != nil {
			return err
		}
	}
	// The intent names the channel: a pass the settler finds made for an
	// intent the portal never finished was handed over by no channel.
	intent := s.event(op, f.user, *req, portal.ActionIssue, portal.OutcomePending)
	intent.Channel = req.Channel
	intent, err = s.history.RecordIntent(ctx, intent, portal.IntentOptions{Limit: limit, Submission: req.Submission})
	switch portal.ErrorCode(err) {
	case "":
		p.intent, p.res.IntentID = intent, intent.ID
		return nil
	case portal.ELimited:
		s.refuse(ctx, op, f.user, *req, Refusal{RefuseRateLimited, portal.ErrorMessage(err)}, "")
	case portal.EConflict:
		// The same form won a race to the history on another replica.
		if herr := s.alreadyHandled(ctx, req.Submission); herr != nil {
			return herr
		}
	}
	return err
}

// finishIssue records what Graph's create of a prepared issue did,
// hands the passcode over, and releases the target; the notices of a
// pass issued go out after that, so that no mail holds the target
// locked.
func (s *Service) finishIssue(ctx context.Context, p *pendingIssue, issued portal.IssuedTAP, err error) (IssueResult, error) {
	res, rec, err := s.finishLocked(ctx, p, issued, err)
	s.unlock(p.lock)
	if err == nil && !p.batch {
		// A cohort's rows are announced by the run's own event.
		res.Delivered.NoticeProblems = s.notices(ctx, p, issued, rec, res.Delivered)
	}
	return res, err
}

// finishLocked is the part of finishIssue done under the target's lock:
// the passcode handed over, the outcome recorded, and a pass whose
// passcode reached nobody revoked. It returns the outcome as recorded.
func (s *Service) finishLocked(ctx context.Context, p *pendingIssue, issued portal.IssuedTAP, err error) (IssueResult, portal.Event, error) {
	res, f, req := p.res, p.f, p.req
	outcome := s.event(p.op, f.user, req, portal.ActionIssue, portal.OutcomeSuccess)
	outcome.IntentID, outcome.Channel = p.intent.ID, req.Channel
	if err != nil {
		if portal.Unsure(err) {
			before := ""
			if f.current != nil {
				before = f.current.ID
			}
			rec, err := s.settleCreate(ctx, p.intent, outcome, before, err)
			res.RecordID = rec.ID
			if rec.Outcome == portal.OutcomeSuccess {
				// ErrPasscodeLost: the pass exists, without its passcode.
				res.Issued.TAP = portal.TAP{ID: rec.TAPID, Start: rec.Start, LifetimeMinutes: rec.LifetimeMinutes, OneTime: rec.OneTime}
			}
			return res, rec, err
		}
		outcome.Outcome, outcome.Detail, outcome.GraphRequestID = portal.OutcomeFailed, portal.ErrorMessage(err), portal.RequestID(err)
		if portal.ErrorCode(err) == portal.EPolicy {
			outcome.Outcome, outcome.RefusalCode = portal.OutcomeRefused, RefuseGraph
		}
		rec := s.recordOutcome(ctx, outcome)
		res.RecordID = rec.ID
		return res, rec, err
	}
	outcome.TAPID, outcome.GraphRequestID = issued.ID, issued.RequestID
	outcome.Start, outcome.LifetimeMinutes, outcome.OneTime = issued.Start, issued.LifetimeMinutes, issued.OneTime
	d, derr := s.deliver(ctx, p, issued, &outcome)
	if derr != nil {
		// The pass was made: its record says so, and why its passcode
		// went nowhere; the revocation that follows has records of its
		// own.
		outcome.Detail = derr.Error() + " The portal revokes it: the revocation follows in the history."
	}
	// A store failure here leaves the intent for the settler. The operator
	// still needs the passcode, which nothing else can show again.
	rec := s.recordOutcome(ctx, outcome)
	res.RecordID = rec.ID
	if derr != nil {
		return res, rec, s.undeliverable(ctx, p, rec, derr)
	}
	if p.link != "" && rec.ID != 0 {
		if err := s.delivery.Links.SetRevealLinkEvent(ctx, p.link, rec.ID); err != nil {
			s.log.WarnContext(ctx, "linking a reveal link to its record", "record", rec.ID, "err", err)
		}
	}
	if d.Channel != portal.ChannelRead || p.approved != nil {
		// The operator does not see a passcode handed over another way,
		// nor an approver one sealed for the requester.
		issued.Passcode = portal.Secret{}
	}
	res.Issued, res.Delivered = issued, d
	return res, rec, nil
}

// recordOutcome records e and returns it as recorded; on a store failure,
// which it logs, as given.
func (s *Service) recordOutcome(ctx context.Context, e portal.Event) portal.Event {
	rec, err := s.history.Record(ctx, e)
	if err != nil {
		s.log.ErrorContext(ctx, "recording an outcome", "err", err, "intent", e.IntentID, "action", string(e.Action), "outcome", string(e.Outcome))
		rec = e
	}
	s.observe(e.Action, e.Outcome, e.RefusalCode)
	return rec
}

// validate checks the request against the form's rules and the policy,
// together with what the parser found. A well-formed request that the
// policy refuses (a lifetime out of bounds, a multi-use pass where the
// policy forces one-time) is recorded as a refusal.
func (s *Service) validate(ctx context.Context, op portal.Operator, f facts, req IssueRequest) FieldErrors {
	fe := req.Validate(f.policy, s.now())
	var refusals []Refusal
	for _, rule := range []struct{ field, code string }{{"lifetime", RefuseLifetime}, {"one_time", RefuseOneTime}} {
		if _, unread := req.Malformed[rule.field]; !unread && fe[rule.field] != "" {
			refusals = append(refusals, Refusal{rule.code, fe[rule.field]})
		}
	}
	if len(refusals) > 0 {
		s.refuse(ctx, op, f.user, req, refusals[0], "", refusals[1:]...)
	}
	// The parser's reading of a field wins: it saw what was typed.
	for k, msg := range req.Malformed {
		fe[k] = msg
	}
	return fe
}

func (s *Service) event(op portal.Operator, u portal.User, req IssueRequest, a portal.Action, o portal.Outcome) portal.Event {
	return portal.Event{
		Action: a, Outcome: o,
		OperatorID: op.ID, OperatorName: op.Name,
		TargetID: u.ID, TargetUPN: u.UserPrincipalName, TargetName: u.DisplayName,
		LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime, Start: req.Start,
		Reason:    recordable(req.Reason, CheckReason, "reason"),
		Ticket:    recordable(req.Ticket, CheckTicket, "ticket"),
		RequestID: req.RequestID,
	}
}

// refuseWith records a refusal decided on f, naming the privileges the
// guardrails protect.
func (s *Service) refuseWith(ctx context.Context, op portal.Operator, f facts, req IssueRequest, r Refusal, more ...Refusal) {
	e := s.event(op, f.user, req, portal.ActionIssue, portal.OutcomeRefused)
	e.Privilege = s.protected(f)
	s.record(ctx, e, r, "", more...)
}

// refuse records a guardrail refusal. A store failure here is logged: the
// refusal stands either way.
func (s *Service) refuse(ctx context.Context, op portal.Operator, u portal.User, req IssueRequest, r Refusal, graphRequestID string, more ...Refusal) {
	s.record(ctx, s.event(op, u, req, portal.ActionIssue, portal.OutcomeRefused), r, graphRequestID, more...)
}

// record writes a refusal event e with r's code and every message.
func (s *Service) record(ctx context.Context, e portal.Event, r Refusal, graphRequestID string, more ...Refusal) {
	e.RefusalCode, e.Detail, e.GraphRequestID = r.Code, r.Message, graphRequestID
	for _, m := range more {
		e.Detail += " " + m.Message
	}
	rec, err := s.history.Record(ctx, e)
	if err != nil {
		s.log.ErrorContext(ctx, "recording a refusal", "err", err, "code", r.Code)
	}
	s.observe(e.Action, portal.OutcomeRefused, r.Code)
	if err == nil {
		s.alertRefusals(ctx, rec)
	}
}
