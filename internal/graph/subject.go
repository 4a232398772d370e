package graph

import (
	"context"
	"fmt"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"

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
	u := c.subjectURLs
	var ids struct{ user, groups, assigned, eligible, pimGroups, methods, tap string }
	ids.user = b.get(u.of(u.user, userID))
	ids.groups = b.get(u.of(u.groups, userID))
	ids.assigned = b.get(u.of(u.assigned, userID))
	ids.eligible = b.get(u.of(u.eligible, userID))
	ids.pimGroups = b.get(u.of(u.pimGroups, userID))
	if withMethods {
		ids.methods = b.get(u.of(u.methods, userID))
	}
	// The pass's own list comes along when the methods are not asked for,
	// or failed last time (an app granted passes but not methods would
	// otherwise pay a second round on every page).
	if !withMethods || c.methodsFailing.Load() {
		ids.tap = b.get(u.of(u.tap, userID))
	}
	r, err := c.send(ctx, b, opUser)
	if err != nil {
		return portal.Subject{}, err
	}

	var s portal.Subject
	if s.User, err = item(ctx, r, ids.user, opUser,
		func(v *wireBody) (portal.User, error) { return v.userOf(opUser) },
		func(ctx context.Context) (portal.User, error) { return c.User(ctx, userID) }); err != nil {
		return portal.Subject{}, err
	}
	if s.Groups, err = item(ctx, r, ids.groups, opGroupList,
		func(p *wireBody) ([]portal.Group, error) {
			return follow(p, opGroupList, groupList, func(next string) ([]portal.Group, error) { return c.groups(ctx, userID, next) })
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
	if s.GroupGrants, err = item(ctx, r, ids.pimGroups, opPIMGroups,
		func(p *wireBody) ([]portal.GroupGrant, error) {
			return follow(p, opPIMGroups, groupGrants, func(next string) ([]portal.GroupGrant, error) { return c.groupEligibilities(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.GroupGrant, error) { return c.groupEligibilities(ctx, userID, "") }); err != nil {
		return portal.Subject{}, err
	}

	tapFromMethods := false
	if withMethods {
		p, err := r.body(ids.methods, opMethods)
		var listed []wireObject
		if err == nil {
			listed, err = p.listed(opMethods)
		}
		if err != nil {
			s.MethodsErr = err
		} else {
			var passes []wireObject
			for _, m := range listed {
				s.Methods = append(s.Methods, m.method())
				if m.Type == tapType {
					passes = append(passes, m)
				}
			}
			// A list that runs on to another page may hold the pass there:
			// the pass's own list says.
			if tapFromMethods = p.NextLink == ""; tapFromMethods {
				s.TAP = newestTAP(passes)
			}
		}
		c.methodsFailing.Store(s.MethodsErr != nil)
	}
	if !tapFromMethods {
		if ids.tap == "" {
			s.TAP, err = c.CurrentTAP(ctx, userID)
		} else {
			s.TAP, err = item(ctx, r, ids.tap, opTAPRead,
				func(p *wireBody) (*portal.TAP, error) { return newestTAPOf(p, opTAPRead) },
				func(ctx context.Context) (*portal.TAP, error) { return c.CurrentTAP(ctx, userID) })
		}
		if err != nil {
			return portal.Subject{}, err
		}
	}
	return s, nil
}

// subjectURLs are the URLs of a Subject's batch steps, relative to the
// Graph root. The SDK's builders make them once, at start-up, for a
// placeholder id that each Subject replaces with its user's: expanding
// six URL templates on every page was a tenth of the page's CPU.
type subjectURLs struct {
	user, groups, assigned, eligible, pimGroups, methods, tap string
}

// placeholderID stands for the user's object id in subjectURLs. An object
// id is hexadecimal digits and dashes, which no URL encoding changes.
const placeholderID = "00000000-0000-4000-8000-0000000000ff"

// of is url for the user with object id id (checked already).
func (subjectURLs) of(url, id string) string { return strings.ReplaceAll(url, placeholderID, id) }

func newSubjectURLs(c *Client) (subjectURLs, error) {
	ctx := context.Background()
	var u subjectURLs
	var firstErr error
	rel := func(info *abstractions.RequestInformation, err error) string {
		if err == nil {
			var s step
			if s, err = stepOf(c.v1, info); err == nil {
				// Only the URL is kept: a header a builder adds (such as
				// ConsistencyLevel) would be lost, so one is refused here.
				for k := range s.Headers {
					if !strings.EqualFold(k, "accept") {
						err = fmt.Errorf("the step %s carries the header %s, which its cached URL cannot", s.URL, k)
					}
				}
			}
			if err == nil {
				return s.URL
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		return ""
	}
	user := c.sdk.Users().ByUserId(placeholderID)
	u.user = rel(user.ToGetRequestInformation(ctx, userRequest()))
	gb, gcfg := c.groupsRequest(placeholderID)
	u.groups = rel(gb.ToGetRequestInformation(ctx, gcfg))
	ab, acfg := c.assignmentsRequest(placeholderID)
	u.assigned = rel(ab.ToGetRequestInformation(ctx, acfg))
	eb, ecfg := c.eligibilitiesRequest(placeholderID)
	u.eligible = rel(eb.ToGetRequestInformation(ctx, ecfg))
	pb, pcfg := c.groupEligibilitiesRequest(placeholderID)
	u.pimGroups = rel(pb.ToGetRequestInformation(ctx, pcfg))
	u.methods = rel(user.Authentication().Methods().ToGetRequestInformation(ctx, nil))
	u.tap = rel(user.Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil))
	return u, firstErr
}

// roleItems reads a principal's active and eligible role grants from
// their two steps of r, each read again alone if Graph could not serve it
// for now, each followed to its last page.
func (c *Client) roleItems(ctx context.Context, r reply, assignedID, eligibleID, principalID string) ([]portal.RoleGrant, error) {
	active, err := item(ctx, r, assignedID, opAssignments,
		func(p *wireBody) ([]portal.RoleGrant, error) {
			return follow(p, opAssignments, activeGrants, func(next string) ([]portal.RoleGrant, error) { return c.assignments(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.RoleGrant, error) { return c.assignments(ctx, principalID, "") })
	if err != nil {
		return nil, err
	}
	eligible, err := item(ctx, r, eligibleID, opEligible,
		func(p *wireBody) ([]portal.RoleGrant, error) {
			return follow(p, opEligible, eligibleGrants, func(next string) ([]portal.RoleGrant, error) { return c.eligibilities(ctx, "", next) })
		},
		func(ctx context.Context) ([]portal.RoleGrant, error) { return c.eligibilities(ctx, principalID, "") })
	if err != nil {
		return nil, err
	}
	return append(active, eligible...), nil
}

// item takes step id of r. A step Graph could not
// serve for now is read again alone, once the wait Graph asked for is
// over, through the SDK's retries; when that wait does not fit in what is
// left of ctx's budget, the step's error says how long Graph asked for.
func item[T any](ctx context.Context, r reply, id string, o op, take func(*wireBody) (T, error), alone func(context.Context) (T, error)) (T, error) {
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
	b, err := r.body(id, o)
	if err != nil {
		return zero, err
	}
	return take(b)
}

// follow reads a listing whose first page p came in a batch: its entries
// as conv reads them, then the rest from its next link on (rest checks
// that the link stays on the Graph root).
func follow[T any](p *wireBody, o op, conv func([]wireObject) []T, rest func(next string) ([]T, error)) ([]T, error) {
	items, err := p.listed(o)
	if err != nil {
		return nil, err
	}
	first := conv(items)
	if p.NextLink == "" {
		return first, nil
	}
	more, err := rest(p.NextLink)
	if err != nil {
		return nil, err
	}
	return append(first, more...), nil
}
