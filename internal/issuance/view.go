package issuance

import (
	"context"

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
	Policy   portal.Policy
	// Privileges are every way the user holds power the portal
	// protects, whether or not the guardrails refuse it.
	Privileges []Privilege
	Verdict    Verdict
	History    []portal.Event
}

// View loads a user page: the Graph calls run concurrently.
func (s *Service) View(ctx context.Context, op portal.Operator, userID string) (UserView, error) {
	f, methods, err := s.facts(ctx, userID, read{methods: true})
	if err != nil {
		return UserView{}, err
	}
	v := UserView{User: f.user, Policy: f.policy, TAP: f.current, Privileges: privileges(f)}
	switch m := methods.(type) {
	case methodsRead:
		v.Methods = m.list
	case methodsFailed:
		// The methods are for reading only: their card says what went
		// wrong, the rest of the page stands.
		v.MethodsError = portal.ErrorMessage(m.err)
	}
	if f.current != nil {
		v.TAPState = f.current.State(s.now())
	}
	v.Verdict = s.verdict(op, f)
	hist, err := s.history.List(ctx, portal.EventFilter{TargetID: f.user.ID, Limit: 10, Fold: true})
	if err != nil {
		return UserView{}, err
	}
	v.History = hist
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
