package issuance

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/portal"
)

// facts are what a decision about one user is made on, read in one round
// of concurrent Graph calls.
type facts struct {
	user   portal.User
	policy portal.Policy
	roles  []portal.DirectoryRole
	groups []string // of the groups the guardrails and the policy name, those the user is in
	// current is the user's pass, if any: issuing asks before replacing it.
	current *portal.TAP
}

// groupsToCheck lists every group a guardrail or the policy names, once.
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

// facts fetches, concurrently, the user, the current pass, the policy, the
// roles and the memberships; the membership check needs the policy's
// groups, so it waits for the policy (cached by the directory).
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
