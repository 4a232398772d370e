package graph

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/identitygovernance"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipalswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/graph/query"
	"github.com/tapportal/portal/internal/portal"
)

// Where privilege comes from, as Graph v1.0 shows it (see graphemu's
// rolemanagement.go for the readings taken where the documentation is
// unsure). Every listing filters on one principal with "eq" and follows
// next links; nothing relies on "in" lists or on beta endpoints.

var (
	opGroupList   = op{"list the user's groups", "GroupMember.Read.All", "The user was not found in the directory."}
	opAssignments = op{"read directory role assignments", "RoleManagement.Read.Directory", "The principal was not found."}
	opEligible    = op{"read PIM-eligible directory roles", "RoleManagement.Read.Directory", "The principal was not found."}
	opRoleDefs    = op{"read the directory's role definitions", "RoleManagement.Read.Directory", "The role definition was not found."}
	opPIMGroups   = op{"read PIM for Groups eligibilities", "PrivilegedEligibilitySchedule.Read.AzureADGroup", "The principal was not found."}
	opGroupRead   = op{"read a group", "GroupMember.Read.All", "The group was not found."}
	opStaff       = op{"read who holds the portal's app roles", "Application.Read.All", "The portal's sign-in app has no service principal in this tenant: check PORTAL_STAFF_APP_ID."}
)

// checkObjectID refuses anything but an object id before it reaches a
// $filter, so that nothing but an id can.
func checkObjectID(id string) error {
	if !portal.IsObjectID(id) {
		return &portal.Error{Code: portal.EInvalid, Message: fmt.Sprintf("%q is not a directory object id.", id)}
	}
	return nil
}

// principalFilter is "principalId eq '{id}'" for an id already checked.
func principalFilter(id string) string { return query.IDFilter("principalId", id) }

// Groups implements portal.Directory.
func (c *Client) Groups(ctx context.Context, userID string) ([]portal.Group, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	return c.groups(ctx, userID, "")
}

// groupsRequest is the first page of the user's transitive groups.
func (c *Client) groupsRequest(userID string) (*users.ItemTransitiveMemberOfGraphGroupRequestBuilder, *users.ItemTransitiveMemberOfGraphGroupRequestBuilderGetRequestConfiguration) {
	top := int32(999)
	return c.sdk.Users().ByUserId(userID).TransitiveMemberOf().GraphGroup(), &users.ItemTransitiveMemberOfGraphGroupRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemTransitiveMemberOfGraphGroupRequestBuilderGetQueryParameters{
			Select: []string{"id", "displayName", "isAssignableToRole"}, Top: &top},
	}
}

// groups lists the user's groups from the first page or, with from set,
// from that next link on.
func (c *Client) groups(ctx context.Context, userID, from string) ([]portal.Group, error) {
	builder, cfg := c.groupsRequest(userID)
	info, err := builder.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return nil, translate(opGroupList, err)
	}
	items, err := c.list(ctx, opGroupList, "groups", info, from)
	if err != nil {
		return nil, err
	}
	return groupList(items), nil
}

func tooManyPages(what string) error {
	return &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph returned too many pages of " + what + "."}
}

// RoleGrants implements portal.Directory: the user's active and eligible
// assignments, read concurrently.
func (c *Client) RoleGrants(ctx context.Context, userID string) ([]portal.RoleGrant, error) {
	if err := checkObjectID(userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	var active, eligible []portal.RoleGrant
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { active, err = c.assignments(gctx, userID, ""); return err })
	g.Go(func() (err error) { eligible, err = c.eligibilities(gctx, userID, ""); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return c.describe(ctx, append(active, eligible...))
}

// nextLinker is a page of a Graph listing.
type nextLinker interface{ GetOdataNextLink() *string }

// collectPages reads a listing page by page: get("") is the first page,
// get(link) the page at a next link (checked to stay on the Graph root),
// and take is given each. It stops after maxPages, so that a reply that
// links back to itself cannot loop forever.
func collectPages[P nextLinker](c *Client, o op, what string, get func(next string) (P, error), take func(P)) error {
	next := ""
	for range maxPages {
		page, err := get(next)
		if err != nil {
			return translate(o, err)
		}
		take(page)
		if next = deref(page.GetOdataNextLink()); next == "" {
			return nil
		}
		if err := c.sameOrigin(next); err != nil {
			return err
		}
	}
	return tooManyPages(what)
}

// assignmentsRequest is the first page of a principal's active role
// assignments.
func (c *Client) assignmentsRequest(principalID string) (*rolemanagement.DirectoryRoleAssignmentsRequestBuilder, *rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration) {
	filter := principalFilter(principalID)
	return c.sdk.RoleManagement().Directory().RoleAssignments(), &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: &filter}}
}

// eligibilitiesRequest is the first page of a principal's current PIM
// eligibilities for directory roles.
func (c *Client) eligibilitiesRequest(principalID string) (*rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilder, *rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration) {
	filter := principalFilter(principalID)
	return c.sdk.RoleManagement().Directory().RoleEligibilityScheduleInstances(), &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter}}
}

// assignments lists a principal's active assignments, from the first page
// or, with from set, from that next link on.
func (c *Client) assignments(ctx context.Context, principalID, from string) ([]portal.RoleGrant, error) {
	builder, cfg := c.assignmentsRequest(principalID)
	info, err := builder.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return nil, translate(opAssignments, err)
	}
	items, err := c.list(ctx, opAssignments, "role assignments", info, from)
	if err != nil {
		return nil, err
	}
	return roleGrants(items, false), nil
}

// eligibilities lists a principal's current PIM eligibilities, like
// assignments.
func (c *Client) eligibilities(ctx context.Context, principalID, from string) ([]portal.RoleGrant, error) {
	builder, cfg := c.eligibilitiesRequest(principalID)
	info, err := builder.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return nil, translate(opEligible, err)
	}
	items, err := c.list(ctx, opEligible, "role eligibilities", info, from)
	if err != nil {
		return nil, err
	}
	return roleGrants(items, true), nil
}

// groupBatch is how many groups one $batch carries: three requests each
// (assignments, eligibilities, the group's name), within Graph's 20.
const groupBatch = 6

// GroupRoleGrants implements portal.Directory. Each group's assignments,
// eligibilities and name are read in one $batch per six groups, the
// batches concurrently.
func (c *Client) GroupRoleGrants(ctx context.Context, groupIDs []string) ([]portal.RoleGrant, error) {
	for _, id := range groupIDs {
		if err := checkObjectID(id); err != nil {
			return nil, err
		}
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	results := make([][]portal.RoleGrant, (len(groupIDs)+groupBatch-1)/groupBatch)
	g, gctx := errgroup.WithContext(ctx)
	for i := range results {
		chunk := groupIDs[i*groupBatch : min((i+1)*groupBatch, len(groupIDs))]
		g.Go(func() (err error) { results[i], err = c.groupBatch(gctx, chunk); return err })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []portal.RoleGrant
	for _, r := range results {
		all = append(all, r...)
	}
	return c.describe(ctx, all)
}

// groupBatch reads up to groupBatch groups in one $batch.
func (c *Client) groupBatch(ctx context.Context, ids []string) ([]portal.RoleGrant, error) {
	batch := c.newBatch()
	type steps struct{ assigned, eligible, group string }
	plan := make([]steps, len(ids))
	add := func(info *abstractions.RequestInformation, err error) (string, error) {
		return batch.add(opAssignments, info, err)
	}
	for i, id := range ids {
		var err error
		ab, acfg := c.assignmentsRequest(id)
		if plan[i].assigned, err = add(ab.ToGetRequestInformation(ctx, acfg)); err != nil {
			return nil, err
		}
		eb, ecfg := c.eligibilitiesRequest(id)
		if plan[i].eligible, err = add(eb.ToGetRequestInformation(ctx, ecfg)); err != nil {
			return nil, err
		}
		if plan[i].group, err = add(c.sdk.Groups().ByGroupId(id).ToGetRequestInformation(ctx,
			&groups.GroupItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}}})); err != nil {
			return nil, err
		}
	}
	resp, err := c.send(ctx, batch, opAssignments)
	if err != nil {
		return nil, err
	}
	var out []portal.RoleGrant
	for i, id := range ids {
		grants, err := c.roleItems(ctx, resp, plan[i].assigned, plan[i].eligible, id)
		if err != nil {
			return nil, err
		}
		name := ""
		if len(grants) > 0 {
			// The name matters only for a group that holds something; a
			// group that cannot be read keeps its id in the message.
			if grp, err := resp.body(plan[i].group, opGroupRead); err == nil {
				name = grp.DisplayName
			}
		}
		for _, gr := range grants {
			gr.PrincipalID, gr.PrincipalName = id, name
			out = append(out, gr)
		}
	}
	return out, nil
}

// GroupEligibilities implements portal.Directory.
func (c *Client) GroupEligibilities(ctx context.Context, userID string) ([]portal.GroupGrant, error) {
	if err := checkObjectID(userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	return c.groupEligibilities(ctx, userID, "")
}

// groupEligibilitiesRequest is the first page of the principal's PIM for
// Groups eligibilities.
func (c *Client) groupEligibilitiesRequest(principalID string) (*identitygovernance.PrivilegedAccessGroupEligibilityScheduleInstancesRequestBuilder, *identitygovernance.PrivilegedAccessGroupEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration) {
	filter := principalFilter(principalID)
	return c.sdk.IdentityGovernance().PrivilegedAccess().Group().EligibilityScheduleInstances(),
		&identitygovernance.PrivilegedAccessGroupEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration{
			QueryParameters: &identitygovernance.PrivilegedAccessGroupEligibilityScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter}}
}

// groupEligibilities lists them from the first page or, with from set,
// from that next link on.
func (c *Client) groupEligibilities(ctx context.Context, principalID, from string) ([]portal.GroupGrant, error) {
	builder, cfg := c.groupEligibilitiesRequest(principalID)
	info, err := builder.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return nil, translate(opPIMGroups, err)
	}
	items, err := c.list(ctx, opPIMGroups, "group eligibilities", info, from)
	if err != nil {
		return nil, err
	}
	return groupGrants(items), nil
}

// names caches what names the ids in a grant: role definitions and
// administrative units change rarely, and a grant without its name is
// still refused by id.
type names struct {
	mu      sync.Mutex
	ttl     time.Duration
	roles   map[string]roleName
	rolesAt time.Time
	units   map[string]unitName
}

type roleName struct {
	name    string
	builtIn bool
}

type unitName struct {
	name string
	at   time.Time
}

// describe fills in the role names, whether each role is built in, and the
// names of administrative-unit scopes. A role whose definition cannot be
// read is treated as custom, which every setting protects.
func (c *Client) describe(ctx context.Context, grants []portal.RoleGrant) ([]portal.RoleGrant, error) {
	if len(grants) == 0 {
		return grants, nil
	}
	defs, err := c.roleDefinitions(ctx, grants)
	if err != nil {
		return nil, err
	}
	for i := range grants {
		g := &grants[i]
		if d, ok := defs[strings.ToLower(g.RoleID)]; ok {
			g.RoleName, g.BuiltIn = d.name, d.builtIn
		} else {
			g.RoleName = "role " + g.RoleID
		}
		if unit, ok := strings.CutPrefix(g.ScopeID, "/administrativeUnits/"); ok {
			g.ScopeName = c.unitName(ctx, unit)
		}
	}
	return grants, nil
}

// roleDefinitions returns the cached definitions, read again when they
// are older than the cache's lifetime or lack a role of grants.
func (c *Client) roleDefinitions(ctx context.Context, grants []portal.RoleGrant) (map[string]roleName, error) {
	c.names.mu.Lock()
	defer c.names.mu.Unlock()
	fresh := c.names.roles != nil && c.now().Sub(c.names.rolesAt) < c.names.ttl
	for _, g := range grants {
		if _, ok := c.names.roles[strings.ToLower(g.RoleID)]; !ok {
			fresh = false
		}
	}
	if fresh {
		return c.names.roles, nil
	}
	cfg := &rolemanagement.DirectoryRoleDefinitionsRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleDefinitionsRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "isBuiltIn"}}}
	builder := c.sdk.RoleManagement().Directory().RoleDefinitions()
	defs := map[string]roleName{}
	err := collectPages(c, opRoleDefs, "role definitions", func(next string) (models.UnifiedRoleDefinitionCollectionResponseable, error) {
		if next != "" {
			return builder.WithUrl(next).Get(ctx, nil)
		}
		return builder.Get(ctx, cfg)
	}, func(p models.UnifiedRoleDefinitionCollectionResponseable) {
		for _, d := range p.GetValue() {
			defs[strings.ToLower(deref(d.GetId()))] = roleName{name: deref(d.GetDisplayName()), builtIn: deref(d.GetIsBuiltIn())}
		}
	})
	if err != nil {
		return nil, err
	}
	c.names.roles, c.names.rolesAt = defs, c.now()
	return defs, nil
}

// unitName names an administrative unit, or returns "" when it cannot be
// read: the scope's id still says where the role applies.
func (c *Client) unitName(ctx context.Context, id string) string {
	c.names.mu.Lock()
	if u, ok := c.names.units[strings.ToLower(id)]; ok && c.now().Sub(u.at) < c.names.ttl {
		c.names.mu.Unlock()
		return u.name
	}
	c.names.mu.Unlock()
	if checkObjectID(id) != nil {
		return ""
	}
	au, err := c.sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(id).Get(ctx,
		&directory.AdministrativeUnitsAdministrativeUnitItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &directory.AdministrativeUnitsAdministrativeUnitItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}}})
	if err != nil {
		return ""
	}
	name := deref(au.GetDisplayName())
	c.names.mu.Lock()
	if c.names.units == nil {
		c.names.units = map[string]unitName{}
	}
	c.names.units[strings.ToLower(id)] = unitName{name: name, at: c.now()}
	c.names.mu.Unlock()
	return name
}

// staffCache holds the portal's app-role holders for a short while: every
// issue checks the operator against them, and a minute is how long a
// removed operator may go on.
type staffCache struct {
	mu    sync.Mutex
	ttl   time.Duration
	value portal.Staff
	at    time.Time
}

// Staff implements portal.Directory: the sign-in app's service principal,
// its app roles, and who holds them, cached for the configured time (at
// most a minute).
func (c *Client) Staff(ctx context.Context) (portal.Staff, error) {
	if c.staffAppID == "" {
		return portal.Staff{}, &portal.Error{Code: portal.EInternal, Message: "The portal knows no sign-in app to read its staff from: set PORTAL_STAFF_APP_ID."}
	}
	c.staff.mu.Lock()
	defer c.staff.mu.Unlock()
	if !c.staff.at.IsZero() && c.now().Sub(c.staff.at) < c.staff.ttl {
		return c.staff.value, nil
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	appID := c.staffAppID
	sp, err := c.sdk.ServicePrincipalsWithAppId(&appID).Get(ctx, &serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "appRoles"}}})
	if err != nil {
		err = translate(opStaff, err)
		if portal.ErrorCode(err) == portal.ENotFound {
			// Not the operator's user missing: the portal's settings name
			// an app this tenant does not have.
			err.(*portal.Error).Code = portal.EConfig
		}
		return portal.Staff{}, err
	}
	st := portal.Staff{AppName: deref(sp.GetDisplayName())}
	for _, r := range sp.GetAppRoles() {
		st.Roles = append(st.Roles, portal.AppRole{ID: uuidString(r.GetId()), Value: deref(r.GetValue()), Name: deref(r.GetDisplayName())})
	}
	top := int32(999)
	cfg := &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{Top: &top}}
	builder := c.sdk.ServicePrincipals().ByServicePrincipalId(deref(sp.GetId())).AppRoleAssignedTo()
	err = collectPages(c, opStaff, "app role assignments", func(next string) (models.AppRoleAssignmentCollectionResponseable, error) {
		if next != "" {
			return builder.WithUrl(next).Get(ctx, nil)
		}
		return builder.Get(ctx, cfg)
	}, func(p models.AppRoleAssignmentCollectionResponseable) {
		for _, a := range p.GetValue() {
			st.Holders = append(st.Holders, portal.StaffHolder{
				PrincipalID: uuidString(a.GetPrincipalId()), PrincipalName: deref(a.GetPrincipalDisplayName()),
				Group: strings.EqualFold(deref(a.GetPrincipalType()), "Group"), AppRoleID: uuidString(a.GetAppRoleId()),
			})
		}
	})
	if err != nil {
		return portal.Staff{}, err
	}
	c.staff.value, c.staff.at = st, c.now()
	return st, nil
}

func uuidString(u *uuid.UUID) string {
	if u == nil {
		return ""
	}
	return u.String()
}
