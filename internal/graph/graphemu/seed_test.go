package graphemu

import (
	"strings"
	"testing"
	"time"
)

func TestSeedTenant(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tn := seedTenant("tenant-x", now)
	if tn.ID != "tenant-x" || tn.Domain != DemoDomain {
		t.Fatalf("tenant id %q domain %q", tn.ID, tn.Domain)
	}
	if n := len(tn.Users); n < 45 || n > 70 {
		t.Fatalf("%d users, want about 50", n)
	}

	ids, upns := map[string]bool{}, map[string]bool{}
	for _, u := range tn.Users {
		if ids[u.ID] || upns[strings.ToLower(u.UserPrincipalName)] {
			t.Fatalf("user %s or %s appears twice", u.ID, u.UserPrincipalName)
		}
		ids[u.ID], upns[strings.ToLower(u.UserPrincipalName)] = true, true
		if !guidPattern.MatchString(u.ID) || u.DisplayName == "" || !strings.HasSuffix(u.UserPrincipalName, "@"+DemoDomain) {
			t.Errorf("user %+v is malformed", u)
		}
		if u.UserType != "Member" && u.UserType != "Guest" {
			t.Errorf("user %s has userType %q", u.ID, u.UserType)
		}
		methodIDs := map[string]bool{}
		for _, m := range u.Methods {
			if methodIDs[m.ID] {
				t.Errorf("user %s has method id %s twice", u.ID, m.ID)
			}
			methodIDs[m.ID] = true
		}
	}

	user := func(id string) *User {
		u := tn.LookupUser(id)
		if u == nil {
			t.Fatalf("no seeded user %s", id)
		}
		return u
	}
	for _, p := range []struct{ id, name string }{
		{OperatorUserID, "Priya Natarajan"},
		{SupervisorUserID, "Marcus Oyelaran"},
		{NoRoleUserID, ""},
		{OtherOperatorUserID, ""},
	} {
		u := user(p.id)
		if p.name != "" && u.DisplayName != p.name {
			t.Errorf("persona %s is %q, want %q", p.id, u.DisplayName, p.name)
		}
		if len(tn.RolesOf(u.ID)) != 0 || u.TAP != nil || !u.AccountEnabled || u.UserType != "Member" {
			t.Errorf("persona %s should be an enabled member with no role and no pass", u.DisplayName)
		}
	}
	if !strings.Contains(user(OperatorUserID).JobTitle, "Helpdesk") || !strings.Contains(user(OtherOperatorUserID).JobTitle, "Helpdesk") {
		t.Error("the operators are not helpdesk analysts")
	}

	hasRole := func(id, template string) bool {
		for _, r := range tn.RolesOf(id) {
			if r.TemplateID == template {
				return true
			}
		}
		return false
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"global admin", hasRole(GlobalAdminUserID, RoleGlobalAdministrator)},
		{"role through a group only", hasRole(GroupRoleAdminUserID, RoleHelpdeskAdministrator) && !roleHeldDirectly(tn, GroupRoleAdminUserID)},
		{"break-glass is excluded", tn.IsMemberOf(BreakGlassUserID, BreakGlassGroupID) && !tn.TAPTargets(user(BreakGlassUserID))},
		{"executive", tn.IsMemberOf(ExecutiveUserID, ExecutiveGroupID)},
		{"nested executive", tn.IsMemberOf(NestedExecutiveUserID, ExecutiveGroupID) && !contains(tn.LookupGroup(ExecutiveGroupID).Members, NestedExecutiveUserID)},
		{"nested eligible", tn.IsMemberOf(TAPUsableUserID, EligibleGroupID)},
		{"disabled", !user(DisabledUserID).AccountEnabled && user(DisabledUserID).UserType == "Member"},
		{"synced", user(SyncedUserID).OnPremisesSyncEnabled && user(SyncedUserID).AccountEnabled},
		{"guest", user(GuestUserID).UserType == "Guest" && user(GuestUserID).UserPrincipalName == GuestUserUPN && strings.Contains(GuestUserUPN, "#EXT#")},
		{"apostrophe", strings.Contains(user(userID(15)).DisplayName, "'") && strings.Contains(user(userID(30)).UserPrincipalName, "'")},
		{"role-assignable group", tn.LookupGroup(TierTwoAdminsGroupID).IsAssignableToRole},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("seed lacks: %s", c.what)
		}
	}
	for _, name := range []string{"O'Brien", "Zoë", "Ångström", "Nguyễn"} {
		found := false
		for _, u := range tn.Users {
			found = found || strings.Contains(u.DisplayName, name)
		}
		if !found {
			t.Errorf("no user named like %q", name)
		}
	}

	m := user(MarkupUserID)
	for name, v := range map[string]string{
		"displayName": m.DisplayName, "givenName": m.GivenName, "surname": m.Surname, "jobTitle": m.JobTitle,
		"department": m.Department, "officeLocation": m.OfficeLocation, "employeeId": m.EmployeeID,
		"mobilePhone": m.MobilePhone, "businessPhones": strings.Join(m.BusinessPhones, ""),
	} {
		if !strings.Contains(v, "<") {
			t.Errorf("markup user's %s = %q, want markup", name, v)
		}
	}

	for _, s := range []struct{ id, reason string }{
		{TAPUsableUserID, TAPEnabledByPolicy},
		{TAPNotYetValidUserID, TAPNotYetValid},
		{TAPExpiredUserID, TAPExpired},
		{TAPUsedUserID, TAPOneTimeUsed},
	} {
		u := user(s.id)
		if u.TAP == nil {
			t.Fatalf("user %s has no pass", s.id)
		}
		if _, reason := tn.TAPUsability(u, now); reason != s.reason {
			t.Errorf("pass of %s is %s, want %s", u.DisplayName, reason, s.reason)
		}
	}

	roles := map[string]bool{}
	for _, r := range tn.ActiveRoles() {
		roles[r.TemplateID] = len(r.Members) > 0 && r.DisplayName != "" && r.Description != ""
	}
	for _, tmpl := range []string{RoleGlobalAdministrator, RolePrivilegedAuthAdministrator, RoleAuthenticationAdministrator,
		RoleHelpdeskAdministrator, RoleUserAdministrator, RoleGlobalReader} {
		if !roles[tmpl] {
			t.Errorf("role %s is not active with members", tmpl)
		}
	}

	p := tn.Policy
	if p.State != "enabled" || p.DefaultLifetimeInMinutes != 60 || p.MinimumLifetimeInMinutes != 60 || p.MaximumLifetimeInMinutes != 480 ||
		p.DefaultLength != 8 || p.IsUsableOnce || len(p.IncludeTargets) != 1 || p.IncludeTargets[0].ID != "all_users" ||
		len(p.ExcludeTargets) != 1 || p.ExcludeTargets[0].ID != BreakGlassGroupID {
		t.Errorf("policy = %+v", p)
	}

	// Every member refers to something that exists.
	for _, g := range tn.Groups {
		for _, m := range g.Members {
			if tn.LookupUser(m) == nil && tn.LookupGroup(m) == nil {
				t.Errorf("group %s has unknown member %s", g.DisplayName, m)
			}
		}
	}
	for _, r := range tn.ActiveRoles() {
		for _, m := range r.Members {
			if tn.LookupUser(m) == nil && tn.LookupGroup(m) == nil {
				t.Errorf("role %s has unknown member %s", r.DisplayName, m)
			}
		}
	}
	for i := 1; i < len(tn.Audits); i++ {
		if tn.Audits[i].ActivityDateTime.Before(tn.Audits[i-1].ActivityDateTime) {
			t.Errorf("audit log is not oldest first at %d", i)
		}
	}
}

func roleHeldDirectly(tn *Tenant, id string) bool {
	for _, r := range tn.ActiveRoles() {
		if contains(r.Members, id) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSeedIsDeterministic checks that two seeds at one instant agree, so
// the demo and tests can rely on ids and names.
func TestSeedIsDeterministic(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	a, b := seedTenant(DemoTenantID, now), seedTenant(DemoTenantID, now)
	for i := range a.Users {
		if a.Users[i].ID != b.Users[i].ID || a.Users[i].UserPrincipalName != b.Users[i].UserPrincipalName {
			t.Fatalf("user %d differs between seeds", i)
		}
	}
}

// TestSeedManagersAndMailboxes checks the reporting lines and mailboxes a
// mail to a manager meets: most members report to someone in their
// department, and each case the portal must handle is there once at
// least.
func TestSeedManagersAndMailboxes(t *testing.T) {
	tn := seedTenant(DemoTenantID, time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	var members, managed, sameDepartment int
	for _, u := range tn.Users {
		if u.UserType == "Guest" {
			if u.Mailbox || u.Manager != "" {
				t.Errorf("guest %s: mailbox %v, manager %q; want neither", u.DisplayName, u.Mailbox, u.Manager)
			}
			continue
		}
		members++
		if u.Manager == "" {
			continue
		}
		managed++
		m := tn.ManagerOf(u)
		if m == nil && tn.contactManagerOf(u) != nil {
			continue // checked below
		}
		if m == nil || m.UserType != "Member" {
			t.Errorf("the manager %q of %s is not a member of the tenant", u.Manager, u.DisplayName)
			continue
		}
		if m.Department == u.Department {
			sameDepartment++
		}
		// Reporting lines end at the top: no one manages themselves,
		// directly or further up.
		seen := map[string]bool{u.ID: true}
		for up := m; up != nil; up = tn.ManagerOf(up) {
			if seen[up.ID] {
				t.Errorf("the reporting line of %s loops at %s", u.DisplayName, up.DisplayName)
				break
			}
			seen[up.ID] = true
		}
	}
	if managed*4 < members*3 || sameDepartment*2 < managed {
		t.Errorf("%d of %d members have a manager, %d in their department; want most, mostly in their department", managed, members, sameDepartment)
	}

	user := func(id string) *User {
		u := tn.LookupUser(id)
		if u == nil {
			t.Fatalf("no seeded user %s", id)
		}
		return u
	}
	unlicensed := user(UnlicensedManagerUserID)
	box := user(PortalMailboxUserID)
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"a member with no manager", user(NoManagerUserID).UserType == "Member" && tn.ManagerOf(user(NoManagerUserID)) == nil},
		{"a member whose manager is an organisational contact", tn.ManagerOf(user(SpoofedNameUserID)) == nil &&
			tn.contactManagerOf(user(SpoofedNameUserID)) != nil && tn.contactManagerOf(user(SpoofedNameUserID)).Mail != ""},
		{"a member whose manager left", tn.ManagerOf(user(ManagerLeftUserID)) == user(DisabledUserID) &&
			!user(DisabledUserID).AccountEnabled && !user(DisabledUserID).Mailbox},
		{"a manager without mailbox or address", tn.ManagerOf(user(ReportsToUnlicensedUserID)) == unlicensed &&
			!unlicensed.Mailbox && unlicensed.Mail == "" && unlicensed.AccountEnabled && unlicensed.UserType == "Member"},
		{"emergency access accounts without mailboxes", !user(BreakGlassUserID).Mailbox},
		{"the portal's shared mailbox", box.Mailbox && !box.AccountEnabled && box.UserType == "Member" &&
			box.Mail == PortalMailboxAddress && box.UserPrincipalName == PortalMailboxAddress && len(box.Methods) == 0},
		{"a licensed member with a mailbox", user(OperatorUserID).Mailbox && user(NoRoleUserID).Mailbox},
	} {
		if !c.ok {
			t.Errorf("seed lacks: %s", c.what)
		}
	}
}
