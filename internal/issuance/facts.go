package issuance

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/portal"
)

// facts are what a decision about one user is made on. They are read in
// one round (one Graph $batch, see Directory.Subject), and a second only for the
// role-assignable groups the first round found the user in (or eligible
// for): a role held through a group lists the group, not its members.
type facts struct {
	user   portal.User
	policy portal.Policy
	// current is the user's pass, if any: issuing asks before replacing it.
	current *portal.TAP
	// groups are every group the user is in.
	groups []portal.Group
	// grants are the roles the user holds directly and those held by the
	// groups in groups and pimGroups.
	grants []portal.RoleGrant
	// pimGroups are the groups the user may join or own through PIM.
	pimGroups []portal.GroupGrant
	// staff are the portal's own app-role holders; nil when the portal
	// does not check them.
	staff *portal.Staff
}

// in reports whether the user is in the group.
func (f facts) in(groupID string) bool {
	return slices.ContainsFunc(f.groups, func(g portal.Group) bool { return strings.EqualFold(g.ID, groupID) })
}

// group returns the user's group with id, if the user is in it.
func (f facts) group(id string) (portal.Group, bool) {
	i := slices.IndexFunc(f.groups, func(g portal.Group) bool { return strings.EqualFold(g.ID, id) })
	if i < 0 {
		return portal.Group{}, false
	}
	return f.groups[i], true
}

// read says which optional facts a request needs besides the decision's.
type read struct {
	methods bool
}

// methodsResult is the outcome of the informational read of the methods:
// methodsRead, methodsFailed, or nil when they were not asked for.
type methodsResult interface{ methods() }

type methodsRead struct{ list []portal.Method }

type methodsFailed struct{ err error }

func (methodsRead) methods()   {}
func (methodsFailed) methods() {}

// facts reads everything a decision about userID rests on; with want.methods
// it also reads the user's sign-in methods (for the user page), in the
// same round: one Directory.Subject, beside the policy and the staff
// (both cached by the directory). A user named by user principal name is
// read first, since the role listings take object ids only.
func (s *Service) facts(ctx context.Context, userID string, want read) (facts, methodsResult, error) {
	var f facts
	if err := portal.CheckTarget(userID); err != nil {
		return f, nil, err
	}
	if !portal.IsObjectID(userID) {
		u, err := s.dir.User(ctx, userID)
		if err != nil {
			return f, nil, err
		}
		userID = u.ID
	}
	// The subject is read on this goroutine, whose stack has grown to the
	// depth of a Graph call already; the policy and the staff, cached
	// most of the time, beside it.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { f.policy, err = s.dir.Policy(gctx); return err })
	if s.staffApp {
		g.Go(func() error {
			st, err := s.dir.Staff(gctx)
			f.staff = &st
			return err
		})
	}
	sub, err := s.dir.Subject(gctx, userID, want.methods)
	if err := cmp.Or(err, g.Wait()); err != nil {
		return facts{}, nil, err
	}
	f.user, f.current, f.groups, f.grants, f.pimGroups = sub.User, sub.TAP, sub.Groups, sub.Grants, sub.GroupGrants
	var methods methodsResult
	if want.methods {
		// Informational: their failure is reported on their card, the
		// rest of the page stands.
		if sub.MethodsErr != nil {
			methods = methodsFailed{sub.MethodsErr}
		} else {
			methods = methodsRead{sub.Methods}
		}
	}
	// The second round: roles held by the groups that can hold them.
	var candidates []string
	for _, grp := range f.groups {
		if grp.RoleAssignable {
			candidates = append(candidates, strings.ToLower(grp.ID))
		}
	}
	for _, pg := range f.pimGroups {
		candidates = append(candidates, strings.ToLower(pg.GroupID))
	}
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	if len(candidates) > 0 {
		held, err := s.dir.GroupRoleGrants(ctx, candidates)
		if err != nil {
			return facts{}, nil, err
		}
		f.grants = append(f.grants, held...)
	}
	return f, methods, nil
}
