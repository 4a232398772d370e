package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// outcomeEnv is a portal whose Graph calls give up after 3 s and whose
// settler concludes "nothing happened" after 1 s, so that every fault can
// be played out to its final record in a test.
func outcomeEnv(t *testing.T) *harness {
	return newHarness(t, map[string]string{"PORTAL_GRAPH_TIMEOUT": "3s", "PORTAL_GRAPH_SETTLE_WINDOW": "1s"})
}

// hasPass reports whether the user holds a pass in the emulated tenant.
func (h *harness) hasPass(id string) bool {
	var has bool
	h.Demo.Graph.View(func(tn *graphemu.Tenant) { has = tn.LookupUser(id).TAP != nil })
	return has
}

// writes counts the pass writes Graph received (served or not).
func (h *harness) passWrites(method string) int {
	n := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Method == method && strings.Contains(r.Path, "temporaryAccessPassMethods") {
			n++
		}
	}
	return n
}

// finalOutcome settles what can be settled, once Graph's replicas had
// time, and returns the user's newest history line.
func (h *harness) finalOutcome(t *testing.T, userID string) portal.Event {
	t.Helper()
	time.Sleep(1200 * time.Millisecond) // the settle window and the replication delay
	if _, err := h.App.Settle(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := h.App.Store.List(t.Context(), portal.EventFilter{TargetID: userID, Fold: true, Limit: 1})
	if err != nil || len(events) == 0 {
		t.Fatalf("history of %s = %v, %v", userID, events, err)
	}
	return events[0]
}

// TestFaultMatrix plays each Graph write against each fault a real Graph
// shows, and checks the three truths: how many passes the user has, what
// the history finally says, and what the operator was told.
func TestFaultMatrix(t *testing.T) {
	h := outcomeEnv(t)
	b := h.signedIn(t, "operator")
	type fault struct {
		name string
		f    graphemu.Fault
		// replicas delays reads after a write, as Graph's replicas can.
		replicas bool
	}
	faults := []fault{
		{"429 throughout", graphemu.Fault{Status: 429, RetryAfter: 60 * time.Second}, false},
		{"503 before acting", graphemu.Fault{Status: 503, Times: 1}, false},
		{"503 after acting", graphemu.Fault{Status: 503, After: true, Times: 1}, false},
		{"503 after acting, replicas behind", graphemu.Fault{Status: 503, After: true, Times: 1}, true},
		{"timeout after acting", graphemu.Fault{Latency: 5 * time.Second, After: true, Times: 1}, false},
		{"connection dropped before acting", graphemu.Fault{Drop: true, Times: 1}, false},
		{"connection dropped after acting", graphemu.Fault{Drop: true, After: true, Times: 1}, false},
	}
	// acted is whether Graph carried out the write under the fault.
	acted := func(f fault) bool { return f.f.After }
	cases, passed := 0, 0
	used := map[string]bool{}
	next := func() graphemu.User {
		u := h.EligibleUserExcept(t, used)
		used[u.ID] = true
		return u
	}
	for _, f := range faults {
		cases++
		if t.Run("create/"+f.name, func(t *testing.T) {
			u := next()
			path := "/v1.0/users/" + u.ID + "/authentication/temporaryAccessPassMethods"
			fl := f.f
			fl.Method, fl.Path = http.MethodPost, path
			remove := h.Demo.Graph.Inject(fl)
			defer remove()
			delay := time.Duration(0)
			if f.replicas {
				delay = time.Second
			}
			h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.ReplicationDelay = delay })
			defer h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.ReplicationDelay = 0 })
			csrf := issueForm(t, b, u.ID)
			p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Fault matrix"}})
			remove()

			wantSaid, wantStatus := "", 0
			switch {
			case f.f.Status == 429:
				wantStatus, wantSaid = http.StatusTooManyRequests, "asked the portal to wait 60 s"
			case acted(f) && !f.replicas:
				wantStatus, wantSaid = http.StatusServiceUnavailable, "passcode cannot be shown"
			default:
				wantStatus, wantSaid = http.StatusServiceUnavailable, "did not say whether it created the pass"
			}
			if p.status != wantStatus || !strings.Contains(p.body, wantSaid) || passcodeRE.MatchString(p.body) {
				t.Errorf("the operator saw %d without %q (or a passcode)", p.status, wantSaid)
			}
			if has := h.hasPass(u.ID); has != acted(f) {
				t.Errorf("the user has a pass: %v, want %v", has, acted(f))
			}
			// A write is never sent twice on a fault after which Graph may
			// have acted; a 429 is retried while Graph's wait fits.
			// (A connection dropped before acting leaves no trace at Graph.)
			if n := h.requestsTo(http.MethodPost, path); f.f.Status != 429 && n != 1 && !(f.f.Drop && !f.f.After) {
				t.Errorf("Graph received %d creates for the user, want 1", n)
			}
			final := h.finalOutcome(t, u.ID)
			want := portal.OutcomeFailed
			if acted(f) {
				want = portal.OutcomeSuccess
			}
			if final.Outcome != want {
				t.Errorf("the history finally says %s (%s), want %s", final.Outcome, final.Detail, want)
			}
			t.Logf("create, %s: operator saw %d; pass %v; history %s", f.name, p.status, h.hasPass(u.ID), final.Outcome)
		}) {
			passed++
		}
	}
	for _, f := range faults {
		cases++
		if t.Run("delete/"+f.name, func(t *testing.T) {
			u := next()
			// A pass to revoke, issued before the fault.
			csrf := issueForm(t, b, u.ID)
			if p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"To revoke"}}); p.status != http.StatusOK {
				t.Fatalf("issuing the pass to revoke = %d", p.status)
			}
			form := b.get("/users/" + u.ID + "/revoke")
			tapID := regexpValue(t, form.body, "tap_id")
			fl := f.f
			fl.Method, fl.Path = http.MethodDelete, "/v1.0/users/"+u.ID+"/authentication/temporaryAccessPassMethods/*"
			remove := h.Demo.Graph.Inject(fl)
			defer remove()
			delay := time.Duration(0)
			if f.replicas {
				delay = time.Second
			}
			h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.ReplicationDelay = delay })
			defer h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.ReplicationDelay = 0 })
			p := b.post("/users/"+u.ID+"/revoke", url.Values{"csrf": {csrfOf(t, form)}, "tap_id": {tapID}, "reason": {"Fault matrix"}})
			remove()

			wantSaid, wantStatus := "", 0
			switch {
			case f.f.Status == 429:
				wantStatus, wantSaid = http.StatusTooManyRequests, "asked the portal to wait 60 s"
			case acted(f) && !f.replicas:
				wantStatus, wantSaid = http.StatusOK, "was revoked"
			default:
				wantStatus, wantSaid = http.StatusServiceUnavailable, "did not say whether it revoked the pass"
			}
			if p.status != wantStatus || !strings.Contains(p.body, wantSaid) {
				t.Errorf("the operator saw %d without %q", p.status, wantSaid)
			}
			if has := h.hasPass(u.ID); has == acted(f) {
				t.Errorf("the user has a pass: %v, want %v", has, !acted(f))
			}
			final := h.finalOutcome(t, u.ID)
			want := portal.OutcomeFailed
			if acted(f) {
				want = portal.OutcomeSuccess
			}
			if final.Action != portal.ActionRevoke || final.Outcome != want {
				t.Errorf("the history finally says %s %s (%s), want revoke %s", final.Action, final.Outcome, final.Detail, want)
			}
			t.Logf("delete, %s: operator saw %d; pass %v; history %s", f.name, p.status, h.hasPass(u.ID), final.Outcome)
		}) {
			passed++
		}
	}
	if passed != cases {
		t.Fatalf("fault matrix: %d of %d cases as required", passed, cases)
	}
	fmt.Printf("fault matrix: %d cases (create and delete x %d faults), each with the passes, the final record and the operator's message as required\n",
		cases, len(faults))
}

// requestsTo counts the requests Graph received for method and path.
func (h *harness) requestsTo(method, path string) int {
	n := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// EligibleUserExcept is an eligible user without a pass, not in used.
func (h *harness) EligibleUserExcept(t *testing.T, used map[string]bool) graphemu.User {
	t.Helper()
	var except []string
	for id := range used {
		except = append(except, id)
	}
	return h.EligibleUser(t, demotest.Want{Except: except})
}

func TestOneSubmissionOnePass(t *testing.T) {
	h := outcomeEnv(t)
	b := h.signedIn(t, "operator")
	creates := func() int { return h.passWrites(http.MethodPost) }

	t.Run("the same form twice", func(t *testing.T) {
		u := h.eligible(t, false)
		form := url.Values{"csrf": {issueForm(t, b, u.ID)}, "submission": {issuance.NewSubmission()}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Double click"}}
		before := creates()
		first := b.post("/users/"+u.ID+"/issue", form)
		again := b.post("/users/"+u.ID+"/issue", form)
		if first.status != http.StatusOK || !passcodeRE.MatchString(first.body) {
			t.Fatalf("first submit = %d", first.status)
		}
		if again.status != http.StatusConflict || !strings.Contains(again.body, "already handled") ||
			!strings.Contains(again.body, "its passcode was shown once") || passcodeRE.MatchString(again.body) {
			t.Fatalf("the same form again = %d, want 409 saying it was handled and the passcode shown once", again.status)
		}
		if n := creates() - before; n != 1 {
			t.Fatalf("%d creates reached Graph, want 1", n)
		}
	})

	t.Run("twenty at once", func(t *testing.T) {
		used := map[string]bool{}
		for _, sameForm := range []bool{true, false} {
			u := h.EligibleUserExcept(t, used)
			used[u.ID] = true
			remove := h.Demo.Graph.Inject(graphemu.Fault{Method: http.MethodPost, Path: "/v1.0/users/*/authentication/temporaryAccessPassMethods", Latency: 300 * time.Millisecond})
			csrf := issueForm(t, b, u.ID)
			shared := issuance.NewSubmission()
			before := creates()
			var wg sync.WaitGroup
			pages := make([]page, 20)
			for i := range pages {
				wg.Go(func() {
					f := url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Twenty tabs"}}
					if sameForm {
						f.Set("submission", shared)
					}
					pages[i] = b.post("/users/"+u.ID+"/issue", f)
				})
			}
			wg.Wait()
			remove()
			codes := 0
			for _, p := range pages {
				if passcodeRE.MatchString(p.body) {
					codes++
				}
			}
			if n := creates() - before; n != 1 || codes != 1 {
				t.Fatalf("20 parallel submits (same form: %v): %d creates reached Graph and %d pages showed a passcode, want 1 and 1", sameForm, n, codes)
			}
		}
	})

	t.Run("two replicas racing", func(t *testing.T) {
		other := h.sibling(t)
		bb := other.via(h.signedIn(t, "operator"))
		u := h.eligible(t, false)
		remove := h.Demo.Graph.Inject(graphemu.Fault{Method: http.MethodPost, Path: "/v1.0/users/*/authentication/temporaryAccessPassMethods", Latency: 300 * time.Millisecond})
		defer remove()
		ca, cb := issueForm(t, b, u.ID), issueForm(t, bb, u.ID)
		before := creates()
		var wg sync.WaitGroup
		for _, x := range []struct {
			br   *browser
			csrf string
		}{{b, ca}, {bb, cb}} {
			wg.Go(func() {
				x.br.post("/users/"+u.ID+"/issue", url.Values{"csrf": {x.csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Race"}})
			})
		}
		wg.Wait()
		if n := creates() - before; n != 1 {
			t.Fatalf("two replicas issued %d passes to one user, want 1", n)
		}
	})
}

func TestStaleFormRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	csrf := issueForm(t, b, u.ID)
	p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {csrf}, "submission": {"not-a-submission"}, "start": {"now"}, "lifetime": {"60"}, "reason": {"x"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "out of date") || h.passWrites(http.MethodPost) != 0 {
		t.Fatalf("a form with a forged submission id = %d, want 400 and nothing sent to Graph", p.status)
	}
}

func TestRevokedTokenHeals(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	if p := b.get("/users/" + u.ID); p.status != http.StatusOK {
		t.Fatalf("user page = %d", p.status)
	}
	if n := h.Demo.Graph.RevokeTokens(graphemu.DemoGraphClientID); n == 0 {
		t.Fatal("no token to revoke")
	}
	if p := b.get("/users/" + u.ID); p.status != http.StatusOK {
		t.Fatalf("user page after the token was revoked = %d, want 200 with a new token", p.status)
	}
	refused := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Status == http.StatusUnauthorized {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("Graph never refused the revoked token: the test proved nothing")
	}
	p := b.get("/readyz")
	if p.status != http.StatusOK || !strings.Contains(p.body, `"graph_token":"ok"`) {
		t.Fatalf("/readyz after healing = %d %s", p.status, p.body)
	}
}

// TestRetryAfterBeyondTheBudget: Graph asks for longer than the call may
// take; the portal says when to come back at once, instead of waiting out
// its deadline.
func TestRetryAfterBeyondTheBudget(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	remove := h.Demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/users/" + u.ID, Status: 429, RetryAfter: 60 * time.Second})
	defer remove()
	p := b.get("/users/" + u.ID)
	if n := h.requestsTo(http.MethodGet, "/v1.0/users/"+u.ID); n != 1 {
		t.Errorf("Graph received %d reads of the user, want 1: a wait of 60 s does not fit the call's budget", n)
	}
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "wait 60 s") || !strings.Contains(p.body, "Try again at") {
		t.Fatalf("page = %d, want 429 saying how long and until when", p.status)
	}
}
