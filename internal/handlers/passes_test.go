package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
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
	for _, want := range []string{`tap_portal_passes_made_elsewhere_total{protected="true"} 1`, `tap_portal_passes_made_elsewhere_total{protected="false"} 5`,
		"tap_portal_actions_unaudited_total 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
