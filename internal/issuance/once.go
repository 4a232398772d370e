package issuance

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// One submission, one pass: each issue form carries a single-use
// submission id, recorded with the intent under a unique constraint, and
// each target has at most one action in flight, locked in the shared
// database. A write whose outcome Graph did not confirm is read back at
// once and, when that cannot tell, recorded as unknown and settled from
// Graph by the settler (settle.go).

// NewSubmission returns a fresh submission id for an issue form.
func NewSubmission() string { return rand.Text() }

// submissionPattern is what NewSubmission makes: 26 base32 characters.
var submissionPattern = regexp.MustCompile(`^[A-Z2-7]{26}$`)

func validSubmission(id string) bool { return submissionPattern.MatchString(id) }

// AlreadyHandledError answers a form submitted again: what became of it
// the first time.
type AlreadyHandledError struct {
	Record portal.SubmissionRecord
}

func (e *AlreadyHandledError) Error() string {
	return fmt.Sprintf("This request was already handled at %s UTC (%s).", e.Record.Intent.Time.UTC().Format("15:04:05"), e.Outcome())
}

// Outcome says, in words, what became of the first submission.
func (e *AlreadyHandledError) Outcome() string {
	switch e.Record.Latest.Outcome {
	case portal.OutcomeSuccess:
		if e.Record.Latest.Reconciled {
			return "a pass was issued, but its passcode never reached the portal: revoke it and issue another"
		}
		return "pass issued; its passcode was shown once"
	case portal.OutcomePending:
		return "it is still in progress"
	case portal.OutcomeUnknown:
		return "its outcome is not known yet; the portal is settling it from Microsoft Graph"
	case portal.OutcomeRefused:
		return "refused: nothing was issued"
	}
	return "it failed: nothing was issued"
}

// alreadyHandled returns an *AlreadyHandledError when the submission was
// recorded before, nil when it was not.
func (s *Service) alreadyHandled(ctx context.Context, submission string) error {
	rec, err := s.history.Submission(ctx, submission)
	switch portal.ErrorCode(err) {
	case "":
		return &AlreadyHandledError{Record: rec}
	case portal.ENotFound:
		return nil
	}
	return err
}

// InProgressError refuses an action on a target that has another one in
// flight, on any replica.
type InProgressError struct {
	Lock portal.TargetLock
}

func (e *InProgressError) Error() string {
	return fmt.Sprintf("Another action for this user is in progress: %s started it at %s UTC. Nothing was done; look at the user's page in a moment.",
		e.Lock.HolderName, e.Lock.Since.UTC().Format("15:04:05"))
}

// lock takes the target's lock for the request holder. A user named by
// user principal name is read first: the lock is on the object id, which
// every name of the user shares.
func (s *Service) lock(ctx context.Context, op portal.Operator, userID, holder string) (portal.TargetLock, error) {
	key := userID
	if !portal.IsObjectID(userID) {
		u, err := s.dir.User(ctx, userID)
		if err != nil {
			return portal.TargetLock{}, err
		}
		key = u.ID
	}
	now := s.now()
	if holder == "" {
		holder = NewSubmission()
	}
	l := portal.TargetLock{TargetID: strings.ToLower(key), Holder: holder, HolderName: op.Name, Since: now, Expires: now.Add(s.lockTTL)}
	held, err := s.history.LockTarget(ctx, l)
	if portal.ErrorCode(err) == portal.EConflict {
		return portal.TargetLock{}, &InProgressError{Lock: held}
	}
	return l, err
}

// unlock releases the lock, even when the request's context has ended:
// left held, it would block the target until it lapsed.
func (s *Service) unlock(l portal.TargetLock) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.history.UnlockTarget(ctx, l); err != nil {
		s.log.ErrorContext(ctx, "releasing a target lock", "err", err, "target", l.TargetID)
	}
}

// The answers to a write whose reply did not say what Graph did.
var (
	// ErrPasscodeLost: the pass exists, its passcode never arrived.
	ErrPasscodeLost = &portal.Error{Code: portal.EUnavailable,
		Message: "Microsoft Graph created the pass but its reply did not reach the portal, so the passcode cannot be shown. Revoke the pass, then issue another."}
	// ErrIssueUnknown: Graph may or may not have created the pass.
	ErrIssueUnknown = &portal.Error{Code: portal.EUnavailable, Unsure: true,
		Message: "Microsoft Graph did not say whether it created the pass, and none is visible yet. The portal is checking and records the answer within a minute: open the user's page then, and do not issue another before."}
	// ErrRevokeUnknown: Graph may or may not have deleted the pass.
	ErrRevokeUnknown = &portal.Error{Code: portal.EUnavailable, Unsure: true,
		Message: "Microsoft Graph did not say whether it revoked the pass, and the pass still shows. The portal is checking and records the answer within a minute: open the user's page then."}
)

// readBack reads the user's pass right after an unconfirmed write, within
// its own short budget: the request's may be spent, or its client gone.
func (s *Service) readBack(ctx context.Context, userID string) (*portal.TAP, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.readBackTimeout)
	defer cancel()
	return s.dir.CurrentTAP(rctx, userID)
}

// madeFor reports whether tap is the pass an issue intent asked for: one
// created at or after the intent (a minute's allowance for clocks), and
// not the pass the user held before.
func madeFor(tap *portal.TAP, intent portal.Event, before string) bool {
	return tap != nil && tap.ID != before && !tap.Created.Before(intent.Time.Add(-time.Minute))
}

// settleCreate records what an unconfirmed create did, as far as Graph
// shows it now, and returns the outcome as recorded and what to tell the
// operator.
func (s *Service) settleCreate(ctx context.Context, intent, outcome portal.Event, before string, cause error) (portal.Event, error) {
	outcome.GraphRequestID = portal.RequestID(cause)
	tap, err := s.readBack(ctx, intent.TargetID)
	if err == nil && madeFor(tap, intent, before) {
		outcome.Outcome, outcome.TAPID, outcome.Reconciled = portal.OutcomeSuccess, tap.ID, true
		outcome.Start, outcome.LifetimeMinutes, outcome.OneTime = tap.Start, tap.LifetimeMinutes, tap.OneTime
		outcome.Detail = "Microsoft Graph did not confirm the create (" + portal.ErrorMessage(cause) +
			"), but the pass exists: its passcode never reached the portal."
		return s.recordOutcome(ctx, outcome), ErrPasscodeLost
	}
	outcome.Outcome = portal.OutcomeUnknown
	outcome.Detail = "Microsoft Graph did not confirm the create (" + portal.ErrorMessage(cause) +
		") and no new pass was visible right after; the settler reads Graph again."
	return s.recordOutcome(ctx, outcome), ErrIssueUnknown
}

// settleDelete records what an unconfirmed delete did.
func (s *Service) settleDelete(ctx context.Context, outcome portal.Event, cause error) error {
	outcome.GraphRequestID = portal.RequestID(cause)
	tap, err := s.readBack(ctx, outcome.TargetID)
	if err == nil && (tap == nil || tap.ID != outcome.TAPID) {
		outcome.Outcome, outcome.Reconciled = portal.OutcomeSuccess, true
		outcome.Detail = "Microsoft Graph did not confirm the delete (" + portal.ErrorMessage(cause) + "), but the pass is gone."
		s.recordOutcome(ctx, outcome)
		return nil
	}
	outcome.Outcome = portal.OutcomeUnknown
	outcome.Detail = "Microsoft Graph did not confirm the delete (" + portal.ErrorMessage(cause) +
		") and the pass still showed right after; the settler reads Graph again."
	s.recordOutcome(ctx, outcome)
	return ErrRevokeUnknown
}
