// Package issuance is the portal's one guarded path to a Temporary Access
// Pass: it gathers what a user page shows, decides whether a user may get a
// pass, and issues and revokes passes, recording every attempt in the
// history before and after it calls Graph.
package issuance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/portal"
)

// Guardrails are the portal's own rules on top of the tenant policy.
type Guardrails struct {
	// ProtectedRoleIDs are role template ids whose holders are refused;
	// empty means every active directory role.
	ProtectedRoleIDs []string
	// ProtectedGroupIDs are groups whose members are refused.
	ProtectedGroupIDs []string
	// EligibleGroupIDs, when set, are the only groups whose members may
	// get a pass.
	EligibleGroupIDs []string
}

// Options tune a Service.
type Options struct {
	Guardrails Guardrails
	// RateLimit bounds each operator's issuances; zero means none.
	RateLimit portal.Limit
	// MaxAuthAge is how old a sign-in may be to issue; zero means any.
	MaxAuthAge time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	// Observe, when set, is told every settled action: its outcome and,
	// for a refusal, the refusal code.
	Observe func(a portal.Action, o portal.Outcome, refusal string)
}

// Service issues and revokes passes.
type Service struct {
	dir        portal.Directory
	history    portal.History
	rails      Guardrails
	limit      portal.Limit
	maxAuthAge time.Duration
	now        func() time.Time
	log        *slog.Logger
	observe    func(portal.Action, portal.Outcome, string)
}

// New returns a Service.
func New(dir portal.Directory, history portal.History, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(portal.Action, portal.Outcome, string) {}
	}
	return &Service{dir: dir, history: history, rails: o.Guardrails, limit: o.RateLimit, maxAuthAge: o.MaxAuthAge,
		now: o.Now, log: o.Logger, observe: o.Observe}
}

// FreshSignIn reports whether op signed in recently enough to issue.
func (s *Service) FreshSignIn(op portal.Operator) bool {
	return s.maxAuthAge <= 0 || s.now().Sub(op.AuthTime) <= s.maxAuthAge
}

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Refusal is one reason a user may not get a pass.
type Refusal struct {
	// Code is stable, for the history and the metrics.
	Code    string
	Message string
}

// Refusal codes.
const (
	RefuseSelf           = "self"
	RefuseGuest          = "guest"
	RefuseDisabled       = "disabled"
	RefuseRole           = "privileged_role"
	RefuseProtectedGroup = "protected_group"
	RefuseNotEligible    = "not_in_eligible_group"
	RefusePolicyDisabled = "policy_disabled"
	RefuseNotTargeted    = "policy_not_targeted"
	RefuseLifetime       = "lifetime_out_of_policy"
	RefuseOneTime        = "one_time_required"
	RefuseCheckFailed    = "check_failed"
	RefuseGraph          = "graph_refused"
	RefuseRateLimited    = "rate_limited"
	RefuseStaleSignIn    = "stale_sign_in"
)

// RefusalLabel names a refusal code for people.
func RefusalLabel(code string) string {
	switch code {
	case RefuseSelf:
		return "Own account"
	case RefuseGuest:
		return "Guest"
	case RefuseDisabled:
		return "Disabled account"
	case RefuseRole:
		return "Directory role"
	case RefuseProtectedGroup:
		return "Protected group"
	case RefuseNotEligible:
		return "Not in an eligible group"
	case RefusePolicyDisabled:
		return "Policy disabled"
	case RefuseNotTargeted:
		return "Not targeted by policy"
	case RefuseLifetime:
		return "Lifetime out of policy"
	case RefuseOneTime:
		return "One-time required"
	case RefuseCheckFailed:
		return "Checks incomplete"
	case RefuseGraph:
		return "Refused by Graph"
	case RefuseRateLimited:
		return "Rate limit"
	case RefuseStaleSignIn:
		return "Sign-in too old"
	}
	return code
}

// Verdict says whether a user may get a pass, and why not.
type Verdict struct {
	Refusals []Refusal
}

// Eligible reports whether nothing refuses.
func (v Verdict) Eligible() bool { return len(v.Refusals) == 0 }

// UserView is everything a user page shows.
type UserView struct {
	User    portal.User
	Methods []portal.Method
	TAP     *portal.TAP
	Policy  portal.Policy
	Roles   []portal.DirectoryRole
	Verdict Verdict
	History []portal.Event
}

// facts are what the verdict is decided on, fetched concurrently.
type facts struct {
	user   portal.User
	policy portal.Policy
	roles  []portal.DirectoryRole
	groups []string // of the groups the guardrails and the policy name, those the user is in
	// current is the user's pass, if any: issuing asks before replacing it.
	current *portal.TAP
}

func (s *Service) groupsToCheck(p portal.Policy) []string {
	ids := slices.Concat(s.rails.ProtectedGroupIDs, s.rails.EligibleGroupIDs)
	for _, t := range slices.Concat(p.Include, p.Exclude) {
		if t.ID != portal.AllUsers {
			ids = append(ids, t.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// View loads a user page: the Graph calls run concurrently.
func (s *Service) View(ctx context.Context, op portal.Operator, userID string) (UserView, error) {
	var v UserView
	var f facts
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { f, err = s.facts(gctx, userID); return err })
	g.Go(func() (err error) { v.Methods, err = s.dir.Methods(gctx, userID); return err })
	if err := g.Wait(); err != nil {
		return UserView{}, err
	}
	v.User, v.Policy, v.Roles, v.TAP = f.user, f.policy, f.roles, f.current
	v.Verdict = s.verdict(op, f)
	hist, err := s.history.List(ctx, portal.EventFilter{TargetID: f.user.ID, Limit: 20})
	if err != nil {
		return UserView{}, err
	}
	v.History = Settled(hist)
	if len(v.History) > 10 {
		v.History = v.History[:10]
	}
	return v, nil
}

// Settled drops the intents whose outcome is among events: a person
// reading the history wants one line per action, and a pending line only
// while its outcome is unknown.
func Settled(events []portal.Event) []portal.Event {
	done := map[int64]bool{}
	for _, e := range events {
		if e.IntentID != 0 {
			done[e.IntentID] = true
		}
	}
	out := make([]portal.Event, 0, len(events))
	for _, e := range events {
		if e.Outcome != portal.OutcomePending || !done[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// facts fetches, concurrently, the user, the current pass, the policy, the
// roles and the memberships; the membership check needs the policy's
// groups, so it waits for the policy.
func (s *Service) facts(ctx context.Context, userID string) (facts, error) {
	var f facts
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { f.user, err = s.dir.User(gctx, userID); return err })
	g.Go(func() (err error) { f.current, err = s.dir.CurrentTAP(gctx, userID); return err })
	g.Go(func() (err error) { f.roles, err = s.dir.DirectoryRoles(gctx, userID); return err })
	g.Go(func() error {
		p, err := s.dir.Policy(gctx)
		if err != nil {
			return err
		}
		f.policy = p
		f.groups, err = s.dir.MemberOf(gctx, userID, s.groupsToCheck(p))
		return err
	})
	return f, g.Wait()
}

func (s *Service) verdict(op portal.Operator, f facts) Verdict {
	var v Verdict
	refuse := func(code, format string, args ...any) {
		v.Refusals = append(v.Refusals, Refusal{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	u := f.user
	if strings.EqualFold(u.ID, op.ID) {
		refuse(RefuseSelf, "This is your own account: an operator cannot issue a pass to themselves.")
	}
	if u.Guest {
		refuse(RefuseGuest, "Guests cannot get a pass: their sign-in belongs to their home organisation.")
	}
	if !u.AccountEnabled {
		refuse(RefuseDisabled, "The account is disabled: enable it first, through the usual process.")
	}
	var held []string
	for _, r := range f.roles {
		if len(s.rails.ProtectedRoleIDs) == 0 || slices.ContainsFunc(s.rails.ProtectedRoleIDs, func(id string) bool { return strings.EqualFold(id, r.TemplateID) }) {
			held = append(held, r.DisplayName)
		}
	}
	if len(held) > 0 {
		refuse(RefuseRole, "The user holds the directory role %s: passes for administrators are not issued here.", strings.Join(held, ", "))
	}
	in := func(ids []string) bool {
		return slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(f.groups, id) })
	}
	if in(s.rails.ProtectedGroupIDs) {
		refuse(RefuseProtectedGroup, "The user is in a protected group.")
	}
	if len(s.rails.EligibleGroupIDs) > 0 && !in(s.rails.EligibleGroupIDs) {
		refuse(RefuseNotEligible, "The user is not in any group eligible for a pass.")
	}
	p := f.policy
	if !p.Enabled {
		refuse(RefusePolicyDisabled, "The tenant's Temporary Access Pass policy is disabled.")
	} else {
		included := false
		for _, t := range p.Include {
			if t.ID == portal.AllUsers || slices.Contains(f.groups, t.ID) {
				included = true
			}
		}
		excluded := false
		for _, t := range p.Exclude {
			if slices.Contains(f.groups, t.ID) {
				excluded = true
			}
		}
		switch {
		case excluded:
			refuse(RefuseNotTargeted, "The tenant's Temporary Access Pass policy excludes a group the user is in.")
		case !included:
			refuse(RefuseNotTargeted, "The tenant's Temporary Access Pass policy does not include the user.")
		}
	}
	return v
}

// Limits on the operator's free text.
const (
	MaxReasonLength = 500
	MaxTicketLength = 64
	// MaxScheduleAhead is how far ahead a start may be scheduled.
	MaxScheduleAhead = 30 * 24 * time.Hour
)

// IssueRequest is an operator's request for a pass.
type IssueRequest struct {
	// Start is zero for "now".
	Start           time.Time
	LifetimeMinutes int
	OneTime         bool
	Reason          string
	Ticket          string
	// ConfirmReplace is set once the operator has confirmed replacing an
	// existing pass.
	ConfirmReplace bool
	RequestID      string
}

// FieldErrors maps form fields to what is wrong with them.
type FieldErrors map[string]string

// Error implements error.
func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+fe[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// CheckText validates a free-text field.
func CheckText(fe FieldErrors, field, label, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		fe[field] = label + " is required."
	case !utf8.ValidString(v):
		fe[field] = label + " is not valid text."
	case utf8.RuneCountInString(v) > max:
		fe[field] = fmt.Sprintf("%s is too long: %d characters, at most %d.", label, utf8.RuneCountInString(v), max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }):
		fe[field] = label + " contains control characters."
	}
}

// ticketPattern is what ticket references look like in the ticketing
// tools helpdesks use: INC0012345, HD-42, #1234, CASE/2026/17.
var ticketPattern = regexp.MustCompile(`^[A-Za-z0-9#][A-Za-z0-9 ._#/:-]*$`)

// CheckReason validates a reason: required plain text. Markup is refused
// rather than stored, since the history is read in other tools too.
func CheckReason(fe FieldErrors, reason string) {
	CheckText(fe, "reason", "The reason", reason, true, MaxReasonLength)
	if _, bad := fe["reason"]; !bad && strings.ContainsAny(reason, "<>") {
		fe["reason"] = "The reason must be plain text: remove the < and > characters."
	}
}

// Validate checks the request against the form's rules and the policy.
func (r IssueRequest) Validate(p portal.Policy, now time.Time) FieldErrors {
	fe := FieldErrors{}
	CheckReason(fe, r.Reason)
	CheckText(fe, "ticket", "The ticket reference", r.Ticket, false, MaxTicketLength)
	if _, bad := fe["ticket"]; !bad && r.Ticket != "" && !ticketPattern.MatchString(r.Ticket) {
		fe["ticket"] = "The ticket reference may hold letters, digits, spaces and . _ # / : - only, for example INC0012345."
	}
	if err := p.CheckLifetime(r.LifetimeMinutes); err != nil {
		fe["lifetime"] = portal.ErrorMessage(err)
	}
	if !r.Start.IsZero() {
		switch {
		case r.Start.Before(now.Add(-time.Minute)):
			fe["start"] = "The scheduled start is in the past."
		case r.Start.After(now.Add(MaxScheduleAhead)):
			fe["start"] = "The scheduled start is more than 30 days ahead."
		}
	}
	if p.OneTimeForced && !r.OneTime {
		fe["one_time"] = "The tenant policy requires one-time passes."
	}
	return fe
}

// ErrNeedsConfirmation means the user already has a pass that the new one
// would replace, and the operator has not confirmed.
var ErrNeedsConfirmation = errors.New("issuance: replacing the current pass needs confirmation")

// ErrStaleSignIn means the operator must sign in again before issuing.
var ErrStaleSignIn = errors.New("issuance: the sign-in is too old to issue a pass")

// Issued is a pass just issued and the user it was issued to.
type Issued struct {
	portal.IssuedTAP
	User portal.User
}

// Issue issues a pass after the guardrails, recording the intent before
// and the outcome after the Graph call. A refusal returns EPolicy with
// every reason, and is recorded too; invalid input returns FieldErrors.
func (s *Service) Issue(ctx context.Context, op portal.Operator, userID string, req IssueRequest) (Issued, error) {
	if !s.FreshSignIn(op) {
		u, err := s.dir.User(ctx, userID)
		if err != nil {
			u = portal.User{ID: userID}
		}
		s.refuse(ctx, op, u, req, Refusal{RefuseStaleSignIn, "The operator's sign-in was too old; they were sent to sign in again before issuing."}, "")
		return Issued{}, ErrStaleSignIn
	}
	f, err := s.facts(ctx, userID)
	if err != nil {
		if portal.ErrorCode(err) == portal.ENotFound || portal.ErrorCode(err) == portal.EInvalid {
			return Issued{}, err
		}
		// The guardrails could not be checked: refuse, and say so.
		s.refuse(ctx, op, portal.User{ID: userID}, req, Refusal{RefuseCheckFailed, "The eligibility checks could not be completed: " + portal.ErrorMessage(err)}, portal.RequestID(err))
		return Issued{}, err
	}
	if f.policy.OneTimeForced {
		req.OneTime = true
	}
	if req.LifetimeMinutes == 0 {
		req.LifetimeMinutes = f.policy.DefaultLifetimeMinutes
	}
	if fe := req.Validate(f.policy, s.now()); len(fe) > 0 {
		if msg, ok := fe["lifetime"]; ok {
			s.refuse(ctx, op, f.user, req, Refusal{RefuseLifetime, msg}, "")
		}
		return Issued{}, fe
	}
	if v := s.verdict(op, f); !v.Eligible() {
		msgs := make([]string, len(v.Refusals))
		for i, r := range v.Refusals {
			msgs[i] = r.Message
		}
		s.refuse(ctx, op, f.user, req, v.Refusals[0], "", v.Refusals[1:]...)
		return Issued{}, &portal.Error{Code: portal.EPolicy, Message: strings.Join(msgs, " ")}
	}
	if f.current != nil && !req.ConfirmReplace {
		if st := f.current.State(s.now()); st == portal.TAPUsable || st == portal.TAPNotYetValid {
			return Issued{}, ErrNeedsConfirmation
		}
	}

	intent, err := s.recordIntent(ctx, s.event(op, f.user, req, portal.ActionIssue, portal.OutcomePending))
	if err != nil {
		if portal.ErrorCode(err) == portal.ELimited {
			s.refuse(ctx, op, f.user, req, Refusal{RefuseRateLimited, portal.ErrorMessage(err)}, "")
		}
		return Issued{}, err
	}
	issued, err := s.dir.CreateTAP(ctx, f.user.ID, portal.NewTAP{Start: req.Start, LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime})
	outcome := s.event(op, f.user, req, portal.ActionIssue, portal.OutcomeSuccess)
	outcome.IntentID = intent.ID
	if err != nil {
		outcome.Outcome, outcome.Detail, outcome.GraphRequestID = portal.OutcomeFailed, portal.ErrorMessage(err), portal.RequestID(err)
		if portal.ErrorCode(err) == portal.EPolicy {
			outcome.Outcome, outcome.RefusalCode = portal.OutcomeRefused, RefuseGraph
		}
		if _, rerr := s.history.Record(ctx, outcome); rerr != nil {
			s.log.ErrorContext(ctx, "recording a failed issuance", "err", rerr, "intent", intent.ID)
		}
		s.observe(portal.ActionIssue, outcome.Outcome, outcome.RefusalCode)
		return Issued{}, err
	}
	outcome.TAPID, outcome.GraphRequestID = issued.ID, issued.RequestID
	outcome.Start, outcome.LifetimeMinutes, outcome.OneTime = issued.Start, issued.LifetimeMinutes, issued.OneTime
	if _, err := s.history.Record(ctx, outcome); err != nil {
		// The pass exists and its intent is recorded; start-up
		// reconciliation completes the record. The operator still needs
		// the passcode, which nothing else can show again.
		s.log.ErrorContext(ctx, "recording an issuance outcome", "err", err, "intent", intent.ID, "tap_id", issued.ID)
	}
	s.observe(portal.ActionIssue, portal.OutcomeSuccess, "")
	return Issued{IssuedTAP: issued, User: f.user}, nil
}

// recordIntent records an issue intent, within the rate limit when one is
// set: the store counts and appends atomically, so replicas share it.
func (s *Service) recordIntent(ctx context.Context, e portal.Event) (portal.Event, error) {
	if s.limit.Max > 0 {
		return s.history.RecordLimited(ctx, e, s.limit)
	}
	return s.history.Record(ctx, e)
}

// Revoke deletes the pass tapID of u (as the caller has just read them),
// recording intent and outcome.
func (s *Service) Revoke(ctx context.Context, op portal.Operator, u portal.User, tapID, reason, requestID string) error {
	fe := FieldErrors{}
	CheckReason(fe, reason)
	if len(fe) > 0 {
		return fe
	}
	base := portal.Event{
		Action: portal.ActionRevoke, OperatorID: op.ID, OperatorName: op.Name,
		TargetID: u.ID, TargetUPN: u.UserPrincipalName, TargetName: u.DisplayName,
		TAPID: tapID, Reason: reason, RequestID: requestID,
	}
	intent := base
	intent.Outcome = portal.OutcomePending
	intent, err := s.history.Record(ctx, intent)
	if err != nil {
		return err
	}
	rid, err := s.dir.DeleteTAP(ctx, u.ID, tapID)
	outcome := base
	outcome.IntentID, outcome.Outcome, outcome.GraphRequestID = intent.ID, portal.OutcomeSuccess, rid
	if err != nil {
		outcome.Outcome, outcome.Detail, outcome.GraphRequestID = portal.OutcomeFailed, portal.ErrorMessage(err), portal.RequestID(err)
	}
	if _, rerr := s.history.Record(ctx, outcome); rerr != nil {
		s.log.ErrorContext(ctx, "recording a revocation outcome", "err", rerr, "intent", intent.ID)
	}
	s.observe(portal.ActionRevoke, outcome.Outcome, "")
	return err
}

func (s *Service) event(op portal.Operator, u portal.User, req IssueRequest, a portal.Action, o portal.Outcome) portal.Event {
	return portal.Event{
		Action: a, Outcome: o,
		OperatorID: op.ID, OperatorName: op.Name,
		TargetID: u.ID, TargetUPN: u.UserPrincipalName, TargetName: u.DisplayName,
		LifetimeMinutes: req.LifetimeMinutes, OneTime: req.OneTime, Start: req.Start,
		Reason: req.Reason, Ticket: req.Ticket, RequestID: req.RequestID,
	}
}

// refuse records a guardrail refusal. A store failure here is logged: the
// refusal stands either way.
func (s *Service) refuse(ctx context.Context, op portal.Operator, u portal.User, req IssueRequest, r Refusal, graphRequestID string, more ...Refusal) {
	e := s.event(op, u, req, portal.ActionIssue, portal.OutcomeRefused)
	e.RefusalCode, e.Detail, e.GraphRequestID = r.Code, r.Message, graphRequestID
	for _, m := range more {
		e.Detail += " " + m.Message
	}
	if _, err := s.history.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "recording a refusal", "err", err, "code", r.Code)
	}
	s.observe(portal.ActionIssue, portal.OutcomeRefused, r.Code)
}

// Reconcile settles intents recorded before olderThan that never got an
// outcome (the portal stopped mid-call): it reads the user's current pass
// from Graph and records what must have happened, marked as reconciled.
// Replicas may run it at once: the store accepts one outcome per intent.
// It returns how many intents it settled.
func (s *Service) Reconcile(ctx context.Context, olderThan time.Time) (int, error) {
	intents, err := s.history.Unsettled(ctx, olderThan)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, in := range intents {
		tap, err := s.dir.CurrentTAP(ctx, in.TargetID)
		if err != nil && portal.ErrorCode(err) != portal.ENotFound {
			// Try again at the next start; the intent stays visible.
			s.log.WarnContext(ctx, "reconciling an intent", "intent", in.ID, "err", err)
			continue
		}
		out := in
		out.ID, out.Time, out.Hash = 0, time.Time{}, ""
		out.IntentID, out.Reconciled, out.RequestID = in.ID, true, ""
		switch in.Action {
		case portal.ActionIssue:
			// A pass created at or after the intent is the one it asked for.
			if tap != nil && !tap.Created.Before(in.Time.Add(-time.Minute)) {
				out.Outcome, out.TAPID = portal.OutcomeSuccess, tap.ID
				out.Detail = "Reconciled at start-up: the pass exists in the directory. Its passcode was shown only if the portal answered before it stopped."
			} else {
				out.Outcome = portal.OutcomeFailed
				out.Detail = "Reconciled at start-up: no pass from this request exists in the directory."
			}
		case portal.ActionRevoke:
			if tap == nil || tap.ID != in.TAPID {
				out.Outcome = portal.OutcomeSuccess
				out.Detail = "Reconciled at start-up: the pass no longer exists."
			} else {
				out.Outcome = portal.OutcomeFailed
				out.Detail = "Reconciled at start-up: the pass still exists."
			}
		default:
			continue
		}
		if _, err := s.history.Record(ctx, out); err != nil {
			if portal.ErrorCode(err) == portal.EConflict {
				continue // another replica settled it
			}
			return settled, err
		}
		settled++
	}
	return settled, nil
}

// Retain deletes history records older than days, recording the deletion.
func (s *Service) Retain(ctx context.Context, days int) (int64, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	return s.history.DeleteBefore(ctx, cutoff, portal.Event{
		OperatorName: "TAP Portal (retention)",
		Reason:       fmt.Sprintf("Retention: records older than %d days are deleted.", days),
	})
}
