package issuance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// reconciler reads the demo tenant's audit log as the portal's app, with
// the delay given and a pace that keeps the tests quick (the throttle
// test uses the real one).
func (e *env) reconciler(delay, pace time.Duration) *issuance.Reconciler {
	return issuance.NewReconciler(e.svc, e.store, issuance.AuditOptions{AppID: e.cfg.GraphClientID, Delay: delay, Pace: pace})
}

// intent is the newest intent recorded for a target.
func (e *env) intent(t *testing.T, target string) portal.Event {
	t.Helper()
	evs, err := e.store.List(context.Background(), portal.EventFilter{TargetID: target, Outcome: portal.OutcomePending, Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatalf("the intent for %s: %v, %v", target, evs, err)
	}
	return evs[0]
}

func (e *env) auditReads() []graphemu.RequestRecord {
	var out []graphemu.RequestRecord
	for _, r := range e.demo.Graph.Requests() {
		if r.Path == "/v1.0/auditLogs/directoryAudits" {
			out = append(out, r)
		}
	}
	return out
}

// TestReconcileSeededTenant reads the demo tenant's audit log through the
// SDK: every seeded pass was made elsewhere, the one on an account that
// can become Global Administrator through PIM for Groups is protected,
// and a pass the portal issues is matched once its entry is listed.
func TestReconcileSeededTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	r := e.reconciler(time.Minute, time.Millisecond)
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Eight pass entries: seven creations and one deletion, made in the
	// admin center or by a script.
	if rep.New != 8 || rep.Elsewhere != 8 || rep.Checked != 7 || rep.Protected != 1 || rep.Unaudited != 0 {
		t.Fatalf("first run = %+v; want 8 new, all elsewhere, 7 checked, 1 protected", rep)
	}
	prot, err := e.store.TenantPasses(ctx, portal.TenantPassFilter{Protected: true})
	if err != nil || len(prot) != 1 || prot[0].TargetID != graphemu.PIMGroupMemberUserID || prot[0].ByAppName != "Northwind Helpdesk Scripts" ||
		!strings.Contains(prot[0].Privilege, "Global Administrator") {
		t.Fatalf("protected = %+v, %v; want Kofi's pass made by the scripts app, naming Global Administrator", prot, err)
	}

	if _, err := e.svc.Issue(ctx, operator, graphemu.TAPExpiredUserID, request()); err != nil {
		t.Fatal(err)
	}
	intent := e.intent(t, graphemu.TAPExpiredUserID)
	if rep, err = r.Run(ctx); err != nil || rep.New != 1 || rep.Elsewhere != 0 {
		t.Fatalf("run after an issue = %+v, %v; want its entry, matched", rep, err)
	}
	mine, err := e.store.TenantPasses(ctx, portal.TenantPassFilter{TargetID: graphemu.TAPExpiredUserID})
	if err != nil || len(mine) != 2 || mine[0].IntentID != intent.ID || mine[0].ByAppID != strings.ToLower(graphemu.DemoGraphClientID) {
		t.Fatalf("Ben's entries = %+v, %v; want the newest matched to intent %d", mine, err, intent.ID)
	}
	if rep, err = r.Run(ctx); err != nil || rep.New != 0 || rep.Checked != 0 {
		t.Fatalf("a run with nothing new = %+v, %v; want nothing stored or checked again", rep, err)
	}
}

// TestReconcileLateAndMissingEntries: an entry listed after the portal's
// delay clears the flag its absence raised; a pass whose entry never
// comes stays flagged and is logged as a security event.
func TestReconcileLateAndMissingEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const listed = 1500 * time.Millisecond
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = listed })
	r := e.reconciler(300*time.Millisecond, time.Millisecond)
	for _, id := range []string{graphemu.TAPExpiredUserID, graphemu.AuditGapUserID} {
		if _, err := e.svc.Issue(ctx, operator, id, request()); err != nil {
			t.Fatal(err)
		}
	}
	late, lost := e.intent(t, graphemu.TAPExpiredUserID), e.intent(t, graphemu.AuditGapUserID)
	time.Sleep(400 * time.Millisecond)
	rep, err := r.Run(ctx)
	if err != nil || rep.Unaudited != 2 {
		t.Fatalf("run past the delay = %+v, %v; want both passes flagged", rep, err)
	}
	time.Sleep(listed)
	if rep, err = r.Run(ctx); err != nil || rep.New != 1 || rep.Elsewhere != 0 || rep.Unaudited != 0 {
		t.Fatalf("run after the late entry = %+v, %v; want it read and matched", rep, err)
	}
	left, err := e.store.Unaudited(ctx, 0)
	if err != nil || len(left) != 1 || left[0].Intent.ID != lost.ID {
		t.Fatalf("still flagged = %+v, %v; want only the pass whose entry never came (intent %d, not %d)", left, err, lost.ID, late.ID)
	}
}

// TestReconcileHonoursTheThrottle: the reads keep to Graph's audit
// throttle, and when another reader has used it up, the reconciler waits
// as long as the 429 says and then reads.
func TestReconcileHonoursTheThrottle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.demo.Graph.Update(func(tn *graphemu.Tenant) {
		// Enough entries for three pages.
		for i := range 1100 {
			u := tn.Users[i%len(tn.Users)]
			tn.Audits = append(tn.Audits, &graphemu.AuditEntry{ID: "Directory_bulk_" + strings.Repeat("0", 4) + string(rune('a'+i%26)) + "_" + time.Duration(i).String(),
				ActivityDateTime: time.Now().Add(-time.Duration(1100-i) * time.Second), ActivityDisplayName: "Admin registered security info",
				Category: "UserManagement", LoggedByService: "Authentication Methods", OperationType: "Add", Result: "success",
				ResultReason: "Admin registered temporary access pass method for user", TargetID: u.ID, TargetUPN: u.UserPrincipalName,
				InitiatedByUserID: graphemu.SupervisorUserID, InitiatedByUserUPN: "marcus@northwind.example"})
		}
	})
	// Another reader with the same app uses the throttle up.
	for range 5 {
		if _, err := e.dir.PassAudits(ctx, time.Now().Add(-time.Minute), ""); err != nil {
			t.Fatal(err)
		}
	}
	e.demo.Graph.ResetRequests()
	rep, err := issuance.NewReconciler(e.svc, e.store, issuance.AuditOptions{AppID: e.cfg.GraphClientID}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages != 3 || rep.New < 1100 {
		t.Fatalf("run = %+v; want 3 pages and every entry", rep)
	}
	reads := e.auditReads()
	if len(reads) != 4 || reads[0].Status != 429 {
		t.Fatalf("%d reads, first %d; want one 429 (the throttle used up) and three pages", len(reads), reads[0].Status)
	}
	for i, rd := range reads[1:] {
		if rd.Status != 200 {
			t.Fatalf("read %d answered %d after the wait", i+2, rd.Status)
		}
	}
	// Graph's window is 10 s for 5 reads: the first page could come only
	// once the other reader's first read left it.
	for i := 1; i < len(reads); i++ {
		if gap := reads[i].At.Sub(reads[i-1].At); gap < 2*time.Second {
			t.Errorf("reads %d and %d were %s apart, want at least the pace (2.5 s) or the Retry-After", i, i+1, gap)
		}
	}
}
