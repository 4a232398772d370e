package issuance_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
)

// flakyHistory is a real store that fails on demand: every Record after
// the first okRecords, while failing is set.
type flakyHistory struct {
	portal.History
	failing   atomic.Bool
	okRecords atomic.Int32
}

var errStoreDown = &portal.Error{Code: portal.EUnavailable, Message: "The history store is unavailable."}

func (f *flakyHistory) Record(ctx context.Context, e portal.Event) (portal.Event, error) {
	if f.failing.Load() && f.okRecords.Add(-1) < 0 {
		return e, errStoreDown
	}
	return f.History.Record(ctx, e)
}

func (f *flakyHistory) RecordIntent(ctx context.Context, e portal.Event, o portal.IntentOptions) (portal.Event, error) {
	if f.failing.Load() && f.okRecords.Add(-1) < 0 {
		return e, errStoreDown
	}
	return f.History.RecordIntent(ctx, e, o)
}

type env struct {
	demo    *app.Demo
	cfg     config.Config
	dir     portal.Directory
	store   *store.Store
	history *flakyHistory
	svc     *issuance.Service
}

func newEnv(t testing.TB) *env {
	t.Helper()
	tmp := t.TempDir()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"PORTAL_DATABASE_URL": "sqlite:" + filepath.Join(tmp, "h.db")}[k]
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	demo, err := app.StartDemo(&cfg, tmp, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Close)
	gc, err := app.NewGraphClient(cfg, demo.Graph.CertPool(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), cfg.DatabaseURL, store.Options{AuditKeys: cfg.AuditKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &flakyHistory{History: st}
	return &env{demo: demo, cfg: cfg, dir: gc, store: st, history: h, svc: issuance.New(gc, h, issuance.Options{Logger: logger, SettleWindow: time.Millisecond})}
}

var operator = portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}

func (e *env) creates() int {
	n := 0
	for _, r := range e.demo.Graph.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
			n++
		}
	}
	return n
}

func (e *env) events(t *testing.T, target string) []portal.Event {
	t.Helper()
	evs, err := e.store.List(context.Background(), portal.EventFilter{TargetID: target})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// request is a valid request with a submission id of its own.
func request() issuance.IssueRequest {
	return issuance.IssueRequest{LifetimeMinutes: 60, Reason: "Fault test", Submission: issuance.NewSubmission()}
}

func TestStoreDownBeforeTheCallIssuesNothing(t *testing.T) {
	e := newEnv(t)
	e.history.failing.Store(true)
	_, err := e.svc.Issue(context.Background(), operator, graphemu.TAPExpiredUserID, request())
	if portal.ErrorCode(err) != portal.EUnavailable || !strings.Contains(portal.ErrorMessage(err), "unavailable") {
		t.Fatalf("Issue with the store down = %v, want EUnavailable", err)
	}
	if n := e.creates(); n != 0 {
		t.Fatalf("%d passes created with no record possible, want none", n)
	}
	if tap, _ := e.dir.CurrentTAP(context.Background(), graphemu.TAPExpiredUserID); tap != nil && tap.State(time.Now()) == portal.TAPUsable {
		t.Fatal("the user has a usable pass the history does not know of")
	}
}

func TestStoreDownAfterTheCallIsReconciled(t *testing.T) {
	e := newEnv(t)
	e.history.failing.Store(true)
	e.history.okRecords.Store(1) // the intent is written, the outcome is not
	res, err := e.svc.Issue(context.Background(), operator, graphemu.TAPExpiredUserID, request())
	if err != nil || res.Issued.Passcode.IsZero() {
		t.Fatalf("Issue = %v; the pass exists, so the operator must still see its passcode", err)
	}
	evs := e.events(t, graphemu.TAPExpiredUserID)
	if len(evs) != 1 || evs[0].Outcome != portal.OutcomePending {
		t.Fatalf("history = %+v, want the pending intent alone", evs)
	}
	e.history.failing.Store(false)
	n, err := e.svc.Settle(context.Background(), "test")
	if err != nil || n != 1 {
		t.Fatalf("Settle = %d, %v; want 1 settled", n, err)
	}
	evs = e.events(t, graphemu.TAPExpiredUserID)
	if len(evs) != 2 || evs[0].Outcome != portal.OutcomeSuccess || !evs[0].Reconciled || evs[0].TAPID != res.Issued.ID || evs[0].IntentID != evs[1].ID {
		t.Fatalf("history after reconciling = %+v, want a reconciled success naming the pass", evs)
	}
}

// TestCrashBetweenIntentAndOutcome simulates a portal that stopped during
// the Graph call: an intent, a pass made (or not), and no outcome. The
// next start settles each case once, however many replicas try.
func TestCrashBetweenIntentAndOutcome(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	intent := func(action portal.Action, target, tapID string) portal.Event {
		ev, err := e.store.Record(ctx, portal.Event{Action: action, Outcome: portal.OutcomePending, OperatorID: operator.ID,
			OperatorName: operator.Name, TargetID: target, TAPID: tapID, LifetimeMinutes: 60, Reason: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	// Issue that reached Graph before the crash.
	made := intent(portal.ActionIssue, graphemu.TAPExpiredUserID, "")
	tap, err := e.dir.CreateTAP(ctx, graphemu.TAPExpiredUserID, portal.NewTAP{LifetimeMinutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	// Issue that never reached Graph.
	lost := intent(portal.ActionIssue, graphemu.TAPUsedUserID, "")
	// Revoke that reached Graph.
	current, _ := e.dir.CurrentTAP(ctx, graphemu.TAPUsableUserID)
	revoked := intent(portal.ActionRevoke, graphemu.TAPUsableUserID, current.ID)
	if _, err := e.dir.DeleteTAP(ctx, graphemu.TAPUsableUserID, current.ID); err != nil {
		t.Fatal(err)
	}

	// Two replicas start at once.
	other := issuance.New(e.dir, e.store, issuance.Options{SettleWindow: time.Millisecond})
	results := make(chan int, 2)
	for _, svc := range []*issuance.Service{e.svc, other} {
		go func() {
			n, err := svc.Settle(ctx, "replica")
			if err != nil {
				t.Error(err)
			}
			results <- n
		}()
	}
	if total := <-results + <-results; total != 3 {
		t.Fatalf("replicas settled %d intents in all, want each of the 3 once", total)
	}
	want := map[int64]struct {
		outcome portal.Outcome
		tapID   string
	}{made.ID: {portal.OutcomeSuccess, tap.ID}, lost.ID: {portal.OutcomeFailed, ""}, revoked.ID: {portal.OutcomeSuccess, current.ID}}
	all, err := e.store.List(ctx, portal.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range all {
		if ev.IntentID == 0 {
			continue
		}
		w, ok := want[ev.IntentID]
		if !ok || ev.Outcome != w.outcome || ev.TAPID != w.tapID || !ev.Reconciled {
			t.Errorf("outcome of intent %d = %s (pass %q, reconciled %v), want %s (pass %q)", ev.IntentID, ev.Outcome, ev.TAPID, ev.Reconciled, w.outcome, w.tapID)
		}
		delete(want, ev.IntentID)
	}
	if len(want) != 0 {
		t.Fatalf("intents left unsettled: %v", want)
	}
	if v, err := e.store.Verify(ctx); err != nil || v.BrokenAt != 0 {
		t.Fatalf("Verify after reconciling = %+v, %v", v, err)
	}
}

func TestRefusalsAreRecorded(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Issue(context.Background(), operator, graphemu.GlobalAdminUserID, request())
	if portal.ErrorCode(err) != portal.EPolicy {
		t.Fatalf("Issue to a global admin = %v, want EPolicy", err)
	}
	evs := e.events(t, graphemu.GlobalAdminUserID)
	if len(evs) != 1 || evs[0].Outcome != portal.OutcomeRefused || evs[0].RefusalCode != issuance.RefuseRole {
		t.Fatalf("history = %+v, want one refusal for the role", evs)
	}
	if n := e.creates(); n != 0 {
		t.Fatal("a refused issuance reached Graph")
	}
	stale := operator
	stale.AuthTime = time.Now().Add(-time.Hour)
	svc := issuance.New(e.dir, e.history, issuance.Options{MaxAuthAge: 15 * time.Minute})
	if _, err := svc.Issue(context.Background(), stale, graphemu.TAPExpiredUserID, request()); !errors.Is(err, issuance.ErrStaleSignIn) {
		t.Fatalf("Issue with an hour-old sign-in = %v, want ErrStaleSignIn", err)
	}
}

func TestGuardrailChecksFailClosed(t *testing.T) {
	e := newEnv(t)
	e.demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/users/*/transitiveMemberOf/*", Status: http.StatusServiceUnavailable, RetryAfter: time.Second})
	_, err := e.svc.Issue(context.Background(), operator, graphemu.TAPExpiredUserID, request())
	if portal.ErrorCode(err) != portal.EUnavailable {
		t.Fatalf("Issue while the role check fails = %v, want EUnavailable", err)
	}
	if n := e.creates(); n != 0 {
		t.Fatal("a pass was created without the role check")
	}
	evs := e.events(t, graphemu.TAPExpiredUserID)
	if len(evs) != 1 || evs[0].RefusalCode != issuance.RefuseCheckFailed {
		t.Fatalf("history = %+v, want the refusal for the incomplete check", evs)
	}
}
