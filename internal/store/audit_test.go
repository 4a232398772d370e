package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
)

const (
	portalApp = "2b7e9c41-5d3f-4a86-b1e0-8c4d2f6a9b37"
	userA     = "a1000000-0000-4000-8000-0000000000a1"
	userB     = "a1000000-0000-4000-8000-0000000000b2"
	userC     = "a1000000-0000-4000-8000-0000000000c3"
	userD     = "a1000000-0000-4000-8000-0000000000d4"
	userE     = "a1000000-0000-4000-8000-0000000000e5"
)

// action records an intent at t and, unless outcome is pending, its
// outcome a second later; an unknown outcome is settled as success by a
// third record. It returns the intent.
func action(t *testing.T, s *store.Store, at time.Time, a portal.Action, target string, outcome portal.Outcome) portal.Event {
	t.Helper()
	base := portal.Event{Action: a, OperatorID: "op-1", OperatorName: "Priya", TargetID: target, TargetUPN: target + "@northwind.example"}
	intent := base
	intent.Time, intent.Outcome = at, portal.OutcomePending
	intent = record(t, s, intent)
	if outcome == portal.OutcomePending {
		return intent
	}
	out := base
	out.Time, out.Outcome, out.IntentID = at.Add(time.Second), outcome, intent.ID
	out = record(t, s, out)
	if outcome == portal.OutcomeUnknown {
		settled := base
		settled.Time, settled.Outcome, settled.IntentID, settled.Reconciled = at.Add(time.Minute), portal.OutcomeSuccess, out.ID, true
		record(t, s, settled)
	}
	return intent
}

func entry(id string, at time.Time, a portal.PassActivity, target, byApp, byUser string) portal.AuditEntry {
	return portal.AuditEntry{ID: id, Time: at, Activity: a, TargetID: target, TargetUPN: target + "@northwind.example",
		ByAppID: byApp, ByUserID: byUser, ByUserUPN: map[bool]string{true: "jamal@northwind.example"}[byUser != ""]}
}

const (
	window = 10 * time.Minute
	skew   = 2 * time.Minute
)

// TestReconcileAudit matches the audit log's entries to the portal's
// intents and flags the completed actions it does not show: matched,
// made elsewhere by a person, made with the portal's app without an
// intent, a repeated entry, an entry arriving after the flag.
func TestReconcileAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		issueA := action(t, s, t0.Add(time.Minute), portal.ActionIssue, userA, portal.OutcomeSuccess)
		issueB := action(t, s, t0.Add(2*time.Minute), portal.ActionIssue, userB, portal.OutcomeSuccess)
		action(t, s, t0.Add(3*time.Minute), portal.ActionIssue, userC, portal.OutcomeFailed)
		issueD := action(t, s, t0.Add(4*time.Minute), portal.ActionIssue, userD, portal.OutcomeUnknown)
		action(t, s, t0.Add(5*time.Minute), portal.ActionIssue, userE, portal.OutcomeRefused)
		// Records are in time order: the store never lets time go back.
		revokeA := action(t, s, t0.Add(10*time.Minute), portal.ActionRevoke, userA, portal.OutcomeSuccess)

		entries := []portal.AuditEntry{
			entry("e1", t0.Add(time.Minute+5*time.Second), portal.PassCreated, userA, portalApp, ""),
			entry("e2", t0.Add(10*time.Minute+3*time.Second), portal.PassDeleted, userA, portalApp, ""),
			entry("e3", t0.Add(20*time.Minute), portal.PassCreated, userA, "", "a1000000-0000-4000-8000-000000000008"),
			// The portal's own app, with no intent behind it: made
			// elsewhere with the portal's credential.
			entry("e4", t0.Add(30*time.Minute), portal.PassCreated, userE, portalApp, ""),
		}
		cover := portal.AuditCursor{From: t0, To: t0.Add(time.Hour)}
		saved, err := s.SaveAudit(ctx, entries, portalApp, window, skew, portal.AuditCursor{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"e1": issueA.ID, "e2": revokeA.ID, "e3": 0, "e4": 0}
		if len(saved) != len(want) {
			t.Fatalf("saved %d entries, want %d", len(saved), len(want))
		}
		for _, p := range saved {
			if p.IntentID != want[p.ID] {
				t.Errorf("entry %s matched intent %d, want %d", p.ID, p.IntentID, want[p.ID])
			}
		}
		if c, err := s.AuditCursor(ctx); err != nil || !c.To.IsZero() {
			t.Fatalf("cursor after a page before the last = %+v, %v; want unmoved", c, err)
		}
		// The next read repeats e1: stored once.
		saved, err = s.SaveAudit(ctx, entries[:1], portalApp, window, skew, cover)
		if err != nil || len(saved) != 0 {
			t.Fatalf("repeated entry: saved %d, err %v; want none", len(saved), err)
		}
		if c, err := s.AuditCursor(ctx); err != nil || !c.From.Equal(t0) || !c.To.Equal(cover.To) {
			t.Fatalf("cursor = %+v, %v; want %+v", c, err, cover)
		}

		flagged, err := s.FlagUnaudited(ctx, t0, t0.Add(time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ids := intentIDs(flagged); fmt.Sprint(ids) != fmt.Sprint([]int64{issueB.ID, issueD.ID}) {
			t.Fatalf("flagged intents %v, want %v (issued to B, and D's unknown outcome settled as success)", ids, []int64{issueB.ID, issueD.ID})
		}
		if again, err := s.FlagUnaudited(ctx, t0, t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || len(again) != 0 {
			t.Fatalf("flagging again: %d newly flagged, err %v; want none", len(again), err)
		}
		// B's entry arrives late and clears its flag.
		late := entry("e5", t0.Add(2*time.Minute+30*time.Second), portal.PassCreated, userB, portalApp, "")
		if saved, err := s.SaveAudit(ctx, []portal.AuditEntry{late}, portalApp, window, skew, cover); err != nil || len(saved) != 1 || saved[0].IntentID != issueB.ID {
			t.Fatalf("late entry: %+v, %v; want it matched to intent %d", saved, err, issueB.ID)
		}
		if left, err := s.Unaudited(ctx, 0); err != nil || fmt.Sprint(intentIDs(left)) != fmt.Sprint([]int64{issueD.ID}) {
			t.Fatalf("flagged after the late entry: %v, %v; want only %d", intentIDs(left), err, issueD.ID)
		}

		open, err := s.UncheckedPasses(ctx, 10)
		if err != nil || len(open) != 2 || open[0].ID != "e3" || open[1].ID != "e4" {
			t.Fatalf("unchecked = %+v, %v; want e3 and e4, the creations made elsewhere", open, err)
		}
		if err := s.CheckedPass(ctx, "e3", true, "holds Global Administrator", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckedPass(ctx, "e4", false, "", "Microsoft Graph is unavailable."); err != nil {
			t.Fatal(err)
		}
		if open, err := s.UncheckedPasses(ctx, 10); err != nil || len(open) != 1 || open[0].CheckDetail != "Microsoft Graph is unavailable." {
			t.Fatalf("unchecked after the checks = %+v, %v; want e4 with its reason", open, err)
		}
		prot, err := s.TenantPasses(ctx, portal.TenantPassFilter{Protected: true})
		if err != nil || len(prot) != 1 || prot[0].ID != "e3" || !prot[0].Protected() || prot[0].By() != "jamal@northwind.example" {
			t.Fatalf("protected = %+v, %v; want e3 made by jamal", prot, err)
		}
		if all, err := s.TenantPasses(ctx, portal.TenantPassFilter{}); err != nil || len(all) != 5 || all[0].ID != "e4" {
			t.Fatalf("all = %d entries (%v), newest first; want 5 with e4 first", len(all), err)
		}
		if el, err := s.TenantPasses(ctx, portal.TenantPassFilter{Elsewhere: true, TargetID: userA}); err != nil || len(el) != 1 || el[0].ID != "e3" {
			t.Fatalf("elsewhere for A = %+v, %v; want e3", el, err)
		}
		if err := s.AuditProblem(ctx, "The Graph app lacks AuditLog.Read.All.", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.AuditCursor(ctx); c.Problem == "" || !c.To.Equal(cover.To) {
			t.Fatalf("cursor with a problem = %+v; want the problem beside the last complete read", c)
		}
		if _, err := s.SaveAudit(ctx, nil, portalApp, window, skew, portal.AuditCursor{From: t0, To: t0.Add(4 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.AuditCursor(ctx); c.Problem != "" || !c.From.Equal(t0) {
			t.Fatalf("cursor after a complete read = %+v; want the problem cleared and From kept", c)
		}
		// The reconciliation wrote nothing into the chain.
		verifyIntact(t, s, 13)
	})
}

// TestReconcileAuditReplicas saves one page from two stores on one
// database at once, as two replicas whose leases overlapped would: each
// entry is stored once and each intent matched once.
func TestReconcileAuditReplicas(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		s1, s2 := openURL(t, u), openURL(t, u)
		var entries []portal.AuditEntry
		for i := range 30 {
			at := t0.Add(time.Duration(i) * time.Minute)
			target := fmt.Sprintf("a1000000-0000-4000-8000-%012d", i)
			action(t, s1, at, portal.ActionIssue, target, portal.OutcomeSuccess)
			entries = append(entries, entry(fmt.Sprintf("r%02d", i), at.Add(2*time.Second), portal.PassCreated, target, portalApp, ""))
		}
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, s := range []*store.Store{s1, s2} {
			wg.Go(func() {
				saved, err := s.SaveAudit(t.Context(), entries, portalApp, window, skew, portal.AuditCursor{From: t0, To: t0.Add(time.Hour)})
				if err != nil {
					t.Errorf("replica %d: %v", i+1, err)
				}
				counts[i] = len(saved)
			})
		}
		wg.Wait()
		if counts[0]+counts[1] != len(entries) {
			t.Fatalf("the replicas stored %d and %d entries, want %d in all", counts[0], counts[1], len(entries))
		}
		all, err := s1.TenantPasses(t.Context(), portal.TenantPassFilter{Limit: 100})
		if err != nil || len(all) != len(entries) {
			t.Fatalf("stored %d entries (%v), want %d", len(all), err, len(entries))
		}
		seen := map[int64]bool{}
		for _, p := range all {
			if p.IntentID == 0 || seen[p.IntentID] {
				t.Fatalf("entry %s matched intent %d: want each matched to its own", p.ID, p.IntentID)
			}
			seen[p.IntentID] = true
		}
	})
}

func intentIDs(us []portal.Unaudited) []int64 {
	var ids []int64
	for _, u := range us {
		ids = append(ids, u.Intent.ID)
	}
	return ids
}
