package issuance

import (
	"context"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// UserView is everything a user page shows.
type UserView struct {
	User    portal.User
	Methods []portal.Method
	// MethodsError says why the methods could not be read; the page
	// shows everything else.
	MethodsError string
	TAP          *portal.TAP
	// TAPState is where TAP stands now; empty without a pass.
	TAPState portal.TAPState
	// FollowUp is what became of TAP: used, what was registered since,
	// still usable; nil without a pass.
	FollowUp *portal.FollowUp
	Policy   portal.Policy
	// Privileges are every way the user holds power the portal
	// protects, whether or not the guardrails refuse it.
	Privileges []Privilege
	Verdict    Verdict
	History    []portal.Event
}

// View loads a user page: the facts in one round of Graph reads, then the
// portal's own history for the user.
func (s *Service) View(ctx context.Context, op portal.Operator, userID string) (UserView, error) {
	f, methods, err := s.facts(ctx, userID, read{methods: true})
	if err != nil {
		return UserView{}, err
	}
	// The user's history is read after Graph, on this goroutine, by the
	// object id Graph gave: a read takes tens of microseconds, less than a
	// goroutine of its own cost (the database driver's deep frames grew
	// its stack several times a page), and nothing beside Graph's round
	// trip.
	hist, err := s.history.List(ctx, portal.EventFilter{TargetID: f.user.ID, Limit: 10, Fold: true})
	if err != nil {
		return UserView{}, err
	}
	v := UserView{User: f.user, Policy: f.policy, TAP: f.current, Privileges: privileges(f), History: hist}
	switch m := methods.(type) {
	case methodsRead:
		v.Methods = m.list
	case methodsFailed:
		// The methods are for reading only: their card says what went
		// wrong, the rest of the page stands.
		v.MethodsError = portal.ErrorMessage(m.err)
	}
	if f.current != nil {
		now := s.now()
		v.TAPState = f.current.State(now)
		fu := portal.FollowUpOf(*f.current, v.Methods, v.MethodsError == "", now)
		v.FollowUp = &fu
	}
	v.Verdict = s.verdict(op, f)
	return v, nil
}

// Search finds users by any word of a name, user principal name or mail,
// by employee id or by object id, with where each one's pass stands.
func (s *Service) Search(ctx context.Context, query, cursor string) (portal.UserPage, error) {
	page, err := s.dir.SearchUsers(ctx, query, cursor)
	now := s.now()
	for i, m := range page.Users {
		if m.TAP != nil {
			page.Users[i].TAPState = m.TAP.State(now)
		}
	}
	return page, err
}

// PassFollowUp reads what became of the pass an issue record made: its
// follow-up while it is still the user's (current true), or what the user
// registered since it was made once it is gone. A record that made no pass
// has none (ENotFound).
func (s *Service) PassFollowUp(ctx context.Context, e portal.Event) (f portal.FollowUp, current bool, err error) {
	if e.Action != portal.ActionIssue || e.Outcome != portal.OutcomeSuccess || e.TAPID == "" || !portal.IsObjectID(e.TargetID) {
		return f, false, &portal.Error{Code: portal.ENotFound, Message: "The record made no pass to follow up."}
	}
	sub, err := s.dir.Subject(ctx, e.TargetID, true)
	if err != nil {
		return f, false, err
	}
	known := sub.MethodsErr == nil
	if sub.TAP != nil && strings.EqualFold(sub.TAP.ID, e.TAPID) {
		f = portal.FollowUpOf(*sub.TAP, sub.Methods, known, s.now())
		s.addSignIn(ctx, e.TargetID, *sub.TAP, &f)
		return f, true, nil
	}
	return portal.FollowUpGone(e.Time, sub.Methods, known), false, nil
}
