package metrics

import "testing"

func TestGraphOperation(t *testing.T) {
	const u = "a1000000-0000-4000-8000-000000000003"
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/v1.0/users/" + u + "/authentication/temporaryAccessPassMethods", "tap_get"},
		{"DELETE", "/v1.0/users/" + u + "/authentication/temporaryAccessPassMethods/tap-1", "tap_delete"},
		{"POST", "/users/" + u + "/authentication/temporaryAccessPassMethods", "tap_post"},
		{"GET", "/v1.0/users/" + u + "/authentication/temporaryAccessPassMethods/a/b", "other"},
		{"GET", "/v1.0/users/" + u + "/authentication/methods", "methods"},
		{"GET", "/users/" + u + "/transitiveMemberOf/graph.group", "groups"},
		{"POST", "/v1.0/users/" + u + "/checkMemberGroups", "member_check"},
		{"POST", "/v1.0/users/tap-portal@northwind.example/sendMail", "send_mail"},
		{"GET", "/v1.0/users/" + u + "/manager", "manager"},
		{"GET", "/roleManagement/directory/roleAssignments", "role_assignments"},
		{"GET", "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances", "role_eligibilities"},
		{"GET", "/v1.0/roleManagement/directory/roleDefinitions", "role_definitions"},
		{"GET", "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances", "pim_groups"},
		{"GET", "/v1.0/servicePrincipals(appId='x')", "staff"},
		{"GET", "/v1.0/servicePrincipals/sp/appRoleAssignedTo", "staff"},
		{"GET", "/v1.0/directory/administrativeUnits/au-1", "units"},
		{"GET", "/groups/g-1", "group"},
		{"POST", "/v1.0/$batch", "batch"},
		{"GET", "/v1.0/users/" + u, "user"},
		{"GET", "/v1.0/users", "search"},
		{"GET", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass", "policy"},
		{"GET", "/v1.0/auditLogs/directoryAudits", "audit"},
		{"POST", "/tenant/oauth2/v2.0/token", "token"},
		{"GET", "/v1.0/users/", "other"},
		{"GET", "/v1.0/me", "other"},
	} {
		if got := GraphOperation(tt.method, tt.path); got != tt.want {
			t.Errorf("GraphOperation(%s, %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}
