package issuance

import (
	"context"
	"fmt"
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
		case madeFor(tap, intent, "") && handedOver(intent.Channel):
			out.Outcome, out.TAPID = portal.OutcomeSuccess, tap.ID
			out.Start, out.LifetimeMinutes, out.OneTime = tap.Start, tap.LifetimeMinutes, tap.OneTime
			out.Detail = "Settled from Microsoft Graph: the pass exists. Its passcode was to go by the channel " + intent.Channel.Label() +
				", and the portal never recorded handing it over, so nobody is known to hold it: the portal revokes the pass."
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
	settled, err := s.history.Record(ctx, out)
	if err != nil {
		if portal.ErrorCode(err) == portal.EConflict {
			return false, nil // another replica settled it
		}
		return false, err
	}
	s.observe(out.Action, out.Outcome, "")
	if settled.Action == portal.ActionIssue && settled.Outcome == portal.OutcomeSuccess && handedOver(intent.Channel) {
		s.revokeUnhanded(ctx, intent, settled)
	}
	return true, nil
}

// handedOver reports whether a pass's passcode was to reach its user by
// a channel the portal carries out after the create (a mail, a link):
// a pass the settler finds made for such an intent was handed over to
// nobody the portal knows of. Records from before channels name none,
// and are left as they were.
func handedOver(c portal.Channel) bool {
	return c == portal.ChannelManager || c == portal.ChannelLink
}

// revokeUnhanded revokes, through the recorded path and under the lock
// the settler holds, a pass settled as made whose passcode the portal
// never recorded handing over: the mail or link may have gone out before
// the portal stopped, and then carries a passcode that no longer works,
// which is safer than a pass nobody is known to hold. A delete that
// fails or that Graph does not confirm is in the history for the next
// settlement or an operator.
func (s *Service) revokeUnhanded(ctx context.Context, intent, settled portal.Event) {
	u := portal.User{ID: intent.TargetID, UserPrincipalName: intent.TargetUPN, DisplayName: intent.TargetName}
	err := s.revokePass(ctx, revocation{op: portal.Operator{ID: intent.OperatorID, Name: intent.OperatorName}, user: u, tapID: settled.TAPID,
		requestID: intent.RequestID, reason: "The portal never recorded handing over the passcode, so nobody is known to hold it: the portal revoked the pass.",
		detail: fmt.Sprintf("Revokes the pass of history record %d.", settled.ID)})
	if err != nil {
		s.log.WarnContext(ctx, "revoking a pass whose passcode was never handed over", "record", settled.ID, "err", err)
	}
}
