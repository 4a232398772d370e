package graphemu

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Identifiers of the demo tenant. They are fixed so that the demo, its OpenID
// provider personas and the tests agree on who is who.
const (
	DemoTenantID      = "6f1d3c2a-8b4e-4d7a-9e21-3c5b7a9d0e14"
	DemoDomain        = "northwind.example"
	DemoGraphClientID = "2b7e9c41-5d3f-4a86-b1e0-8c4d2f6a9b37"

	// Personas that sign in to the portal. Their object ids are those of
	// seeded users so that "the operator's own account" can be checked.
	OperatorUserID      = "a1000000-0000-4000-8000-000000000001"
	SupervisorUserID    = "a1000000-0000-4000-8000-000000000002"
	NoRoleUserID        = "a1000000-0000-4000-8000-000000000003"
	OtherOperatorUserID = "a1000000-0000-4000-8000-000000000004"
)

// Well-known directory role template ids.
const (
	RoleGlobalAdministrator           = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedAuthAdministrator   = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
	RolePrivilegedRoleAdministrator   = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleAuthenticationAdministrator   = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
	RoleHelpdeskAdministrator         = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	RoleUserAdministrator             = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	RoleGlobalReader                  = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
	RoleSecurityAdministrator         = "194ae4cb-b126-40b2-bd5b-6091b380977d"
	RoleExchangeAdministrator         = "29232cdf-9323-42fd-ade2-1d097af3e4de"
	RoleConditionalAccessAdministator = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
)

// Tenant is the emulated directory. All of it is guarded by the server's
// lock: read and change it only inside Server.View and Server.Update.
type Tenant struct {
	ID     string
	Domain string

	// Users in creation order (Graph's unordered listing is emulated by
	// this stable order).
	Users  []*User
	Groups []*Group
	// Contacts are organisational contacts: people outside the tenant,
	// with an address, which a directory synchronised from on-premises
	// can set as a user's manager.
	Contacts []*Contact
	// RoleDefinitions, RoleAssignments, RoleEligibilities and
	// GroupEligibilities are where privilege comes from (privilege.go);
	// ActiveRoles derives the directoryRole objects from them.
	RoleDefinitions     []*RoleDefinition
	RoleAssignments     []*RoleAssignment
	RoleEligibilities   []*RoleEligibility
	GroupEligibilities  []*GroupEligibility
	AdministrativeUnits []*AdministrativeUnit
	ServicePrincipals   []*ServicePrincipal
	Policy              Policy
	// Audits are the directory audit log, oldest first.
	Audits []*AuditEntry

	// auditReads holds, per calling app, when it last read the audit log,
	// for Graph's audit throttle.
	auditReads map[string][]time.Time
	// WriteLimit and WriteWindow are the writes one app may make in a
	// sliding window (Graph's 3,000 per 150 s when zero); the tenant as a
	// whole takes 18,000 per 5 minutes. writes counts them per app.
	WriteLimit  int
	WriteWindow time.Duration
	writes      map[string][]time.Time

	// ReplicationDelay is how long, in real time, reads of a user's pass
	// keep showing it as it was before a write: Graph's directory is
	// eventually consistent, so a pass just created may not be listed yet,
	// and one just deleted may still be.
	ReplicationDelay time.Duration

	// NoPremium makes the tenant one without Entra ID P1: it keeps no
	// sign-in activity, and reading it answers 403.
	NoPremium bool
	// AuditDelay is how long, in real time, a new directory audit entry
	// stays out of the audit log's listing. Entra writes its audit log
	// minutes after the change, so a reader polling by activityDateTime
	// meets entries older than the ones it has already read.
	AuditDelay time.Duration
	// AuditGaps are users whose pass changes the audit log never lists,
	// so that a reader's check for missing entries can be tried.
	AuditGaps map[string]bool

	// SearchUnsupported makes $search on users fail with 400
	// Request_UnsupportedQuery, as it does in tenants and clouds that do
	// not offer it, so that a client's fallback can be tried.
	SearchUnsupported bool
}

// User is a directory user with the sign-in methods and memberships the
// emulator needs.
type User struct {
	ID                    string
	DisplayName           string
	GivenName             string
	Surname               string
	UserPrincipalName     string
	Mail                  string
	JobTitle              string
	Department            string
	OfficeLocation        string
	MobilePhone           string
	BusinessPhones        []string
	EmployeeID            string
	AccountEnabled        bool
	UserType              string // "Member" or "Guest"
	OnPremisesSyncEnabled bool   // false is serialised as null, as Graph does for cloud-only users
	CreatedDateTime       time.Time

	// Manager is the object id of the user's manager (a user, or an
	// organisational contact), or "" when they have none. An id that
	// names neither reads as none, as a manager deleted from the
	// directory does.
	Manager string
	// Mailbox is set when the user has an Exchange Online mailbox that
	// Graph's mail routes can act on: a licensed member, or a shared
	// mailbox. Guests, unlicensed accounts and mailboxes hosted on
	// premises have none, and sending as them fails.
	Mailbox bool

	// Methods are the registered sign-in methods other than the TAP.
	Methods []*Method
	// TAP is the user's Temporary Access Pass, if any.
	TAP *TAP
	// LastSignIn is the user's last successful interactive sign-in,
	// read as signInActivity; zero if they never signed in.
	LastSignIn time.Time

	// stale is what reads still see of the pass until staleUntil (real
	// time), when the tenant replicates writes with a delay.
	stale      *TAP
	staleUntil time.Time
}

// Method is a registered authentication method. Type is the OData type name
// without its namespace, for example "phoneAuthenticationMethod"; Props
// holds its type-specific JSON properties.
type Method struct {
	ID      string
	Type    string
	Props   map[string]any
	Created time.Time
}

// TAP is a Temporary Access Pass held by a user. The passcode itself is not
// kept: Graph returns it only in the reply to the create.
type TAP struct {
	ID              string
	Created         time.Time
	Start           time.Time
	LifetimeMinutes int
	UsableOnce      bool
	// Used is set when a one-time TAP has been used to sign in.
	Used bool
}

// Group is a security group. Members holds user and group ids; nested
// groups count for transitive membership.
type Group struct {
	ID          string
	DisplayName string
	Description string
	// IsAssignableToRole marks a group that can hold directory roles.
	IsAssignableToRole bool
	Members            []string
	// Mail is the address of a mail-enabled security group, which
	// Exchange delivers to its members; "" for a group without one.
	Mail string
}

// Contact is an organisational contact.
type Contact struct {
	ID          string
	DisplayName string
	Mail        string
	CompanyName string
}

// Role is an activated directory role and its active tenant-wide members
// (user or group ids), as ActiveRoles derives it from the assignments.
type Role struct {
	ID          string
	TemplateID  string
	DisplayName string
	Description string
	Members     []string
}

// Policy is the tenant's Temporary Access Pass method configuration.
type Policy struct {
	State                    string // "enabled" or "disabled"
	DefaultLifetimeInMinutes int
	MinimumLifetimeInMinutes int
	MaximumLifetimeInMinutes int
	DefaultLength            int
	IsUsableOnce             bool
	IncludeTargets           []PolicyTarget
	ExcludeTargets           []PolicyTarget
}

// PolicyTarget names a group (or "all_users") that a policy includes or
// excludes.
type PolicyTarget struct {
	TargetType             string // "group"
	ID                     string // a group id or "all_users"
	IsRegistrationRequired bool
}

// AuditEntry is a directory audit log record.
type AuditEntry struct {
	ID                  string
	ActivityDateTime    time.Time
	ActivityDisplayName string
	Category            string
	LoggedByService     string
	OperationType       string // "Add", "Update", "Delete"
	Result              string
	ResultReason        string
	// The initiator is an app (InitiatedByAppID set) or a user
	// (InitiatedByUserID set).
	InitiatedByAppID   string
	InitiatedByAppName string
	InitiatedByUserID  string
	InitiatedByUserUPN string
	TargetID           string
	TargetUPN          string
	TargetDisplayName  string
	TargetType         string // "User" when empty
	CorrelationID      string

	// listedFrom is when, in real time, the entry shows in listings.
	listedFrom time.Time
}

// Clock is the emulator's time: the real clock shifted by an offset, or a
// frozen instant. Tests move it to make passes expire or become valid.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen time.Time
}

// NewClock returns a clock that follows real time.
func NewClock() *Clock { return &Clock{} }

// Now returns the emulated current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		c.frozen = c.frozen.Add(d)
		return
	}
	c.offset += d
}

// Freeze stops the clock at t.
func (c *Clock) Freeze(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = t
}

// LookupUser finds a user by object id or by user principal name. Graph
// compares both without regard to case.
func (t *Tenant) LookupUser(idOrUPN string) *User {
	for _, u := range t.Users {
		if strings.EqualFold(u.ID, idOrUPN) || strings.EqualFold(u.UserPrincipalName, idOrUPN) {
			return u
		}
	}
	return nil
}

// contactManagerOf returns u's manager when it is an organisational
// contact, or nil.
func (t *Tenant) contactManagerOf(u *User) *Contact {
	for _, c := range t.Contacts {
		if u.Manager != "" && strings.EqualFold(c.ID, u.Manager) {
			return c
		}
	}
	return nil
}

// ManagerOf returns u's manager, or nil when u has none or the manager's
// id names no user (a contact, or an object since deleted).
func (t *Tenant) ManagerOf(u *User) *User {
	if u.Manager == "" {
		return nil
	}
	for _, m := range t.Users {
		if strings.EqualFold(m.ID, u.Manager) {
			return m
		}
	}
	return nil
}

// LookupGroup finds a group by object id.
func (t *Tenant) LookupGroup(id string) *Group {
	for _, g := range t.Groups {
		if strings.EqualFold(g.ID, id) {
			return g
		}
	}
	return nil
}

// TransitiveGroups returns the groups memberID belongs to, directly or
// through nested groups, in the tenant's order. Cycles, which Entra
// forbids but a hand-edited tenant may hold, end the walk.
func (t *Tenant) TransitiveGroups(memberID string) []*Group {
	in := map[string]bool{}
	frontier := []string{memberID}
	for len(frontier) > 0 {
		var next []string
		for _, g := range t.Groups {
			if in[g.ID] {
				continue
			}
			for _, m := range frontier {
				if slices.Contains(g.Members, m) {
					in[g.ID] = true
					next = append(next, g.ID)
					break
				}
			}
		}
		frontier = next
	}
	var out []*Group
	for _, g := range t.Groups {
		if in[g.ID] {
			out = append(out, g)
		}
	}
	return out
}

// IsMemberOf reports whether memberID belongs to the group, directly or
// through nested groups.
func (t *Tenant) IsMemberOf(memberID, groupID string) bool {
	for _, g := range t.TransitiveGroups(memberID) {
		if strings.EqualFold(g.ID, groupID) {
			return true
		}
	}
	return false
}

// RolesOf returns the active directory roles a user holds, directly or
// through a group.
func (t *Tenant) RolesOf(userID string) []*Role {
	holders := map[string]bool{userID: true}
	for _, g := range t.TransitiveGroups(userID) {
		holders[g.ID] = true
	}
	var out []*Role
	for _, r := range t.ActiveRoles() {
		for _, m := range r.Members {
			if holders[m] {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// TAPTargets reports whether the Temporary Access Pass policy's targets
// take in the user: included (all users or a group the user belongs to)
// and not excluded.
func (t *Tenant) TAPTargets(u *User) bool {
	included := false
	for _, target := range t.Policy.IncludeTargets {
		if target.ID == "all_users" || t.IsMemberOf(u.ID, target.ID) {
			included = true
			break
		}
	}
	if !included {
		return false
	}
	for _, target := range t.Policy.ExcludeTargets {
		if target.ID == "all_users" || t.IsMemberOf(u.ID, target.ID) {
			return false
		}
	}
	return true
}

// Method usability reasons of a Temporary Access Pass, as Graph names
// them.
const (
	TAPEnabledByPolicy  = "EnabledByPolicy"
	TAPDisabledByPolicy = "DisabledByPolicy"
	TAPExpired          = "Expired"
	TAPNotYetValid      = "NotYetValid"
	TAPOneTimeUsed      = "OneTimeUsed"
)

// TAPUsability says whether the user's pass can be used to sign in at
// now, and why, as Graph's isUsable and methodUsabilityReason do. The
// user must hold a pass.
func (t *Tenant) TAPUsability(u *User, now time.Time) (usable bool, reason string) {
	p := u.TAP
	switch {
	case now.Before(p.Start):
		return false, TAPNotYetValid
	case !now.Before(p.End()):
		return false, TAPExpired
	case p.UsableOnce && p.Used:
		return false, TAPOneTimeUsed
	case t.Policy.State != "enabled" || !t.TAPTargets(u):
		return false, TAPDisabledByPolicy
	}
	return true, TAPEnabledByPolicy
}

// End is when the pass stops being valid.
func (p *TAP) End() time.Time {
	return p.Start.Add(time.Duration(p.LifetimeMinutes) * time.Minute)
}

// beforeWrite notes, ahead of a change to u's pass, what reads go on
// seeing while the change replicates.
func (t *Tenant) beforeWrite(u *User) {
	if t.ReplicationDelay <= 0 {
		return
	}
	if time.Now().After(u.staleUntil) {
		u.stale = u.TAP
	}
	u.staleUntil = time.Now().Add(t.ReplicationDelay)
}

// readView is u as a read sees it: with the pass from before a recent
// write while that write replicates.
func (t *Tenant) readView(u *User) *User {
	if u.staleUntil.IsZero() || time.Now().After(u.staleUntil) {
		return u
	}
	v := *u
	v.TAP = u.stale
	return &v
}
