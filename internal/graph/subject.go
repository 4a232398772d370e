package graph

import (
	"cmp"
	"context"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tapportal/portal/internal/portal"
)

// Subject implements portal.Directory: the user, their groups, the roles
// they hold directly (active and eligible), their PIM for Groups
// eligibilities and their pass (or their sign-in methods, which list the
// pass with every property the pass list has) in one $batch, so that a
// user page or an issue costs one round trip to Graph, not six.
//
// Each item stands on its own, as in Graph: an item Graph throttled or
// could not serve (429, 503, 504) is read again alone, through the SDK's
// retries; a listing that runs to a next page is followed. The methods
// only inform: when they cannot be read, or do not show the whole list,
// the pass is read from its own list instead, never guessed.
func (c *Client) Subject(ctx context.Context, userID string, withMethods bool) (portal.Subject, error) {
	if err := checkObjectID(userID); err != nil {
		return portal.Subject{}, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()

	b := c.newBatch()
	var ids struct{ user, groups, assigned, eligible, pimGroups, methods, tap string }
	var buildErr error
	add := func(o op) func(*abstractions.RequestInformation, error) string {
		return func(info *abstractions.RequestInformation, err error) string {
			id, err := b.add(o, info, err)
			buildErr = cmp.Or(buildErr, err)
			return id
		}
	}
	userBuilder := c.sdk.Users().ByUserId(userID)
	ids.user = add(opUser)(userBuilder.ToGetRequestInformation(ctx, userRequest()))
	gb, gcfg := c.groupsRequest(userID)
	ids.groups = add(opGroupList)(gb.ToGetRequestInformation(ctx, gcfg))
	ab, acfg := c.assignmentsRequest(userID)
	ids.assigned = add(opAssignments)(ab.ToGetRequestInformation(ctx, acfg))
	eb, ecfg := c.eligibilitiesRequest(userID)
	ids.eligible = add(opEligible)(eb.ToGetRequestInformation(ctx, ecfg))
	pb, pcfg := c.groupEligibilitiesRequest(userID)
	ids.pimGroups = add(opPIMGroups)(pb.ToGetRequestInformation(ctx, pcfg))
	if withMethods {
		ids.methods = add(opMethods)(userBuilder.Authentication().Methods().ToGetRequestInformation(ctx, nil))
	}
	// The pass's own list comes along when the methods are not asked for,
	// or failed last time (an app granted passes but not methods would
	// otherwise pay a second round on every page).
	if !withMethods || c.methodsFailing.Load() {
		ids.tap = add(opTAPRead)(userBuilder.Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil))
	}
	if buildErr != nil {
		return portal.Subject{}, buildErr
	}
	r, err := c.send(ctx, b, opUser)
	if err != nil {
		return portal.Subject{}, err
	}

	var s portal.Subject
	if s.User, err = item(ctx, r, ids.user, opUser, models.CreateUserFromDiscriminatorValue,
		func(v models.Userable) (portal.User, error) { return toUser(v), nil },
		func(ctx context.Context) (portal.User, error) { return c.User(ctx, userID) }); err != nil {
		return portal.Subject{}, err
	}
	if s.Groups, err = item(ctx, r, ids.groups, opGroupList, models.CreateGroupCollectionResponseFromDiscriminatorValue,
		func(p models.GroupCollectionResponseable) ([]portal.Group, error) {
			return follow(c, groupList(p.GetValue()), p, func(next string) ([]portal.Group, error) { return c.groups(ctx, userID, next) })
		},
		func(ctx context.Context) ([]portal.Group, error) { return c.groups(ctx, userID, "") }); err != nil {
		return portal.Subject{}, err
	}
	grants, err := c.roleItems(ctx, r, ids.assigned, ids.eligible, userID)
	if err != nil {
		return portal.Subject{}, err
	}
	if s.Grants, err = c.describe(ctx, grants); err != nil {
		return portal.Subject{}, err
	}
	if s.GroupGrants, err = item(ctx, r, ids.pimGroups, opPIMGroups, models.CreatePrivilegedAccessGroupEligibilityScheduleInstanceCollectionResponseFromDiscriminatorValue,
		func(p models.PrivilegedAccessGroupEligibilityScheduleInstanceCollectionResponseable) ([]portal.GroupGrant, error) {
			return follow(c, groupGrants(p.GetValue()), p, func(next string) ([]portal.GroupGrant, error) { return c.groupEligibilities(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.GroupGrant, error) { return c.groupEligibilities(ctx, userID, "") }); err != nil {
		return portal.Subject{}, err
	}

	tapFromMethods := false
	if withMethods {
		v, err := r.value(ids.methods, opMethods, models.CreateAuthenticationMethodCollectionResponseFromDiscriminatorValue)
		if err != nil {
			s.MethodsErr = err
		} else {
			p := v.(models.AuthenticationMethodCollectionResponseable)
			var passes []models.TemporaryAccessPassAuthenticationMethodable
			for _, m := range p.GetValue() {
				s.Methods = append(s.Methods, toMethod(m))
				if t, ok := m.(models.TemporaryAccessPassAuthenticationMethodable); ok {
					passes = append(passes, t)
				}
			}
			// A list that runs on to another page may hold the pass there:
			// the pass's own list says.
			if tapFromMethods = deref(p.GetOdataNextLink()) == ""; tapFromMethods {
				s.TAP = newestTAP(passes)
			}
		}
		c.methodsFailing.Store(err != nil)
	}
	if !tapFromMethods {
		if ids.tap == "" {
			s.TAP, err = c.CurrentTAP(ctx, userID)
		} else {
			s.TAP, err = item(ctx, r, ids.tap, opTAPRead, models.CreateTemporaryAccessPassAuthenticationMethodCollectionResponseFromDiscriminatorValue,
				func(p models.TemporaryAccessPassAuthenticationMethodCollectionResponseable) (*portal.TAP, error) {
					return newestTAP(p.GetValue()), nil
				},
				func(ctx context.Context) (*portal.TAP, error) { return c.CurrentTAP(ctx, userID) })
		}
		if err != nil {
			return portal.Subject{}, err
		}
	}
	return s, nil
}

// roleItems reads a principal's active and eligible role grants from
// their two steps of r, each read again alone if Graph could not serve it
// for now, each followed to its last page.
func (c *Client) roleItems(ctx context.Context, r reply, assignedID, eligibleID, principalID string) ([]portal.RoleGrant, error) {
	active, err := item(ctx, r, assignedID, opAssignments, models.CreateUnifiedRoleAssignmentCollectionResponseFromDiscriminatorValue,
		func(p models.UnifiedRoleAssignmentCollectionResponseable) ([]portal.RoleGrant, error) {
			return follow(c, assignmentGrants(p.GetValue()), p, func(next string) ([]portal.RoleGrant, error) { return c.assignments(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.RoleGrant, error) { return c.assignments(ctx, principalID, "") })
	if err != nil {
		return nil, err
	}
	eligible, err := item(ctx, r, eligibleID, opEligible, models.CreateUnifiedRoleEligibilityScheduleInstanceCollectionResponseFromDiscriminatorValue,
		func(p models.UnifiedRoleEligibilityScheduleInstanceCollectionResponseable) ([]portal.RoleGrant, error) {
			return follow(c, eligibilityGrants(p.GetValue()), p, func(next string) ([]portal.RoleGrant, error) { return c.eligibilities(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.RoleGrant, error) { return c.eligibilities(ctx, principalID, "") })
	if err != nil {
		return nil, err
	}
	return append(active, eligible...), nil
}

// userRequest selects the user's fields the portal shows and decides on.
func userRequest() *users.UserItemRequestBuilderGetRequestConfiguration {
	return &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userFields},
	}
}

// item decodes step id of r as a P and takes it. A step Graph could not
// serve for now is read again alone, once the wait Graph asked for is
// over, through the SDK's retries; when that wait does not fit in what is
// left of ctx's budget, the step's error says how long Graph asked for.
func item[P any, T any](ctx context.Context, r reply, id string, o op, factory serialization.ParsableFactory, take func(P) (T, error), alone func(context.Context) (T, error)) (T, error) {
	var zero T
	if r.transient(id) {
		wait := r.retryAfter(id)
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) > wait {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				return alone(context.WithValue(ctx, itemRetryKey{}, true))
			case <-ctx.Done():
			}
		}
	}
	v, err := r.value(id, o, factory)
	if err != nil {
		return zero, err
	}
	p, ok := v.(P)
	if !ok {
		return zero, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a batch reply of the wrong kind for " + o.what + "."}
	}
	return take(p)
}

// follow appends the rest of a listing whose first page came in a batch:
// from its next link on, checked to stay on the Graph root.
func follow[T any](c *Client, first []T, page nextLinker, rest func(next string) ([]T, error)) ([]T, error) {
	next := deref(page.GetOdataNextLink())
	if next == "" {
		return first, nil
	}
	if err := c.sameOrigin(next); err != nil {
		return nil, err
	}
	more, err := rest(next)
	if err != nil {
		return nil, err
	}
	return append(first, more...), nil
}
