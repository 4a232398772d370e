package bulk_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/bulk"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// cohort is n users the demo portal will issue to, with no pass.
// ownRunner is a portal whose own runner is off (PORTAL_BULK_MAX_ROWS=0),
// so that only the test's runners work its runs.
var ownRunner = demotest.Options{Env: map[string]string{"PORTAL_BULK_MAX_ROWS": "0"}}

func cohort(t *testing.T, p *demotest.Portal, n int) []string {
	t.Helper()
	rails := demotest.Rails{ProtectedGroupIDs: p.Config.ProtectedGroupIDs, EligibleGroupIDs: p.Config.EligibleGroupIDs}
	var ids []string
	p.Demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if len(ids) < n && u.TAP == nil && demotest.Eligible(tn, u, rails, p.Demo.Graph.Clock().Now()) {
				ids = append(ids, u.ID)
			}
		}
	})
	if len(ids) < n {
		t.Fatalf("the demo tenant has %d eligible users without a pass, want %d", len(ids), n)
	}
	return ids
}

// confirmed stores a running run of targets, every row queued, and
// returns it with its private key.
func confirmed(t *testing.T, p *demotest.Portal, id string, targets []string) (portal.BulkRun, []byte) {
	return confirmedRun(t, p, id, targets)
}

func confirmedRun(t testing.TB, p *demotest.Portal, id string, targets []string) (portal.BulkRun, []byte) {
	t.Helper()
	public, private, err := bulk.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	now := p.Demo.Graph.Clock().Now()
	run := portal.BulkRun{ID: id, OperatorID: graphemu.OperatorUserID, OperatorName: "Priya Natarajan", FileName: id + ".csv",
		Created: now, Updated: now, State: portal.RunRunning, PublicKey: public}
	rows := make([]portal.BulkRow, len(targets))
	for i, target := range targets {
		rows[i] = portal.BulkRow{RunID: id, Line: i + 2, Target: target, Lifetime: 60, OneTime: true, Reason: "First day", Ticket: "HR-7",
			Submission: issuance.NewSubmission(), State: portal.RowQueued, Updated: now}
	}
	if err := p.App.Store.CreateRun(context.Background(), run, rows); err != nil {
		t.Fatal(err)
	}
	return run, private
}

func creates(p *demotest.Portal) int {
	n := 0
	for _, r := range p.Demo.Graph.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
			n++
		}
	}
	return n
}

// TestRunner issues a run through the real service, SDK and emulator:
// eligible rows issued once each with their passcodes sealed, a protected
// account and a user holding a pass refused, every passcode opened with
// the run's private key once, and the run done.
func TestRunner(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	targets := append(cohort(t, p, 23), graphemu.GlobalAdminUserID, graphemu.TAPUsableUserID)
	run, private := confirmed(t, p, "run1", targets)
	p.Demo.Graph.ResetRequests()
	r := bulk.NewRunner(p.App.Service, p.App.Store, p.App.Store, "replica-1", bulk.RunnerOptions{Parallel: 2})
	n, err := r.Step(ctx)
	if err != nil || n != len(targets) {
		t.Fatalf("Step = %d, %v; want %d rows done", n, err, len(targets))
	}
	if got, err := p.App.Store.Run(ctx, run.ID); err != nil || got.State != portal.RunDone {
		t.Fatalf("the run = %+v, %v; want done", got, err)
	}
	rows, err := p.App.Store.Rows(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range rows {
		want := portal.RowIssued
		if i >= 23 {
			want = portal.RowRefused
		}
		if w.State != want || (want == portal.RowIssued) != (w.Sealed != nil && w.TAPID != "") || w.TargetName == "" {
			t.Errorf("row %d (%s) = %s %q, sealed %v; want %s", w.Line, w.TargetName, w.State, w.Detail, w.Sealed != nil, want)
		}
	}
	if n := creates(p); n != 23 {
		t.Fatalf("%d creates, want one per eligible row", n)
	}
	sealed, err := p.App.Store.TakeSealed(ctx, run.ID)
	if err != nil || len(sealed) != 23 {
		t.Fatalf("TakeSealed = %d, %v", len(sealed), err)
	}
	seen := map[string]bool{}
	for _, w := range sealed {
		code, err := bulk.Open(private, run.ID, w.Line, w.Sealed)
		if err != nil || code == "" || seen[code] {
			t.Fatalf("row %d's passcode: %q, %v", w.Line, code, err)
		}
		seen[code] = true
	}
	if again, _ := p.App.Store.TakeSealed(ctx, run.ID); len(again) != 0 {
		t.Fatalf("the passcodes were taken twice")
	}
	evs, err := p.App.Store.List(ctx, portal.EventFilter{Outcome: portal.OutcomeSuccess, Limit: 100})
	if err != nil || len(evs) != 23 {
		t.Fatalf("%d issue records (%v), want one per issued row", len(evs), err)
	}
}

// TestRunnerResumes: a replica stopped after Graph issued some rows but
// before it stored them; another replica resumes the run and issues every
// row exactly once, saying which passcodes were lost.
func TestRunnerResumes(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	targets := cohort(t, p, 20)
	run, _ := confirmed(t, p, "run2", targets)
	rows, _ := p.App.Store.Rows(ctx, run.ID)
	// The first replica issued three rows, then stopped.
	var issues []issuance.BatchIssue
	for _, w := range rows[:3] {
		issues = append(issues, issuance.BatchIssue{Target: w.Target, Req: issuance.IssueRequest{LifetimeMinutes: w.Lifetime, OneTime: w.OneTime,
			Reason: w.Reason, Submission: w.Submission}})
	}
	for _, got := range p.App.Service.IssueBatch(ctx, portal.Operator{ID: run.OperatorID, Name: run.OperatorName}, issues, portal.Limit{}) {
		if got.Err != nil {
			t.Fatal(got.Err)
		}
	}
	other := p.Replica(t)
	n, err := bulk.NewRunner(other.App.Service, other.App.Store, other.App.Store, "replica-2", bulk.RunnerOptions{}).Step(ctx)
	if err != nil || n != 20 {
		t.Fatalf("the second replica's Step = %d, %v", n, err)
	}
	if c := creates(p); c != 20 {
		t.Fatalf("%d creates for 20 rows, want each once", c)
	}
	rows, _ = p.App.Store.Rows(ctx, run.ID)
	for i, w := range rows {
		if w.State != portal.RowIssued || (i < 3) != (w.Sealed == nil) {
			t.Errorf("row %d = %s, sealed %v, %q", w.Line, w.State, w.Sealed != nil, w.Detail)
		}
	}
	if d := rows[0].Detail; d == "" {
		t.Error("a row issued before the resume does not say its passcode was lost")
	}
}

// TestRunnerCancelled: a cancelled run's queued rows are never sent.
func TestRunnerCancelled(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	run, _ := confirmed(t, p, "run3", cohort(t, p, 5))
	if ok, err := bulk.Cancel(ctx, p.App.Store, run.ID, "Cancelled by Priya", run.Created); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := bulk.Cancel(ctx, p.App.Store, run.ID, "again", run.Created); err != nil || ok {
		t.Fatalf("cancelling twice = %v, %v", ok, err)
	}
	p.Demo.Graph.ResetRequests()
	// Listed no longer as running, the run is not worked at all.
	if n, err := bulk.NewRunner(p.App.Service, p.App.Store, p.App.Store, "r", bulk.RunnerOptions{}).Step(ctx); err != nil || n != 0 {
		t.Fatalf("Step = %d, %v", n, err)
	}
	if c := creates(p); c != 0 {
		t.Fatalf("%d creates for a cancelled run", c)
	}
	rows, _ := p.App.Store.Rows(ctx, run.ID)
	for _, w := range rows {
		if w.State != portal.RowCancelled {
			t.Errorf("row %d = %s, want cancelled", w.Line, w.State)
		}
	}
}

// TestRunnerKeepsLease: a batch that waits on Graph longer than the lease
// lasts keeps the run's lease, so no other replica takes the run and sends
// its rows again.
func TestRunnerKeepsLease(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	run, _ := confirmed(t, p, "run4", cohort(t, p, 3))
	defer p.Demo.Graph.Inject(graphemu.Fault{Method: "POST", Path: "/v1.0/$batch", Latency: 1500 * time.Millisecond})()
	r := bulk.NewRunner(p.App.Service, p.App.Store, p.App.Store, "replica-1", bulk.RunnerOptions{LeaseTTL: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := r.Step(ctx); done <- err }()
	time.Sleep(900 * time.Millisecond)
	if ok, err := p.App.Store.TryLease(ctx, "bulk:"+run.ID, "replica-2", time.Minute); err != nil || ok {
		t.Fatalf("another replica took the run's lease while its batch was in flight: %v, %v", ok, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := creates(p); c != 3 {
		t.Fatalf("%d creates, want 3", c)
	}
}

// TestRunnerHonoursThrottle: with Graph's write limit at three creates,
// the rest of the batch is throttled item by item, sent again after its
// Retry-After, and issued once; the bulk limit refuses the rows beyond it.
func TestRunnerHonoursThrottle(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	p.Demo.Graph.Update(func(tn *graphemu.Tenant) { tn.WriteLimit, tn.WriteWindow = 3, 2*time.Second })
	targets := cohort(t, p, 7)
	run, _ := confirmed(t, p, "run-throttled", targets)
	p.Demo.Graph.ResetRequests()
	limit := portal.Limit{Max: 6, Window: time.Hour}
	n, err := bulk.NewRunner(p.App.Service, p.App.Store, p.App.Store, "replica-1", bulk.RunnerOptions{Limit: limit}).Step(ctx)
	if err != nil || n != 7 {
		t.Fatalf("Step = %d, %v", n, err)
	}
	rows, _ := p.App.Store.Rows(ctx, run.ID)
	states := map[portal.RowState]int{}
	for _, w := range rows {
		states[w.State]++
		if w.State == portal.RowRefused && !strings.Contains(w.Detail, "in bulk runs") {
			t.Errorf("row %d refused with %q, want the bulk limit named", w.Line, w.Detail)
		}
	}
	if states[portal.RowIssued] != 6 || states[portal.RowRefused] != 1 {
		t.Fatalf("row states %v, want 6 issued and 1 refused by the bulk limit", states)
	}
	made, throttled := 0, 0
	for _, r := range p.Demo.Graph.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
			switch r.Status {
			case http.StatusCreated:
				made++
			case http.StatusTooManyRequests:
				throttled++
			}
		}
	}
	if made != 6 || throttled == 0 {
		t.Fatalf("%d passes made (%d creates throttled), want each of the 6 rows made once after throttling", made, throttled)
	}
}
