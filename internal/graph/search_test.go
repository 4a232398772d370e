package graph_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// TestSearchForms finds people the ways an operator on a call has them:
// a surname, an object id, an employee id, a pasted address in another
// case; with the count, the account state and the pass on every row, in
// two round trips.
func TestSearchForms(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tomas := e.find(t, "Tomás Herrera", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.Surname == "Herrera" })
	disabled := e.find(t, "a disabled user", func(u *graphemu.User, _ *graphemu.Tenant) bool { return !u.AccountEnabled && u.EmployeeID != "" })

	for _, tt := range []struct {
		name, q string
		want    string
		only    bool // the result is that user alone
	}{
		{"surname", "Herrera", tomas.ID, false},
		{"surname in lower case", "herrera", tomas.ID, false},
		{"two words out of order", "herrera tomás", tomas.ID, true},
		{"object id", tomas.ID, tomas.ID, true},
		{"object id in upper case", strings.ToUpper(tomas.ID), tomas.ID, true},
		{"employee id", tomas.EmployeeID, tomas.ID, true},
		{"employee id in lower case", strings.ToLower(tomas.EmployeeID), tomas.ID, true},
		{"pasted address in upper case", strings.ToUpper(tomas.UserPrincipalName), tomas.ID, true},
		{"disabled account", disabled.EmployeeID, disabled.ID, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetRequests()
			page, err := e.client.SearchUsers(ctx, tt.q, "")
			if err != nil {
				t.Fatalf("SearchUsers(%q): %v", tt.q, err)
			}
			if !hasUser(page.Users, tt.want) || tt.only && len(page.Users) != 1 {
				t.Fatalf("SearchUsers(%q) = %v, want %s%s", tt.q, names(page.Users), tt.want, map[bool]string{true: " alone"}[tt.only])
			}
			if page.Count != len(page.Users) || page.Prefix || page.Next != "" {
				t.Errorf("page = count %d, prefix %v, next %q; want count %d, a word search, one page", page.Count, page.Prefix, page.Next, len(page.Users))
			}
			if rt := roundTrips(t, e.emu.Requests()); rt != 2 {
				t.Errorf("%d round trips to Graph, want 2 (the search, then the passes)", rt)
			}
		})
	}

	t.Run("every row carries its account state and pass", func(t *testing.T) {
		page, err := e.client.SearchUsers(ctx, "tomas.herrera", "")
		if err != nil {
			t.Fatal(err)
		}
		m := page.Users[slices.IndexFunc(page.Users, func(m portal.UserMatch) bool { return m.ID == tomas.ID })]
		if !m.AccountEnabled || m.TAP == nil || m.TAP.ID != tomas.TAP.ID || m.TAPUnknown {
			t.Fatalf("row = %+v, want an enabled account with pass %s", m, tomas.TAP.ID)
		}
		page, err = e.client.SearchUsers(ctx, disabled.EmployeeID, "")
		if err != nil || page.Users[0].AccountEnabled || page.Users[0].TAP != nil || page.Users[0].TAPUnknown {
			t.Fatalf("disabled user's row = %+v, %v; want disabled, no pass", page.Users, err)
		}
	})

	t.Run("a pass that cannot be read is unknown on its row alone", func(t *testing.T) {
		remove := e.emu.Inject(graphemu.Fault{Path: "/v1.0/users/" + tomas.ID + "/authentication/temporaryAccessPassMethods", Status: 503})
		defer remove()
		page, err := e.client.SearchUsers(ctx, "Herrera", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Users {
			if unknown := m.ID == tomas.ID; m.TAPUnknown != unknown || unknown && m.TAP != nil {
				t.Errorf("row %s: TAPUnknown %v TAP %v, want unknown only for %s", m.DisplayName, m.TAPUnknown, m.TAP, tomas.DisplayName)
			}
		}
	})

	t.Run("a tenant without word search falls back to the start of names", func(t *testing.T) {
		e.emu.Update(func(tn *graphemu.Tenant) { tn.SearchUnsupported = true })
		defer e.emu.Update(func(tn *graphemu.Tenant) { tn.SearchUnsupported = false })
		for _, q := range []string{"Herrera", "Tom", tomas.EmployeeID} {
			page, err := e.client.SearchUsers(ctx, q, "")
			if err != nil || !page.Prefix || !hasUser(page.Users, tomas.ID) {
				t.Fatalf("SearchUsers(%q) = %v (prefix %v), %v; want %s by the prefix filter", q, names(page.Users), page.Prefix, err, tomas.ID)
			}
		}
		page, err := e.client.SearchUsers(ctx, "rrera", "")
		if err != nil || len(page.Users) != 0 || !page.Prefix {
			t.Fatalf("SearchUsers(rrera) = %v (prefix %v), %v; want nobody: the fallback matches starts only", names(page.Users), page.Prefix, err)
		}
	})

	t.Run("a cursor of an unknown form is refused before Graph", func(t *testing.T) {
		e.emu.ResetRequests()
		for _, c := range []string{"x:abc", "w:", "abc", strings.Repeat("w:a", 2000)} {
			_, err := e.client.SearchUsers(ctx, "Herrera", c)
			wantCode(t, err, portal.EInvalid)
		}
		if n := len(e.emu.Requests()); n != 0 {
			t.Fatalf("%d requests reached Graph, want none", n)
		}
	})
}

// roundTrips counts the Graph requests the portal sent: each $batch once,
// not its items (which the emulator records as requests of their own).
func roundTrips(t *testing.T, reqs []graphemu.RequestRecord) int {
	t.Helper()
	n := 0
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/v1.0/") {
			continue // sign-in of the app, not Graph
		}
		n++
		if r.Path == "/v1.0/$batch" {
			var b struct{ Requests []json.RawMessage }
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatalf("batch body: %v", err)
			}
			n -= len(b.Requests)
		}
	}
	return n
}
