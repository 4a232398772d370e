package portal

import "regexp"

// objectID is the shape of a directory object id.
var objectID = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// IsObjectID reports whether s has the shape of a directory object id.
func IsObjectID(s string) bool { return objectID.MatchString(s) }

// upn is the shape of a user principal name: an address whose local part
// holds the characters Entra allows (a guest's carries #EXT#) and whose
// domain is a host name.
var upn = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~.-]{1,113}@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

// CheckTarget refuses, with EInvalid, anything that is neither an object
// id nor a user principal name, before it is used or recorded.
func CheckTarget(id string) error {
	if IsObjectID(id) || len(id) <= 256 && upn.MatchString(id) {
		return nil
	}
	return Errorf(EInvalid, "The address does not name a user: give an object id or a user principal name.")
}

// Group is a group a user belongs to, directly or through other groups.
type Group struct {
	ID          string
	DisplayName string
	// RoleAssignable is set for a group that can hold directory roles, and
	// when Graph did not say (a group it returned with limited
	// information): such a group is checked for roles like any other.
	RoleAssignable bool
}

// RoleGrant is a directory role held by a principal (a user or a group),
// active or eligible through Privileged Identity Management, at a scope.
type RoleGrant struct {
	PrincipalID string
	// PrincipalName is the group's display name when the principal is a
	// group, if Graph said.
	PrincipalName string
	// RoleID is the role definition id: the template id of a built-in
	// role, the definition's own id of a custom one.
	RoleID   string
	RoleName string
	BuiltIn  bool
	// Eligible is set for a PIM-eligible assignment, which its holder can
	// activate at any time.
	Eligible bool
	// ScopeID is the directory scope: "/" for the tenant,
	// "/administrativeUnits/{id}" or "/{objectId}".
	ScopeID string
	// ScopeName names an administrative unit scope, when it could be read.
	ScopeName string
}

// TenantScope is the directory scope of the whole tenant.
const TenantScope = "/"

// GroupGrant is a PIM for Groups eligibility: the user may activate
// membership or ownership of a group.
type GroupGrant struct {
	GroupID string
	// Access is "member" or "owner".
	Access string
}

// Staff is who holds the portal's own app roles: the app roles of the
// sign-in app's service principal and their assignments.
type Staff struct {
	// AppName is the sign-in app's display name, "TAP Portal".
	AppName string
	Roles   []AppRole
	Holders []StaffHolder
}

// AppRole is one of the sign-in app's roles.
type AppRole struct {
	ID    string
	Value string // "TAP.Operator"
	Name  string // "Operator"
}

// StaffHolder is one app role assignment, to a user or a group.
type StaffHolder struct {
	PrincipalID   string
	PrincipalName string
	// Group is set when the principal is a group: its members hold the
	// role.
	Group     bool
	AppRoleID string
}

// Role returns the app role with id, if the app defines it.
func (s Staff) Role(id string) (AppRole, bool) {
	for _, r := range s.Roles {
		if r.ID == id {
			return r, true
		}
	}
	return AppRole{}, false
}

// Capability is what a start-up probe found about one of the Graph app's
// permissions: whether the check that needs it can run.
type Capability struct {
	// Check names what the permission serves: "privileged roles".
	Check      string
	Permission string
	// Effect says what happens without it.
	Effect string
	// Status is CapabilityOK, CapabilityMissing, CapabilityUnchecked or
	// CapabilityMisconfigured.
	Status string
	// Detail says why, when it is not OK.
	Detail string
}

// The statuses of a Capability.
const (
	CapabilityOK        = "ok"
	CapabilityMissing   = "missing"
	CapabilityUnchecked = "unchecked"
	// CapabilityMisconfigured is a setting that names what the tenant
	// lacks (a sign-in app without a service principal).
	CapabilityMisconfigured = "misconfigured"
)
