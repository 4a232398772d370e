package issuance_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// eligibles returns n seeded users the portal would give a pass to,
// holding none.
func (e *env) eligibles(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	e.demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if len(ids) < n && u.TAP == nil && demotest.Eligible(tn, u, demotest.Rails{}, e.demo.Graph.Clock().Now()) {
				ids = append(ids, u.ID)
			}
		}
	})
	if len(ids) < n {
		t.Fatalf("%d eligible users, want %d", len(ids), n)
	}
	return ids
}

// TestIssueBatch issues through one $batch: eligible rows issued with
// their passcodes, a protected account refused and recorded as such, a row
// Graph throttles for good failed with the reason, a row whose create
// failed with 500 settled rather than guessed, and every row recorded as
// its own intent and outcome; sent again, nothing is issued twice.
func TestIssueBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	svc := issuance.New(e.dir, e.history, issuance.Options{Logger: slog.New(slog.DiscardHandler), SettleWindow: time.Millisecond, ThrottleRetries: 1})
	ids := e.eligibles(t, 4)
	targets := append(ids, graphemu.GlobalAdminUserID)
	issues := make([]issuance.BatchIssue, len(targets))
	for i, id := range targets {
		issues[i] = issuance.BatchIssue{Target: id, Req: request()}
	}
	createPath := func(id string) string { return "/v1.0/users/" + id + "/authentication/temporaryAccessPassMethods" }
	// ids[2] is throttled on every try; ids[3]'s create fails with 500.
	defer e.demo.Graph.Inject(graphemu.Fault{Method: "POST", Path: createPath(ids[2]), Status: 429, RetryAfter: time.Second})()
	defer e.demo.Graph.Inject(graphemu.Fault{Method: "POST", Path: createPath(ids[3]), Status: 500})()
	e.demo.Graph.ResetRequests()

	got := svc.IssueBatch(ctx, operator, issues, portal.Limit{})
	for i := range 2 {
		if got[i].Err != nil || got[i].Result.Issued.Passcode.IsZero() {
			t.Fatalf("row %d = %v; want issued with its passcode", i, got[i].Err)
		}
	}
	if portal.ErrorCode(got[2].Err) != portal.EThrottled {
		t.Fatalf("the throttled row = %v, want EThrottled", got[2].Err)
	}
	if !errors.Is(got[3].Err, issuance.ErrIssueUnknown) && !errors.Is(got[3].Err, issuance.ErrPasscodeLost) {
		t.Fatalf("the row that failed with 500 = %v, want it settled from Graph", got[3].Err)
	}
	if portal.ErrorCode(got[4].Err) != portal.EPolicy {
		t.Fatalf("the Global Administrator = %v, want refused", got[4].Err)
	}
	// One batch, sent again once for the throttled create only.
	batches, creates := 0, 0
	for _, r := range e.demo.Graph.Requests() {
		switch {
		case r.Path == "/v1.0/$batch" && strings.Contains(string(r.Body), `"method":"POST"`):
			batches++
		case r.Method == "POST" && r.Batched:
			creates++
		}
	}
	if batches != 2 || creates != 5 {
		t.Fatalf("%d create batches with %d creates; want 2 batches, 4 creates then the throttled one again", batches, creates)
	}
	for i, id := range targets {
		evs := e.events(t, id)
		var outcomes []portal.Outcome
		for _, ev := range evs {
			outcomes = append(outcomes, ev.Outcome)
		}
		want := map[int]int{0: 2, 1: 2, 2: 2, 3: 2, 4: 1}[i]
		if len(evs) != want {
			t.Errorf("row %d recorded %v, want %d records", i, outcomes, want)
		}
	}
	// The newest record first.
	if evs := e.events(t, ids[2]); evs[0].Outcome != portal.OutcomeFailed || !strings.Contains(evs[0].Detail, "wait") {
		t.Errorf("the throttled row's outcome = %+v, want failed with the reason", evs[0])
	}
	if evs := e.events(t, graphemu.GlobalAdminUserID); evs[0].Outcome != portal.OutcomeRefused || evs[0].RefusalCode != "privileged_role" {
		t.Errorf("the Global Administrator's record = %+v", evs[0])
	}

	// The same rows again (a resumed run): answered from their first
	// submission, nothing created.
	before := e.creates()
	again := svc.IssueBatch(ctx, operator, issues, portal.Limit{})
	for i, a := range again {
		var handled *issuance.AlreadyHandledError
		if i < 4 && !errors.As(a.Err, &handled) {
			t.Errorf("row %d sent again = %v, want already handled", i, a.Err)
		}
	}
	if n := e.creates() - before; n != 0 {
		t.Fatalf("sending the batch again created %d passes", n)
	}
}
