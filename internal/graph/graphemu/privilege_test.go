package graphemu

import (
	"slices"
	"testing"
	"time"
)

func filterOn(prop, id string) string { return q("$filter", prop+" eq '"+id+"'") }

// field returns one string property of each item of a collection.
func field(r reply, name string) []string {
	var out []string
	for _, v := range r.values() {
		s, _ := v[name].(string)
		out = append(out, s)
	}
	return out
}

func TestRoleAssignments(t *testing.T) {
	e := newDirEnv(t)
	const path = "/v1.0/roleManagement/directory/roleAssignments"
	for _, tt := range []struct {
		name, principal string
		roles, scopes   []string
	}{
		{"direct Global Administrator", GlobalAdminUserID, []string{RoleGlobalAdministrator}, []string{"/"}},
		{"held by a group: the group is the principal", TierTwoAdminsGroupID, []string{RoleHelpdeskAdministrator}, []string{"/"}},
		{"group members are not listed", GroupRoleAdminUserID, nil, nil},
		{"administrative unit scope", ScopedHelpdeskUserID, []string{RoleHelpdeskAdministrator}, []string{"/administrativeUnits/" + ParisUnitID}},
		{"custom role", CustomRoleUserID, []string{PasswordResetRoleID}, []string{"/"}},
		{"eligible only: no active assignment", PIMGlobalAdminUserID, nil, nil},
		{"ordinary user", NoRoleUserID, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, path+filterOn("principalId", tt.principal))
			wantStatus(t, r, 200)
			if got := field(r, "roleDefinitionId"); !slices.Equal(got, tt.roles) {
				t.Errorf("roles = %v, want %v", got, tt.roles)
			}
			if got := field(r, "directoryScopeId"); !slices.Equal(got, tt.scopes) {
				t.Errorf("scopes = %v, want %v", got, tt.scopes)
			}
			for _, v := range r.values() {
				if v["@odata.type"] != "#microsoft.graph.unifiedRoleAssignment" || v["principalId"] != tt.principal || v["id"] == "" {
					t.Errorf("assignment = %v", v)
				}
			}
		})
	}
	// By role: every holder of Global Administrator, users and groups.
	r := e.get(t, path+filterOn("roleDefinitionId", RoleGlobalAdministrator))
	wantStatus(t, r, 200)
	if got := field(r, "principalId"); !slices.Contains(got, Tier0AdminsGroupID) || !slices.Contains(got, GlobalAdminUserID) || len(got) != 4 {
		t.Errorf("Global Administrator holders = %v", got)
	}
	// The filter forms a real tenant may refuse are refused here.
	for _, bad := range []string{
		"",
		q("$filter", "principalId in ('"+GlobalAdminUserID+"','"+NoRoleUserID+"')"),
		q("$filter", "principalId eq '"+GlobalAdminUserID+"' or principalId eq '"+NoRoleUserID+"'"),
		q("$filter", "directoryScopeId eq '/'"),
		q("$filter", "principalId ne '"+GlobalAdminUserID+"'"),
	} {
		wantError(t, e.get(t, path+bad), 400, "BadRequest", "")
	}
	wantError(t, e.get(t, path+q("$filter", "nosuch eq 'x'")), 400, "BadRequest", "")
}

func TestRoleEligibilities(t *testing.T) {
	e := newDirEnv(t)
	const path = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances"
	for _, tt := range []struct {
		name, principal string
		roles           []string
	}{
		{"eligible Global Administrator", PIMGlobalAdminUserID, []string{RoleGlobalAdministrator}},
		{"group eligible for a role", IdentityAdminsGroupID, []string{RolePrivilegedRoleAdministrator}},
		{"its member is not listed", EligibleViaGroupUserID, nil},
		{"eligibility that ended a week ago", LapsedEligibilityUserID, nil},
		{"active holder", GlobalAdminUserID, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, path+filterOn("principalId", tt.principal))
			wantStatus(t, r, 200)
			if got := field(r, "roleDefinitionId"); !slices.Equal(got, tt.roles) {
				t.Errorf("roles = %v, want %v", got, tt.roles)
			}
			for _, v := range r.values() {
				if v["@odata.type"] != "#microsoft.graph.unifiedRoleEligibilityScheduleInstance" || v["memberType"] != "Direct" || v["startDateTime"] == nil {
					t.Errorf("instance = %v", v)
				}
			}
		})
	}
	wantError(t, e.get(t, path), 400, "BadRequest", "principalId")
	// The clock moves past the end of an eligibility: it is gone.
	e.Clock().Advance(301 * 24 * time.Hour)
	r := e.get(t, path+filterOn("principalId", PIMGlobalAdminUserID))
	if got := field(r, "roleDefinitionId"); len(got) != 0 {
		t.Errorf("after the window, roles = %v, want none", got)
	}
}

func TestGroupEligibilities(t *testing.T) {
	e := newDirEnv(t)
	const path = "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"
	for _, tt := range []struct {
		name, principal, access string
	}{
		{"eligible member", PIMGroupMemberUserID, "member"},
		{"eligible owner", PIMGroupOwnerUserID, "owner"},
		{"nobody", NoRoleUserID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, path+filterOn("principalId", tt.principal))
			wantStatus(t, r, 200)
			got := field(r, "accessId")
			if tt.access == "" {
				if len(got) != 0 {
					t.Fatalf("access = %v, want none", got)
				}
				return
			}
			if !slices.Equal(got, []string{tt.access}) || field(r, "groupId")[0] != Tier0AdminsGroupID {
				t.Fatalf("instances = %s", r.raw)
			}
		})
	}
	r := e.get(t, path+filterOn("groupId", Tier0AdminsGroupID))
	if got := field(r, "principalId"); len(got) != 2 {
		t.Errorf("eligible principals of Tier 0 Admins = %v, want two", got)
	}
	wantError(t, e.get(t, path+q("$filter", "accessId eq 'member'")), 400, "BadRequest", "principalId or groupId")
}

func TestRoleDefinitionsAndUnits(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/roleManagement/directory/roleDefinitions"+q("$filter", "isBuiltIn eq false"))
	wantStatus(t, r, 200)
	if got := field(r, "id"); !slices.Equal(got, []string{PasswordResetRoleID}) {
		t.Errorf("custom roles = %v", got)
	}
	r = e.get(t, "/v1.0/roleManagement/directory/roleDefinitions/"+RoleGlobalAdministrator)
	wantStatus(t, r, 200)
	if r.body["displayName"] != "Global Administrator" || r.body["isBuiltIn"] != true || r.body["templateId"] != RoleGlobalAdministrator {
		t.Errorf("definition = %s", r.raw)
	}
	wantError(t, e.get(t, "/v1.0/roleManagement/directory/roleDefinitions/"+NoRoleUserID), 404, "Request_ResourceNotFound", "")
	r = e.get(t, "/v1.0/directory/administrativeUnits/"+ParisUnitID+q("$select", "id,displayName"))
	wantStatus(t, r, 200)
	if r.body["displayName"] != "Paris office" || r.body["description"] != nil {
		t.Errorf("unit = %s", r.raw)
	}
	wantError(t, e.get(t, "/v1.0/directory/administrativeUnits/"+NoRoleUserID), 404, "Request_ResourceNotFound", "")
}

func TestServicePrincipalAndAppRoles(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/servicePrincipals(appId='"+DemoSignInAppID+"')")
	wantStatus(t, r, 200)
	id, _ := r.body["id"].(string)
	roles, _ := r.body["appRoles"].([]any)
	if id == "" || r.body["appId"] != DemoSignInAppID || len(roles) != 3 {
		t.Fatalf("service principal = %s", r.raw)
	}
	wantError(t, e.get(t, "/v1.0/servicePrincipals(appId='00000000-0000-0000-0000-000000000000')"), 404, "Request_ResourceNotFound", "")
	r = e.get(t, "/v1.0/servicePrincipals/"+id+"/appRoleAssignedTo")
	wantStatus(t, r, 200)
	holders := field(r, "principalId")
	for _, want := range []string{OperatorUserID, SupervisorUserID, OtherOperatorUserID, PortalSupervisorsGroupID} {
		if !slices.Contains(holders, want) {
			t.Errorf("app role holders %v lack %s", holders, want)
		}
	}
	if slices.Contains(holders, NoRoleUserID) {
		t.Error("the user without a portal role holds one")
	}
	wantError(t, e.get(t, "/v1.0/servicePrincipals/"+NoRoleUserID+"/appRoleAssignedTo"), 404, "Request_ResourceNotFound", "")
}

// TestPagingEverywhere caps pages at one item: every listing must page
// through next links that keep the filter.
func TestPagingEverywhere(t *testing.T) {
	e := newDirEnvWith(t, Options{MaxPageSize: 1})
	next := "/v1.0/roleManagement/directory/roleAssignments" + filterOn("roleDefinitionId", RoleGlobalAdministrator)
	var seen []string
	for range 10 {
		r := e.get(t, next)
		wantStatus(t, r, 200)
		seen = append(seen, field(r, "principalId")...)
		link, _ := r.body["@odata.nextLink"].(string)
		if link == "" {
			break
		}
		next = link
	}
	if len(seen) != 4 {
		t.Fatalf("paged through %v, want the four holders one page at a time", seen)
	}
}

func TestSeededPrivilege(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tn := seedTenant(DemoTenantID, now)
	for _, id := range []string{GlobalAdminUserID, GroupRoleAdminUserID, BreakGlassUserID, PIMGlobalAdminUserID, EligibleViaGroupUserID,
		PIMGroupMemberUserID, PIMGroupOwnerUserID, ScopedHelpdeskUserID, CustomRoleUserID} {
		if !tn.Privileged(id, now) {
			t.Errorf("%s is not privileged", tn.LookupUser(id).DisplayName)
		}
	}
	for _, id := range []string{NoRoleUserID, LapsedEligibilityUserID, OperatorUserID, StaffGroupUserID} {
		if tn.Privileged(id, now) {
			t.Errorf("%s is privileged", tn.LookupUser(id).DisplayName)
		}
	}
	for _, id := range []string{OperatorUserID, SupervisorUserID, OtherOperatorUserID, StaffGroupUserID} {
		if !tn.PortalStaff(DemoSignInAppID, id) {
			t.Errorf("%s is not portal staff", tn.LookupUser(id).DisplayName)
		}
	}
	if tn.PortalStaff(DemoSignInAppID, NoRoleUserID) {
		t.Error("the user with no portal role is staff")
	}
	// directoryRole objects follow the active tenant-wide assignments.
	var names []string
	for _, r := range tn.RolesOf(ScopedHelpdeskUserID) {
		names = append(names, r.DisplayName)
	}
	if len(names) != 0 {
		t.Errorf("an administrative-unit role shows as a tenant-wide directoryRole: %v", names)
	}
}
