package issuance

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/portal"
)

// RevokeTarget is a user and the pass a revocation would delete.
type RevokeTarget struct {
	User portal.User
	TAP  portal.TAP
}

// RevokeRequest is an operator's request to revoke a pass.
type RevokeRequest struct {
	// TAPID is the pass the operator saw and confirmed.
	TAPID     string
	Reason    string
	RequestID string
}

// ErrPassChanged means the user's pass is not the one the operator
// confirmed: it was replaced since the form was shown.
var ErrPassChanged = errors.New("issuance: the pass changed since the form was shown")

// RevokeForm reads the user and their pass, concurrently. A user without a
// pass gives ENotFound.
func (s *Service) RevokeForm(ctx context.Context, op portal.Operator, userID string) (RevokeTarget, error) {
	var t RevokeTarget
	var tap *portal.TAP
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { t.User, err = s.dir.User(gctx, userID); return err })
	g.Go(func() (err error) { tap, err = s.dir.CurrentTAP(gctx, userID); return err })
	if err := g.Wait(); err != nil {
		return RevokeTarget{}, err
	}
	if tap == nil {
		return t, &portal.Error{Code: portal.ENotFound, Message: "The user has no Temporary Access Pass to revoke."}
	}
	t.TAP = *tap
	return t, nil
}

// Revoke deletes the user's pass if it is still the one the operator
// confirmed, recording intent and outcome. It returns the target it read,
// so that a refused request can be shown again, and ErrPassChanged,
// FieldErrors or the error of a read, the delete or the store.
func (s *Service) Revoke(ctx context.Context, op portal.Operator, userID string, req RevokeRequest) (RevokeTarget, error) {
	t, err := s.RevokeForm(ctx, op, userID)
	if err != nil {
		return t, err
	}
	if req.TAPID != t.TAP.ID {
		return t, ErrPassChanged
	}
	fe := FieldErrors{}
	CheckReason(fe, req.Reason)
	if len(fe) > 0 {
		return t, fe
	}
	base := portal.Event{
		Action: portal.ActionRevoke, OperatorID: op.ID, OperatorName: op.Name,
		TargetID: t.User.ID, TargetUPN: t.User.UserPrincipalName, TargetName: t.User.DisplayName,
		TAPID: t.TAP.ID, Reason: req.Reason, RequestID: req.RequestID,
	}
	intent := base
	intent.Outcome = portal.OutcomePending
	intent, err = s.history.Record(ctx, intent)
	if err != nil {
		return t, err
	}
	rid, err := s.dir.DeleteTAP(ctx, t.User.ID, t.TAP.ID)
	outcome := base
	outcome.IntentID, outcome.Outcome, outcome.GraphRequestID = intent.ID, portal.OutcomeSuccess, rid
	if err != nil {
		outcome.Outcome, outcome.Detail, outcome.GraphRequestID = portal.OutcomeFailed, portal.ErrorMessage(err), portal.RequestID(err)
	}
	if _, rerr := s.history.Record(ctx, outcome); rerr != nil {
		s.log.ErrorContext(ctx, "recording a revocation outcome", "err", rerr, "intent", intent.ID)
	}
	s.observe(portal.ActionRevoke, outcome.Outcome, "")
	return t, err
}
