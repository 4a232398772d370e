package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/notify"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	// verified is Verify's answer.
	verified error
}

// receiver is a webhook receiver that verifies every request with its
// secrets, refuses a bad signature with 401 and otherwise answers what
// answer says (200 by default).
type receiver struct {
	*httptest.Server
	secrets [][]byte
	now     func() time.Time

	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, r *http.Request, n int) // n counts from 1
	// each, if set, is told every verified request's event id.
	each chan string
}

func newReceiver(t *testing.T, secrets [][]byte, now func() time.Time) *receiver {
	t.Helper()
	rc := &receiver{secrets: secrets, now: now}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	err := notify.Verify(rc.secrets, r.Header, body, rc.now(), 0)
	rc.mu.Lock()
	rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, verified: err})
	n, answer, each := len(rc.got), rc.answer, rc.each
	rc.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if each != nil {
		each <- r.Header.Get(notify.HeaderID)
	}
	if answer != nil {
		answer(w, r, n)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) setAnswer(f func(w http.ResponseWriter, r *http.Request, n int)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = f
}

func openStore(t *testing.T, u string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), u, store.Options{AuditKeys: testutil.AuditKeys})
	if err != nil {
		t.Fatalf("store.Open(%s) = %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqliteStore(t *testing.T) *store.Store {
	return openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "portal.db"))
}

func newSender(t *testing.T, q notify.Queue, cfg notify.Config) *notify.Sender {
	t.Helper()
	s, err := notify.New(q, cfg)
	if err != nil {
		t.Fatalf("notify.New = %v", err)
	}
	return s
}

func event(id string) notify.Event {
	return notify.Event{ID: id, Kind: notify.KindPassIssued, Summary: "Priya issued a pass to Adele Vance.",
		Details: notify.Details{TargetID: "u-1", TargetName: "Adele Vance", OperatorName: "Priya"}}
}

func notifyOK(t *testing.T, s *notify.Sender, e notify.Event) {
	t.Helper()
	if err := s.Notify(t.Context(), e); err != nil {
		t.Fatalf("Notify(%s) = %v", e.ID, err)
	}
}

func step(t *testing.T, s *notify.Sender, want int) {
	t.Helper()
	if n, err := s.Step(t.Context()); err != nil || n != want {
		t.Fatalf("Step() = %d, %v; want %d attempted", n, err, want)
	}
}

func find(t *testing.T, q *store.Store, eventID string) store.Delivery {
	t.Helper()
	d, err := q.FindDelivery(t.Context(), eventID)
	if err != nil {
		t.Fatalf("FindDelivery(%s) = %v", eventID, err)
	}
	return d
}

// wait receives from ch, failing the test if nothing comes for far
// longer than it ever should: a hang, not a speed test.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s after 30s", what)
		panic("unreachable")
	}
}

// TestRunSendsOnNotify runs the loop with a poll too long to matter:
// each event is sent because Notify woke it, signed, and recorded as
// delivered.
func TestRunSendsOnNotify(t *testing.T) {
	q := sqliteStore(t)
	rc := newReceiver(t, [][]byte{oldSecret}, time.Now)
	rc.each = make(chan string, 4)
	s := newSender(t, q, notify.Config{URL: rc.URL + "/hook", Secrets: [][]byte{oldSecret}, Poll: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	for _, id := range []string{"evt-1", "evt-2"} {
		e := event(id)
		notifyOK(t, s, e)
		if got := wait(t, rc.each, "request for "+id); got != id {
			t.Fatalf("the receiver got %s, want %s", got, id)
		}
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(got))
	}
	var body notify.Event
	if err := json.Unmarshal(got[0].body, &body); err != nil || body.ID != "evt-1" || body.Kind != notify.KindPassIssued ||
		body.Details.TargetName != "Adele Vance" || body.Time.IsZero() {
		t.Errorf("the first body = %s (%v), want evt-1 with its details and a time", got[0].body, err)
	}
	if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	cancel()
	wg.Wait()
	for _, id := range []string{"evt-1", "evt-2"} {
		if d := find(t, q, id); d.State != store.DeliveryDelivered || d.LastStatus != 200 || d.Attempts != 1 {
			t.Errorf("FindDelivery(%s) = %+v, want delivered at the first attempt with 200", id, d)
		}
	}
}

// TestNotifyQueuesOnce queues an event once however often it is noticed,
// and refuses an invalid one without queueing it. Nothing is sent.
func TestNotifyQueuesOnce(t *testing.T) {
	q := sqliteStore(t)
	s := newSender(t, q, notify.Config{URL: "https://hooks.example/tap", Secrets: [][]byte{oldSecret}})
	e := event("evt-1")
	notifyOK(t, s, e)
	e.Summary = "A second notice of the same issue."
	notifyOK(t, s, e)
	if d := find(t, q, "evt-1"); !strings.Contains(string(d.Payload), "Priya issued") || d.Kind != "pass.issued" {
		t.Errorf("the queued payload = %s, want the first notice's", d.Payload)
	}
	bad := event("evt-2")
	bad.Kind = "pass.revoked"
	if err := s.Notify(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "pass.revoked") {
		t.Errorf("Notify(unknown kind) = %v, want an error naming the kind", err)
	}
	if _, err := q.FindDelivery(t.Context(), "evt-2"); err == nil {
		t.Error("an invalid event was queued")
	}
}

// TestRetriesThenDelivers answers 500 twice, then 200: each retry waits
// its backoff, the event keeps its webhook-id, and every attempt is
// signed afresh.
func TestRetriesThenDelivers(t *testing.T) {
	clk := newClock()
	q := sqliteStore(t)
	rc := newReceiver(t, [][]byte{oldSecret}, clk.Now)
	rc.setAnswer(func(w http.ResponseWriter, _ *http.Request, n int) {
		if n <= 2 {
			http.Error(w, "try later", http.StatusInternalServerError)
		}
	})
	backoff := []time.Duration{time.Minute, 5 * time.Minute}
	s := newSender(t, q, notify.Config{URL: rc.URL, Secrets: [][]byte{oldSecret}, Backoff: backoff, Now: clk.Now})
	notifyOK(t, s, event("evt-1"))

	for i, pause := range backoff {
		step(t, s, 1)
		d := find(t, q, "evt-1")
		if earliest, latest := clk.Now().Add(pause), clk.Now().Add(pause+pause/5); d.State != store.DeliveryPending || d.Attempts != i+1 ||
			d.LastStatus != 500 || d.Next.Before(earliest) || d.Next.After(latest) {
			t.Fatalf("after failure %d: %+v, want pending, %d attempts, 500, due between %v and %v", i+1, d, i+1, earliest, latest)
		}
		step(t, s, 0) // not due yet
		clk.Advance(pause + pause/5)
	}
	step(t, s, 1)
	if d := find(t, q, "evt-1"); d.State != store.DeliveryDelivered || d.Attempts != 3 || d.LastStatus != 200 || d.LastError != "" ||
		!d.Delivered.Equal(clk.Now()) {
		t.Fatalf("after the third attempt: %+v, want delivered with 200 after 3 attempts", d)
	}
	step(t, s, 0)
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("the receiver got %d requests, want 3", len(got))
	}
	for i, r := range got {
		if r.verified != nil || r.header.Get(notify.HeaderID) != "evt-1" {
			t.Errorf("request %d: webhook-id %q, Verify = %v; want evt-1, verified", i+1, r.header.Get(notify.HeaderID), r.verified)
		}
	}
	if got[0].header.Get(notify.HeaderTimestamp) == got[2].header.Get(notify.HeaderTimestamp) {
		t.Error("the retry kept the first attempt's timestamp, want its own")
	}
}

// TestDeadLetter fails every attempt: after MaxAttempts the delivery is
// dead with its last error, is logged as an error, and is sent again only
// once a supervisor requeues it.
func TestDeadLetter(t *testing.T) {
	clk := newClock()
	q := sqliteStore(t)
	rc := newReceiver(t, [][]byte{oldSecret}, clk.Now)
	rc.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ int) {
		http.Error(w, "database\ndown", http.StatusServiceUnavailable)
	})
	var logs testutil.Buffer
	s := newSender(t, q, notify.Config{URL: rc.URL, Secrets: [][]byte{oldSecret}, MaxAttempts: 3, Backoff: []time.Duration{time.Minute},
		Now: clk.Now, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	notifyOK(t, s, event("evt-1"))
	for range 3 {
		step(t, s, 1)
		clk.Advance(time.Hour)
	}
	step(t, s, 0)
	d := find(t, q, "evt-1")
	if want := "the receiver answered 503 Service Unavailable: database down"; d.State != store.DeliveryDead || d.Attempts != 3 ||
		d.LastStatus != 503 || d.LastError != want {
		t.Fatalf("after 3 failures: %+v, want dead after 3 attempts with 503 and %q", d, want)
	}
	if dead, err := q.ListDead(t.Context(), 10); err != nil || len(dead) != 1 || dead[0].EventID != "evt-1" {
		t.Fatalf("ListDead = %+v, %v; want evt-1", dead, err)
	}
	var errorLines int
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "ERROR" {
			errorLines++
			if rec["event_id"] != "evt-1" || rec["attempt"] != float64(3) || !strings.Contains(fmt.Sprint(rec["err"]), "503") {
				t.Errorf("the error logged = %v, want evt-1's third attempt and its 503", rec)
			}
		}
	}
	if errorLines != 1 {
		t.Errorf("%d error lines logged, want 1, for the death:\n%s", errorLines, logs.String())
	}

	rc.setAnswer(nil)
	if ok, err := s.Requeue(t.Context(), d.ID); err != nil || !ok {
		t.Fatalf("Requeue = %v, %v; want true", ok, err)
	}
	step(t, s, 1)
	if d := find(t, q, "evt-1"); d.State != store.DeliveryDelivered || d.Attempts != 1 {
		t.Fatalf("after the requeue: %+v, want delivered at its first new attempt", d)
	}
}

// TestFailedAttempts records each kind of failure with what a supervisor
// needs to see, and never follows a redirect.
func TestFailedAttempts(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name       string
		answer     func(w http.ResponseWriter, r *http.Request, n int)
		url        string // instead of the receiver's
		wantStatus int
		wantError  string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request, _ int) {
			http.Error(w, strings.Repeat("boom ", 1000), http.StatusInternalServerError)
		}, "", 500, "the receiver answered 500 Internal Server Error: boom boom"},
		{"not found", func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) }, "", 404, "404 Not Found"},
		{"redirect", func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
		}, "", 307, "a redirect, which is not followed (to " + other.URL + "/elsewhere)"},
		{"slow", func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() }, "", 0, "no answer within 200ms"},
		{"nobody listening", nil, closed.URL, 0, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sqliteStore(t)
			rc := newReceiver(t, [][]byte{oldSecret}, time.Now)
			rc.setAnswer(tc.answer)
			u := rc.URL
			if tc.url != "" {
				u = tc.url
			}
			s := newSender(t, q, notify.Config{URL: u, Secrets: [][]byte{oldSecret}, Timeout: 200 * time.Millisecond})
			notifyOK(t, s, event("evt-1"))
			step(t, s, 1)
			d := find(t, q, "evt-1")
			if d.State != store.DeliveryPending || d.Attempts != 1 || d.LastStatus != tc.wantStatus || !strings.Contains(d.LastError, tc.wantError) ||
				len(d.LastError) > store.MaxDeliveryError {
				t.Errorf("after the attempt: status %d, error %q, state %s, attempts %d; want pending after 1 attempt, %d, an error saying %q",
					d.LastStatus, d.LastError, d.State, d.Attempts, tc.wantStatus, tc.wantError)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests, want none", n)
	}
}

// TestFailedAttemptKeepsNoURL keeps, logs and shows why an attempt
// failed without any part of the receiver's path or query, where hooks
// such as Slack's and Teams' carry their secret.
func TestFailedAttemptKeepsNoURL(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	const secretPath, secretQuery = "T0SECRETPATH/B0SECRETPATH", "SECRETQUERY"
	for _, tc := range []struct{ name, base, wantError string }{
		{"nobody listening", closed.URL, "connection refused"},
		{"no TLS at the receiver", strings.Replace(plain.URL, "http:", "https:", 1), "HTTP response to HTTPS client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sqliteStore(t)
			var logs strings.Builder
			u := tc.base + "/services/" + secretPath + "?token=" + secretQuery
			s := newSender(t, q, notify.Config{URL: u, Secrets: [][]byte{oldSecret}, Timeout: 5 * time.Second,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			notifyOK(t, s, event("evt-1"))
			step(t, s, 1)
			d := find(t, q, "evt-1")
			if !strings.Contains(d.LastError, tc.wantError) {
				t.Errorf("LastError = %q, want it to say %q", d.LastError, tc.wantError)
			}
			for _, part := range []string{"services", "SECRETPATH", "SECRETQUERY", "token"} {
				if strings.Contains(d.LastError, part) {
					t.Errorf("LastError = %q, holds %q of the receiver's URL", d.LastError, part)
				}
				if strings.Contains(logs.String(), part) {
					t.Errorf("the log holds %q of the receiver's URL:\n%s", part, logs.String())
				}
			}
			if !strings.Contains(logs.String(), tc.wantError) {
				t.Errorf("the log = %q, want the failure logged", logs.String())
			}
		})
	}
}

// TestRotation signs with the new secret and the old: a receiver on
// either verifies, one on neither refuses.
func TestRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		receiver [][]byte
		want     store.DeliveryState
	}{
		{"receiver on the old secret", [][]byte{oldSecret}, store.DeliveryDelivered},
		{"receiver on the new secret", [][]byte{newSecret}, store.DeliveryDelivered},
		{"receiver on another secret", [][]byte{otherSecret}, store.DeliveryPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := sqliteStore(t)
			rc := newReceiver(t, tc.receiver, time.Now)
			s := newSender(t, q, notify.Config{URL: rc.URL, Secrets: [][]byte{newSecret, oldSecret}})
			notifyOK(t, s, event("evt-1"))
			step(t, s, 1)
			if d := find(t, q, "evt-1"); d.State != tc.want {
				t.Errorf("after the attempt: %s (%d %s), want %s", d.State, d.LastStatus, d.LastError, tc.want)
			}
		})
	}
}

// TestTwoSendersDeliverOnce runs two replicas' senders on one database:
// every event reaches the receiver exactly once.
func TestTwoSendersDeliverOnce(t *testing.T) {
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "portal.db") }},
		{"postgres", func(t *testing.T) string { return testutil.PostgresURL(t, "n") }},
	} {
		t.Run(b.name, func(t *testing.T) {
			u := b.url(t)
			rc := newReceiver(t, [][]byte{oldSecret}, time.Now)
			const n = 40
			rc.each = make(chan string, n)
			var senders []*notify.Sender
			for i := range 2 {
				senders = append(senders, newSender(t, openStore(t, u), notify.Config{URL: rc.URL, Secrets: [][]byte{oldSecret},
					Owner: fmt.Sprintf("replica-%d", i), Poll: 5 * time.Millisecond, Batch: 4}))
			}
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for _, s := range senders {
				wg.Go(func() { s.Run(ctx) })
			}
			defer func() { cancel(); wg.Wait() }()
			for i := range n {
				notifyOK(t, senders[i%2], event(fmt.Sprintf("evt-%02d", i)))
			}
			seen := map[string]int{}
			for range n {
				seen[wait(t, rc.each, "delivery")]++
			}
			cancel()
			wg.Wait()
			if len(seen) != n {
				t.Errorf("the receiver got %d distinct events, want %d", len(seen), n)
			}
			if got := len(rc.requests()); got != n {
				t.Errorf("the receiver got %d requests, want %d: one per event", got, n)
			}
			counts, err := openStore(t, u).DeliveryCounts(t.Context())
			if err != nil || counts.Delivered != n || counts.Pending != 0 {
				t.Errorf("DeliveryCounts = %+v, %v; want all %d delivered", counts, err, n)
			}
		})
	}
}
