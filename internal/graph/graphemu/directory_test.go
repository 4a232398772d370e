package graphemu

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// everyPermission is every Graph permission the emulator's routes check.
var everyPermission = []string{
	"User.Read.All", "Directory.Read.All", "UserAuthenticationMethod.Read.All",
	"UserAuthenticationMethod.ReadWrite.All", "Policy.Read.All", "RoleManagement.Read.Directory",
	"GroupMember.Read.All", "AuditLog.Read.All", "PrivilegedEligibilitySchedule.Read.AzureADGroup",
	"Application.Read.All", "AdministrativeUnit.Read.All", "UserAuthMethod-TAP.ReadWrite.All", "UserAuthMethod-TAP.Read.All",
	"RoleEligibilitySchedule.Read.Directory", "Mail.Send",
}

// dirEnv is a seeded emulator with an app and a token, for the tests of
// the Graph routes.
type dirEnv struct {
	*Server
	client *http.Client
	token  string
}

// newDirEnv starts a seeded emulator whose clock is frozen at a fixed
// instant, and registers the app "test" with perms (every permission when
// none are given) under the display name "Test App".
func newDirEnv(t *testing.T, perms ...string) *dirEnv {
	t.Helper()
	return newDirEnvWith(t, Options{}, perms...)
}

// newDirEnvWith is newDirEnv with more options for the server.
func newDirEnvWith(t *testing.T, o Options, perms ...string) *dirEnv {
	t.Helper()
	clock := NewClock()
	clock.Freeze(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	o.Seed, o.Clock = true, clock
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if len(perms) == 0 {
		perms = everyPermission
	}
	s.RegisterApp(App{ClientID: "test", DisplayName: "Test App", Permissions: perms})
	tok, err := s.IssueToken("test")
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}},
		Timeout:   10 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)
	return &dirEnv{Server: s, client: client, token: tok}
}

// reply is a decoded Graph reply.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// errCode returns the error code of an error reply.
func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// errMessage returns the message of an error reply.
func (r reply) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// values returns the "value" array of a list reply.
func (r reply) values() []map[string]any {
	list, _ := r.body["value"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// ids returns the ids of a list reply's items.
func (r reply) ids() []string {
	var out []string
	for _, v := range r.values() {
		id, _ := v["id"].(string)
		out = append(out, id)
	}
	return out
}

// do sends a request to the emulator. target is a path with its query
// (escaped as the caller wants it) or an absolute URL; body, when not nil,
// is sent as JSON unless it is already a string; headers are name, value
// pairs.
func (e *dirEnv) do(t *testing.T, method, target string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if !strings.HasPrefix(target, "https://") {
		target = e.URL() + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: reply is not a JSON object: %s", method, target, raw)
		}
	}
	return r
}

// get is do with GET.
func (e *dirEnv) get(t *testing.T, target string, headers ...string) reply {
	t.Helper()
	return e.do(t, http.MethodGet, target, nil, headers...)
}

// wantStatus fails the test unless the reply has the status.
func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
}

// wantError fails the test unless the reply is an error with the status
// and code whose message contains msg.
func wantError(t *testing.T, r reply, status int, code, msg string) {
	t.Helper()
	if r.status != status || r.errCode() != code || !strings.Contains(r.errMessage(), msg) {
		t.Fatalf("reply = %d %s %q, want %d %s containing %q", r.status, r.errCode(), r.errMessage(), status, code, msg)
	}
	inner, _ := r.body["error"].(map[string]any)["innerError"].(map[string]any)
	if id, _ := inner["request-id"].(string); id == "" {
		t.Fatalf("error reply has no request-id: %s", r.raw)
	}
}

// q builds a query string from name, value pairs, escaped as the SDK does.
func q(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return "?" + v.Encode()
}

func TestUnknownResource(t *testing.T) {
	e := newDirEnv(t)
	wantError(t, e.get(t, "/v1.0/users/"+OperatorUserID+"/calendar"), 400, "BadRequest", "Resource not found for the segment 'calendar'.")
	wantError(t, e.get(t, "/v1.0/me"), 400, "BadRequest", "segment 'me'")
	wantError(t, e.do(t, http.MethodPatch, "/v1.0/users/"+OperatorUserID, map[string]any{"jobTitle": "x"}), 405, "Request_BadRequest", "not allowed")
}

func TestPermissions(t *testing.T) {
	user := "/v1.0/users/" + NoRoleUserID
	tapPath := user + "/authentication/temporaryAccessPassMethods"
	readMethods := []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	for _, tt := range []struct {
		name   string
		method string
		path   string
		body   any
		grants []string // the permissions that allow the call, each alone
		code   string   // the 403 code without them
	}{
		{"list users", "GET", "/v1.0/users", nil, []string{"User.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"get user", "GET", user, nil, []string{"User.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"methods", "GET", user + "/authentication/methods", nil, readMethods, "accessDenied"},
		{"list passes", "GET", tapPath, nil, append([]string{"UserAuthMethod-TAP.Read.All", "UserAuthMethod-TAP.ReadWrite.All"}, readMethods...), "accessDenied"},
		{"create pass", "POST", tapPath, map[string]any{}, []string{"UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All"}, "accessDenied"},
		{"role definitions", "GET", "/v1.0/roleManagement/directory/roleDefinitions", nil, []string{"RoleManagement.Read.Directory"}, "Authorization_RequestDenied"},
		{"role assignments", "GET", "/v1.0/roleManagement/directory/roleAssignments" + q("$filter", "principalId eq '"+GlobalAdminUserID+"'"), nil,
			[]string{"RoleManagement.Read.Directory"}, "Authorization_RequestDenied"},
		{"role eligibilities", "GET", "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances" + q("$filter", "principalId eq '"+PIMGlobalAdminUserID+"'"), nil,
			[]string{"RoleManagement.Read.Directory", "RoleEligibilitySchedule.Read.Directory"}, "Authorization_RequestDenied"},
		{"group eligibilities", "GET", "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances" + q("$filter", "principalId eq '"+PIMGroupMemberUserID+"'"), nil,
			[]string{"PrivilegedEligibilitySchedule.Read.AzureADGroup"}, "Authorization_RequestDenied"},
		{"service principal by app id", "GET", "/v1.0/servicePrincipals(appId='" + DemoSignInAppID + "')", nil,
			[]string{"Application.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"app role holders", "GET", "/v1.0/servicePrincipals/b8000000-0000-4000-8000-000000000001/appRoleAssignedTo", nil,
			[]string{"Application.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"group", "GET", "/v1.0/groups/" + Tier0AdminsGroupID, nil, []string{"GroupMember.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"administrative unit", "GET", "/v1.0/directory/administrativeUnits/" + ParisUnitID, nil,
			[]string{"AdministrativeUnit.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"policy", "GET", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass", nil,
			[]string{"Policy.Read.All"}, "Authorization_RequestDenied"},
		{"roles", "GET", user + "/transitiveMemberOf/graph.directoryRole", nil, []string{"RoleManagement.Read.Directory", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"groups", "GET", user + "/transitiveMemberOf/microsoft.graph.group", nil, []string{"GroupMember.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"check groups", "POST", user + "/checkMemberGroups", map[string]any{"groupIds": []string{EligibleGroupID}},
			[]string{"GroupMember.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"audits", "GET", "/v1.0/auditLogs/directoryAudits", nil, []string{"AuditLog.Read.All"}, "Authorization_RequestDenied"},
		{"manager", "GET", user + "/manager", nil, []string{"User.Read.All", "Directory.Read.All"}, "Authorization_RequestDenied"},
		{"send mail", "POST", "/v1.0/users/" + PortalMailboxUserID + "/sendMail", mailBody("a@b.example"), []string{"Mail.Send"}, "ErrorAccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var others []string
			for _, p := range everyPermission {
				if !slices.Contains(tt.grants, p) {
					others = append(others, p)
				}
			}
			without := newDirEnv(t, others...)
			wantError(t, without.do(t, tt.method, tt.path, tt.body), 403, tt.code, "")

			for _, p := range tt.grants {
				with := newDirEnv(t, p)
				if r := with.do(t, tt.method, tt.path, tt.body); r.status >= 400 {
					t.Fatalf("with only %s: %d %s", p, r.status, r.raw)
				}
			}
		})
	}
}

// TestRoutesInBatch checks that the Graph routes serve $batch items as
// they serve requests: the batch hands each item to them.
func TestRoutesInBatch(t *testing.T) {
	e := newDirEnv(t)
	r := e.do(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + url.PathEscape(GuestUserUPN) + "?$select=id,userType"},
		{"id": "2", "method": "POST", "url": "/users/" + NoRoleUserID + "/authentication/temporaryAccessPassMethods",
			"headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"lifetimeInMinutes": 90}},
		{"id": "3", "method": "GET", "url": "/users?$top=2&$select=id", "dependsOn": []string{"2"}},
	}})
	wantStatus(t, r, 200)
	replies := map[string]map[string]any{}
	for _, v := range r.body["responses"].([]any) {
		m := v.(map[string]any)
		replies[m["id"].(string)] = m
	}
	if st := replies["1"]["status"]; st != float64(200) || replies["1"]["body"].(map[string]any)["userType"] != "Guest" {
		t.Fatalf("guest item = %v", replies["1"])
	}
	if st := replies["2"]["status"]; st != float64(201) || replies["2"]["body"].(map[string]any)["lifetimeInMinutes"] != float64(90) {
		t.Fatalf("create item = %v", replies["2"])
	}
	next, _ := replies["3"]["body"].(map[string]any)["@odata.nextLink"].(string)
	if !strings.HasPrefix(next, e.URL()+"/v1.0/users?") {
		t.Fatalf("next link in a batch item = %q, want it on %s", next, e.URL())
	}
}
