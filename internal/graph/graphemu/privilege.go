package graphemu

import (
	"slices"
	"strings"
	"time"
)

// Privilege in Entra comes from several places, and the tenant models each
// as Graph's role management APIs show it:
//
//   - RoleAssignments are active (unifiedRoleAssignment): tenant-wide
//     (directory scope "/"), on an administrative unit
//     ("/administrativeUnits/{id}") or on one object ("/{id}"), held by a
//     user or a role-assignable group. Active tenant-wide assignments of
//     built-in roles are also what transitiveMemberOf/directoryRole lists.
//   - RoleEligibilities are PIM-eligible assignments: the principal can
//     activate the role at any time within the window.
//   - GroupEligibilities are PIM for Groups: the principal can activate
//     membership or ownership of a group, which may itself hold a role.
//   - ServicePrincipals carry app roles and their assignments: the portal's
//     own operators and supervisors hold its sign-in app's roles.

// RoleDefinition is a directory role, built in or custom.
type RoleDefinition struct {
	// ID is the role definition id; for a built-in role it equals the
	// template id.
	ID          string
	DisplayName string
	Description string
	BuiltIn     bool
	// DirectoryRoleID is the id of the activated directoryRole object of
	// a built-in role (what transitiveMemberOf lists).
	DirectoryRoleID string
}

// RoleAssignment is an active role assignment.
type RoleAssignment struct {
	ID               string
	PrincipalID      string
	RoleDefinitionID string
	// DirectoryScopeID is "/" (tenant-wide), "/administrativeUnits/{id}"
	// or "/{objectId}".
	DirectoryScopeID string
}

// RoleEligibility is a PIM-eligible role assignment, current between
// Start and End (a zero End is permanent).
type RoleEligibility struct {
	ID               string
	PrincipalID      string
	RoleDefinitionID string
	DirectoryScopeID string
	Start, End       time.Time
}

// GroupEligibility is a PIM for Groups eligibility: the principal may
// activate AccessID ("member" or "owner") of the group.
type GroupEligibility struct {
	ID          string
	PrincipalID string
	GroupID     string
	AccessID    string
	Start, End  time.Time
}

// AdministrativeUnit is a directory administrative unit.
type AdministrativeUnit struct {
	ID          string
	DisplayName string
	Description string
	Members     []string
}

// ServicePrincipal is an application's instance in the tenant, with the
// app roles it defines and who holds them.
type ServicePrincipal struct {
	ID          string
	AppID       string
	DisplayName string
	AppRoles    []AppRole
	Assignments []AppRoleAssignment
}

// AppRole is a role an application defines.
type AppRole struct {
	ID          string
	Value       string
	DisplayName string
	Description string
}

// AppRoleAssignment grants an app role to a user or a group.
type AppRoleAssignment struct {
	ID          string
	AppRoleID   string
	PrincipalID string
	// PrincipalType is "User", "Group" or "ServicePrincipal".
	PrincipalType        string
	PrincipalDisplayName string
	Created              time.Time
}

// current reports whether a schedule window holds now.
func current(start, end, now time.Time) bool {
	return !now.Before(start) && (end.IsZero() || now.Before(end))
}

// RoleDefinitionByID finds a role definition by id (case-insensitively).
func (t *Tenant) RoleDefinitionByID(id string) *RoleDefinition {
	for _, d := range t.RoleDefinitions {
		if strings.EqualFold(d.ID, id) {
			return d
		}
	}
	return nil
}

// AssignRole gives principalID the role actively at scope ("/" when
// empty), as an administrator would in the admin center.
func (t *Tenant) AssignRole(principalID, roleDefinitionID, scope string) *RoleAssignment {
	if scope == "" {
		scope = "/"
	}
	a := &RoleAssignment{ID: newGUID(), PrincipalID: principalID, RoleDefinitionID: roleDefinitionID, DirectoryScopeID: scope}
	t.RoleAssignments = append(t.RoleAssignments, a)
	return a
}

// ActiveRoles returns the activated built-in directory roles and their
// members (users or groups): the active tenant-wide assignments, which is
// what Graph's directoryRole objects reflect.
func (t *Tenant) ActiveRoles() []*Role {
	var out []*Role
	for _, d := range t.RoleDefinitions {
		if !d.BuiltIn || d.DirectoryRoleID == "" {
			continue
		}
		var members []string
		for _, a := range t.RoleAssignments {
			if a.DirectoryScopeID == "/" && strings.EqualFold(a.RoleDefinitionID, d.ID) && !slices.Contains(members, a.PrincipalID) {
				members = append(members, a.PrincipalID)
			}
		}
		if len(members) > 0 {
			out = append(out, &Role{ID: d.DirectoryRoleID, TemplateID: d.ID, DisplayName: d.DisplayName, Description: d.Description, Members: members})
		}
	}
	return out
}

// ServicePrincipalByAppID finds the service principal of an app.
func (t *Tenant) ServicePrincipalByAppID(appID string) *ServicePrincipal {
	for _, sp := range t.ServicePrincipals {
		if strings.EqualFold(sp.AppID, appID) {
			return sp
		}
	}
	return nil
}

// LookupAdministrativeUnit finds an administrative unit by id.
func (t *Tenant) LookupAdministrativeUnit(id string) *AdministrativeUnit {
	for _, au := range t.AdministrativeUnits {
		if strings.EqualFold(au.ID, id) {
			return au
		}
	}
	return nil
}

// Privileged reports whether a user can reach any directory role: an
// active or eligible assignment at any scope, held directly, through a
// group the user is in, or through a group the user is eligible to join
// or own through PIM. It is the tenant's own answer, for tests to compare
// the portal's verdict with.
func (t *Tenant) Privileged(userID string, now time.Time) bool {
	holders := map[string]bool{strings.ToLower(userID): true}
	for _, g := range t.TransitiveGroups(userID) {
		holders[strings.ToLower(g.ID)] = true
	}
	for _, e := range t.GroupEligibilities {
		if strings.EqualFold(e.PrincipalID, userID) && current(e.Start, e.End, now) {
			holders[strings.ToLower(e.GroupID)] = true
		}
	}
	for _, a := range t.RoleAssignments {
		if holders[strings.ToLower(a.PrincipalID)] {
			return true
		}
	}
	for _, e := range t.RoleEligibilities {
		if holders[strings.ToLower(e.PrincipalID)] && current(e.Start, e.End, now) {
			return true
		}
	}
	return false
}

// PortalStaff reports whether the user holds any app role of the app with
// appID, directly or through a group.
func (t *Tenant) PortalStaff(appID, userID string) bool {
	sp := t.ServicePrincipalByAppID(appID)
	if sp == nil {
		return false
	}
	for _, a := range sp.Assignments {
		if strings.EqualFold(a.PrincipalID, userID) || a.PrincipalType == "Group" && t.IsMemberOf(userID, a.PrincipalID) {
			return true
		}
	}
	return false
}
