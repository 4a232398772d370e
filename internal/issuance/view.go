package issuance

import (
	"context"

	"github.com/tapportal/portal/internal/portal"
)

// UserView is everything a user page shows.
type UserView struct {
	User    portal.User
	Methods []portal.Method
	TAP     *portal.TAP
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
	v := UserView{User: f.user, Methods: methods, Policy: f.policy, TAP: f.current, Privileges: privileges(f)}
	if f.current != nil {
		v.TAPState = f.current.State(s.now())
	}
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

// Search finds users by the start of a name, user principal name or mail.
func (s *Service) Search(ctx context.Context, query, cursor string) (portal.UserPage, error) {
	return s.dir.SearchUsers(ctx, query, cursor)
}
