package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// TestBulkRuns keeps a run and its rows: states moved only from the
// expected one, rows listed by state, outcomes saved, and each sealed
// passcode taken once, even by two takers at the same moment.
func TestBulkRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
		run := portal.BulkRun{ID: "run1", OperatorID: "op-1", OperatorName: "Priya", FileName: "january.csv", Created: t0, Updated: t0,
			State: portal.RunPreview, PublicKey: []byte{1, 2, 3}}
		var rows []portal.BulkRow
		for i, st := range []portal.RowState{portal.RowEligible, portal.RowIneligible, portal.RowEligible, portal.RowEligible} {
			rows = append(rows, portal.BulkRow{RunID: run.ID, Line: i + 2, Target: "user" + string(rune('a'+i)) + "@northwind.example",
				Start: t0.Add(time.Hour), Lifetime: 60, OneTime: i%2 == 0, Reason: "First day", Ticket: "HR-1", Submission: "SUB" + string(rune('A'+i)),
				State: st, Updated: t0})
		}
		rows[1].Detail = "Holds Global Administrator."
		if err := s.CreateRun(ctx, run, rows); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRun(ctx, run, nil); err == nil {
			t.Fatal("a second run with the same id was stored")
		}
		got, err := s.Run(ctx, "run1")
		if err != nil || got.FileName != "january.csv" || got.State != portal.RunPreview || string(got.PublicKey) != "\x01\x02\x03" || !got.Created.Equal(t0) {
			t.Fatalf("Run = %+v, %v", got, err)
		}
		if _, err := s.Run(ctx, "nope"); portal.ErrorCode(err) != portal.ENotFound {
			t.Fatalf("an unknown run: %v", err)
		}
		all, err := s.Rows(ctx, "run1")
		if err != nil || len(all) != 4 || all[1].Detail != "Holds Global Administrator." || !all[0].Start.Equal(t0.Add(time.Hour)) || !all[0].OneTime || all[1].OneTime {
			t.Fatalf("Rows = %+v, %v", all, err)
		}

		ok, err := s.ConfirmRun(ctx, "run1", []byte{4, 5}, t0.Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("confirm = %v, %v", ok, err)
		}
		if ok, err := s.ConfirmRun(ctx, "run1", []byte{6}, t0); err != nil || ok {
			t.Fatalf("confirming twice = %v, %v; want refused", ok, err)
		}
		if got, _ := s.Run(ctx, "run1"); got.State != portal.RunRunning || string(got.PublicKey) != "\x04\x05" {
			t.Fatalf("confirmed run = %+v, want running with the confirming key", got)
		}
		if counts, err := s.RowCounts(ctx, "run1"); err != nil || counts[portal.RowQueued] != 3 || counts[portal.RowIneligible] != 1 || len(counts) != 2 {
			t.Fatalf("RowCounts after confirming = %v, %v; want 3 queued, 1 ineligible", counts, err)
		}
		other := portal.BulkRun{ID: "run2", OperatorID: "op-2", OperatorName: "Sam", FileName: "feb.csv", Created: t0.Add(time.Hour), Updated: t0,
			State: portal.RunPreview, PublicKey: []byte{}}
		if err := s.CreateRun(ctx, other, nil); err != nil {
			t.Fatal(err)
		}
		if mine, err := s.RecentRuns(ctx, "op-1", 10); err != nil || len(mine) != 1 || mine[0].ID != "run1" {
			t.Fatalf("RecentRuns(op-1) = %+v, %v", mine, err)
		}
		if everyone, err := s.RecentRuns(ctx, "", 10); err != nil || len(everyone) != 2 || everyone[0].ID != "run2" {
			t.Fatalf("RecentRuns(all) = %+v, %v; want both, newest first", everyone, err)
		}
		running, err := s.Runs(ctx, portal.RunRunning)
		if err != nil || len(running) != 1 || running[0].ID != "run1" {
			t.Fatalf("running runs = %+v, %v", running, err)
		}
		queued, err := s.RowsIn(ctx, "run1", portal.RowQueued, 2)
		if err != nil || len(queued) != 2 || queued[0].Line != 2 || queued[1].Line != 4 {
			t.Fatalf("the first two queued = %+v, %v", queued, err)
		}
		queued[0].State, queued[0].TargetID, queued[0].TargetName, queued[0].TAPID, queued[0].Sealed = portal.RowIssued, "id-a", "User A", "tap-a", []byte("sealed-a")
		queued[1].State, queued[1].Detail = portal.RowFailed, "Throttled."
		if err := s.SaveRows(ctx, queued); err != nil {
			t.Fatal(err)
		}
		if left, err := s.RowsIn(ctx, "run1", portal.RowQueued, 10); err != nil || len(left) != 1 || left[0].Line != 5 {
			t.Fatalf("queued after = %+v, %v", left, err)
		}

		var wg sync.WaitGroup
		taken := make([][]portal.BulkRow, 2)
		for i := range taken {
			wg.Go(func() {
				var err error
				if taken[i], err = s.TakeSealed(ctx, "run1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(taken[0]) + len(taken[1]); n != 1 {
			t.Fatalf("two takers got %d sealed passcodes, want the one once", n)
		}
		rest, err := s.TakeSealed(ctx, "run1")
		if err != nil || len(rest) != 0 {
			t.Fatalf("taking again = %+v, %v", rest, err)
		}
		if all, _ := s.Rows(ctx, "run1"); all[0].Sealed != nil || all[0].TAPID != "tap-a" || all[0].State != portal.RowIssued {
			t.Fatalf("the issued row after its passcode was taken = %+v", all[0])
		}
	})
}
