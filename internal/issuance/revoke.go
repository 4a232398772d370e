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
	// Revoking stays open to every operator, protected accounts included
	// (removing a pass is what incident response needs), so the facts
	// serve the record: a revocation on a protected account says why.
	if err := portal.CheckTarget(userID); err != nil {
		return RevokeTarget{}, err
	}
	lock, err := s.lock(ctx, op, userID, req.RequestID)
	if err != nil {
		return RevokeTarget{}, err
	}
	defer s.unlock(lock)
	f, _, err := s.facts(ctx, userID, read{})
	if err != nil {
		return RevokeTarget{}, err
	}
	if f.current == nil {
		return RevokeTarget{User: f.user}, &portal.Error{Code: portal.ENotFound, Message: "The user has no Temporary Access Pass to revoke."}
	}
	t := RevokeTarget{User: f.user, TAP: *f.current}
	if opErr := s.checkOperator(ctx, op, f.staff); opErr != nil {
		r := Refusal{RefuseOperatorRole, "The operator no longer holds a portal role in Microsoft Entra ID."}
		if opErr != errNoOperatorRole {
			r = Refusal{RefuseCheckFailed, "The operator's own portal role could not be confirmed: " + portal.ErrorMessage(opErr)}
		}
		s.record(ctx, portal.Event{Action: portal.ActionRevoke, Outcome: portal.OutcomeRefused, OperatorID: op.ID, OperatorName: op.Name,
			TargetID: t.User.ID, TargetUPN: t.User.UserPrincipalName, TargetName: t.User.DisplayName, TAPID: t.TAP.ID,
			Reason: recordable(req.Reason, CheckReason, "reason"), RequestID: req.RequestID}, r, portal.RequestID(opErr))
		return t, opErr
	}
	if req.TAPID != t.TAP.ID {
		return t, ErrPassChanged
	}
	fe := FieldErrors{}
	CheckReason(fe, req.Reason)
	if len(fe) > 0 {
		return t, fe
	}
	return t, s.revokePass(ctx, revocation{op: op, user: t.User, tapID: t.TAP.ID, reason: req.Reason, requestID: req.RequestID,
		privilege: s.protected(f)})
}

// revocation is a pass to revoke through the recorded path: on whose
// behalf, whose pass, which one, and why.
type revocation struct {
	op        portal.Operator
	user      portal.User
	tapID     string
	reason    string
	requestID string
	// privilege says how the user holds power the portal protects, if
	// they do; detail, when set, is what the records say beside the
	// reason.
	privilege string
	detail    string
}

// revokePass revokes a pass as every revocation is carried out: the
// intent recorded first (nothing is deleted that the history cannot
// show), Graph's delete, and its outcome; a delete Graph did not confirm
// is read back and, when that cannot tell, recorded as unknown for the
// settler (ErrRevokeUnknown). The caller holds the target's lock.
func (s *Service) revokePass(ctx context.Context, r revocation) error {
	base := portal.Event{
		Action: portal.ActionRevoke, OperatorID: r.op.ID, OperatorName: r.op.Name,
		TargetID: r.user.ID, TargetUPN: r.user.UserPrincipalName, TargetName: r.user.DisplayName,
		TAPID: r.tapID, Reason: r.reason, RequestID: r.requestID, Privilege: r.privilege, Detail: r.detail,
	}
	intent := base
	intent.Outcome = portal.OutcomePending
	intent, err := s.history.Record(ctx, intent)
	if err != nil {
		return err
	}
	rid, err := s.dir.DeleteTAP(ctx, r.user.ID, r.tapID)
	outcome := base
	outcome.IntentID, outcome.Outcome, outcome.GraphRequestID = intent.ID, portal.OutcomeSuccess, rid
	if err != nil && portal.Unsure(err) {
		return s.settleDelete(ctx, outcome, err)
	}
	if err != nil {
		outcome.Outcome, outcome.Detail, outcome.GraphRequestID = portal.OutcomeFailed, portal.ErrorMessage(err), portal.RequestID(err)
	}
	s.recordOutcome(ctx, outcome)
	return err
}
