package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// TestTenantPassesPage: after a read of the demo tenant's audit log, a
// supervisor sees the passes made elsewhere (the protected account's
// flagged), the portal's own pass linked to its record, and the pass
// whose entry never came; an operator is kept out, and a bad choice is
// named.
func TestTenantPassesPage(t *testing.T) {
	var offset atomic.Int64
	h := &harness{demotest.Start(t, demotest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})}
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	sup := h.signedIn(t, "supervisor")
	if p := sup.get("/history/passes"); p.status != http.StatusOK || !strings.Contains(p.body, "has not been read yet") {
		t.Fatalf("before any read: %d, want the page saying the log is not read yet:\n%s", p.status, p.body)
	}

	ctx := context.Background()
	op := portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}
	for _, id := range []string{graphemu.TAPExpiredUserID, graphemu.AuditGapUserID} {
		if _, err := h.App.Service.Issue(ctx, op, id, issuance.IssueRequest{LifetimeMinutes: 60, Reason: "New phone", Submission: issuance.NewSubmission()}); err != nil {
			t.Fatalf("issuing to %s: %v", id, err)
		}
	}
	// Past the demo's delay: the gap user's pass should be in the log by now.
	offset.Store(int64(config.DevDirectoryAuditDelay + time.Minute))
	if rep, ran, err := h.App.Reconcile(ctx); err != nil || !ran || rep.Protected != 1 || rep.Unaudited != 1 {
		t.Fatalf("Reconcile = %+v, ran %v, %v; want one protected account and one pass missing from the log", rep, ran, err)
	}
	evs, err := h.App.Store.List(ctx, portal.EventFilter{TargetID: graphemu.TAPExpiredUserID, Outcome: portal.OutcomePending})
	if err != nil || len(evs) != 1 {
		t.Fatalf("Ben's intent: %v, %v", evs, err)
	}

	p := sup.get("/history/passes")
	for _, want := range []string{"Audit log read from", "Kofi Boateng", "Protected account", "Global Administrator", "Northwind Helpdesk Scripts",
		"Made elsewhere", `href="/history/` + strconv.FormatInt(evs[0].ID, 10) + `"`, "Not in the audit log", "nadia.gap@northwind.example", "an app", "a person"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	prot := sup.get("/history/passes?show=protected")
	if prot.status != http.StatusOK || !strings.Contains(prot.body, "Kofi Boateng") || strings.Contains(prot.body, "Tomás Herrera") {
		t.Errorf("show=protected: %d, want Kofi's pass only", prot.status)
	}
	if bad := sup.get("/history/passes?show=everything"); bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "show must be all, elsewhere or protected") {
		t.Errorf("show=everything: %d, want 400 naming the choices", bad.status)
	}
	if p := h.signedIn(t, "operator").get("/history/passes"); p.status != http.StatusForbidden {
		t.Errorf("an operator got %d, want 403", p.status)
	}
	if n := strings.Count(h.Logs.String(), "a pass was made outside the portal for a protected account"); n != 1 {
		t.Errorf("the security event was logged %d times, want once", n)
	}
	metrics := sup.get("/metrics").body
	for _, want := range []string{`tap_portal_passes_made_elsewhere_total{protected="true"} 1`, `tap_portal_passes_made_elsewhere_total{protected="false"} 6`,
		"tap_portal_actions_unaudited_total 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestFollowUpOnUserPage reads the demo's passes in each follow-up state
// through the user page.
func TestFollowUpOnUserPage(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	for _, tt := range []struct {
		name, id string
		want     []string
		not      []string
	}{
		{"one-time, used, then Authenticator registered", graphemu.TAPUsedUserID,
			[]string{"Graph marks the one-time pass as used.", "Microsoft Authenticator"}, []string{`id="still-usable"`}},
		{"reusable, still usable after Authenticator was registered", graphemu.StillUsableUserID,
			[]string{"Graph does not say whether a reusable pass was used.", `id="still-usable"`, "registered Microsoft Authenticator since"}, nil},
		{"one-time, not started", graphemu.TAPNotYetValidUserID, []string{"The pass has not started yet.", "Nothing with a known time."}, []string{`id="still-usable"`}},
		{"reusable, nothing registered", graphemu.TAPUsableUserID, []string{"Graph does not say whether a reusable pass was used.", "Nothing with a known time."},
			[]string{`id="still-usable"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := op.get("/users/" + tt.id)
			if p.status != http.StatusOK || !strings.Contains(p.body, `id="followup"`) {
				t.Fatalf("user page: %d, no follow-up", p.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(p.body, w) {
					t.Errorf("the page shows %q", w)
				}
			}
		})
	}
}

// TestSignInOnUserPage: the user page shows the sign-in activity the
// portal's last look at the pass saw, with when it looked, and reads none
// from Graph itself.
func TestSignInOnUserPage(t *testing.T) {
	h := newHarness(t, nil)
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	op := h.signedIn(t, "operator")
	if p := op.get("/users/" + graphemu.StillUsableUserID); strings.Contains(p.body, `id="followup-sign-in"`) {
		t.Fatal("the user page shows sign-in activity before the portal looked at the pass")
	}
	if _, _, err := h.App.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Demo.Graph.ResetRequests()
	p := op.get("/users/" + graphemu.StillUsableUserID)
	for _, want := range []string{`id="followup-sign-in"`, "Signed in <time", "while the pass worked", "As of the portal's look"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("Grace's page lacks %q", want)
		}
	}
	for _, r := range h.Demo.Graph.Requests() {
		if strings.Contains(r.Query, "signInActivity") {
			t.Fatalf("the user page read sign-in activity from Graph: %s?%s", r.Path, r.Query)
		}
	}
	// A one-time pass: Graph says whether it was used, so no sign-in.
	if p := op.get("/users/" + graphemu.EndingUnusedUserID); strings.Contains(p.body, `id="followup-sign-in"`) {
		t.Error("the page of a one-time pass shows sign-in activity")
	}
}

// TestFollowUpOnRecord: an issue's record says what became of its pass,
// while it is the user's, once it is gone, and when Graph cannot say.
func TestFollowUpOnRecord(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	op := portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}
	if _, err := h.App.Service.Issue(ctx, op, graphemu.TAPExpiredUserID, issuance.IssueRequest{LifetimeMinutes: 60, Reason: "New phone", Submission: issuance.NewSubmission()}); err != nil {
		t.Fatal(err)
	}
	evs, err := h.App.Store.List(ctx, portal.EventFilter{TargetID: graphemu.TAPExpiredUserID, Outcome: portal.OutcomeSuccess})
	if err != nil || len(evs) != 1 {
		t.Fatalf("the issue's record: %v, %v", evs, err)
	}
	record := "/history/" + strconv.FormatInt(evs[0].ID, 10)
	sup := h.signedIn(t, "supervisor")
	check := func(want ...string) {
		t.Helper()
		p := sup.get(record)
		for _, w := range want {
			if !strings.Contains(p.body, w) {
				t.Errorf("the record page (%d) lacks %q", p.status, w)
			}
		}
	}
	check("What became of the pass", "It is still the user's pass.", "Graph does not say whether a reusable pass was used.",
		"Sign-in activity", "Graph holds no sign-in for the user.")
	// Ben signs in with the reusable pass: Graph's sign-in activity shows
	// a sign-in while it worked, but not the method.
	if err := h.Demo.Graph.SignInWithTAP(graphemu.TAPExpiredUserID); err != nil {
		t.Fatal(err)
	}
	check(`id="followup-sign-in"`, "Signed in <time", "The user last signed in while the pass worked; Graph does not say with which method.")
	remove := h.Demo.Graph.Inject(graphemu.Fault{Method: "POST", Path: "/v1.0/$batch", Status: 503})
	check("What became of the pass", "Not known:")
	remove()
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.LookupUser(graphemu.TAPExpiredUserID).TAP = nil })
	check("It is no longer the user's pass", "Graph no longer says whether it was used.")
}

// TestDashboardTotals: the dashboard counts the period's actions by how
// they ended and the passes made elsewhere, and reviews each operator.
func TestDashboardTotals(t *testing.T) {
	h := newHarness(t, nil)
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	op := h.signedIn(t, "operator")
	issueAs(t, op, graphemu.TAPExpiredUserID, "First", nil)
	issueAs(t, op, graphemu.NoRoleUserID, "Second", nil)
	op.post("/users/"+graphemu.GlobalAdminUserID+"/issue", url.Values{"csrf": {csrfOf(t, op.get("/search"))}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Admin asked"}})
	form := op.get("/users/" + graphemu.NoRoleUserID + "/revoke")
	if p := op.post("/users/"+graphemu.NoRoleUserID+"/revoke", url.Values{"csrf": {csrfOf(t, form)}, "tap_id": {regexpValue(t, form.body, "tap_id")}, "reason": {"Done"}}); p.status != http.StatusOK {
		t.Fatalf("revoke = %d", p.status)
	}
	if _, _, err := h.App.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := h.signedIn(t, "supervisor").get("/history/dashboard")
	for id, want := range map[string]string{"total-issued": "2", "total-revoked": "1", "total-refused": "1", "total-failed": "0",
		"total-unknown": "0", "total-elsewhere": "7", "total-protected": "1",
		// The follow-up: the seven passes made elsewhere and the two issued
		// here, one of them revoked (reusable, so its use is not known).
		"follow-still-usable": "1", "follow-waiting": "5", "follow-used": "1", "follow-unused": "0", "follow-unknown": "0"} {
		if got := elementText(p.body, id); got != want {
			t.Errorf("%s = %q, want %s", id, got, want)
		}
	}
	for _, want := range []string{"Revocations and passes made elsewhere per day", `id="operator-review"`, "Priya Natarajan", "33%",
		`>This month<`, "See the passes made elsewhere for protected accounts"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	// Grace's pass, made in the admin center, still works after she set
	// up Authenticator: the dashboard lists it with a link to her page.
	still := p.body[strings.Index(p.body, `id="follow-still-usable-list"`):]
	still = still[:strings.Index(still, "</table>")]
	for _, want := range []string{"Grace Thompson", "/users/" + graphemu.StillUsableUserID, "Made elsewhere", "Microsoft Authenticator",
		`title="The user last signed in while the pass worked; Graph does not say with which method."`} {
		if !strings.Contains(still, want) {
			t.Errorf("the still-usable passes lack %q:\n%s", want, still)
		}
	}
	if strings.Contains(p.body, `id="follow-unused-list"`) {
		t.Error("the dashboard lists unused passes when none ended unused")
	}
}

// elementText is the text inside the element with the id, trimmed.
func elementText(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	start := strings.Index(rest, ">") + 1
	end := strings.Index(rest, "<")
	if end < start {
		end = strings.Index(rest[start:], "<") + start
	}
	return strings.TrimSpace(rest[start:end])
}

// TestReconcileTwoReplicas: two replicas on one database read the audit
// log at the same moment; the lease lets one read, and each entry is
// stored once whichever read it.
func TestReconcileTwoReplicas(t *testing.T) {
	h := newHarness(t, nil)
	other := h.sibling(t)
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	ctx := context.Background()
	ran := make([]bool, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range []*harness{h, other} {
		wg.Go(func() { _, ran[i], errs[i] = p.App.Reconcile(ctx) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || ran[0] == ran[1] {
		t.Fatalf("replicas ran %v with errors %v; want exactly one to read", ran, errs)
	}
	// The lease's holder reads again; the other still may not.
	for i, p := range []*harness{h, other} {
		if _, ok, err := p.App.Reconcile(ctx); err != nil || ok != ran[i] {
			t.Fatalf("replica %d read again: %v, %v; want %v", i+1, ok, err, ran[i])
		}
	}
	passes, err := h.App.Store.TenantPasses(ctx, portal.TenantPassFilter{Limit: 100})
	if err != nil || len(passes) != 8 {
		t.Fatalf("stored %d entries (%v), want the 8 seeded pass entries once", len(passes), err)
	}
	seen := map[string]bool{}
	for _, p := range passes {
		if seen[p.ID] {
			t.Fatalf("entry %s stored twice", p.ID)
		}
		seen[p.ID] = true
	}
}
