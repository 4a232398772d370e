package store_test

import (
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// TestPassWatch watches the portal's successful issues and the passes made
// elsewhere, once each, hands out those due, and sums and lists them by
// what was last seen.
func TestPassWatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		issued := func(at time.Time, target, tapID string, outcome portal.Outcome) portal.Event {
			return record(t, s, portal.Event{Time: at, Action: portal.ActionIssue, Outcome: outcome, OperatorID: "op-1", OperatorName: "Priya",
				TargetID: target, TargetUPN: target + "@northwind.example", TargetName: "User " + target[len(target)-2:], TAPID: tapID})
		}
		// Too old to watch (records go in time order).
		issued(t0.Add(-30*24*time.Hour), userE, "tap-old", portal.OutcomeSuccess)
		a := issued(t0.Add(time.Minute), userA, "tap-a", portal.OutcomeSuccess)
		issued(t0.Add(2*time.Minute), userB, "", portal.OutcomeSuccess) // no pass id: nothing to follow
		issued(t0.Add(3*time.Minute), userC, "tap-c", portal.OutcomeFailed)
		if _, err := s.SaveAudit(ctx, []portal.AuditEntry{
			entry("e-elsewhere", t0.Add(5*time.Minute), portal.PassCreated, userD, "", "a1000000-0000-4000-8000-000000000008"),
			entry("e-deleted", t0.Add(6*time.Minute), portal.PassDeleted, userD, "", "a1000000-0000-4000-8000-000000000008"),
		}, portalApp, window, skew, portal.AuditCursor{From: t0, To: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		n, err := s.WatchNew(ctx, t0.Add(-7*24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("WatchNew = %d, %v; want the issue with a pass and the pass made elsewhere", n, err)
		}
		if n, err := s.WatchNew(ctx, t0.Add(-7*24*time.Hour)); err != nil || n != 0 {
			t.Fatalf("second WatchNew = %d, %v; want 0", n, err)
		}
		due, err := s.DueWatches(ctx, t0.Add(time.Hour), 10)
		if err != nil || len(due) != 2 {
			t.Fatalf("DueWatches = %+v, %v", due, err)
		}
		var mine, elsewhere portal.WatchedPass
		for _, p := range due {
			if p.Elsewhere() {
				elsewhere = p
			} else {
				mine = p
			}
		}
		if mine.RecordID != a.ID || mine.TAPID != "tap-a" || mine.State != portal.WatchNew || !mine.Made.Equal(a.Time) {
			t.Fatalf("the issue's watch = %+v", mine)
		}
		if elsewhere.AuditID != "e-elsewhere" || elsewhere.TargetID != userD || elsewhere.TAPID != "" {
			t.Fatalf("the elsewhere watch = %+v", elsewhere)
		}

		looked := t0.Add(time.Hour)
		mine.State, mine.Use, mine.StillUsable, mine.After = portal.WatchOpen, portal.UseNotUsed, true, "Microsoft Authenticator"
		mine.Checked, mine.Next, mine.Ends = looked, looked.Add(15*time.Minute), t0.Add(2*time.Hour)
		elsewhere.State, elsewhere.Use, elsewhere.TAPID = portal.WatchGone, portal.UseNotUsed, "tap-d"
		elsewhere.Checked, elsewhere.Next, elsewhere.Detail = looked, looked.Add(15*time.Minute), "revoked"
		for _, p := range []portal.WatchedPass{mine, elsewhere} {
			if err := s.SaveWatch(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if due, err := s.DueWatches(ctx, looked.Add(time.Minute), 10); err != nil || len(due) != 0 {
			t.Fatalf("due before the next look = %+v, %v", due, err)
		}
		due, err = s.DueWatches(ctx, looked.Add(time.Hour), 10)
		if err != nil || len(due) != 1 || due[0].ID != mine.ID {
			t.Fatalf("due later = %+v, %v; want only the open pass (a gone one is done)", due, err)
		}
		if got := due[0]; got.After != mine.After || !got.StillUsable || got.Use != portal.UseNotUsed || !got.Ends.Equal(mine.Ends) || !got.Checked.Equal(looked) {
			t.Fatalf("stored look = %+v", got)
		}

		period := portal.WatchFilter{From: t0, To: t0.Add(24 * time.Hour)}
		c, err := s.WatchCounts(ctx, period)
		if err != nil || c != (portal.WatchCounts{StillUsable: 1, Unused: 1}) {
			t.Fatalf("WatchCounts = %+v, %v", c, err)
		}
		if c, err := s.WatchCounts(ctx, portal.WatchFilter{From: t0.Add(24 * time.Hour)}); err != nil || c != (portal.WatchCounts{}) {
			t.Fatalf("WatchCounts of a later period = %+v, %v", c, err)
		}
		still := period
		still.StillUsable = true
		if got, err := s.Watches(ctx, still); err != nil || len(got) != 1 || got[0].ID != mine.ID {
			t.Fatalf("still usable = %+v, %v", got, err)
		}
		unused := period
		unused.Unused = true
		if got, err := s.Watches(ctx, unused); err != nil || len(got) != 1 || got[0].ID != elsewhere.ID || got[0].Detail != "revoked" {
			t.Fatalf("unused = %+v, %v", got, err)
		}

		// One user's pass by its method id, in any case, with the sign-in
		// the look saw.
		elsewhere.TAPID, elsewhere.SignedIn, elsewhere.SignIn = "TAP-D", looked.Add(-time.Minute), "signed in"
		if err := s.SaveWatch(ctx, elsewhere); err != nil {
			t.Fatal(err)
		}
		got, err := s.Watches(ctx, portal.WatchFilter{TargetID: userD, TAPID: "Tap-D"})
		if err != nil || len(got) != 1 || got[0].ID != elsewhere.ID || !got[0].SignedIn.Equal(elsewhere.SignedIn) || got[0].SignIn != "signed in" {
			t.Fatalf("the pass tap-d of user D = %+v, %v", got, err)
		}
		if got, err := s.Watches(ctx, portal.WatchFilter{TargetID: userA, TAPID: "tap-d"}); err != nil || len(got) != 0 {
			t.Fatalf("tap-d as user A's = %+v, %v; want none", got, err)
		}

		mine.State, mine.Use, mine.StillUsable = portal.WatchUsed, portal.UseUsed, false
		if err := s.SaveWatch(ctx, mine); err != nil {
			t.Fatal(err)
		}
		if c, err := s.WatchCounts(ctx, period); err != nil || c != (portal.WatchCounts{Used: 1, Unused: 1}) {
			t.Fatalf("WatchCounts after use = %+v, %v", c, err)
		}
	})
}
