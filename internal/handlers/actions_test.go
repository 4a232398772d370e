package handlers_test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/metrics"
)

// graphCalls counts the Graph requests the emulator served, by operation,
// leaving out token requests.
func graphCalls(reqs []graphemu.RequestRecord) map[string]int {
	n := map[string]int{}
	for _, r := range reqs {
		if op := metrics.GraphOperation(r.Method, r.Path); op != "token" {
			n[op]++
		}
	}
	return n
}

// roundTrips counts the requests that went to Graph over a connection of
// their own: a $batch counts once, however many items it carried.
func roundTrips(reqs []graphemu.RequestRecord) int {
	n := 0
	for _, r := range reqs {
		if !r.Batched && metrics.GraphOperation(r.Method, r.Path) != "token" {
			n++
		}
	}
	return n
}

// TestOneRoundOfReadsPerAction counts what each action asks of Graph: every
// fact it decides on is read once, and a page reads only what it shows.
func TestOneRoundOfReadsPerAction(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	fresh := h.eligible(t, false)
	withPass := h.eligible(t, true)
	csrf := issueForm(t, b, fresh.ID)
	issue := func(id string, set map[string]string) func() page {
		return func() page {
			f := url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Counting Graph calls"}}
			for k, v := range set {
				f.Set(k, v)
			}
			return b.post("/users/"+url.PathEscape(id)+"/issue", f)
		}
	}
	var tapID string
	// The facts of a decision, read in one round: the user, their pass,
	// their groups, their active and eligible roles, their PIM for Groups
	// eligibilities, the portal's own staff (the service principal and its
	// app-role holders) and the tenant policy; the staff, the policy and
	// the role and unit names are cached, so may not be read at all. A
	// second round, one $batch, reads the roles of role-assignable groups.
	decision := map[string]int{"user": 1, "tap_get": 1, "groups": 1, "policy": 1,
		"role_assignments": 1, "role_eligibilities": 1, "pim_groups": 1, "staff": 2, "role_definitions": 1, "units": 1, "batch": 1}
	for _, tt := range []struct {
		name   string
		do     func() page
		status int
		// want are the most calls of each operation; writes must match.
		want map[string]int
		// trips are the most round trips to Graph: with the caches warm,
		// the facts of a decision travel in one $batch.
		trips int
	}{
		{"user page", func() page { return b.get("/users/" + fresh.ID) }, http.StatusOK,
			with(decision, "methods", 1), 1},
		{"issue form", func() page { return b.get("/users/" + fresh.ID + "/issue") }, http.StatusOK, decision, 1},
		// The first Global Administrator seen fills the role names' cache.
		{"issue form, refused", func() page { return b.get("/users/" + graphemu.GlobalAdminUserID + "/issue") }, http.StatusForbidden, decision, 2},
		{"issue submit, invalid", issue(fresh.ID, map[string]string{"reason": ""}), http.StatusBadRequest, decision, 1},
		{"issue submit, refused", issue(graphemu.GlobalAdminUserID, nil), http.StatusForbidden, decision, 1},
		{"issue submit, needs confirmation", issue(withPass.ID, nil), http.StatusConflict, decision, 1},
		// Then the notices the demo sends: to the user, and to security.
		{"issue submit, issued", issue(fresh.ID, nil), http.StatusOK, with(with(decision, "tap_post", 1), "send_mail", 2), 4},
		{"revoke form", func() page {
			p := b.get("/users/" + fresh.ID + "/revoke")
			tapID = regexpValue(t, p.body, "tap_id")
			return p
		}, http.StatusOK, map[string]int{"user": 1, "tap_get": 1}, 2},
		{"revoke submit", func() page {
			return b.post("/users/"+fresh.ID+"/revoke", url.Values{"csrf": {csrf}, "tap_id": {tapID}, "reason": {"Counting"}})
		}, http.StatusOK, with(decision, "tap_delete", 1), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.Demo.Graph.ResetRequests()
			p := tt.do()
			// The revoke redirects to the user page; count the POST alone.
			reqs := h.Demo.Graph.Requests()
			if tt.name == "revoke submit" {
				reqs = untilDelete(reqs)
			}
			got := graphCalls(reqs)
			if p.status != tt.status {
				t.Fatalf("status = %d, want %d", p.status, tt.status)
			}
			for op, n := range got {
				if n > tt.want[op] {
					t.Errorf("%s: %d calls, want at most %d", op, n, tt.want[op])
				}
			}
			for _, write := range []string{"tap_post", "tap_delete", "send_mail"} {
				if got[write] != tt.want[write] {
					t.Errorf("%s: %d calls, want %d", write, got[write], tt.want[write])
				}
			}
			if n := roundTrips(reqs); n > tt.trips {
				t.Errorf("%d round trips to Graph, want at most %d", n, tt.trips)
			}
			t.Logf("%s: %v, %d round trips", tt.name, got, roundTrips(reqs))
		})
	}
}

func with(m map[string]int, k string, v int) map[string]int {
	c := maps.Clone(m)
	c[k] = v
	return c
}

// untilDelete keeps the requests up to and including the pass's delete.
func untilDelete(reqs []graphemu.RequestRecord) []graphemu.RequestRecord {
	i := slices.IndexFunc(reqs, func(r graphemu.RequestRecord) bool {
		return r.Method == http.MethodDelete && strings.Contains(r.Path, "temporaryAccessPassMethods")
	})
	if i < 0 {
		return reqs
	}
	return reqs[:i+1]
}
