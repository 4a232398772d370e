package issuance

import (
	"context"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

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
