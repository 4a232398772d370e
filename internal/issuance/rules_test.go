package issuance_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// The table tests below decide every guardrail on an in-memory tenant:
// one target user, the groups and roles a row gives them, and the tenant
// policy. The emulator tests in issuance_test.go prove the same service
// through the Graph SDK.

const (
	targetID   = "0a000000-0000-4000-8000-000000000001"
	operatorID = "0a000000-0000-4000-8000-000000000002"
	managerID  = "0a000000-0000-4000-8000-000000000003"
	groupExec  = "0b000000-0000-4000-8000-000000000001"
	groupElig  = "0b000000-0000-4000-8000-000000000002"
	groupOther = "0b000000-0000-4000-8000-000000000003"
	// Role-assignable groups, and a group that holds a portal role.
	groupTier0        = "0b000000-0000-4000-8000-000000000010"
	groupIdent        = "0b000000-0000-4000-8000-000000000011"
	groupStaff        = "0b000000-0000-4000-8000-000000000012"
	unitParis         = "0c000000-0000-4000-8000-000000000001"
	roleCustom        = "0d000000-0000-4000-8000-000000000001"
	rolePRA           = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	appRoleOperator   = "0e000000-0000-4000-8000-000000000001"
	appRoleSupervisor = "0e000000-0000-4000-8000-000000000002"
	appRoleOther      = "0e000000-0000-4000-8000-000000000003"
	roleGA            = "62e90394-69f5-4237-9190-012177145e10"
	roleHelp          = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
)

var (
	fixedNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tableOp  = portal.Operator{ID: operatorID, Name: "Priya Natarajan", AuthTime: fixedNow.Add(-time.Minute)}
	errDown  = &portal.Error{Code: portal.EUnavailable, Message: "Microsoft Graph did not answer."}
)

// scenario is one row's world: the tenant, the history, the guardrails and
// the request, each changed by the row from an eligible default.
type scenario struct {
	dir   *fake.Directory
	links *fake.Links
	hist  *fake.History
	opts  issuance.Options
	op    portal.Operator
	req   issuance.IssueRequest
	// userID is the user id the request names; default targetID.
	userID string
}

func newScenario() *scenario {
	return &scenario{
		dir: &fake.Directory{
			Users: map[string]portal.User{
				targetID:   {ID: targetID, DisplayName: "Tomás Herrera", UserPrincipalName: "tomas@northwind.example", AccountEnabled: true},
				operatorID: {ID: operatorID, DisplayName: "Priya Natarajan", UserPrincipalName: "priya@northwind.example", AccountEnabled: true},
				managerID: {ID: managerID, DisplayName: "José Martínez", UserPrincipalName: "jose@northwind.example", Mail: "jose@northwind.example",
					AccountEnabled: true},
			},
			Managers:    map[string]string{targetID: managerID},
			Grants:      map[string][]portal.RoleGrant{},
			Memberships: map[string][]portal.Group{},
			PIMGroups:   map[string][]portal.GroupGrant{},
			PortalStaff: portal.Staff{AppName: "TAP Portal", Roles: []portal.AppRole{
				{ID: appRoleOperator, Value: "TAP.Operator", Name: "Operator"},
				{ID: appRoleSupervisor, Value: "TAP.Supervisor", Name: "Supervisor"},
				{ID: appRoleOther, Value: "Helpdesk.TemporaryAccessPass", Name: "Helpdesk"},
			}, Holders: []portal.StaffHolder{{PrincipalID: operatorID, PrincipalName: "Priya Natarajan", AppRoleID: appRoleOperator}}},
			TAPPolicy: portal.Policy{Enabled: true, DefaultLifetimeMinutes: 60, MinLifetimeMinutes: 15, MaxLifetimeMinutes: 480,
				Include: []portal.PolicyTarget{{ID: portal.AllUsers}}},
			Now: func() time.Time { return fixedNow },
		},
		hist:  &fake.History{Now: func() time.Time { return fixedNow }},
		links: &fake.Links{},
		opts: issuance.Options{Now: func() time.Time { return fixedNow }, MaxAuthAge: 15 * time.Minute,
			StaffChecks: true, OperatorRoles: []string{"TAP.Operator", "TAP.Supervisor"},
			Guardrails: issuance.Guardrails{ProtectStaff: true}},
		op:  tableOp,
		req: issuance.IssueRequest{LifetimeMinutes: 60, Reason: "New phone", Ticket: "INC0042", Submission: issuance.NewSubmission()},
	}
}

// offer offers every channel, with the scenario's directory as the
// mailer, and the request asks for c.
func (s *scenario) offer(c portal.Channel) {
	s.opts.Delivery = issuance.Delivery{Channels: portal.Channels(), Mailer: s.dir, From: "tap-portal@northwind.example",
		Links: s.links, LinkBase: "https://portal.example", LinkTTL: time.Hour, Contact: "the service desk on 0800 555 0100"}
	s.req.Channel = c
}

func (s *scenario) target(f func(*portal.User)) {
	u := s.dir.Users[targetID]
	f(&u)
	s.dir.Users[targetID] = u
}

var groupNames = map[string]string{groupExec: "Executive Leadership", groupElig: "Eligible for TAP", groupOther: "Finance Team",
	groupTier0: "Tier 0 Admins", groupIdent: "Identity Admins", groupStaff: "TAP Portal Supervisors"}

func (s *scenario) in(groups ...string) {
	for _, g := range groups {
		assignable := g == groupTier0 || g == groupIdent
		s.dir.Memberships[targetID] = append(s.dir.Memberships[targetID], portal.Group{ID: g, DisplayName: groupNames[g], RoleAssignable: assignable})
	}
}

// role gives the target an active, tenant-wide built-in role.
func (s *scenario) role(template, name string) {
	s.grant(targetID, portal.RoleGrant{RoleID: template, RoleName: name, BuiltIn: true, ScopeID: "/"})
}

// grant gives principal (the target, or a group) a role.
func (s *scenario) grant(principal string, g portal.RoleGrant) {
	g.PrincipalID = principal
	if principal != targetID {
		g.PrincipalName = groupNames[principal]
	}
	s.dir.Grants[principal] = append(s.dir.Grants[principal], g)
}

// staff gives principal a portal app role.
func (s *scenario) staff(principal, appRole string, group bool) {
	s.dir.PortalStaff.Holders = append(s.dir.PortalStaff.Holders, portal.StaffHolder{PrincipalID: principal, PrincipalName: groupNames[principal], Group: group, AppRoleID: appRole})
}

// pass gives the target a pass, with the usability Graph would report
// for it at fixedNow.
func (s *scenario) pass(start time.Time, minutes int) {
	t := &portal.TAP{ID: "tap-old", Created: start, Start: start, LifetimeMinutes: minutes, Usable: true, Reason: "EnabledByPolicy"}
	switch {
	case fixedNow.Before(start):
		t.Usable, t.Reason = false, "NotYetValid"
	case !fixedNow.Before(t.End()):
		t.Usable, t.Reason = false, "Expired"
	}
	s.dir.Passes = map[string]*portal.TAP{targetID: t}
}

// The outcomes a row expects, in the order they are recorded.
const (
	pending = "pending"
	success = "success"
	failed  = "failed"
)

func refused(code string) string { return "refused:" + code }

// recorded renders the history as the rows write it.
func recorded(events []portal.Event) []string {
	var out []string
	for _, e := range events {
		s := string(e.Outcome)
		if e.Outcome == portal.OutcomeRefused {
			s += ":" + e.RefusalCode
		}
		out = append(out, s)
	}
	return out
}

// issueRule is one row: what differs from an eligible request, and what
// must come of it.
type issueRule struct {
	name  string
	setup func(*scenario)
	// verdict is the refusal codes the verdict must give, in order.
	verdict []string
	// err names the error Issue must return: "" for none, an error code,
	// or one of the sentinels below.
	err string
	// fields are the form fields Issue must report as invalid.
	fields []string
	// history is what the request must leave in the history.
	history []string
	// detail is text the first recorded refusal must hold.
	detail string
	// readBack marks a row whose write Graph did not confirm: the pass is
	// read a second time, to settle it.
	readBack bool
	// recordedReason and recordedTicket, when set, are how the first
	// record must start its reason and ticket.
	recordedReason, recordedTicket string
	// revoked, for a pass whose passcode reached nobody, is the outcome
	// its revocation must have.
	revoked string
}

const (
	errInvalid  = "field errors"
	errConfirm  = "needs confirmation"
	errStale    = "stale sign-in"
	errRepeat   = "already handled"
	errBusy     = "in progress"
	errLost     = "passcode lost"
	errUnknown  = "outcome unknown"
	errRevokeUn = "revoke unknown"
)

// errTimeout is a write Graph may have carried out: its reply never came.
var errTimeout = &portal.Error{Code: portal.EUnavailable, Unsure: true, Message: "Microsoft Graph did not answer in time."}

var issueRules = []issueRule{
	{name: "eligible member", err: "", history: []string{pending, success}},

	// Who the target is.
	// An operator holds the operator role, so their own account is staff too.
	{name: "own account", setup: func(s *scenario) { s.op.ID = targetID; s.staff(targetID, appRoleOperator, false) },
		verdict: []string{issuance.RefuseSelf, issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefuseSelf)}, detail: "your own account"},
	{name: "own account, id in another case", setup: func(s *scenario) { s.op.ID = strings.ToUpper(targetID); s.staff(targetID, appRoleOperator, false) },
		verdict: []string{issuance.RefuseSelf, issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefuseSelf)}},
	{name: "guest", setup: func(s *scenario) { s.target(func(u *portal.User) { u.Guest = true }) },
		verdict: []string{issuance.RefuseGuest}, err: portal.EPolicy, history: []string{refused(issuance.RefuseGuest)}, detail: "Guests cannot"},
	{name: "disabled account", setup: func(s *scenario) { s.target(func(u *portal.User) { u.AccountEnabled = false }) },
		verdict: []string{issuance.RefuseDisabled}, err: portal.EPolicy, history: []string{refused(issuance.RefuseDisabled)}, detail: "disabled"},

	// Directory roles.
	{name: "any role protected by default", setup: func(s *scenario) { s.role(roleHelp, "Helpdesk Administrator") },
		verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Helpdesk Administrator"},
	{name: "role outside the protected list", setup: func(s *scenario) {
		s.role(roleHelp, "Helpdesk Administrator")
		s.opts.Guardrails.ProtectedRoleIDs = []string{roleGA}
	}, history: []string{pending, success}},
	{name: "role in the protected list, template id in another case", setup: func(s *scenario) {
		s.role(roleGA, "Global Administrator")
		s.opts.Guardrails.ProtectedRoleIDs = []string{strings.ToUpper(roleGA)}
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Global Administrator"},
	{name: "two roles named in one refusal", setup: func(s *scenario) {
		s.role(roleGA, "Global Administrator")
		s.role(roleHelp, "Helpdesk Administrator")
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Global Administrator; Helpdesk Administrator"},

	// Privilege as Entra grants it: every source and scope.
	{name: "PIM-eligible Global Administrator", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "eligible for Global Administrator through PIM"},
	{name: "role scoped to an administrative unit", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleHelp, RoleName: "Helpdesk Administrator", BuiltIn: true, ScopeID: "/administrativeUnits/" + unitParis, ScopeName: "Paris"})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Helpdesk Administrator in administrative unit Paris"},
	{name: "administrative unit whose name could not be read", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleHelp, RoleName: "Helpdesk Administrator", BuiltIn: true, ScopeID: "/administrativeUnits/" + unitParis})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "in administrative unit " + unitParis},
	{name: "role scoped to one object", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleHelp, RoleName: "Application Administrator", BuiltIn: true, ScopeID: "/" + groupOther})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "on the directory object " + groupOther},
	{name: "custom role, protected by default", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleCustom, RoleName: "Password Reset Operator", ScopeID: "/"})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Password Reset Operator"},
	{name: "custom role with a list of protected roles: still protected", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleCustom, RoleName: "Password Reset Operator", ScopeID: "/"})
		s.opts.Guardrails.ProtectedRoleIDs = []string{roleGA}
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}},
	{name: "custom role allowed by name", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleCustom, RoleName: "Password Reset Operator", ScopeID: "/"})
		s.opts.Guardrails.ProtectedRoleIDs = []string{roleGA}
		s.opts.Guardrails.AllowedCustomRoleIDs = []string{roleCustom}
	}, history: []string{pending, success}},
	{name: "eligible role outside the protected list", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleHelp, RoleName: "Helpdesk Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
		s.opts.Guardrails.ProtectedRoleIDs = []string{roleGA}
	}, history: []string{pending, success}},
	{name: "eligible role in the protected list", setup: func(s *scenario) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
		s.opts.Guardrails.ProtectedRoleIDs = []string{roleGA}
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}},
	{name: "active role through a role-assignable group", setup: func(s *scenario) {
		s.in(groupTier0)
		s.grant(groupTier0, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/"})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "Global Administrator through the group Tier 0 Admins"},
	{name: "eligible role through a role-assignable group", setup: func(s *scenario) {
		s.in(groupIdent)
		s.grant(groupIdent, portal.RoleGrant{RoleID: rolePRA, RoleName: "Privileged Role Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "eligible for Privileged Role Administrator through the group Identity Admins"},
	{name: "PIM for Groups: eligible member of a group holding a role", setup: func(s *scenario) {
		s.dir.PIMGroups[targetID] = []portal.GroupGrant{{GroupID: groupTier0, Access: "member"}}
		s.grant(groupTier0, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/"})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "through the group Tier 0 Admins, which they can join through PIM"},
	{name: "PIM for Groups: eligible owner of a group holding a role", setup: func(s *scenario) {
		s.dir.PIMGroups[targetID] = []portal.GroupGrant{{GroupID: groupTier0, Access: "owner"}}
		s.grant(groupTier0, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "eligible for Global Administrator through the group Tier 0 Admins, which they can own through PIM"},
	{name: "PIM for Groups: a group that holds nothing", setup: func(s *scenario) {
		s.dir.PIMGroups[targetID] = []portal.GroupGrant{{GroupID: groupOther, Access: "member"}}
	}, history: []string{pending, success}},
	{name: "role held by a group the user is not in", setup: func(s *scenario) {
		s.grant(groupTier0, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/"})
	}, history: []string{pending, success}},

	// The portal's own staff.
	{name: "operator to supervisor", setup: func(s *scenario) { s.staff(targetID, appRoleSupervisor, false) },
		verdict: []string{issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefusePortalStaff)}, detail: "holds the TAP Portal role Supervisor"},
	{name: "operator to operator", setup: func(s *scenario) { s.staff(targetID, appRoleOperator, false) },
		verdict: []string{issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefusePortalStaff)}, detail: "role Operator"},
	{name: "portal role under another name", setup: func(s *scenario) { s.staff(targetID, appRoleOther, false) },
		verdict: []string{issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefusePortalStaff)}, detail: "role Helpdesk"},
	{name: "portal role through a group", setup: func(s *scenario) {
		s.in(groupStaff)
		s.staff(groupStaff, appRoleSupervisor, true)
	}, verdict: []string{issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefusePortalStaff)}, detail: "through the group TAP Portal Supervisors"},
	{name: "portal staff with the guardrail off", setup: func(s *scenario) {
		s.staff(targetID, appRoleSupervisor, false)
		s.opts.Guardrails.ProtectStaff = false
	}, history: []string{pending, success}},
	{name: "administrator and portal staff", setup: func(s *scenario) {
		s.role(roleGA, "Global Administrator")
		s.staff(targetID, appRoleOperator, false)
	}, verdict: []string{issuance.RefuseRole, issuance.RefusePortalStaff}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}, detail: "portal's own operators"},

	// The operator's own role, live.
	{name: "operator's role removed in Entra", setup: func(s *scenario) { s.dir.PortalStaff.Holders = nil },
		err: portal.EDenied, history: []string{refused(issuance.RefuseOperatorRole)}, detail: "no longer holds"},
	{name: "operator holding only a role the portal does not grant", setup: func(s *scenario) {
		s.dir.PortalStaff.Holders = []portal.StaffHolder{{PrincipalID: operatorID, AppRoleID: appRoleOther}}
	}, err: portal.EDenied, history: []string{refused(issuance.RefuseOperatorRole)}},
	{name: "operator holding the role through a group", setup: func(s *scenario) {
		s.dir.PortalStaff.Holders = []portal.StaffHolder{{PrincipalID: groupStaff, Group: true, AppRoleID: appRoleSupervisor}}
		s.dir.Memberships[operatorID] = []portal.Group{{ID: groupStaff}}
	}, history: []string{pending, success}},
	{name: "operator's groups cannot be read", setup: func(s *scenario) {
		s.dir.PortalStaff.Holders = []portal.StaffHolder{{PrincipalID: groupStaff, Group: true, AppRoleID: appRoleSupervisor}}
		s.dir.Fail(fake.OpMemberOf, errDown)
	}, err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}, detail: "own portal role could not be confirmed"},

	// Groups.
	{name: "protected group", setup: func(s *scenario) {
		s.opts.Guardrails.ProtectedGroupIDs = []string{groupExec}
		s.in(groupExec)
	}, verdict: []string{issuance.RefuseProtectedGroup}, err: portal.EPolicy, history: []string{refused(issuance.RefuseProtectedGroup)}},
	{name: "protected group configured, user not in it", setup: func(s *scenario) {
		s.opts.Guardrails.ProtectedGroupIDs = []string{groupExec}
		s.in(groupOther)
	}, history: []string{pending, success}},
	{name: "eligible groups set, user in none", setup: func(s *scenario) {
		s.opts.Guardrails.EligibleGroupIDs = []string{groupElig}
		s.in(groupOther)
	}, verdict: []string{issuance.RefuseNotEligible}, err: portal.EPolicy, history: []string{refused(issuance.RefuseNotEligible)}},
	{name: "eligible groups set, user in one", setup: func(s *scenario) {
		s.opts.Guardrails.EligibleGroupIDs = []string{groupOther, groupElig}
		s.in(groupElig)
	}, history: []string{pending, success}},
	{name: "eligible but also protected", setup: func(s *scenario) {
		s.opts.Guardrails.EligibleGroupIDs = []string{groupElig}
		s.opts.Guardrails.ProtectedGroupIDs = []string{groupExec}
		s.in(groupElig, groupExec)
	}, verdict: []string{issuance.RefuseProtectedGroup}, err: portal.EPolicy, history: []string{refused(issuance.RefuseProtectedGroup)}},

	// The tenant policy.
	{name: "policy disabled", setup: func(s *scenario) { s.dir.TAPPolicy.Enabled = false },
		verdict: []string{issuance.RefusePolicyDisabled}, err: portal.EPolicy, history: []string{refused(issuance.RefusePolicyDisabled)}},
	{name: "policy disabled and user excluded: one reason", setup: func(s *scenario) {
		s.dir.TAPPolicy.Enabled = false
		s.dir.TAPPolicy.Exclude = []portal.PolicyTarget{{ID: groupExec}}
		s.in(groupExec)
	}, verdict: []string{issuance.RefusePolicyDisabled}, err: portal.EPolicy, history: []string{refused(issuance.RefusePolicyDisabled)}},
	{name: "policy includes a group the user is not in", setup: func(s *scenario) {
		s.dir.TAPPolicy.Include = []portal.PolicyTarget{{ID: groupElig}}
	}, verdict: []string{issuance.RefuseNotTargeted}, err: portal.EPolicy, history: []string{refused(issuance.RefuseNotTargeted)}, detail: "does not include"},
	{name: "policy includes a group the user is in", setup: func(s *scenario) {
		s.dir.TAPPolicy.Include = []portal.PolicyTarget{{ID: groupElig}}
		s.in(groupElig)
	}, history: []string{pending, success}},
	{name: "policy includes everyone but excludes the user's group", setup: func(s *scenario) {
		s.dir.TAPPolicy.Exclude = []portal.PolicyTarget{{ID: groupExec}}
		s.in(groupExec)
	}, verdict: []string{issuance.RefuseNotTargeted}, err: portal.EPolicy, history: []string{refused(issuance.RefuseNotTargeted)}, detail: "excludes"},
	{name: "included and excluded: exclusion wins", setup: func(s *scenario) {
		s.dir.TAPPolicy.Include = []portal.PolicyTarget{{ID: groupElig}}
		s.dir.TAPPolicy.Exclude = []portal.PolicyTarget{{ID: groupExec}}
		s.in(groupElig, groupExec)
	}, verdict: []string{issuance.RefuseNotTargeted}, err: portal.EPolicy, history: []string{refused(issuance.RefuseNotTargeted)}, detail: "excludes"},

	// Combinations: every reason is given, the first one is the record's code.
	{name: "guest, disabled and an administrator", setup: func(s *scenario) {
		s.target(func(u *portal.User) { u.Guest, u.AccountEnabled = true, false })
		s.role(roleGA, "Global Administrator")
	}, verdict: []string{issuance.RefuseGuest, issuance.RefuseDisabled, issuance.RefuseRole}, err: portal.EPolicy,
		history: []string{refused(issuance.RefuseGuest)}, detail: "Global Administrator"},
	{name: "own account in a protected group", setup: func(s *scenario) {
		s.op.ID = targetID
		s.staff(targetID, appRoleOperator, false)
		s.opts.Guardrails.ProtectedGroupIDs = []string{groupExec}
		s.in(groupExec)
	}, verdict: []string{issuance.RefuseSelf, issuance.RefusePortalStaff, issuance.RefuseProtectedGroup}, err: portal.EPolicy, history: []string{refused(issuance.RefuseSelf)}, detail: "protected group"},
	{name: "administrator with an invalid reason: the role refusal is recorded", setup: func(s *scenario) {
		s.role(roleGA, "Global Administrator")
		s.req.Reason = ""
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)}},

	// What a refusal records: the text as the forms would accept it, or a
	// note that it was not recorded.
	{name: "stale sign-in with markup in the reason", setup: func(s *scenario) {
		s.op.AuthTime = fixedNow.Add(-time.Hour)
		s.req.Reason = "<script>alert(1)</script>"
	}, err: errStale, history: []string{refused(issuance.RefuseStaleSignIn)}, recordedReason: "[not recorded: The reason must be plain text"},
	{name: "administrator with an escape sequence and a NUL in the reason", setup: func(s *scenario) {
		s.role(roleGA, "Global Administrator")
		s.req.Reason = "\x1b[31mred\x00"
	}, verdict: []string{issuance.RefuseRole}, err: portal.EPolicy, history: []string{refused(issuance.RefuseRole)},
		recordedReason: "[not recorded: The reason contains control characters."},
	{name: "lifetime out of bounds with 20,000 characters of reason", setup: func(s *scenario) {
		s.req.LifetimeMinutes = 5
		s.req.Reason = strings.Repeat("a", 20000)
	}, err: errInvalid, fields: []string{"lifetime", "reason"}, history: []string{refused(issuance.RefuseLifetime)},
		recordedReason: "[not recorded: The reason is too long: 20000 characters, at most 500."},
	{name: "stale sign-in with invalid UTF-8 in the ticket", setup: func(s *scenario) {
		s.op.AuthTime = fixedNow.Add(-time.Hour)
		s.req.Ticket = "INC\xff\xfe"
	}, err: errStale, history: []string{refused(issuance.RefuseStaleSignIn)}, recordedTicket: "[not recorded: The ticket reference is not valid text.]"},
	{name: "a formula for a user id: nothing is recorded", setup: func(s *scenario) { s.userID = "=HYPERLINK(\"http://x\")" },
		err: portal.EInvalid},

	// The request against the policy.
	{name: "lifetime below the policy's minimum", setup: func(s *scenario) { s.req.LifetimeMinutes = 10 },
		err: errInvalid, fields: []string{"lifetime"}, history: []string{refused(issuance.RefuseLifetime)}, detail: "below the tenant policy's minimum of 15 minutes"},
	{name: "lifetime above the policy's maximum", setup: func(s *scenario) { s.req.LifetimeMinutes = 481 },
		err: errInvalid, fields: []string{"lifetime"}, history: []string{refused(issuance.RefuseLifetime)}, detail: "above the tenant policy's maximum of 8 hours"},
	{name: "lifetime at the bounds", setup: func(s *scenario) { s.req.LifetimeMinutes = 480 }, history: []string{pending, success}},
	{name: "no lifetime: the policy's default", setup: func(s *scenario) { s.req.LifetimeMinutes = 0 }, history: []string{pending, success}},
	{name: "multi-use where the policy forces one-time", setup: func(s *scenario) { s.dir.TAPPolicy.OneTimeForced = true },
		err: errInvalid, fields: []string{"one_time"}, history: []string{refused(issuance.RefuseOneTime)}, detail: "requires one-time"},
	{name: "one-time where the policy forces it", setup: func(s *scenario) {
		s.dir.TAPPolicy.OneTimeForced = true
		s.req.OneTime = true
	}, history: []string{pending, success}},
	{name: "lifetime and one-time both against the policy: one record", setup: func(s *scenario) {
		s.dir.TAPPolicy.OneTimeForced = true
		s.req.LifetimeMinutes = 5000
	}, err: errInvalid, fields: []string{"lifetime", "one_time"}, history: []string{refused(issuance.RefuseLifetime)}, detail: "requires one-time"},
	{name: "lifetime the parser could not read is not a policy refusal", setup: func(s *scenario) {
		s.req.LifetimeMinutes = 0
		s.req.Malformed = issuance.FieldErrors{"lifetime": "Choose a lifetime from the list."}
	}, err: errInvalid, fields: []string{"lifetime"}},
	{name: "missing reason", setup: func(s *scenario) { s.req.Reason = "  " }, err: errInvalid, fields: []string{"reason"}},
	{name: "reason with markup", setup: func(s *scenario) { s.req.Reason = "<b>x</b>" }, err: errInvalid, fields: []string{"reason"}},
	{name: "ticket with a formula", setup: func(s *scenario) { s.req.Ticket = "=HYPERLINK(1)" }, err: errInvalid, fields: []string{"ticket"}},
	{name: "start in the past", setup: func(s *scenario) { s.req.Start = fixedNow.Add(-time.Hour) }, err: errInvalid, fields: []string{"start"}},
	{name: "start beyond 30 days", setup: func(s *scenario) { s.req.Start = fixedNow.Add(31 * 24 * time.Hour) }, err: errInvalid, fields: []string{"start"}},
	{name: "scheduled start", setup: func(s *scenario) { s.req.Start = fixedNow.Add(24 * time.Hour) }, history: []string{pending, success}},

	// The pass a new one replaces.
	{name: "usable pass, not confirmed", setup: func(s *scenario) { s.pass(fixedNow.Add(-time.Minute), 60) }, err: errConfirm},
	{name: "pass yet to start, not confirmed", setup: func(s *scenario) { s.pass(fixedNow.Add(time.Hour), 60) }, err: errConfirm},
	{name: "usable pass, confirmed", setup: func(s *scenario) {
		s.pass(fixedNow.Add(-time.Minute), 60)
		s.req.ConfirmReplace = true
	}, history: []string{pending, success}},
	{name: "expired pass needs no confirmation", setup: func(s *scenario) { s.pass(fixedNow.Add(-2*time.Hour), 60) }, history: []string{pending, success}},

	// Facts that cannot be read: refuse, never guess.
	{name: "user read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpUser, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}, detail: "could not be completed"},
	{name: "role read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpRoleGrants, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "group roles read fails", setup: func(s *scenario) {
		s.in(groupTier0)
		s.dir.Fail(fake.OpGroupRoles, errDown)
	}, err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "PIM for Groups read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpPIMGroups, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "staff read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpStaff, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "group list fails", setup: func(s *scenario) { s.dir.Fail(fake.OpGroups, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "policy read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpPolicy, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "current pass read fails", setup: func(s *scenario) { s.dir.Fail(fake.OpCurrentTAP, errDown) },
		err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}},
	{name: "missing permission", setup: func(s *scenario) {
		s.dir.Fail(fake.OpRoleGrants, &portal.Error{Code: portal.EForbidden, Message: "The portal's Graph app lacks RoleManagement.Read.Directory."})
	}, err: portal.EForbidden, history: []string{refused(issuance.RefuseCheckFailed)}, detail: "RoleManagement.Read.Directory"},
	{name: "no such user", setup: func(s *scenario) { delete(s.dir.Users, targetID) }, err: portal.ENotFound},

	// The write.
	{name: "Graph refuses the create", setup: func(s *scenario) {
		s.dir.Fail(fake.OpCreateTAP, &portal.Error{Code: portal.EPolicy, Message: "Temporary Access Pass cannot be added to an external guest user."})
	}, err: portal.EPolicy, history: []string{pending, refused(issuance.RefuseGraph)}, detail: "external guest"},
	{name: "Graph fails the create", setup: func(s *scenario) { s.dir.Fail(fake.OpCreateTAP, errDown) },
		err: portal.EUnavailable, history: []string{pending, failed}},
	{name: "Graph throttles the create", setup: func(s *scenario) {
		s.dir.Fail(fake.OpCreateTAP, &portal.Error{Code: portal.EThrottled, Message: "Microsoft Graph asked the portal to wait 60 s."})
	}, err: portal.EThrottled, history: []string{pending, failed}},

	// Exactly once, and the truth about every outcome.
	{name: "the same form sent again", setup: func(s *scenario) {
		in, _ := s.hist.RecordIntent(context.Background(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending,
			OperatorID: operatorID, TargetID: targetID}, portal.IntentOptions{Submission: s.req.Submission})
		s.hist.Record(context.Background(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, IntentID: in.ID, TargetID: targetID})
	}, err: errRepeat, history: []string{pending, success}},
	{name: "a form without a submission id", setup: func(s *scenario) { s.req.Submission = "" }, err: portal.EInvalid},
	{name: "a forged submission id", setup: func(s *scenario) { s.req.Submission = "<script>" }, err: portal.EInvalid},
	{name: "another action for the user in flight", setup: func(s *scenario) {
		s.hist.LockTarget(context.Background(), portal.TargetLock{TargetID: targetID, Holder: "other-request", HolderName: "Marcus Oyelaran",
			Since: fixedNow, Expires: fixedNow.Add(time.Minute)})
	}, err: errBusy},
	{name: "a lapsed lock of a stopped replica", setup: func(s *scenario) {
		s.hist.LockTarget(context.Background(), portal.TargetLock{TargetID: targetID, Holder: "dead-replica", Since: fixedNow.Add(-time.Hour),
			Expires: fixedNow.Add(-time.Minute)})
	}, history: []string{pending, success}},
	{name: "create times out after acting: the pass exists, its passcode is lost", setup: func(s *scenario) {
		s.dir.FailAfter(fake.OpCreateTAP, errTimeout)
	}, err: errLost, history: []string{pending, success}, readBack: true},
	{name: "create times out, no pass visible: unknown", setup: func(s *scenario) { s.dir.Fail(fake.OpCreateTAP, errTimeout) },
		err: errUnknown, history: []string{pending, "unknown"}, readBack: true},
	{name: "create times out replacing a pass: the old pass is not the new one", setup: func(s *scenario) {
		s.pass(fixedNow, 60)
		s.req.ConfirmReplace = true
		s.dir.Fail(fake.OpCreateTAP, errTimeout)
	}, err: errUnknown, history: []string{pending, "unknown"}, readBack: true},

	// The operator.
	{name: "sign-in too old", setup: func(s *scenario) { s.op.AuthTime = fixedNow.Add(-time.Hour) },
		err: errStale, history: []string{refused(issuance.RefuseStaleSignIn)}, detail: "too old"},
	{name: "rate limit reached", setup: func(s *scenario) {
		s.opts.RateLimit = portal.Limit{Max: 1, Window: time.Hour}
		s.hist.Record(context.Background(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: operatorID, TargetID: "u-earlier"})
	}, err: portal.ELimited, history: []string{refused(issuance.RefuseRateLimited)}, detail: "the limit is 1"},
	{name: "rate limit counts this operator only", setup: func(s *scenario) {
		s.opts.RateLimit = portal.Limit{Max: 1, Window: time.Hour}
		s.hist.Record(context.Background(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "u-someone-else"})
	}, history: []string{pending, success}},
	{name: "history down: nothing is issued", setup: func(s *scenario) { s.hist.Fail(errDown) }, err: portal.EUnavailable},

	// How the passcode reaches the user.
	{name: "mailed to the manager", setup: func(s *scenario) { s.offer(portal.ChannelManager) }, history: []string{pending, success}},
	{name: "a one-time link", setup: func(s *scenario) { s.offer(portal.ChannelLink) }, history: []string{pending, success}},
	{name: "read out, every channel offered", setup: func(s *scenario) { s.offer(portal.ChannelRead) }, history: []string{pending, success}},
	{name: "a channel not offered", setup: func(s *scenario) { s.req.Channel = portal.ChannelManager },
		err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "not offered"},
	{name: "an unknown channel", setup: func(s *scenario) {
		s.offer(portal.ChannelRead)
		s.req.Channel = "pigeon"
	}, err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "not offered"},
	{name: "no manager", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		delete(s.dir.Managers, targetID)
	}, err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "has no manager"},
	{name: "the manager has no mail address", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		m := s.dir.Users[managerID]
		m.Mail = ""
		s.dir.Users[managerID] = m
	}, err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "has no mail address"},
	{name: "the manager's account is disabled", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		m := s.dir.Users[managerID]
		m.AccountEnabled = false
		s.dir.Users[managerID] = m
	}, err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "disabled"},
	{name: "the user is their own manager", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.Users[targetID] = portal.User{ID: targetID, DisplayName: "Tomás Herrera", Mail: "tomas@northwind.example", AccountEnabled: true}
		s.dir.Managers[targetID] = targetID
	}, err: errInvalid, fields: []string{"channel"}, history: []string{refused(issuance.RefuseChannel)}, detail: "their own manager"},
	{name: "the manager cannot be read", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.Fail(fake.OpManager, errDown)
	}, err: portal.EUnavailable, history: []string{refused(issuance.RefuseCheckFailed)}, detail: "manager could not be read"},
	// A passcode that reached nobody: the pass was made, and its record
	// says so; then it is revoked, with the records of a revocation.
	{name: "the mail is refused: the pass is revoked", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.Fail(fake.OpSendMail, &portal.Error{Code: portal.EInvalid, Message: "Exchange Online refused the mail's recipients."})
	}, err: portal.EUnavailable, history: []string{pending, success, pending, success}, revoked: success},
	{name: "the mail is not confirmed: the pass is revoked", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.FailAfter(fake.OpSendMail, errTimeout)
	}, err: portal.EUnavailable, history: []string{pending, success, pending, success}, revoked: success},
	{name: "the mail fails and so does the revocation", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.Fail(fake.OpSendMail, errDown)
		s.dir.Fail(fake.OpDeleteTAP, errDown)
	}, err: portal.EUnavailable, history: []string{pending, success, pending, failed}, revoked: failed},
	{name: "the mail fails and the revocation is not confirmed: unknown, for the settler", setup: func(s *scenario) {
		s.offer(portal.ChannelManager)
		s.dir.Fail(fake.OpSendMail, errDown)
		s.dir.Fail(fake.OpDeleteTAP, errTimeout)
	}, err: portal.EUnavailable, history: []string{pending, success, pending, "unknown"}, revoked: "unknown", readBack: true},
	{name: "the link cannot be kept: the pass is revoked", setup: func(s *scenario) {
		s.offer(portal.ChannelLink)
		s.links.Err = errDown
	}, err: portal.EUnavailable, history: []string{pending, success, pending, success}, revoked: success},
}

// checkUndeliverable checks an issue whose passcode reached nobody: the
// issue's outcome says a pass was made and why its passcode went nowhere,
// on its channel; a revocation of that pass follows, intent then outcome,
// which ends as revoked (success, failed or unknown); and the operator is
// told what became of the pass.
func checkUndeliverable(t *testing.T, s *scenario, events []portal.Event, err error, revoked string) {
	t.Helper()
	if len(events) != 4 {
		t.Fatalf("%d records, want the issue's intent and outcome, and the revocation's", len(events))
	}
	issue, intent, outcome := events[1], events[2], events[3]
	if issue.Action != portal.ActionIssue || issue.Outcome != portal.OutcomeSuccess || issue.TAPID == "" || issue.Channel != s.req.Channel ||
		!strings.Contains(issue.Detail, "The pass was made, but its passcode") {
		t.Errorf("issue outcome = %+v, want a success naming the pass, on its channel, saying its passcode went nowhere", issue)
	}
	if events[0].Channel != s.req.Channel {
		t.Errorf("issue intent channel = %q, want %q", events[0].Channel, s.req.Channel)
	}
	if intent.Action != portal.ActionRevoke || intent.Outcome != portal.OutcomePending || intent.TAPID != issue.TAPID ||
		outcome.Action != portal.ActionRevoke || outcome.IntentID != intent.ID || string(outcome.Outcome) != revoked {
		t.Errorf("revocation = %+v then %+v, want the intent to revoke pass %s, then its %s outcome", intent, outcome, issue.TAPID, revoked)
	}
	if n := s.dir.Calls(fake.OpDeleteTAP); n != 1 {
		t.Errorf("DeleteTAP called %d times, want once", n)
	}
	gone := s.dir.Passes[targetID] == nil
	if gone != (revoked == success) {
		t.Errorf("pass gone = %v, want %v", gone, revoked == success)
	}
	says := map[string]string{success: "The portal revoked the pass", failed: "could not revoke it", "unknown": "Graph did not confirm"}[revoked]
	if msg := portal.ErrorMessage(err); !strings.Contains(msg, "The pass was made") || !strings.Contains(msg, says) {
		t.Errorf("the operator is told %q, want it to say the pass was made and %q", msg, says)
	}
}

// reads are the Directory calls a decision is made on.
var reads = []fake.Operation{fake.OpUser, fake.OpCurrentTAP, fake.OpPolicy, fake.OpMemberOf, fake.OpMethods, fake.OpGroups,
	fake.OpRoleGrants, fake.OpGroupRoles, fake.OpPIMGroups, fake.OpStaff}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	var fe issuance.FieldErrors
	var got string
	switch {
	case err == nil:
	case errors.As(err, &fe):
		got = errInvalid
	case errors.Is(err, issuance.ErrNeedsConfirmation):
		got = errConfirm
	case errors.Is(err, issuance.ErrStaleSignIn):
		got = errStale
	case errors.As(err, new(*issuance.AlreadyHandledError)):
		got = errRepeat
	case errors.As(err, new(*issuance.InProgressError)):
		got = errBusy
	case errors.Is(err, issuance.ErrPasscodeLost):
		got = errLost
	case errors.Is(err, issuance.ErrIssueUnknown):
		got = errUnknown
	case errors.Is(err, issuance.ErrRevokeUnknown):
		got = errRevokeUn
	default:
		got = portal.ErrorCode(err)
	}
	if got != want {
		t.Fatalf("Issue error = %q (%v), want %q", got, err, want)
	}
}

func TestIssueRules(t *testing.T) {
	covered := map[string]bool{}
	for _, r := range issueRules {
		t.Run(r.name, func(t *testing.T) {
			s := newScenario()
			if r.setup != nil {
				r.setup(s)
			}
			before := len(s.hist.Events())
			if r.err == errRepeat {
				before = 0 // the history the first submission left is the row's
			}
			svc := issuance.New(s.dir, s.hist, s.opts)
			target := targetID
			if s.userID != "" {
				target = s.userID
			}
			res, err := svc.Issue(context.Background(), s.op, target, s.req)
			checkErr(t, err, r.err)

			var codes []string
			for _, ref := range res.Form.Verdict.Refusals {
				codes = append(codes, ref.Code)
			}
			if !slices.Equal(codes, r.verdict) {
				t.Errorf("verdict = %v, want %v", codes, r.verdict)
			}
			var fe issuance.FieldErrors
			if errors.As(err, &fe) {
				var fields []string
				for k := range fe {
					fields = append(fields, k)
				}
				slices.Sort(fields)
				if !slices.Equal(fields, r.fields) {
					t.Errorf("invalid fields = %v, want %v", fields, r.fields)
				}
			}
			events := s.hist.Events()[before:]
			if got := recorded(events); !slices.Equal(got, r.history) {
				t.Errorf("history = %v, want %v", got, r.history)
			}
			for _, e := range events {
				if e.Outcome == portal.OutcomeRefused {
					covered[e.RefusalCode] = true
					if !strings.Contains(e.Detail, r.detail) {
						t.Errorf("refusal detail = %q, want it to say %q", e.Detail, r.detail)
					}
					protected := slices.Contains(r.verdict, issuance.RefuseRole) || slices.Contains(r.verdict, issuance.RefusePortalStaff)
					if protected != (e.Privilege != "") {
						t.Errorf("refusal privilege = %q; want it set exactly when a role or a portal role refuses", e.Privilege)
					}
					wantReason, wantTicket := s.req.Reason, s.req.Ticket
					if r.recordedReason != "" {
						wantReason = e.Reason
						if !strings.HasPrefix(e.Reason, r.recordedReason) {
							t.Errorf("recorded reason = %q, want it to start %q", e.Reason, r.recordedReason)
						}
					}
					if r.recordedTicket != "" {
						wantTicket = r.recordedTicket
					}
					if e.Ticket != wantTicket {
						t.Errorf("recorded ticket = %q, want %q", e.Ticket, wantTicket)
					}
					if e.TargetID != targetID || e.OperatorID != s.op.ID || e.Reason != wantReason {
						t.Errorf("refusal names target %q, operator %q, reason %q; want the request's", e.TargetID, e.OperatorID, e.Reason)
					}
					break
				}
			}
			for _, c := range codes {
				covered[c] = true
			}

			// One round of reads, and a write only when everything allowed it.
			for _, op := range reads {
				max := 1
				if op == fake.OpCurrentTAP && r.readBack {
					max = 2
				}
				if n := s.dir.Calls(op); n > max {
					t.Errorf("%s called %d times, want at most %d", op, n, max)
				}
			}
			if l, held := s.hist.Locked(targetID); held && l.Holder == s.req.RequestID {
				t.Errorf("the request left its lock on the user: %+v", l)
			}
			if r.err == errRepeat || r.err == errBusy {
				if n := s.dir.Calls(fake.OpUser) + s.dir.Calls(fake.OpGroups); n != 0 {
					t.Errorf("a repeat or a busy user read Graph %d times, want none", n)
				}
			}
			wantCreate := slices.Contains(r.history, pending) && r.err != errRepeat
			if n := s.dir.Calls(fake.OpCreateTAP); (n == 1) != wantCreate || n > 1 {
				t.Errorf("CreateTAP called %d times, want %v", n, wantCreate)
			}
			if r.readBack && r.err == errLost {
				last := events[len(events)-1]
				if !last.Reconciled || last.TAPID == "" || !strings.Contains(last.Detail, "passcode never reached") {
					t.Errorf("settled outcome = %+v, want a reconciled success naming the pass", last)
				}
			}
			read := s.req.Channel == "" || s.req.Channel == portal.ChannelRead
			if r.err == "" {
				if res.Issued.Passcode.IsZero() != !read || res.Issued.ID == "" || events[len(events)-1].TAPID != res.Issued.ID {
					t.Errorf("issued %+v, recorded %+v; want the pass, named in the outcome, its passcode only when read out", res.Issued, events[len(events)-1])
				}
				checkDelivered(t, s, res, events[len(events)-1])
			} else if !res.Issued.Passcode.IsZero() {
				t.Error("a passcode came back with an error")
			}
			if r.revoked != "" {
				checkUndeliverable(t, s, events, err, r.revoked)
			}
		})
	}
	for _, code := range issuance.RefusalCodes() {
		// Recorded at the issue form, not by Issue: TestRecordOperatorChange.
		// Recorded by an approver's decision, not by Issue: TestApprovalJourneys.
		if !covered[code] && code != issuance.RefuseOperatorChanged && code != issuance.RefuseSelfApproval {
			t.Errorf("no row produces the refusal %q", code)
		}
	}
	fmt.Printf("issuance: %d issue rules, %d refusal codes covered\n", len(issueRules), len(covered))
}

// checkDelivered checks how a pass issued without error was handed over:
// the outcome names its channel, a mail reached the manager and nobody
// else, a link was kept sealed and given to the operator once.
func checkDelivered(t *testing.T, s *scenario, res issuance.IssueResult, outcome portal.Event) {
	t.Helper()
	want := s.req.Channel
	if want == "" {
		want = portal.ChannelRead
	}
	if res.Delivered.Channel != want || outcome.Channel != want {
		t.Errorf("delivered by %q, recorded %q; want %q", res.Delivered.Channel, outcome.Channel, want)
	}
	mails := s.dir.Mails()
	switch want {
	case portal.ChannelManager:
		if len(mails) != 1 || mails[0].To[0].Address != "jose@northwind.example" || !strings.Contains(mails[0].Text.Reveal(), "code-1") {
			t.Fatalf("mails = %v, want one to the manager holding the passcode", mails)
		}
		text := mails[0].Text.Reveal()
		for _, says := range []string{"Tomás Herrera", "until", "0800 555 0100", "do not forward"} {
			if !strings.Contains(text, says) {
				t.Errorf("the manager's mail does not say %q:\n%s", says, text)
			}
		}
		if !strings.Contains(outcome.Detail, "José Martínez") || strings.Contains(outcome.Detail, "code-1") {
			t.Errorf("outcome detail = %q, want the manager named and no passcode", outcome.Detail)
		}
	case portal.ChannelLink:
		link := res.Delivered.Link.Reveal()
		if !strings.HasPrefix(link, "https://portal.example/reveal/") || !strings.Contains(link, "#") || res.Delivered.LinkExpires.IsZero() {
			t.Errorf("link %q until %v, want one under the portal with its key in the fragment", link, res.Delivered.LinkExpires)
		}
		if kept := s.links.All(); len(kept) != 1 || strings.Contains(outcome.Detail, "#") {
			t.Errorf("links kept = %v, outcome detail %q; want one link, its key nowhere in the record", kept, outcome.Detail)
		}
	default:
		if len(mails) != 0 {
			t.Errorf("mails = %v, want none for a passcode read out", mails)
		}
	}
}

// TestViewAndFormAgreeWithIssue shows the same verdict on the user page,
// on the form and on the submit, for each verdict row.
func TestViewAndFormAgreeWithIssue(t *testing.T) {
	for _, r := range issueRules {
		if r.verdict == nil || r.err != portal.EPolicy {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			s := newScenario()
			r.setup(s)
			svc := issuance.New(s.dir, s.hist, s.opts)
			v, err := svc.View(context.Background(), s.op, targetID)
			if err != nil {
				t.Fatal(err)
			}
			f, err := svc.IssueForm(context.Background(), s.op, targetID)
			if err != nil {
				t.Fatal(err)
			}
			for name, verdict := range map[string]issuance.Verdict{"View": v.Verdict, "IssueForm": f.Verdict} {
				var codes []string
				for _, ref := range verdict.Refusals {
					codes = append(codes, ref.Code)
				}
				if !slices.Equal(codes, r.verdict) {
					t.Errorf("%s verdict = %v, want %v", name, codes, r.verdict)
				}
			}
			if n := len(s.hist.Events()); n != 0 {
				t.Errorf("reading the page recorded %d events, want none", n)
			}
			if s.dir.Calls(fake.OpCreateTAP) != 0 {
				t.Error("reading the page created a pass")
			}
		})
	}
}

// revokeRule is one row of the revocation table.
type revokeRule struct {
	name    string
	setup   func(*scenario, *issuance.RevokeRequest)
	err     string // "" for none, an error code, "changed" or "field errors"
	history []string
	deletes int
	// privilege is what every record must say of the target's privilege.
	privilege string
	readBack  bool
}

var revokeRules = []revokeRule{
	{name: "revoke the pass shown", history: []string{pending, success}, deletes: 1},
	{name: "pass replaced since the form", setup: func(_ *scenario, r *issuance.RevokeRequest) { r.TAPID = "tap-other" }, err: "changed"},
	{name: "no reason", setup: func(_ *scenario, r *issuance.RevokeRequest) { r.Reason = "" }, err: errInvalid},
	{name: "reason with markup", setup: func(_ *scenario, r *issuance.RevokeRequest) { r.Reason = "<script>" }, err: errInvalid},
	{name: "no pass", setup: func(s *scenario, _ *issuance.RevokeRequest) { s.dir.Passes = nil }, err: portal.ENotFound},
	{name: "pass read fails", setup: func(s *scenario, _ *issuance.RevokeRequest) { s.dir.Fail(fake.OpCurrentTAP, errDown) }, err: portal.EUnavailable},
	{name: "Graph fails the delete", setup: func(s *scenario, _ *issuance.RevokeRequest) { s.dir.Fail(fake.OpDeleteTAP, errDown) },
		err: portal.EUnavailable, history: []string{pending, failed}, deletes: 1},
	{name: "protected account: the revocation names the privilege", setup: func(s *scenario, _ *issuance.RevokeRequest) {
		s.grant(targetID, portal.RoleGrant{RoleID: roleGA, RoleName: "Global Administrator", BuiltIn: true, ScopeID: "/", Eligible: true})
	}, history: []string{pending, success}, deletes: 1, privilege: "eligible for Global Administrator through PIM"},
	{name: "operator's role removed", setup: func(s *scenario, _ *issuance.RevokeRequest) { s.dir.PortalStaff.Holders = nil },
		err: portal.EDenied, history: []string{refused(issuance.RefuseOperatorRole)}},
	{name: "history down: nothing is deleted", setup: func(s *scenario, _ *issuance.RevokeRequest) { s.hist.Fail(errDown) }, err: portal.EUnavailable},
	{name: "delete times out after acting: the pass is gone", setup: func(s *scenario, _ *issuance.RevokeRequest) {
		s.dir.FailAfter(fake.OpDeleteTAP, errTimeout)
	}, history: []string{pending, success}, deletes: 1, readBack: true},
	{name: "delete times out, the pass still shows: unknown", setup: func(s *scenario, _ *issuance.RevokeRequest) {
		s.dir.Fail(fake.OpDeleteTAP, errTimeout)
	}, err: errRevokeUn, history: []string{pending, "unknown"}, deletes: 1, readBack: true},
	{name: "another action for the user in flight", setup: func(s *scenario, _ *issuance.RevokeRequest) {
		s.hist.LockTarget(context.Background(), portal.TargetLock{TargetID: targetID, Holder: "other", Expires: fixedNow.Add(time.Minute)})
	}, err: errBusy},
}

func TestRevokeRules(t *testing.T) {
	for _, r := range revokeRules {
		t.Run(r.name, func(t *testing.T) {
			s := newScenario()
			s.pass(fixedNow.Add(-time.Minute), 60)
			req := issuance.RevokeRequest{TAPID: "tap-old", Reason: "Lost the phone again"}
			if r.setup != nil {
				r.setup(s, &req)
			}
			svc := issuance.New(s.dir, s.hist, s.opts)
			target, err := svc.Revoke(context.Background(), s.op, targetID, req)
			var fe issuance.FieldErrors
			got := portal.ErrorCode(err)
			switch {
			case errors.Is(err, issuance.ErrPassChanged):
				got = "changed"
			case errors.As(err, &fe):
				got = errInvalid
			case errors.Is(err, issuance.ErrRevokeUnknown):
				got = errRevokeUn
			case errors.As(err, new(*issuance.InProgressError)):
				got = errBusy
			}
			if got != r.err {
				t.Fatalf("Revoke error = %q (%v), want %q", got, err, r.err)
			}
			if got := recorded(s.hist.Events()); !slices.Equal(got, r.history) {
				t.Errorf("history = %v, want %v", got, r.history)
			}
			for _, e := range s.hist.Events() {
				if e.Privilege != r.privilege {
					t.Errorf("record %d privilege = %q, want %q", e.ID, e.Privilege, r.privilege)
				}
			}
			if n := s.dir.Calls(fake.OpDeleteTAP); n != r.deletes {
				t.Errorf("DeleteTAP called %d times, want %d", n, r.deletes)
			}
			for _, op := range reads {
				max := 1
				if op == fake.OpCurrentTAP && r.readBack {
					max = 2
				}
				if n := s.dir.Calls(op); n > max {
					t.Errorf("%s called %d times, want at most %d", op, n, max)
				}
			}
			if (r.err == "" || r.err == "changed" || r.err == errInvalid) && (target.User.ID != targetID || target.TAP.ID != "tap-old") {
				t.Errorf("Revoke returned %+v, want the target it read, to show the form again", target)
			}
		})
	}
}

func TestRecordOperatorChange(t *testing.T) {
	s := newScenario()
	svc := issuance.New(s.dir, s.hist, s.opts)
	other := portal.Operator{ID: "0a000000-0000-4000-8000-000000000009", Name: "Tomás Ferreira"}
	svc.RecordOperatorChange(context.Background(), tableOp, other, s.dir.Users[targetID], "req-9")
	events := s.hist.Events()
	if got := recorded(events); !slices.Equal(got, []string{refused(issuance.RefuseOperatorChanged)}) {
		t.Fatalf("history = %v", got)
	}
	e := events[0]
	if e.OperatorID != tableOp.ID || e.TargetID != targetID || !strings.Contains(e.Detail, "Tomás Ferreira") || e.RequestID != "req-9" {
		t.Errorf("record = %+v, want the first operator's refused attempt naming who signed in instead", e)
	}
	if len(s.dir.Passes) != 0 || s.dir.Calls(fake.OpCreateTAP) != 0 {
		t.Error("a pass was created")
	}
}

// settleRule is one row of the settler's table: an action whose outcome
// the history does not know, what Graph shows now, and what must be
// recorded.
type settleRule struct {
	name   string
	action portal.Action
	// unknown records an unknown outcome after the intent; without it the
	// intent has none (the portal stopped mid-call).
	unknown bool
	// age is how long ago the intent was recorded.
	age   time.Duration
	setup func(*scenario)
	// want is the settlement's outcome, or "" for none yet.
	want portal.Outcome
}

var settleRules = []settleRule{
	{name: "unknown create, the pass shows", action: portal.ActionIssue, unknown: true, age: 5 * time.Second,
		setup: func(s *scenario) { s.pass(fixedNow.Add(-4*time.Second), 60) }, want: portal.OutcomeSuccess},
	{name: "unknown create, no pass yet: wait for replication", action: portal.ActionIssue, unknown: true, age: 5 * time.Second},
	{name: "unknown create, no pass after the window", action: portal.ActionIssue, unknown: true, age: time.Minute, want: portal.OutcomeFailed},
	{name: "unknown create, only an older pass", action: portal.ActionIssue, unknown: true, age: time.Minute,
		setup: func(s *scenario) { s.pass(fixedNow.Add(-time.Hour), 120) }, want: portal.OutcomeFailed},
	{name: "intent without an outcome (stopped mid-call), the pass shows", action: portal.ActionIssue, age: 5 * time.Minute,
		setup: func(s *scenario) { s.pass(fixedNow.Add(-5*time.Minute), 60) }, want: portal.OutcomeSuccess},
	{name: "unknown revoke, the pass is gone", action: portal.ActionRevoke, unknown: true, age: 5 * time.Second, want: portal.OutcomeSuccess},
	{name: "unknown revoke, the pass still shows: wait", action: portal.ActionRevoke, unknown: true, age: 5 * time.Second,
		setup: func(s *scenario) { s.pass(fixedNow.Add(-time.Hour), 120) }},
	{name: "unknown revoke, the pass still shows after the window", action: portal.ActionRevoke, unknown: true, age: time.Minute,
		setup: func(s *scenario) { s.pass(fixedNow.Add(-time.Hour), 120) }, want: portal.OutcomeFailed},
	{name: "an action in flight for the user is left to its request", action: portal.ActionIssue, age: time.Minute,
		setup: func(s *scenario) {
			s.pass(fixedNow.Add(-30*time.Second), 60)
			s.hist.LockTarget(context.Background(), portal.TargetLock{TargetID: targetID, Holder: "in-flight", Expires: fixedNow.Add(time.Minute)})
		}},
}

func TestSettleRules(t *testing.T) {
	for _, r := range settleRules {
		t.Run(r.name, func(t *testing.T) {
			s := newScenario()
			ctx := context.Background()
			at := fixedNow.Add(-r.age)
			intent, _ := s.hist.Record(ctx, portal.Event{Time: at, Action: r.action, Outcome: portal.OutcomePending, OperatorID: operatorID,
				TargetID: targetID, TAPID: "tap-old"})
			open := intent
			if r.unknown {
				open, _ = s.hist.Record(ctx, portal.Event{Time: at.Add(time.Second), Action: r.action, Outcome: portal.OutcomeUnknown,
					OperatorID: operatorID, TargetID: targetID, TAPID: "tap-old", IntentID: intent.ID})
			}
			if r.setup != nil {
				r.setup(s)
			}
			before := len(s.hist.Events())
			n, err := issuance.New(s.dir, s.hist, s.opts).Settle(ctx, "replica-1")
			if err != nil {
				t.Fatal(err)
			}
			added := s.hist.Events()[before:]
			if r.want == "" {
				if n != 0 || len(added) != 0 {
					t.Fatalf("settled %d, recorded %+v; want nothing yet", n, added)
				}
				return
			}
			if n != 1 || len(added) != 1 {
				t.Fatalf("settled %d, recorded %d records; want one settlement", n, len(added))
			}
			got := added[0]
			if got.Outcome != r.want || got.IntentID != open.ID || !got.Reconciled || !strings.HasPrefix(got.Detail, "Settled from Microsoft Graph") {
				t.Fatalf("settlement = %+v, want a reconciled %s of record %d", got, r.want, open.ID)
			}
			if _, held := s.hist.Locked(targetID); held {
				t.Error("the settler left the user locked")
			}
			// A second pass finds nothing left to do.
			if n, _ := issuance.New(s.dir, s.hist, s.opts).Settle(ctx, "replica-2"); n != 0 {
				t.Errorf("a second settler settled %d more, want none", n)
			}
		})
	}
}

// notices records the notices it is given.
type notices struct{ got []portal.Notice }

func (n *notices) Notify(_ context.Context, x portal.Notice) error {
	n.got = append(n.got, x)
	return nil
}

// TestNotices tells the user and the security address of a pass issued,
// queues a security event, and never puts the passcode in any of them; a
// notice that cannot be sent is reported and undoes nothing.
func TestNotices(t *testing.T) {
	for _, channel := range portal.Channels() {
		t.Run(string(channel), func(t *testing.T) {
			s := newScenario()
			s.offer(channel)
			s.target(func(u *portal.User) { u.Mail = "tomas@northwind.example" })
			n := &notices{}
			s.opts.Delivery.NoticeUser, s.opts.Delivery.NoticeSecurity, s.opts.Delivery.Notifier = true, []string{"soc@northwind.example"}, n
			res, err := issuance.New(s.dir, s.hist, s.opts).Issue(context.Background(), s.op, targetID, s.req)
			if err != nil {
				t.Fatal(err)
			}
			outcome := s.hist.Events()[len(s.hist.Events())-1]
			var toUser, toSOC int
			for _, m := range s.dir.Mails() {
				text := m.Text.Reveal()
				switch m.To[0].Address {
				case "tomas@northwind.example":
					toUser++
					for _, says := range []string{"Priya Natarajan", "0800 555 0100", "did not ask"} {
						if !strings.Contains(text, says) {
							t.Errorf("the user's notice does not say %q:\n%s", says, text)
						}
					}
				case "soc@northwind.example":
					toSOC++
					if !strings.Contains(text, fmt.Sprintf("History record: %d", outcome.ID)) || !strings.Contains(text, channel.Label()) {
						t.Errorf("the security notice does not name the record %d and the channel:\n%s", outcome.ID, text)
					}
				default:
					continue
				}
				if strings.Contains(text, "code-1") {
					t.Errorf("a notice to %s holds the passcode", m.To[0].Address)
				}
			}
			if toUser != 1 || toSOC != 1 {
				t.Errorf("notices: %d to the user, %d to the security address; want one each", toUser, toSOC)
			}
			if len(n.got) != 1 || n.got[0].Kind != portal.NoticePassIssued || n.got[0].ID != fmt.Sprintf("pass.issued:%d", outcome.ID) {
				t.Errorf("security events = %+v, want one pass.issued for record %d", n.got, outcome.ID)
			}
			if len(res.Delivered.NoticeProblems) != 0 {
				t.Errorf("notice problems = %v, want none", res.Delivered.NoticeProblems)
			}
		})
	}
	t.Run("a notice that cannot be sent", func(t *testing.T) {
		s := newScenario()
		s.offer(portal.ChannelRead)
		s.target(func(u *portal.User) { u.Mail = "tomas@northwind.example" })
		s.opts.Delivery.NoticeUser = true
		s.dir.Fail(fake.OpSendMail, errDown)
		res, err := issuance.New(s.dir, s.hist, s.opts).Issue(context.Background(), s.op, targetID, s.req)
		if err != nil || res.Issued.Passcode.IsZero() {
			t.Fatalf("Issue = %v, want the pass issued all the same", err)
		}
		if p := res.Delivered.NoticeProblems; len(p) != 1 || !strings.Contains(p[0], "the user") {
			t.Errorf("notice problems = %v, want the user's notice reported", p)
		}
		if got := recorded(s.hist.Events()); !slices.Equal(got, []string{pending, success}) {
			t.Errorf("history = %v, want the issue recorded as a success", got)
		}
	})
}

// TestRefusalAlert raises one security event when an operator's refusals
// reach the count within the window, not one for every refusal after.
func TestRefusalAlert(t *testing.T) {
	s := newScenario()
	s.target(func(u *portal.User) { u.AccountEnabled = false })
	n := &notices{}
	s.opts.Delivery = issuance.Delivery{Notifier: n, RefusalAlert: issuance.RefusalAlert{Count: 3, Window: 15 * time.Minute}}
	svc := issuance.New(s.dir, s.hist, s.opts)
	for i := range 5 {
		req := s.req
		req.Submission = issuance.NewSubmission()
		if _, err := svc.Issue(context.Background(), s.op, targetID, req); portal.ErrorCode(err) != portal.EPolicy {
			t.Fatalf("issue %d = %v, want a refusal", i+1, err)
		}
	}
	var alerts []portal.Notice
	for _, x := range n.got {
		if x.Kind == portal.NoticeRefusalsRepeated {
			alerts = append(alerts, x)
		}
	}
	third := s.hist.Events()[2]
	if len(alerts) != 1 || alerts[0].ID != fmt.Sprintf("refusals.repeated:%d", third.ID) || alerts[0].OperatorID != operatorID ||
		!strings.Contains(alerts[0].Summary, "3 times within 15 minutes") {
		t.Errorf("alerts = %+v, want one, at the third refusal (record %d), naming the operator and the count", alerts, third.ID)
	}
}
