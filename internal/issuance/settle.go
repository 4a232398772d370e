package issuance

import (
	"context"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Settle reads Graph for every action whose outcome the history does not
// know: intents without an outcome (the portal stopped mid-call, or could
// not record it) and unknown outcomes (Graph did not confirm a write). It
// records what Graph shows, marked as reconciled, and leaves alone what it
// cannot tell yet: a change Graph may still be replicating, or a target
// with an action in flight (whose lock it cannot take). holder names the
// replica; the caller runs it on one replica at a time (a lease), though
// two would do no harm: the store takes one settlement per record. It
// returns how many it settled.
func (s *Service) Settle(ctx context.Context, holder string) (int, error) {
	open, err := s.history.Unsettled(ctx, s.now().Add(time.Second))
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, rec := range open {
		ok, err := s.settle(ctx, holder, rec)
		if err != nil {
			s.log.WarnContext(ctx, "settling a record", "record", rec.ID, "err", err)
			continue
		}
		if ok {
			settled++
		}
	}
	return settled, nil
}

// settle settles one record if Graph can tell, under the target's lock.
func (s *Service) settle(ctx context.Context, holder string, rec portal.Event) (bool, error) {
	// The time that counts is the intent's: an unknown outcome carries the
	// time the request gave up.
	intent := rec
	if rec.Outcome == portal.OutcomeUnknown {
		in, err := s.history.Get(ctx, rec.IntentID)
		if err != nil {
			return false, err
		}
		intent = in
	}
	now := s.now()
	lock, err := s.history.LockTarget(ctx, portal.TargetLock{TargetID: strings.ToLower(rec.TargetID), Holder: "settler " + holder,
		HolderName: "the portal (settling an earlier action)", Since: now, Expires: now.Add(s.lockTTL)})
	if portal.ErrorCode(err) == portal.EConflict {
		return false, nil // an action is in flight: its own request settles it
	}
	if err != nil {
		return false, err
	}
	defer s.unlock(lock)
	tap, err := s.dir.CurrentTAP(ctx, rec.TargetID)
	if err != nil && portal.ErrorCode(err) != portal.ENotFound {
		return false, err
	}
	out := rec
	out.ID, out.Time, out.Hash = 0, time.Time{}, ""
	out.IntentID, out.Reconciled, out.RequestID = rec.ID, true, ""
	waited := now.Sub(intent.Time) >= s.settleWindow
	switch rec.Action {
	case portal.ActionIssue:
		switch {
		case madeFor(tap, intent, ""):
			out.Outcome, out.TAPID = portal.OutcomeSuccess, tap.ID
			out.Start, out.LifetimeMinutes, out.OneTime = tap.Start, tap.LifetimeMinutes, tap.OneTime
			out.Detail = "Settled from Microsoft Graph: the pass exists. Its passcode was shown only if the portal received it."
		case waited:
			out.Outcome = portal.OutcomeFailed
			out.Detail = "Settled from Microsoft Graph: no pass from this request exists in the directory."
		default:
			return false, nil
		}
	case portal.ActionRevoke:
		switch {
		case tap == nil || tap.ID != rec.TAPID:
			out.Outcome = portal.OutcomeSuccess
			out.Detail = "Settled from Microsoft Graph: the pass no longer exists."
		case waited:
			out.Outcome = portal.OutcomeFailed
			out.Detail = "Settled from Microsoft Graph: the pass still exists."
		default:
			return false, nil
		}
	default:
		return false, nil
	}
	if _, err := s.history.Record(ctx, out); err != nil {
		if portal.ErrorCode(err) == portal.EConflict {
			return false, nil // another replica settled it
		}
		return false, err
	}
	s.observe(out.Action, out.Outcome, "")
	return true, nil
}
