package graph_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

const testClientID = "0d5c4e2f-1a3b-4c6d-8e9f-a0b1c2d3e4f5"

type env struct {
	emu    *graphemu.Server
	client *graph.Client
	cert   *x509.Certificate
	pem    []byte
}

// newEnv starts a seeded emulator with the portal's app registered with
// perms (every permission when nil) and a client pointed at it.
func newEnv(t testing.TB, perms []string, tweak ...func(*graph.Config)) *env {
	t.Helper()
	return newEnvWith(t, graphemu.Options{Seed: true}, perms, tweak...)
}

// newEnvWith is newEnv with the emulator's options.
func newEnvWith(t testing.TB, o graphemu.Options, perms []string, tweak ...func(*graph.Config)) *env {
	t.Helper()
	emu, err := graphemu.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	certPEM, keyPEM, cert, err := graphemu.GenerateAppCertificate("portal test")
	if err != nil {
		t.Fatal(err)
	}
	if perms == nil {
		perms = graphemu.AllPermissions
	}
	emu.RegisterApp(graphemu.App{ClientID: testClientID, DisplayName: "TAP Portal", Certificate: cert, Permissions: perms})
	pemBundle := append(append([]byte{}, certPEM...), keyPEM...)
	certs, key, err := graph.ParseCertificate(pemBundle, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := graph.Config{
		TenantID:     emu.TenantID(),
		ClientID:     testClientID,
		Certificate:  certs,
		Key:          key,
		BaseURL:      emu.URL(),
		AuthorityURL: emu.URL(),
		RootCAs:      emu.CertPool(),
		Timeout:      10 * time.Second,
		RetryDelay:   time.Second,
		Now:          emu.Clock().Now,
		StaffAppID:   graphemu.DemoSignInAppID,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, client: c, cert: cert, pem: pemBundle}
}

// find returns the first seeded user for which match holds.
func (e *env) find(t testing.TB, what string, match func(u *graphemu.User, tn *graphemu.Tenant) bool) graphemu.User {
	t.Helper()
	var found *graphemu.User
	e.emu.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if match(u, tn) {
				c := *u
				found = &c
				return
			}
		}
	})
	if found == nil {
		t.Fatalf("the demo tenant has no %s", what)
	}
	return *found
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ordinary is a seeded user the portal would give a pass to, holding none.
func (e *env) ordinary(t testing.TB) graphemu.User {
	return e.find(t, "ordinary member", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		return demotest.Eligible(tn, u, demotest.Rails{}, e.emu.Clock().Now()) && u.TAP == nil
	})
}

func wantCode(t *testing.T, err error, code string) *portal.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want code %s", code)
	}
	var pe *portal.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %T %v, want *portal.Error", err, err)
	}
	if pe.Code != code {
		t.Fatalf("code = %s (%v), want %s", pe.Code, err, code)
	}
	return pe
}

func TestSearchUsers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	op := e.find(t, "operator persona", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.ID == graphemu.OperatorUserID })
	obrien := e.find(t, "user with an apostrophe", func(u *graphemu.User, _ *graphemu.Tenant) bool {
		return strings.Contains(u.DisplayName, "'") && !strings.ContainsAny(u.DisplayName, "<>")
	})
	unicodeUser := e.find(t, "user with a non-ASCII name", func(u *graphemu.User, _ *graphemu.Tenant) bool {
		for _, r := range u.DisplayName {
			if r > 127 {
				return true
			}
		}
		return false
	})
	prefix := func(s string, n int) string { return string([]rune(s)[:n]) }

	tests := []struct {
		name   string
		q      string
		wantID string // a user that must be among the results
		none   bool   // no results expected
	}{
		{"display name prefix", prefix(op.DisplayName, 4), op.ID, false},
		{"lower case", strings.ToLower(prefix(op.DisplayName, 4)), op.ID, false},
		{"upn prefix", prefix(op.UserPrincipalName, 6), op.ID, false},
		{"apostrophe", obrien.DisplayName[:strings.Index(obrien.DisplayName, "'")+2], obrien.ID, false},
		{"unicode", prefix(unicodeUser.DisplayName, len([]rune(unicodeUser.DisplayName))), unicodeUser.ID, false},
		{"asterisk", "*", "", true},
		{"injection closes the literal", "x') or startswith(displayName,'", "", true},
		{"injection with eq", "a' or accountEnabled eq true or displayName eq 'b", "", true},
		{"percent and hash", "%23#%", "", true},
		{"ampersand", "a&$top=999", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := e.client.SearchUsers(ctx, tt.q, "")
			if err != nil {
				t.Fatalf("SearchUsers(%q) error: %v", tt.q, err)
			}
			if tt.none && len(page.Users) != 0 {
				t.Fatalf("SearchUsers(%q) = %d users, want none", tt.q, len(page.Users))
			}
			if tt.wantID != "" && !hasUser(page.Users, tt.wantID) {
				t.Fatalf("SearchUsers(%q) = %v, want it to include %s", tt.q, names(page.Users), tt.wantID)
			}
		})
	}

	t.Run("the filter sent escapes quotes", func(t *testing.T) {
		e.emu.ResetRequests()
		if _, err := e.client.SearchUsers(ctx, "O'Brien", ""); err != nil {
			t.Fatal(err)
		}
		var filters []string
		for _, r := range e.emu.Requests() {
			if r.Path == "/v1.0/users" {
				v, _ := url.ParseQuery(r.Query)
				filters = append(filters, v.Get("$filter"))
			}
		}
		if !slices.Contains(filters, "employeeId eq 'O''Brien'") {
			t.Fatalf("filters sent = %q, want the employee id lookup with the quote doubled", filters)
		}
	})

	for _, bad := range []struct{ name, q string }{
		{"empty", "   "},
		{"10,000 characters", strings.Repeat("a", 10000)},
		{"control characters", "ab\x00c"},
		{"invalid UTF-8", "ab\xff"},
	} {
		t.Run("refuses "+bad.name, func(t *testing.T) {
			e.emu.ResetRequests()
			_, err := e.client.SearchUsers(ctx, bad.q, "")
			pe := wantCode(t, err, portal.EInvalid)
			if pe.Field != "q" || pe.Message == "" {
				t.Fatalf("error = %+v, want a message about field q", pe)
			}
			if n := len(e.emu.Requests()); n != 0 {
				t.Fatalf("%d requests reached Graph, want none", n)
			}
		})
	}
}

func hasUser(us []portal.UserMatch, id string) bool {
	for _, u := range us {
		if u.ID == id {
			return true
		}
	}
	return false
}

func names(us []portal.UserMatch) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.DisplayName)
	}
	return out
}

func TestSearchPaging(t *testing.T) {
	e := newEnv(t, nil)
	const n = 2*graph.PageSize + 7
	e.emu.Update(func(tn *graphemu.Tenant) {
		for i := range n {
			tn.Users = append(tn.Users, &graphemu.User{
				ID:                fmt.Sprintf("b2000000-0000-4000-8000-%012d", i),
				DisplayName:       fmt.Sprintf("Pager Person %02d", i),
				UserPrincipalName: fmt.Sprintf("pager.%02d@%s", i, tn.Domain),
				AccountEnabled:    true,
				UserType:          "Member",
			})
		}
	})
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, err := e.client.SearchUsers(context.Background(), "Pager Person", cursor)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, u := range page.Users {
			if seen[u.ID] {
				t.Fatalf("user %s appears on two pages", u.ID)
			}
			seen[u.ID] = true
			if !u.AccountEnabled || u.Guest {
				t.Fatalf("user %+v: want an enabled member (the $select must ask for accountEnabled and userType)", u)
			}
		}
		if page.Next == "" {
			break
		}
		if strings.Contains(page.Next, "://") {
			t.Fatalf("cursor %q carries a URL, want only the skip token", page.Next)
		}
		cursor = page.Next
	}
	if len(seen) != n || pages != 3 {
		t.Fatalf("got %d users on %d pages, want %d on 3", len(seen), pages, n)
	}

	_, err := e.client.SearchUsers(context.Background(), "Pager Person", "not-a-token")
	wantCode(t, err, portal.EInvalid)
}

func TestUser(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	guest := e.find(t, "guest", func(u *graphemu.User, _ *graphemu.Tenant) bool {
		return u.UserType == "Guest" && strings.Contains(u.UserPrincipalName, "#")
	})
	disabled := e.find(t, "disabled user", func(u *graphemu.User, _ *graphemu.Tenant) bool { return !u.AccountEnabled })
	synced := e.find(t, "synced user", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.OnPremisesSyncEnabled })

	for _, tt := range []struct {
		name string
		key  string
		want graphemu.User
	}{
		{"guest by UPN with #", guest.UserPrincipalName, guest},
		{"guest by id", guest.ID, guest},
		{"disabled", disabled.ID, disabled},
		{"synced by UPN", synced.UserPrincipalName, synced},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := e.client.User(ctx, tt.key)
			if err != nil {
				t.Fatalf("User(%q): %v", tt.key, err)
			}
			want := portal.User{
				ID: tt.want.ID, DisplayName: tt.want.DisplayName, UserPrincipalName: tt.want.UserPrincipalName,
				Mail: tt.want.Mail, JobTitle: tt.want.JobTitle, Department: tt.want.Department,
				OfficeLocation: tt.want.OfficeLocation, EmployeeID: tt.want.EmployeeID,
				AccountEnabled: tt.want.AccountEnabled, Guest: tt.want.UserType == "Guest", Synced: tt.want.OnPremisesSyncEnabled,
			}
			if u != want {
				t.Fatalf("User(%q) =\n %+v\nwant\n %+v", tt.key, u, want)
			}
		})
	}

	for _, key := range []string{"nobody@" + graphemu.DemoDomain, "odd%name#x@" + graphemu.DemoDomain, "00000000-0000-0000-0000-000000000000"} {
		_, err := e.client.User(ctx, key)
		pe := wantCode(t, err, portal.ENotFound)
		if pe.RequestID == "" {
			t.Errorf("User(%q): error has no Graph request id", key)
		}
	}
	_, err := e.client.User(ctx, "")
	wantCode(t, err, portal.EInvalid)
}

func TestMethods(t *testing.T) {
	e := newEnv(t, nil)
	u := e.find(t, "user with several methods", func(u *graphemu.User, _ *graphemu.Tenant) bool { return len(u.Methods) >= 2 })
	ms, err := e.client.Methods(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[portal.MethodKind]bool{}
	for _, m := range ms {
		if m.Kind == portal.MethodUnknown {
			t.Errorf("method %+v: kind unknown, want it recognised", m)
		}
		kinds[m.Kind] = true
	}
	if !kinds[portal.MethodPassword] {
		t.Errorf("methods %v: want the password method", kinds)
	}
	if len(ms) != len(u.Methods)+1 {
		t.Errorf("got %d methods, want %d registered plus the password", len(ms), len(u.Methods))
	}
	_, err = e.client.Methods(context.Background(), "00000000-0000-0000-0000-000000000000")
	wantCode(t, err, portal.ENotFound)
}

func TestTAPLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	u := e.ordinary(t)

	if tap, err := e.client.CurrentTAP(ctx, u.ID); err != nil || tap != nil {
		t.Fatalf("CurrentTAP before issuing = %v, %v; want nil, nil", tap, err)
	}
	issued, err := e.client.CreateTAP(ctx, u.ID, portal.NewTAP{LifetimeMinutes: 120, OneTime: true})
	if err != nil {
		t.Fatal(err)
	}
	code := issued.Passcode.Reveal()
	if len(code) < 8 || issued.LifetimeMinutes != 120 || !issued.OneTime || issued.ID == "" || issued.RequestID == "" {
		t.Fatalf("CreateTAP = %+v (passcode length %d), want a 120-minute one-time pass with a passcode", issued.TAP, len(code))
	}
	if s := fmt.Sprint(issued); strings.Contains(s, code) {
		t.Fatalf("formatting the issued pass printed the passcode: %s", s)
	}
	if st := issued.State(e.emu.Clock().Now()); st != portal.TAPUsable {
		t.Fatalf("state = %s, want usable", st)
	}

	cur, err := e.client.CurrentTAP(ctx, u.ID)
	if err != nil || cur == nil || cur.ID != issued.ID {
		t.Fatalf("CurrentTAP = %+v, %v; want the pass just issued", cur, err)
	}

	// The raw reply of a later read carries no passcode.
	tok, err := e.emu.IssueToken(testClientID)
	if err != nil {
		t.Fatal(err)
	}
	body := rawGet(t, e, tok, "/v1.0/users/"+u.ID+"/authentication/temporaryAccessPassMethods")
	if strings.Contains(body, code) || !strings.Contains(body, `"temporaryAccessPass":null`) {
		t.Fatalf("later read = %s, want temporaryAccessPass null and no passcode", body)
	}

	// A second pass replaces the first.
	second, err := e.client.CreateTAP(ctx, u.ID, portal.NewTAP{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.client.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.LifetimeMinutes != p.DefaultLifetimeMinutes {
		t.Fatalf("lifetime = %d, want the policy default %d", second.LifetimeMinutes, p.DefaultLifetimeMinutes)
	}
	cur, err = e.client.CurrentTAP(ctx, u.ID)
	if err != nil || cur == nil || cur.ID != second.ID {
		t.Fatalf("CurrentTAP after replacing = %+v, %v; want the second pass", cur, err)
	}

	if rid, err := e.client.DeleteTAP(ctx, u.ID, second.ID); err != nil || rid == "" {
		t.Fatalf("DeleteTAP = %q, %v; want Graph's request id", rid, err)
	}
	if cur, err := e.client.CurrentTAP(ctx, u.ID); err != nil || cur != nil {
		t.Fatalf("CurrentTAP after revoking = %+v, %v; want none", cur, err)
	}
	_, err = e.client.DeleteTAP(ctx, u.ID, second.ID)
	wantCode(t, err, portal.ENotFound)
}

func rawGet(t *testing.T, e *env, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.emu.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient(e).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if token != "" && resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

func httpClient(e *env) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = e.emu.CertPool()
	return &http.Client{Transport: tr}
}

func TestTAPStates(t *testing.T) {
	e := newEnv(t, nil)
	now := e.emu.Clock().Now()
	want := map[portal.TAPState]bool{portal.TAPUsable: false, portal.TAPNotYetValid: false, portal.TAPExpired: false, portal.TAPUsed: false}
	var ids []string
	e.emu.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if u.TAP != nil {
				ids = append(ids, u.ID)
			}
		}
	})
	for _, id := range ids {
		tap, err := e.client.CurrentTAP(context.Background(), id)
		if err != nil || tap == nil {
			t.Fatalf("CurrentTAP(%s) = %v, %v", id, tap, err)
		}
		want[tap.State(now)] = true
	}
	for st, seen := range want {
		if !seen {
			t.Errorf("no seeded pass is %s; the demo tenant should show every state", st)
		}
	}
}

func TestCreateTAPRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	u := e.ordinary(t)
	guest := e.find(t, "guest", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.UserType == "Guest" })
	excluded := e.find(t, "user excluded by the policy", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		for _, x := range tn.Policy.ExcludeTargets {
			for _, g := range tn.Groups {
				if g.ID == x.ID && contains(g.Members, u.ID) {
					return true
				}
			}
		}
		return false
	})
	var max int
	e.emu.View(func(tn *graphemu.Tenant) { max = tn.Policy.MaximumLifetimeInMinutes })

	for _, tt := range []struct {
		name    string
		user    string
		req     portal.NewTAP
		code    string
		message string
	}{
		{"lifetime 0 is the default, so 9 is the first impossible", u.ID, portal.NewTAP{LifetimeMinutes: 9}, portal.EInvalid, "10 minutes to 30 days"},
		{"lifetime 43201", u.ID, portal.NewTAP{LifetimeMinutes: 43201}, portal.EInvalid, "10 minutes to 30 days"},
		{"negative lifetime", u.ID, portal.NewTAP{LifetimeMinutes: -60}, portal.EInvalid, "10 minutes to 30 days"},
		{"above the policy maximum", u.ID, portal.NewTAP{LifetimeMinutes: max + 60}, portal.EPolicy, "must be between"},
		{"guest", guest.ID, portal.NewTAP{}, portal.EPolicy, "guest"},
		{"excluded by the policy", excluded.ID, portal.NewTAP{}, portal.EPolicy, "targets"},
		{"unknown user", "nobody@" + graphemu.DemoDomain, portal.NewTAP{}, portal.ENotFound, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateTAP(ctx, tt.user, tt.req)
			pe := wantCode(t, err, tt.code)
			if !strings.Contains(pe.Message, tt.message) {
				t.Fatalf("message = %q, want it to mention %q", pe.Message, tt.message)
			}
		})
	}

	t.Run("policy disabled", func(t *testing.T) {
		e.emu.Update(func(tn *graphemu.Tenant) { tn.Policy.State = "disabled" })
		defer e.emu.Update(func(tn *graphemu.Tenant) { tn.Policy.State = "enabled" })
		_, err := e.client.CreateTAP(ctx, u.ID, portal.NewTAP{})
		pe := wantCode(t, err, portal.EPolicy)
		if pe.RequestID == "" {
			t.Fatal("policy refusal lost Graph's request id")
		}
	})
}

func TestPolicyIsCached(t *testing.T) {
	e := newEnv(t, nil, func(c *graph.Config) { c.PolicyTTL = time.Minute })
	ctx := context.Background()
	countPolicyCalls := func() int {
		n := 0
		for _, r := range e.emu.Requests() {
			if strings.Contains(r.Path, "authenticationMethodConfigurations") {
				n++
			}
		}
		return n
	}
	p, err := e.client.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled || p.MinLifetimeMinutes > p.DefaultLifetimeMinutes || p.DefaultLifetimeMinutes > p.MaxLifetimeMinutes || len(p.Include) == 0 {
		t.Fatalf("Policy = %+v, want an enabled policy with consistent bounds and targets", p)
	}
	e.emu.Update(func(tn *graphemu.Tenant) { tn.Policy.MaximumLifetimeInMinutes = 720 })
	if _, err := e.client.Policy(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countPolicyCalls(); n != 1 {
		t.Fatalf("%d policy calls within the TTL, want 1", n)
	}
	e.emu.Clock().Advance(2 * time.Minute)
	p, err = e.client.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countPolicyCalls(); n != 2 || p.MaxLifetimeMinutes != 720 {
		t.Fatalf("after the TTL: %d calls, maximum %d; want 2 calls and the new maximum 720", n, p.MaxLifetimeMinutes)
	}
}

func TestPrivilegeReads(t *testing.T) {
	for _, page := range []int{0, 1} {
		t.Run(fmt.Sprintf("page size %d", page), func(t *testing.T) { privilegeReads(t, page) })
	}
}

// privilegeReads reads each seeded kind of privilege through the SDK. With
// a page size of 1 every listing comes back one item a page.
func privilegeReads(t *testing.T, pageSize int) {
	e := newEnvWith(t, graphemu.Options{Seed: true, MaxPageSize: pageSize}, nil)
	ctx := context.Background()
	grant := func(g portal.RoleGrant) string {
		s := g.RoleName
		if g.Eligible {
			s = "eligible " + s
		}
		if g.ScopeID != "/" {
			s += " @" + g.ScopeName
		}
		if !g.BuiltIn {
			s += " (custom)"
		}
		return s
	}
	for _, tt := range []struct {
		name, user string
		want       []string
	}{
		{"active Global Administrator", graphemu.GlobalAdminUserID, []string{"Global Administrator"}},
		{"PIM-eligible Global Administrator", graphemu.PIMGlobalAdminUserID, []string{"eligible Global Administrator"}},
		{"administrative unit scope", graphemu.ScopedHelpdeskUserID, []string{"Helpdesk Administrator @Paris office"}},
		{"custom role", graphemu.CustomRoleUserID, []string{"Northwind Password Reset Operator (custom)"}},
		{"lapsed eligibility", graphemu.LapsedEligibilityUserID, nil},
		{"through a group: not listed for the user", graphemu.GroupRoleAdminUserID, nil},
		{"ordinary user", graphemu.NoRoleUserID, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			grants, err := e.client.RoleGrants(ctx, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range grants {
				got = append(got, grant(g))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RoleGrants = %v, want %v", got, tt.want)
			}
		})
	}

	// Groups, with the role-assignable flag.
	groups, err := e.client.Groups(ctx, graphemu.GroupRoleAdminUserID)
	if err != nil {
		t.Fatal(err)
	}
	var assignable []string
	for _, g := range groups {
		if g.RoleAssignable {
			assignable = append(assignable, g.DisplayName)
		}
	}
	if !slices.Equal(assignable, []string{"Tier 2 Support Admins"}) || len(groups) < 2 {
		t.Errorf("Groups = %+v, want the role-assignable Tier 2 Support Admins among them", groups)
	}

	// The groups' own roles, in one batch, with their names.
	held, err := e.client.GroupRoleGrants(ctx, []string{graphemu.TierTwoAdminsGroupID, graphemu.IdentityAdminsGroupID,
		graphemu.Tier0AdminsGroupID, graphemu.FinanceGroupID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range held {
		got = append(got, g.PrincipalName+": "+grant(g))
	}
	want := []string{"Tier 2 Support Admins: Helpdesk Administrator", "Identity Admins: eligible Privileged Role Administrator",
		"Tier 0 Admins: Global Administrator"}
	if !slices.Equal(got, want) {
		t.Errorf("GroupRoleGrants = %v, want %v", got, want)
	}

	pim, err := e.client.GroupEligibilities(ctx, graphemu.PIMGroupOwnerUserID)
	if err != nil || !slices.Equal(pim, []portal.GroupGrant{{GroupID: graphemu.Tier0AdminsGroupID, Access: "owner"}}) {
		t.Errorf("GroupEligibilities(owner) = %+v, %v", pim, err)
	}

	staff, err := e.client.Staff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	holders := map[string]string{}
	for _, h := range staff.Holders {
		r, _ := staff.Role(h.AppRoleID)
		holders[h.PrincipalID] = r.Value
	}
	if staff.AppName != "TAP Portal" || holders[graphemu.OperatorUserID] != "TAP.Operator" || holders[graphemu.SupervisorUserID] != "TAP.Supervisor" ||
		holders[graphemu.PortalSupervisorsGroupID] != "TAP.Supervisor" || len(holders) != 4 {
		t.Errorf("Staff = %+v", staff)
	}
	// Cached within its lifetime, read again after.
	staffReads := func() int {
		n := 0
		for _, r := range e.emu.Requests() {
			if strings.HasSuffix(r.Path, "/appRoleAssignedTo") && !strings.Contains(r.Query, "skiptoken") {
				n++
			}
		}
		return n
	}
	before := staffReads()
	e.client.Staff(ctx)
	if staffReads() != before {
		t.Error("Staff read Graph again within its cache lifetime")
	}
	e.emu.Clock().Advance(61 * time.Second)
	e.client.Staff(ctx)
	if staffReads() != before+1 {
		t.Error("Staff did not read Graph again after its cache lifetime")
	}

	// Only object ids reach a filter.
	for _, bad := range []string{"x' or principalId ne '", graphemu.GuestUserUPN, ""} {
		if _, err := e.client.RoleGrants(ctx, bad); portal.ErrorCode(err) != portal.EInvalid {
			t.Errorf("RoleGrants(%q) = %v, want EInvalid", bad, err)
		}
	}
	for _, r := range e.emu.Requests() {
		if strings.Contains(r.Query, "+in+") || strings.Contains(r.Query, "%20in%20") {
			t.Errorf("a request used an 'in' list: %s", r.Query)
		}
	}
}

// TestLastSignIn reads signInActivity through the SDK: the seeded
// sign-in, none for a user who never signed in, and the licence named when
// the tenant has no P1.
func TestLastSignIn(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var want time.Time
	e.emu.View(func(tn *graphemu.Tenant) { want = tn.LookupUser(graphemu.StillUsableUserID).LastSignIn })
	last, err := e.client.LastSignIn(ctx, graphemu.StillUsableUserID)
	if err != nil || want.IsZero() || last.Sub(want).Abs() > time.Millisecond {
		t.Fatalf("Grace's last sign-in = %v, %v; want the seeded %v", last, err, want)
	}
	if last, err = e.client.LastSignIn(ctx, graphemu.PIMGroupMemberUserID); err != nil || !last.IsZero() {
		t.Fatalf("Kofi's last sign-in = %v, %v; want none", last, err)
	}
	_, err = e.client.LastSignIn(ctx, "kofi.boateng@"+graphemu.DemoDomain)
	wantCode(t, err, portal.EInvalid)
	e.emu.Update(func(tn *graphemu.Tenant) { tn.NoPremium = true })
	_, err = e.client.LastSignIn(ctx, graphemu.StillUsableUserID)
	if pe := wantCode(t, err, portal.EForbidden); !strings.Contains(pe.Message, "Entra ID P1") {
		t.Fatalf("without P1: %q, want the licence named", pe.Message)
	}
}

func TestMissingPermissions(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		missing string
		call    func(*env, graphemu.User) error
	}{
		{"policy", "Policy.Read.All", func(e *env, _ graphemu.User) error { _, err := e.client.Policy(ctx); return err }},
		{"create", "UserAuthMethod-TAP.ReadWrite.All", func(e *env, u graphemu.User) error {
			_, err := e.client.CreateTAP(ctx, u.ID, portal.NewTAP{})
			return err
		}},
		{"users", "User.Read.All", func(e *env, u graphemu.User) error { _, err := e.client.User(ctx, u.ID); return err }},
		{"roles", "RoleManagement.Read.Directory", func(e *env, u graphemu.User) error { _, err := e.client.RoleGrants(ctx, u.ID); return err }},
		{"roles of groups, in a batch", "RoleManagement.Read.Directory", func(e *env, _ graphemu.User) error {
			_, err := e.client.GroupRoleGrants(ctx, []string{graphemu.TierTwoAdminsGroupID})
			return err
		}},
		{"groups", "GroupMember.Read.All", func(e *env, u graphemu.User) error { _, err := e.client.Groups(ctx, u.ID); return err }},
		{"PIM for Groups", "PrivilegedEligibilitySchedule.Read.AzureADGroup", func(e *env, u graphemu.User) error {
			_, err := e.client.GroupEligibilities(ctx, u.ID)
			return err
		}},
		{"staff", "Application.Read.All", func(e *env, _ graphemu.User) error { _, err := e.client.Staff(ctx); return err }},
		{"audit log", "AuditLog.Read.All", func(e *env, _ graphemu.User) error {
			_, err := e.client.PassAudits(ctx, time.Now().Add(-time.Hour), "")
			return err
		}},
		{"sign-in activity", "AuditLog.Read.All", func(e *env, u graphemu.User) error { _, err := e.client.LastSignIn(ctx, u.ID); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var perms []string
			for _, p := range graphemu.AllPermissions {
				if p != tt.missing {
					perms = append(perms, p)
				}
			}
			e := newEnv(t, perms)
			err := tt.call(e, e.ordinary(t))
			pe := wantCode(t, err, portal.EForbidden)
			if !strings.Contains(pe.Message, tt.missing) || pe.RequestID == "" {
				t.Fatalf("error = %q (request id %q), want it to name %s and keep the request id", pe.Message, pe.RequestID, tt.missing)
			}
		})
	}
}

func TestRetriesAndFaults(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	u := e.ordinary(t)
	userPath := "/v1.0/users/" + u.ID

	t.Run("429 with Retry-After is retried", func(t *testing.T) {
		e.emu.ResetRequests()
		e.emu.Inject(graphemu.Fault{Path: userPath, Status: 429, RetryAfter: time.Second, Times: 2})
		start := time.Now()
		if _, err := e.client.User(ctx, u.ID); err != nil {
			t.Fatalf("User after two 429s: %v", err)
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("recovered after %s, want the two Retry-After waits honoured", d)
		}
		var attempts []string
		for _, r := range e.emu.Requests() {
			if r.Path == userPath {
				attempts = append(attempts, r.Header.Get("Retry-Attempt"))
			}
		}
		if len(attempts) != 3 || attempts[2] != "2" {
			t.Fatalf("attempts (Retry-Attempt headers) = %q, want 3 with the last one \"2\"", attempts)
		}
	})
	t.Run("503 is retried", func(t *testing.T) {
		e.emu.Inject(graphemu.Fault{Path: userPath, Status: 503, RetryAfter: time.Second, Times: 1})
		if _, err := e.client.User(ctx, u.ID); err != nil {
			t.Fatalf("User after a 503: %v", err)
		}
	})
	t.Run("throttled for good", func(t *testing.T) {
		remove := e.emu.Inject(graphemu.Fault{Path: userPath, Status: 429, RetryAfter: time.Second})
		defer remove()
		_, err := e.client.User(ctx, u.ID)
		pe := wantCode(t, err, portal.EThrottled)
		if pe.RetryAfter != time.Second || pe.RequestID == "" {
			t.Fatalf("error = %+v, want RetryAfter 1s and a request id", pe)
		}
	})
	t.Run("unavailable for good", func(t *testing.T) {
		remove := e.emu.Inject(graphemu.Fault{Path: userPath, Status: 503, RetryAfter: time.Second})
		defer remove()
		_, err := e.client.User(ctx, u.ID)
		wantCode(t, err, portal.EUnavailable)
	})
	t.Run("dropped connection", func(t *testing.T) {
		remove := e.emu.Inject(graphemu.Fault{Path: userPath, Drop: true})
		defer remove()
		_, err := e.client.User(ctx, u.ID)
		pe := wantCode(t, err, portal.EUnavailable)
		if !strings.Contains(pe.Message, "could not be reached") {
			t.Fatalf("message = %q", pe.Message)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		slow := newEnv(t, nil, func(c *graph.Config) { c.Timeout = 300 * time.Millisecond })
		slow.emu.Inject(graphemu.Fault{Path: "/v1.0/users/*", Latency: time.Second})
		_, err := slow.client.User(ctx, u.ID)
		pe := wantCode(t, err, portal.EUnavailable)
		if !strings.Contains(pe.Message, "in time") {
			t.Fatalf("message = %q, want it to say Graph did not answer in time", pe.Message)
		}
	})
}

func TestClientRequestID(t *testing.T) {
	e := newEnv(t, nil)
	u := e.ordinary(t)
	e.emu.ResetRequests()
	ctx := portal.WithRequestID(context.Background(), "portal-req-42")
	if _, err := e.client.User(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.emu.Requests() {
		if strings.HasPrefix(r.Path, "/v1.0/") {
			if got := r.Header.Values("client-request-id"); len(got) != 1 || got[0] != "portal-req-42" {
				t.Fatalf("client-request-id = %q, want exactly [portal-req-42]", got)
			}
			return
		}
	}
	t.Fatal("no Graph request recorded")
}

func TestRequestWithoutTokenRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := rawGet(t, e, "", "/v1.0/users")
	var reply struct {
		Error struct {
			Code       string `json:"code"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &reply); err != nil || reply.Error.Code != "InvalidAuthenticationToken" || reply.Error.InnerError.RequestID == "" {
		t.Fatalf("reply without token = %s, want InvalidAuthenticationToken with a request id", body)
	}
}

func TestWrongCertificateRefused(t *testing.T) {
	e := newEnv(t, nil)
	otherPEM, otherKey, _, err := graphemu.GenerateAppCertificate("impostor")
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := graph.ParseCertificate(append(otherPEM, otherKey...), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Config{
		TenantID: e.emu.TenantID(), ClientID: testClientID, Certificate: certs, Key: key,
		BaseURL: e.emu.URL(), AuthorityURL: e.emu.URL(), RootCAs: e.emu.CertPool(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Ping(context.Background()), portal.EUnavailable)
	_, err = c.User(context.Background(), graphemu.OperatorUserID)
	wantCode(t, err, portal.EUnavailable)
	if err := e.client.Ping(context.Background()); err != nil {
		t.Fatalf("Ping with the registered certificate: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	for _, tt := range []struct {
		cfg                  graph.Config
		authority, graphRoot string
		err                  bool
	}{
		{graph.Config{}, "https://login.microsoftonline.com/", "https://graph.microsoft.com", false},
		{graph.Config{Cloud: "usgov"}, "https://login.microsoftonline.us/", "https://graph.microsoft.us", false},
		{graph.Config{Cloud: "usgovdod"}, "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us", false},
		{graph.Config{Cloud: "china"}, "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn", false},
		{graph.Config{Cloud: "public", BaseURL: "https://graph.proxy.example/v1.0/", AuthorityURL: "https://login.proxy.example"}, "https://login.proxy.example/", "https://graph.proxy.example", false},
		{graph.Config{Cloud: "mars"}, "", "", true},
		{graph.Config{BaseURL: "http://graph.example"}, "", "", true},
		{graph.Config{AuthorityURL: "login.example"}, "", "", true},
	} {
		a, g, err := tt.cfg.Endpoints()
		if (err != nil) != tt.err || a != tt.authority || g != tt.graphRoot {
			t.Errorf("Endpoints(%+v) = %q, %q, %v; want %q, %q, error %v", tt.cfg, a, g, err, tt.authority, tt.graphRoot, tt.err)
		}
	}
}

// TestPassAudits reads the seeded audit log through the SDK: only pass
// creations and deletions that succeeded, each with its target and who
// made it; an entry without a target user is counted, not guessed.
func TestPassAudits(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.emu.Update(func(tn *graphemu.Tenant) {
		broken := *tn.Audits[len(tn.Audits)-1]
		broken.ID, broken.TargetID = "Directory_broken", ""
		failed := broken
		failed.ID, failed.TargetID, failed.Result = "Directory_failed", graphemu.NoRoleUserID, "failure"
		tn.Audits = append(tn.Audits, &broken, &failed)
	})
	page, err := e.client.PassAudits(ctx, time.Now().Add(-30*24*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 8 || page.Unreadable != 1 || page.Next != "" {
		t.Fatalf("page = %d entries, %d unreadable, next %q; want the 8 seeded pass entries and the broken one counted", len(page.Entries), page.Unreadable, page.Next)
	}
	kinds := map[portal.PassActivity]int{}
	for _, a := range page.Entries {
		kinds[a.Activity]++
		if !portal.IsObjectID(a.TargetID) || a.TargetUPN == "" || a.By() == "" || a.Time.IsZero() {
			t.Errorf("entry %+v lacks its target, author or time", a)
		}
	}
	if kinds[portal.PassCreated] != 7 || kinds[portal.PassDeleted] != 1 {
		t.Fatalf("activities = %v, want 7 created and 1 deleted", kinds)
	}
	if page, err = e.client.PassAudits(ctx, time.Now().Add(-30*time.Minute), ""); err != nil || len(page.Entries) != 1 ||
		page.Entries[0].TargetID != graphemu.TAPUsableUserID || page.Entries[0].ByAppName != "Northwind Helpdesk Scripts" {
		t.Fatalf("entries of the last 30 minutes = %+v, %v; want the script's pass for Tomás", page, err)
	}
}

// TestThrottledWriteSentAgainWhole creates a pass that Graph throttles
// once: the retry must carry the body as it was built, so that Graph can
// read it and the pass is made once.
func TestThrottledWriteSentAgainWhole(t *testing.T) {
	e := newEnv(t, nil)
	u := e.ordinary(t)
	e.emu.ResetRequests()
	e.emu.Inject(graphemu.Fault{Method: http.MethodPost, Path: "/v1.0/users/*/authentication/temporaryAccessPassMethods",
		Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
	issued, err := e.client.CreateTAP(context.Background(), u.ID, portal.NewTAP{LifetimeMinutes: 60})
	if err != nil || issued.Passcode.Reveal() == "" {
		t.Fatalf("CreateTAP after a 429 = %v; want the pass made", err)
	}
	var creates []graphemu.RequestRecord
	for _, r := range e.emu.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
			creates = append(creates, r)
		}
	}
	if len(creates) != 2 {
		t.Fatalf("creates sent = %d, want 2 (one throttled, one made)", len(creates))
	}
	for i, r := range creates {
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil || body["lifetimeInMinutes"] != float64(60) {
			t.Errorf("create %d's body = %q (%v), want the pass as built", i+1, r.Body, err)
		}
	}
	if got := creates[1].Header.Get("Retry-Attempt"); got != "1" {
		t.Errorf("the second create's Retry-Attempt = %q, want 1", got)
	}
}
