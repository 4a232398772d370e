package graphemu

import (
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// keys returns the sorted property names of an entity.
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// seededUserIDs returns every user id in the tenant's order, optionally
// only those keep accepts.
func seededUserIDs(e *dirEnv, keep func(*User) bool) []string {
	var ids []string
	e.View(func(t *Tenant) {
		for _, u := range t.Users {
			if keep == nil || keep(u) {
				ids = append(ids, u.ID)
			}
		}
	})
	return ids
}

func TestListUsersDefaults(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/users")
	wantStatus(t, r, 200)
	if ctx, _ := r.body["@odata.context"].(string); ctx != e.URL()+"/v1.0/$metadata#users" {
		t.Errorf("@odata.context = %q", ctx)
	}
	if _, ok := r.body["@odata.nextLink"]; ok {
		t.Errorf("nextLink present for %d users under the default page size of 100", len(r.values()))
	}
	if _, ok := r.body["@odata.count"]; ok {
		t.Error("@odata.count present without $count=true")
	}
	if got, want := r.ids(), seededUserIDs(e, nil); !slices.Equal(got, want) {
		t.Fatalf("ids = %v, want every seeded user in the tenant's order %v", got, want)
	}
	want := append([]string(nil), userDefaultProps...)
	sort.Strings(want)
	for _, u := range r.values() {
		if got := keys(u); !slices.Equal(got, want) {
			t.Fatalf("default properties = %v, want %v", got, want)
		}
	}
}

func TestListUsersSelect(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/users"+q("$select", "id,accountEnabled,UserType,onPremisesSyncEnabled,employeeId,createdDateTime", "$filter", "id eq '"+SyncedUserID+"'"))
	wantStatus(t, r, 200)
	vals := r.values()
	if len(vals) != 1 {
		t.Fatalf("got %d users, want 1", len(vals))
	}
	u := vals[0]
	if got, want := keys(u), []string{"accountEnabled", "createdDateTime", "employeeId", "id", "onPremisesSyncEnabled", "userType"}; !slices.Equal(got, want) {
		t.Fatalf("selected properties = %v, want %v", got, want)
	}
	if u["accountEnabled"] != true || u["userType"] != "Member" || u["onPremisesSyncEnabled"] != true {
		t.Fatalf("synced user = %v", u)
	}
	if ctx, _ := r.body["@odata.context"].(string); !strings.HasSuffix(ctx, "#users(id,accountEnabled,userType,onPremisesSyncEnabled,employeeId,createdDateTime)") {
		t.Errorf("@odata.context = %q, want the selection in it", ctx)
	}

	// A cloud-only user's onPremisesSyncEnabled is null, not false.
	r = e.get(t, "/v1.0/users/"+OperatorUserID+q("$select", "onPremisesSyncEnabled,mail,jobTitle"))
	wantStatus(t, r, 200)
	if v, ok := r.body["onPremisesSyncEnabled"]; !ok || v != nil {
		t.Errorf("onPremisesSyncEnabled of a cloud-only user = %v (present %v), want null", v, ok)
	}

	for _, bad := range []struct{ sel, code, msg string }{
		{"id,nonsense", "Request_BadRequest", "Could not find a property named 'nonsense' on type 'microsoft.graph.user'."},
		{"id,,displayName", "BadRequest", "empty property name"},
		{"manager", "Request_BadRequest", "Could not find a property named 'manager'"},
	} {
		wantError(t, e.get(t, "/v1.0/users"+q("$select", bad.sel)), 400, bad.code, bad.msg)
	}
}

func TestListUsersTop(t *testing.T) {
	e := newDirEnv(t)
	for _, top := range []string{"0", "-1", "1000", "abc", "1.5", ""} {
		wantError(t, e.get(t, "/v1.0/users"+q("$top", top)), 400, "Request_BadRequest",
			"Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
	}
	r := e.get(t, "/v1.0/users"+q("$top", "999"))
	wantStatus(t, r, 200)
	if n := len(r.values()); n != len(seededUserIDs(e, nil)) {
		t.Errorf("$top=999 gave %d users", n)
	}
	r = e.get(t, "/v1.0/users"+q("$top", "1"))
	wantStatus(t, r, 200)
	if len(r.values()) != 1 || r.body["@odata.nextLink"] == nil {
		t.Errorf("$top=1 gave %d users and next link %v, want 1 and a link", len(r.values()), r.body["@odata.nextLink"])
	}
}

func TestListUsersPaging(t *testing.T) {
	e := newDirEnv(t)
	filter := "accountEnabled eq true"
	want := seededUserIDs(e, func(u *User) bool { return u.AccountEnabled })
	link := "/v1.0/users" + q("$filter", filter, "$top", "7", "$select", "id,displayName")
	var got []string
	pages := 0
	for link != "" {
		r := e.get(t, link)
		wantStatus(t, r, 200)
		pages++
		got = append(got, r.ids()...)
		for _, u := range r.values() {
			if len(u) != 2 {
				t.Fatalf("page %d lost the $select: %v", pages, u)
			}
		}
		next, _ := r.body["@odata.nextLink"].(string)
		if next != "" {
			if !strings.HasPrefix(next, e.URL()+"/v1.0/users?") {
				t.Fatalf("nextLink %q is not on the emulator's own host %s", next, e.URL())
			}
			u, err := url.Parse(next)
			if err != nil {
				t.Fatal(err)
			}
			qv := u.Query()
			if qv.Get("$filter") != filter || qv.Get("$top") != "7" || qv.Get("$select") != "id,displayName" || qv.Get("$skiptoken") == "" {
				t.Fatalf("nextLink %q does not keep the query options", next)
			}
			if strings.Contains(next, "%24") {
				t.Fatalf("nextLink %q escapes $, Graph's do not", next)
			}
		}
		link = next
		if pages > 20 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) || pages != (len(want)+6)/7 {
		t.Fatalf("paged %d users on %d pages, want %d on %d, in order", len(got), pages, len(want), (len(want)+6)/7)
	}

	first := e.get(t, "/v1.0/users"+q("$filter", filter, "$top", "7"))
	next, _ := first.body["@odata.nextLink"].(string)
	u, _ := url.Parse(next)
	token := u.Query().Get("$skiptoken")
	wantError(t, e.get(t, "/v1.0/users"+q("$filter", filter, "$top", "7", "$skiptoken", "garbage")), 400, "Request_BadRequest", "page token")
	wantError(t, e.get(t, "/v1.0/users"+q("$filter", "accountEnabled eq false", "$skiptoken", token)), 400, "Request_BadRequest", "page token")
	// The token carries no page size: a client may change $top between
	// pages.
	r := e.get(t, "/v1.0/users"+q("$filter", filter, "$top", "2", "$skiptoken", token))
	wantStatus(t, r, 200)
	if ids := r.ids(); len(ids) != 2 || ids[0] != want[7] {
		t.Fatalf("page after the token with $top=2 = %v, want it to start at %s", ids, want[7])
	}
}

func TestListUsersFilter(t *testing.T) {
	e := newDirEnv(t)
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{"startswith(displayName,'priya')", []string{OperatorUserID}},
		{"startswith(displayName,'PRIYA NAT')", []string{OperatorUserID}},
		{"startswith(userPrincipalName,'marcus.')", []string{SupervisorUserID}},
		{"startswith(mail,'jane.doe@fabrikam')", []string{GuestUserID}},
		{"startswith(displayName,'Siobhán O''B')", []string{userID(15)}},
		{"startswith(displayName,'zoë')", []string{NestedExecutiveUserID}},
		{"startswith(displayName,'Nguyễn')", []string{userID(27)}},
		{"startswith(userPrincipalName,'patrick.o''brien@')", []string{userID(30)}},
		{"startswith(displayName,'<img')", []string{MarkupUserID}},
		{"startswith(displayName,'*')", nil},
		{"startswith(displayName,'x'') or startswith(displayName,''')", nil},
		{"userType eq 'Guest'", []string{userID(23), userID(24), userID(25)}},
		{"accountEnabled eq false", []string{DisabledUserID, userID(22), userID(25), PortalMailboxUserID}}, // a shared mailbox's account is disabled
		{"userType eq 'guest' and accountEnabled eq true", []string{userID(23), userID(24)}},
		{"id eq '" + strings.ToUpper(GlobalAdminUserID) + "'", []string{GlobalAdminUserID}},
		{"userPrincipalName eq '" + GuestUserUPN + "'", []string{GuestUserID}},
		{"id in ('" + OperatorUserID + "','" + SupervisorUserID + "')", []string{OperatorUserID, SupervisorUserID}},
		{"(startswith(displayName,'emily') or startswith(displayName,'john')) and startswith(mail,'emily.johnst')", []string{userID(35)}},
		{"employeeId eq 'NW10037'", []string{OperatorUserID}},
	} {
		r := e.get(t, "/v1.0/users"+q("$filter", tt.filter))
		if r.status != 200 {
			t.Errorf("$filter=%s: %d %s", tt.filter, r.status, r.raw)
			continue
		}
		if got := r.ids(); !slices.Equal(got, tt.want) {
			t.Errorf("$filter=%s = %v, want %v", tt.filter, got, tt.want)
		}
	}

	wantError(t, e.get(t, "/v1.0/users"+q("$filter", "startswith(displayName,'a'))")), 400, "BadRequest", "Invalid filter clause: Syntax error at position 27")
	wantError(t, e.get(t, "/v1.0/users"+q("$filter", "department eq 'Sales'")), 400, "Request_UnsupportedQuery", "property 'department'")

	// ne and not are advanced queries.
	notGuest := q("$filter", "userType ne 'Guest'")
	wantError(t, e.get(t, "/v1.0/users"+notGuest), 400, "Request_UnsupportedQuery", "ConsistencyLevel")
	wantError(t, e.get(t, "/v1.0/users"+notGuest, "ConsistencyLevel", "eventual"), 400, "Request_UnsupportedQuery", "$count=true")
	r := e.get(t, "/v1.0/users"+q("$filter", "userType ne 'Guest'", "$count", "true"), "ConsistencyLevel", "eventual")
	wantStatus(t, r, 200)
	members := seededUserIDs(e, func(u *User) bool { return u.UserType == "Member" })
	if count, _ := r.body["@odata.count"].(float64); int(count) != len(members) || len(r.ids()) != len(members) {
		t.Errorf("members: @odata.count %v and %d items, want %d", r.body["@odata.count"], len(r.ids()), len(members))
	}
}

func TestListUsersSearch(t *testing.T) {
	e := newDirEnv(t)
	search := q("$search", `"displayName:jo"`)
	wantError(t, e.get(t, "/v1.0/users"+search), 400, "Request_UnsupportedQuery",
		"Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")

	r := e.get(t, "/v1.0/users"+search, "ConsistencyLevel", "eventual")
	wantStatus(t, r, 200)
	var names []string
	for _, u := range r.values() {
		names = append(names, u["displayName"].(string))
	}
	for _, want := range []string{"José Martínez", "Emily Johnson", "Emily Johnston", "John Smith", "Johnny Smithers"} {
		if !slices.Contains(names, want) {
			t.Errorf("$search displayName:jo = %v, want %s among them", names, want)
		}
	}
	if slices.Contains(names, "Priya Natarajan") {
		t.Errorf("$search displayName:jo matched Priya Natarajan")
	}

	r = e.get(t, "/v1.0/users"+q("$search", `"mail:jane.doe" OR "displayName:zoë"`, "$count", "true"), "ConsistencyLevel", "eventual")
	wantStatus(t, r, 200)
	if got := r.ids(); !slices.Equal(got, []string{NestedExecutiveUserID, GuestUserID}) || r.body["@odata.count"] != float64(2) {
		t.Errorf("$search mail OR displayName = %v (count %v)", got, r.body["@odata.count"])
	}

	r = e.get(t, "/v1.0/users"+q("$search", `"displayName:john"`, "$filter", "accountEnabled eq true"), "ConsistencyLevel", "eventual")
	wantStatus(t, r, 200)
	if got := r.ids(); !slices.Equal(got, []string{userID(34), userID(35), userID(36), userID(37)}) {
		t.Errorf("$search with $filter = %v", got)
	}

	wantError(t, e.get(t, "/v1.0/users"+q("$search", `jo`), "ConsistencyLevel", "eventual"), 400, "BadRequest", "quoted")
	wantError(t, e.get(t, "/v1.0/users"+q("$search", `"jobTitle:dev"`), "ConsistencyLevel", "eventual"), 400, "Request_UnsupportedQuery", "jobTitle")

	// A tenant without $search refuses it, and only it.
	e.Update(func(t *Tenant) { t.SearchUnsupported = true })
	wantError(t, e.get(t, "/v1.0/users"+search, "ConsistencyLevel", "eventual"), 400, "Request_UnsupportedQuery", "$search is not supported")
	wantStatus(t, e.get(t, "/v1.0/users"+q("$filter", "startswith(surname,'smith')")), 200)
}

func TestListUsersCount(t *testing.T) {
	e := newDirEnv(t)
	wantError(t, e.get(t, "/v1.0/users"+q("$count", "true")), 400, "Request_UnsupportedQuery", "ConsistencyLevel")
	r := e.get(t, "/v1.0/users"+q("$count", "true", "$top", "5"), "ConsistencyLevel", "eventual")
	wantStatus(t, r, 200)
	if n, _ := r.body["@odata.count"].(float64); int(n) != len(seededUserIDs(e, nil)) || len(r.values()) != 5 {
		t.Errorf("@odata.count = %v with %d items, want the total and 5 items", r.body["@odata.count"], len(r.values()))
	}
	wantStatus(t, e.get(t, "/v1.0/users"+q("$count", "false")), 200)
	wantError(t, e.get(t, "/v1.0/users"+q("$count", "yes"), "ConsistencyLevel", "eventual"), 400, "BadRequest", "$count")
}

func TestListUsersQueryOptions(t *testing.T) {
	e := newDirEnv(t)
	wantError(t, e.get(t, "/v1.0/users?$skip=5"), 400, "Request_BadRequest", "'$skip' is not supported by the service.")
	wantError(t, e.get(t, "/v1.0/users?$expand=manager"), 400, "BadRequest", "'$expand' is not supported")
	wantError(t, e.get(t, "/v1.0/users?$frobnicate=1"), 400, "BadRequest", "'$frobnicate'")
	wantError(t, e.get(t, "/v1.0/users?$top=5&$top=6"), 400, "BadRequest", "more than once")
	wantError(t, e.get(t, "/v1.0/users?$filter=%zz"), 400, "BadRequest", "malformed")
	// Parameters that are not system query options are ignored, as Graph
	// ignores them.
	wantStatus(t, e.get(t, "/v1.0/users?api-version=1.6&foo=bar"), 200)
	// The SDK escapes "$" in option names.
	r := e.get(t, "/v1.0/users?%24top=3&%24select=id")
	wantStatus(t, r, 200)
	if len(r.values()) != 3 || len(r.values()[0]) != 1 {
		t.Errorf("escaped option names were not read: %s", r.raw)
	}
}

func TestListUsersOrderBy(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/users"+q("$orderby", "displayName desc", "$select", "displayName"))
	wantStatus(t, r, 200)
	var names []string
	for _, u := range r.values() {
		names = append(names, strings.ToLower(u["displayName"].(string)))
	}
	if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("$orderby=displayName desc gave %v", names)
	}
	wantError(t, e.get(t, "/v1.0/users"+q("$orderby", "displayName", "$filter", "accountEnabled eq true")), 400,
		"Request_UnsupportedQuery", "Sorting not supported for current query.")
	wantStatus(t, e.get(t, "/v1.0/users"+q("$orderby", "displayName", "$filter", "accountEnabled eq true", "$count", "true"), "ConsistencyLevel", "eventual"), 200)
	wantError(t, e.get(t, "/v1.0/users"+q("$orderby", "jobTitle")), 400, "Request_UnsupportedQuery", "jobTitle")
	wantError(t, e.get(t, "/v1.0/users"+q("$orderby", "displayName sideways")), 400, "BadRequest", "asc or desc")
}

func TestGetUser(t *testing.T) {
	e := newDirEnv(t)
	for _, tt := range []struct {
		name, path, wantID string
	}{
		{"by id", OperatorUserID, OperatorUserID},
		{"by id, upper case", strings.ToUpper(OperatorUserID), OperatorUserID},
		{"by UPN", "priya.natarajan@" + DemoDomain, OperatorUserID},
		{"by UPN, other case", "Priya.Natarajan@NORTHWIND.example", OperatorUserID},
		{"guest UPN, # escaped", url.PathEscape(GuestUserUPN), GuestUserID},
		{"UPN with an apostrophe", "patrick.o'brien@" + DemoDomain, userID(30)},
		{"UPN with an escaped apostrophe", "patrick.o%27brien@" + DemoDomain, userID(30)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, "/v1.0/users/"+tt.path)
			wantStatus(t, r, 200)
			if r.body["id"] != tt.wantID {
				t.Fatalf("id = %v, want %s", r.body["id"], tt.wantID)
			}
			if ctx, _ := r.body["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#users/$entity") {
				t.Fatalf("@odata.context = %q", ctx)
			}
			if _, ok := r.body["accountEnabled"]; ok {
				t.Fatal("accountEnabled returned without $select")
			}
		})
	}

	r := e.get(t, "/v1.0/users/"+url.PathEscape(GuestUserUPN)+q("$select", "userType,accountEnabled,mail,creationType"))
	wantStatus(t, r, 200)
	if r.body["userType"] != "Guest" || r.body["mail"] != "jane.doe@fabrikam.example" || r.body["creationType"] != "Invitation" {
		t.Errorf("guest = %v", r.body)
	}

	for _, missing := range []string{"nobody@" + DemoDomain, "00000000-0000-0000-0000-000000000000", "odd%25name%23x@" + DemoDomain} {
		unescaped, _ := url.PathUnescape(missing)
		wantError(t, e.get(t, "/v1.0/users/"+missing), 404, "Request_ResourceNotFound",
			"Resource '"+unescaped+"' does not exist or one of its queried reference-property objects are not present.")
	}
	wantError(t, e.get(t, "/v1.0/users/"+OperatorUserID+q("$select", "bogus")), 400, "Request_BadRequest", "'bogus'")
	wantError(t, e.get(t, "/v1.0/users/"+OperatorUserID+q("$filter", "id eq 'x'")), 400, "BadRequest", "$filter")
}

func TestMarkupUserIsReturnedVerbatim(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, "/v1.0/users/"+MarkupUserID+q("$select", "displayName,givenName,surname,jobTitle,department,officeLocation,employeeId,mobilePhone,businessPhones"))
	wantStatus(t, r, 200)
	for name, v := range r.body {
		if name == "@odata.context" {
			continue
		}
		s, ok := v.(string)
		if !ok {
			s = strings.Join(func() []string {
				var out []string
				for _, x := range v.([]any) {
					out = append(out, x.(string))
				}
				return out
			}(), " ")
		}
		if !strings.Contains(s, "<") {
			t.Errorf("%s = %q, want markup in it", name, s)
		}
	}
	if r.body["displayName"] != "<img src=x onerror=alert(1)> Mallory Tester" || r.body["jobTitle"] != "<script>alert('job')</script>" {
		t.Errorf("markup user = %v", r.body)
	}
}

// TestSignInActivity: signInActivity is read only when selected, with
// AuditLog.Read.All on top of the user read, in a tenant with Entra ID P1,
// and by object id; it is null for a user who never signed in, and a
// sign-in with a reusable pass shows there and nowhere else.
func TestSignInActivity(t *testing.T) {
	e := newDirEnv(t)
	sel := q("$select", "id,signInActivity")
	if r := e.get(t, "/v1.0/users/"+StillUsableUserID); r.body["signInActivity"] != nil {
		t.Fatalf("signInActivity without $select: %s", r.raw)
	}
	r := e.get(t, "/v1.0/users/"+StillUsableUserID+sel)
	wantStatus(t, r, 200)
	activity, _ := r.body["signInActivity"].(map[string]any)
	if activity["lastSuccessfulSignInDateTime"] != "2026-03-02T08:18:00Z" || activity["lastSignInDateTime"] != "2026-03-02T08:18:00Z" {
		t.Fatalf("Grace's sign-in activity = %s, want her sign-in 72 minutes before the seed", r.raw)
	}
	if r := e.get(t, "/v1.0/users/"+PIMGroupMemberUserID+sel); r.status != 200 || r.body["signInActivity"] != nil {
		t.Fatalf("a user who never signed in: %d %s, want signInActivity null", r.status, r.raw)
	}
	wantError(t, e.get(t, "/v1.0/users/kofi.boateng@"+DemoDomain+sel), 400, codeRequestBad, "valid Guid")
	wantStatus(t, e.get(t, "/v1.0/users"+q("$select", "id,signInActivity", "$top", "2")), 200)

	// A sign-in with Kofi's reusable pass leaves it usable.
	if err := e.SignInWithTAP(PIMGroupMemberUserID); err != nil {
		t.Fatal(err)
	}
	r = e.get(t, "/v1.0/users/"+PIMGroupMemberUserID+sel)
	if activity, _ := r.body["signInActivity"].(map[string]any); activity["lastSuccessfulSignInDateTime"] != "2026-03-02T09:30:00Z" {
		t.Fatalf("after a sign-in: %s", r.raw)
	}
	if taps := e.get(t, "/v1.0/users/"+PIMGroupMemberUserID+"/authentication/temporaryAccessPassMethods").values(); len(taps) != 1 || taps[0]["isUsable"] != true {
		t.Fatalf("Kofi's pass after a sign-in = %v, want still usable", taps)
	}

	// Without AuditLog.Read.All, or in a tenant without P1, Graph refuses
	// the read, though the user alone reads on.
	reader := newDirEnv(t, "User.Read.All")
	wantError(t, reader.get(t, "/v1.0/users/"+StillUsableUserID+sel), 403, "Authorization_RequestDenied", "Insufficient privileges")
	wantError(t, reader.get(t, "/v1.0/users"+sel), 403, "Authorization_RequestDenied", "Insufficient privileges")
	wantStatus(t, reader.get(t, "/v1.0/users/"+StillUsableUserID), 200)
	e.Update(func(tn *Tenant) { tn.NoPremium = true })
	wantError(t, e.get(t, "/v1.0/users/"+StillUsableUserID+sel), 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "premium license")
}
