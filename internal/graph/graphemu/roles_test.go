package graphemu

import (
	"fmt"
	"slices"
	"testing"
)

// templates returns the roleTemplateIds of a roles reply.
func templates(r reply) []string {
	var out []string
	for _, v := range r.values() {
		id, _ := v["roleTemplateId"].(string)
		out = append(out, id)
	}
	return out
}

func TestDirectoryRoles(t *testing.T) {
	e := newDirEnv(t)
	for _, tt := range []struct {
		name string
		user string
		want []string
	}{
		{"global administrator", GlobalAdminUserID, []string{RoleGlobalAdministrator}},
		{"role through a group", GroupRoleAdminUserID, []string{RoleHelpdeskAdministrator}},
		{"break-glass account", BreakGlassUserID, []string{RoleGlobalAdministrator}},
		{"privileged authentication administrator", userID(6), []string{RolePrivilegedAuthAdministrator}},
		{"authentication administrator", userID(7), []string{RoleAuthenticationAdministrator}},
		{"user administrator", userID(9), []string{RoleUserAdministrator}},
		{"global reader", userID(10), []string{RoleGlobalReader}},
		{"operator persona", OperatorUserID, nil},
		{"ordinary user", NoRoleUserID, nil},
		{"executive", ExecutiveUserID, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, cast := range []string{"graph.directoryRole", "microsoft.graph.directoryRole"} {
				r := e.get(t, "/v1.0/users/"+tt.user+"/transitiveMemberOf/"+cast)
				wantStatus(t, r, 200)
				if got := templates(r); !slices.Equal(got, tt.want) {
					t.Fatalf("%s roles = %v, want %v", cast, got, tt.want)
				}
				for _, v := range r.values() {
					if v["@odata.type"] != "#microsoft.graph.directoryRole" || v["displayName"] == "" || v["description"] == nil || v["id"] == "" {
						t.Fatalf("role = %v", v)
					}
				}
			}
		})
	}
	r := e.get(t, "/v1.0/users/"+GlobalAdminUserID+"/transitiveMemberOf/graph.directoryRole"+q("$select", "displayName,roleTemplateId"))
	wantStatus(t, r, 200)
	if v := r.values(); len(v) != 1 || len(v[0]) != 3 || v[0]["displayName"] != "Global Administrator" {
		t.Fatalf("$select on roles = %s", r.raw)
	}
	wantError(t, e.get(t, "/v1.0/users/nobody@"+DemoDomain+"/transitiveMemberOf/graph.directoryRole"), 404, "Request_ResourceNotFound", "nobody@")
	wantError(t, e.get(t, "/v1.0/users/"+GlobalAdminUserID+"/transitiveMemberOf/graph.user"), 400, "BadRequest", "segment 'graph.user'")
	wantError(t, e.get(t, "/v1.0/users/"+GlobalAdminUserID+"/transitiveMemberOf/directoryRole"), 400, "BadRequest", "segment")
	wantError(t, e.get(t, "/v1.0/users/"+GlobalAdminUserID+"/transitiveMemberOf/graph.directoryRole"+q("$filter", "x eq 'y'")), 400, "BadRequest", "$filter")
}

func TestTransitiveGroups(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/users/"+NestedExecutiveUserID+"/transitiveMemberOf/microsoft.graph.group")
	wantStatus(t, r, 200)
	if got, want := r.ids(), []string{ExecutiveGroupID, ExecutiveOfficeGroupID}; !slices.Equal(got, want) {
		t.Fatalf("groups of the assistant = %v, want %v (the nested group and its parent)", got, want)
	}
	for _, v := range r.values() {
		if v["@odata.type"] != "#microsoft.graph.group" || v["securityEnabled"] != true {
			t.Fatalf("group = %v", v)
		}
	}
	r = e.get(t, "/v1.0/users/"+userID(18)+"/transitiveMemberOf/graph.group")
	if got, want := r.ids(), []string{EligibleGroupID, NewStartersGroupID, FinanceGroupID}; !slices.Equal(got, want) {
		t.Fatalf("groups of a new starter = %v, want %v", got, want)
	}

	// The plain listing holds both kinds.
	r = e.get(t, "/v1.0/users/"+GroupRoleAdminUserID+"/transitiveMemberOf")
	wantStatus(t, r, 200)
	var types []string
	for _, v := range r.values() {
		types = append(types, v["@odata.type"].(string))
	}
	if !slices.Contains(types, "#microsoft.graph.group") || !slices.Contains(types, "#microsoft.graph.directoryRole") {
		t.Fatalf("transitiveMemberOf = %v, want groups and roles", types)
	}

	// Paging follows the same rules as users.
	r = e.get(t, "/v1.0/users/"+GroupRoleAdminUserID+"/transitiveMemberOf"+q("$top", "1"))
	next, _ := r.body["@odata.nextLink"].(string)
	if len(r.values()) != 1 || next == "" {
		t.Fatalf("$top=1: %s", r.raw)
	}
	r = e.get(t, next)
	wantStatus(t, r, 200)
	if len(r.values()) != 1 {
		t.Fatalf("second page: %s", r.raw)
	}

	wantError(t, e.get(t, "/v1.0/users/"+NestedExecutiveUserID+"/transitiveMemberOf"+q("$count", "true")), 400, "Request_UnsupportedQuery", "ConsistencyLevel")
	r = e.get(t, "/v1.0/users/"+NestedExecutiveUserID+"/transitiveMemberOf"+q("$count", "true"), "ConsistencyLevel", "eventual")
	if r.body["@odata.count"] != float64(2) {
		t.Fatalf("$count = %v, want 2", r.body["@odata.count"])
	}
	r = e.get(t, "/v1.0/users/"+NestedExecutiveUserID+"/transitiveMemberOf/graph.administrativeUnit")
	wantStatus(t, r, 200)
	if len(r.values()) != 0 {
		t.Fatalf("administrative units = %s, want none", r.raw)
	}
}

func TestCheckMemberGroups(t *testing.T) {
	e := newDirEnv(t)
	path := "/v1.0/users/" + NestedExecutiveUserID + "/checkMemberGroups"
	r := e.do(t, "POST", path, map[string]any{"groupIds": []string{
		BreakGlassGroupID, ExecutiveGroupID, "00000000-0000-0000-0000-00000000dead", ExecutiveOfficeGroupID, ExecutiveGroupID, roleID(1),
	}})
	wantStatus(t, r, 200)
	var got []string
	for _, v := range r.body["value"].([]any) {
		got = append(got, v.(string))
	}
	if want := []string{ExecutiveGroupID, ExecutiveOfficeGroupID}; !slices.Equal(got, want) {
		t.Fatalf("checkMemberGroups = %v, want %v", got, want)
	}

	r = e.do(t, "POST", "/v1.0/users/"+NoRoleUserID+"/checkMemberGroups", map[string]any{"groupIds": []string{ExecutiveGroupID}})
	wantStatus(t, r, 200)
	if v := r.body["value"].([]any); len(v) != 0 {
		t.Fatalf("checkMemberGroups for a non-member = %v, want []", v)
	}

	var twentyOne []string
	for i := range 21 {
		twentyOne = append(twentyOne, fmt.Sprintf("c3000000-0000-4000-8000-%012d", i))
	}
	wantError(t, e.do(t, "POST", path, map[string]any{"groupIds": twentyOne}), 400, "Request_BadRequest", "at most 20")
	wantStatus(t, e.do(t, "POST", path, map[string]any{"groupIds": twentyOne[:20]}), 200)
	for _, bad := range []any{`{}`, `{"groupIds": "x"}`, `{"groupIds": [1]}`, `{"groupIds": [], "extra": 1}`, `nope`} {
		wantError(t, e.do(t, "POST", path, bad), 400, "Request_BadRequest", "groupIds")
	}
	wantError(t, e.do(t, "POST", "/v1.0/users/nobody@"+DemoDomain+"/checkMemberGroups", map[string]any{"groupIds": []string{}}), 404, "Request_ResourceNotFound", "nobody@")
}

func TestTenantMembershipCycle(t *testing.T) {
	tn := &Tenant{Groups: []*Group{
		{ID: "a", Members: []string{"b", "u"}},
		{ID: "b", Members: []string{"a"}},
	}}
	got := tn.TransitiveGroups("u")
	if len(got) != 2 {
		t.Fatalf("TransitiveGroups through a cycle = %d groups, want 2", len(got))
	}
}
