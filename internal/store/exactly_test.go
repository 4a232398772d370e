package store_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

func TestSubmissionsAreSingleUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		intent := portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1", TargetID: "u-1"}
		first, err := s.RecordIntent(t.Context(), intent, portal.IntentOptions{Submission: "sub-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordIntent(t.Context(), intent, portal.IntentOptions{Submission: "sub-1"}); code(err) != portal.EConflict {
			t.Fatalf("the same submission again = %v, want EConflict", err)
		}
		// Twenty at once: one intent, however they race.
		var wg sync.WaitGroup
		codes := make(chan string, 20)
		for range 20 {
			wg.Go(func() {
				_, err := s.RecordIntent(t.Context(), intent, portal.IntentOptions{Submission: "sub-2"})
				codes <- code(err)
			})
		}
		wg.Wait()
		close(codes)
		var got []string
		for c := range codes {
			got = append(got, c)
		}
		if n := len(slices.DeleteFunc(slices.Clone(got), func(c string) bool { return c != "" })); n != 1 {
			t.Fatalf("20 concurrent submissions of one form recorded %d intents (codes %v), want 1", n, got)
		}
		all, _ := s.List(t.Context(), portal.EventFilter{})
		if len(all) != 2 {
			t.Fatalf("%d records, want the two intents", len(all))
		}

		// The submission leads to its latest settlement.
		rec, err := s.Submission(t.Context(), "sub-1")
		if err != nil || rec.Intent.ID != first.ID || rec.Latest.ID != first.ID {
			t.Fatalf("Submission(sub-1) = %+v, %v; want the intent as its own latest", rec, err)
		}
		unknown := record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeUnknown, IntentID: first.ID})
		settled := record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, IntentID: unknown.ID, Reconciled: true})
		if rec, err := s.Submission(t.Context(), "sub-1"); err != nil || rec.Latest.ID != settled.ID {
			t.Fatalf("Submission(sub-1) latest = %d, %v; want the settlement %d", rec.Latest.ID, err, settled.ID)
		}
		if _, err := s.Submission(t.Context(), "nope"); code(err) != portal.ENotFound {
			t.Fatalf("Submission(nope) = %v, want ENotFound", err)
		}
		verifyIntact(t, s, 4)
	})
}

func TestTargetLocks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		now := time.Now()
		a := portal.TargetLock{TargetID: "u-1", Holder: "req-a", HolderName: "Priya", Since: now, Expires: now.Add(time.Minute)}
		bl := portal.TargetLock{TargetID: "u-1", Holder: "req-b", HolderName: "Marcus", Since: now, Expires: now.Add(time.Minute)}
		if _, err := s.LockTarget(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		held, err := s.LockTarget(t.Context(), bl)
		if code(err) != portal.EConflict || held.HolderName != "Priya" {
			t.Fatalf("a second holder = %+v, %v; want EConflict naming Priya", held, err)
		}
		if _, err := s.LockTarget(t.Context(), portal.TargetLock{TargetID: "u-2", Holder: "req-b", Expires: now.Add(time.Minute)}); err != nil {
			t.Fatalf("another target = %v, want its own lock", err)
		}
		if err := s.UnlockTarget(t.Context(), bl); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LockTarget(t.Context(), bl); code(err) != portal.EConflict {
			t.Fatal("someone else's unlock released the lock")
		}
		if err := s.UnlockTarget(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LockTarget(t.Context(), bl); err != nil {
			t.Fatalf("after the unlock = %v, want the lock", err)
		}
		// A lock that lapsed (its replica stopped) is taken over.
		lapsed := portal.TargetLock{TargetID: "u-3", Holder: "req-dead", Since: now.Add(-time.Hour), Expires: now.Add(-time.Minute)}
		if _, err := s.LockTarget(t.Context(), lapsed); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LockTarget(t.Context(), portal.TargetLock{TargetID: "u-3", Holder: "req-c", Expires: now.Add(time.Minute)}); err != nil {
			t.Fatalf("taking over a lapsed lock = %v", err)
		}
		// Many at once: one holder.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 20 {
			wg.Go(func() {
				_, err := s.LockTarget(t.Context(), portal.TargetLock{TargetID: "u-4", Holder: "req-" + string(rune('a'+i)), Expires: now.Add(time.Minute)})
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d of 20 concurrent requests got the lock, want 1", won)
		}
	})
}

func TestLeases(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ok, err := s.TryLease(t.Context(), "settler", "replica-a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("first lease = %v, %v", ok, err)
		}
		if ok, _ := s.TryLease(t.Context(), "settler", "replica-b", time.Minute); ok {
			t.Fatal("a second replica took a lease in force")
		}
		if ok, _ := s.TryLease(t.Context(), "settler", "replica-a", time.Minute); !ok {
			t.Fatal("the holder could not renew")
		}
		if ok, _ := s.TryLease(t.Context(), "settler", "replica-a", -time.Second); !ok {
			t.Fatal("the holder could not shorten its lease")
		}
		if ok, _ := s.TryLease(t.Context(), "settler", "replica-b", time.Minute); !ok {
			t.Fatal("a lapsed lease was not taken over")
		}
	})
}

func TestFoldAndUnsettled(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		issue := func(o portal.Outcome, intent int64) portal.Event {
			return record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: o, IntentID: intent, OperatorID: "op-1"})
		}
		done := issue(portal.OutcomePending, 0)
		issue(portal.OutcomeSuccess, done.ID)
		inFlight := issue(portal.OutcomePending, 0)
		unsure := issue(portal.OutcomePending, 0)
		unknown := issue(portal.OutcomeUnknown, unsure.ID)
		later := issue(portal.OutcomePending, 0)
		laterUnknown := issue(portal.OutcomeUnknown, later.ID)
		settled := issue(portal.OutcomeFailed, laterUnknown.ID)

		folded, err := s.List(t.Context(), portal.EventFilter{Fold: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range folded {
			ids = append(ids, e.ID)
		}
		if want := []int64{settled.ID, unknown.ID, inFlight.ID, done.ID + 1}; !slices.Equal(ids, want) {
			t.Fatalf("folded history = %v, want %v: one line per action", ids, want)
		}
		pending, _ := s.List(t.Context(), portal.EventFilter{Fold: true, Outcome: portal.OutcomePending})
		if len(pending) != 1 || pending[0].ID != inFlight.ID {
			t.Fatalf("folded pending = %+v, want the one in flight", pending)
		}
		open, err := s.Unsettled(t.Context(), time.Now().Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ids = nil
		for _, e := range open {
			ids = append(ids, e.ID)
		}
		if want := []int64{inFlight.ID, unknown.ID}; !slices.Equal(ids, want) {
			t.Fatalf("Unsettled = %v, want the intent in flight and the unknown outcome %v", ids, want)
		}
	})
}
