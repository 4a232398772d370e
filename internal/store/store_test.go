package store_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
)

const postgresSkip = "set " + testutil.PostgresEnv + "=postgres://user@host:5432/db to run the PostgreSQL store tests"

// testOptions open every test store.
var testOptions = store.Options{AuditKeys: testutil.AuditKeys}

// t0 is the start of the test data: a Monday, midnight UTC.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// backend makes empty databases of one kind.
type backend struct {
	name string
	// url returns the URL of a new, empty database that lives as long as tb.
	url func(tb testing.TB) string
	// skip skips tb when the backend is not available.
	skip func(tb testing.TB)
}

var backends = []backend{
	{"sqlite", sqliteURL, func(testing.TB) {}},
	{"postgres", postgresURL, skipWithoutPostgres},
}

func skipWithoutPostgres(tb testing.TB) {
	tb.Helper()
	if os.Getenv(testutil.PostgresEnv) == "" {
		tb.Skip(postgresSkip)
	}
}

func sqliteURL(tb testing.TB) string {
	return "sqlite:" + filepath.Join(tb.TempDir(), "data", "portal.db")
}

// postgresURL returns the URL of a new, empty schema on the test
// PostgreSQL, dropped when tb ends, so that every test starts empty and
// none sees another's data.
func postgresURL(tb testing.TB) string {
	tb.Helper()
	skipWithoutPostgres(tb)
	return testutil.PostgresURL(tb, "t")
}

// eachBackend runs test once per database, as a subtest named after it.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			// Skip here too, not only when a database is made, so that a
			// test whose subtests each make one is reported as skipped
			// rather than passed.
			b.skip(t)
			test(t, b)
		})
	}
}

// open opens a store on a new, empty database of b's kind.
func open(t *testing.T, b backend) *store.Store {
	t.Helper()
	return openURL(t, b.url(t))
}

func openURL(t *testing.T, u string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), u, testOptions)
	if err != nil {
		t.Fatalf("Open(%s) = %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// record records e and fails the test if that fails.
func record(t *testing.T, s *store.Store, e portal.Event) portal.Event {
	t.Helper()
	got, err := s.Record(t.Context(), e)
	if err != nil {
		t.Fatalf("Record(%s %s by %s) = %v", e.Action, e.Outcome, e.OperatorID, err)
	}
	return got
}

func verifyIntact(t *testing.T, s *store.Store, checked int64) {
	t.Helper()
	v, err := s.Verify(t.Context())
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if v.Checked != checked || v.BrokenAt != 0 || !v.Intact() {
		t.Errorf("Verify() = %+v, want %d records checked, intact", v, checked)
	}
}

func ids(events []portal.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func code(err error) string { return portal.ErrorCode(err) }

func TestRecordRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		paris, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			paris = time.FixedZone("CET", 3600)
		}
		intent := record(t, s, portal.Event{Time: t0, Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"})
		in := portal.Event{
			ID:              999, // ignored: the store assigns ids
			Time:            t0.Add(90*time.Second + 123456789*time.Nanosecond),
			Action:          portal.ActionIssue,
			Outcome:         portal.OutcomeSuccess,
			OperatorID:      "op-1",
			OperatorName:    "Olga Operator",
			TargetID:        "4f1c2d3e-0000-4000-8000-000000000001",
			TargetUPN:       "zoë.müller@contoso.example",
			TargetName:      "Zoë Müller",
			TAPID:           "tap-123",
			LifetimeMinutes: 60,
			OneTime:         true,
			Start:           time.Date(2026, 3, 2, 10, 30, 0, 500, paris),
			Reason:          "New phone; lost authenticator",
			Ticket:          "INC-42",
			Detail:          "line one\nline two, with \"quotes\" and 'apostrophes'; DROP TABLE events; --",
			RefusalCode:     "none",
			GraphRequestID:  "graph-req-1",
			RequestID:       "req-1",
			IntentID:        intent.ID,
			Reconciled:      true,
			Privilege:       "eligible for Global Administrator through PIM",
		}
		got := record(t, s, in)

		want := in
		want.ID = intent.ID + 1
		want.Time = t0.Add(90*time.Second + 123456*time.Microsecond) // stored to the microsecond
		want.Start = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
		want.Hash = got.Hash
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Record() mismatch (-want +got):\n%s", diff)
		}
		if len(got.Hash) != 64 || got.Hash == intent.Hash {
			t.Errorf("Record().Hash = %q, want 64 hex characters unlike the previous record's", got.Hash)
		}
		fetched, err := s.Get(t.Context(), got.ID)
		if err != nil {
			t.Fatalf("Get(%d) = %v", got.ID, err)
		}
		if diff := cmp.Diff(got, fetched); diff != "" {
			t.Errorf("Get(%d) mismatch (-recorded +fetched):\n%s", got.ID, diff)
		}
		if _, err := s.Get(t.Context(), 12345); code(err) != portal.ENotFound {
			t.Errorf("Get(12345) error code = %q, want %q", code(err), portal.ENotFound)
		}
		if _, err := s.Record(t.Context(), portal.Event{OperatorID: "op-1"}); code(err) != portal.EInvalid {
			t.Errorf("Record(no action) error code = %q, want %q", code(err), portal.EInvalid)
		}
		verifyIntact(t, s, 2)
	})
}

// TestChainHashEncoding restates the documented encodings byte by byte:
// changing one would make every stored chain fail to verify.
func TestChainHashEncoding(t *testing.T) {
	e := portal.Event{
		ID: 7, Time: time.UnixMicro(1772409600123456), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess,
		OperatorID: "op", OperatorName: "Olga", TargetID: "u", TargetUPN: "u@x", TargetName: "U", TAPID: "tap",
		LifetimeMinutes: 60, OneTime: true, Start: time.UnixMicro(1772409660000000), Reason: "r", Ticket: "t",
		Detail: "d", RefusalCode: "c", GraphRequestID: "g", RequestID: "q", IntentID: 6, Reconciled: false,
	}
	prev := strings.Repeat("ab", 32)
	var b []byte
	num := func(v int64) { b = binary.BigEndian.AppendUint64(b, uint64(v)) }
	str := func(s string) { num(int64(len(s))); b = append(b, s...) }
	b = append(b, prev...)
	b = append(b, 1) // encoding version
	num(7)
	num(1772409600123456)
	for _, s := range []string{"issue", "success", "op", "Olga", "u", "u@x", "U", "tap"} {
		str(s)
	}
	num(60)
	b = append(b, 1)
	num(1772409660000000)
	for _, s := range []string{"r", "t", "d", "c", "g", "q"} {
		str(s)
	}
	num(6)
	b = append(b, 0)
	str("anchor")
	sum := sha256.Sum256(b)
	if got, want := store.LegacyHash(prev, e, "anchor"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("ChainHash(record 7) = %s, want %s", got, want)
	}

	// Version 2 is version 1 with the privilege after the anchor, used
	// only when there is a privilege to record.
	e.Privilege = "Global Administrator"
	b[len(prev)] = 2
	str("Global Administrator")
	sum = sha256.Sum256(b)
	if got, want := store.LegacyHash(prev, e, "anchor"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("ChainHash(record 7 with a privilege) = %s, want %s", got, want)
	}

	// Version 3 is version 2 with the key id after the privilege, under
	// HMAC-SHA256 with the audit key instead of SHA-256.
	secret := "an audit key of at least thirty-two characters"
	id := store.KeyID(secret)
	b[len(prev)] = 3
	str(id)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(b)
	gotHash, gotID := store.KeyedHash(secret, prev, e, "anchor")
	if want := hex.EncodeToString(m.Sum(nil)); gotHash != want || gotID != id {
		t.Errorf("KeyedHash(record 7) = %s under key %s, want %s under key %s", gotHash, gotID, want, id)
	}
	if other, _ := store.KeyedHash(secret+"!", prev, e, "anchor"); other == gotHash {
		t.Errorf("KeyedHash under two keys = %s both times, want them to differ", other)
	}

	// Version 4 is version 3 with the channel after the privilege, used
	// only when there is a channel to record.
	e.Channel = portal.ChannelManager
	b = b[:len(b)-8-len(id)]
	b[len(prev)] = 4
	str("manager")
	str(id)
	m = hmac.New(sha256.New, []byte(secret))
	m.Write(b)
	if got, _ := store.KeyedHash(secret, prev, e, "anchor"); got != hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("KeyedHash(record 7 with a channel) = %s, want %s", got, hex.EncodeToString(m.Sum(nil)))
	}

	// Length prefixes keep field boundaries: moving a character from one
	// field to the next changes the hash.
	split1, _ := store.KeyedHash(secret, prev, portal.Event{Reason: "ab", Ticket: "c"}, "")
	split2, _ := store.KeyedHash(secret, prev, portal.Event{Reason: "a", Ticket: "bc"}, "")
	if split1 == split2 {
		t.Errorf("ChainHash(Reason ab, Ticket c) = ChainHash(Reason a, Ticket bc) = %s, want them to differ", split1)
	}
}

func TestRecordTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		before := time.Now()
		now := record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending})
		if now.Time.Before(before.Truncate(time.Microsecond)) || now.Time.After(time.Now()) {
			t.Errorf("Record(zero time).Time = %v, want about %v", now.Time, before)
		}
		// A replica whose clock lags must not move time backwards along
		// the chain: date ranges rely on it.
		late := record(t, s, portal.Event{Time: now.Time.Add(-time.Hour), Action: portal.ActionIssue, Outcome: portal.OutcomeFailed})
		if !late.Time.Equal(now.Time) {
			t.Errorf("Record(an hour before the newest record).Time = %v, want %v", late.Time, now.Time)
		}
		ahead := record(t, s, portal.Event{Time: now.Time.Add(time.Minute), Action: portal.ActionRevoke, Outcome: portal.OutcomeSuccess})
		if want := now.Time.Add(time.Minute); !ahead.Time.Equal(want) {
			t.Errorf("Record(a minute after the newest record).Time = %v, want %v", ahead.Time, want)
		}
	})
}

// dataset records n events, seven hours apart from t0, drawn from a few
// operators, targets, actions and outcomes so that every combination of
// filters has both matches and misses.
func dataset(t *testing.T, s *store.Store, n int) []portal.Event {
	t.Helper()
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	events := make([]portal.Event, 0, n)
	for i := range n {
		events = append(events, record(t, s, portal.Event{
			Time:       t0.Add(time.Duration(i) * 7 * time.Hour),
			Action:     portal.Action(pick("issue", "issue", "revoke")),
			Outcome:    portal.Outcome(pick("pending", "success", "success", "refused", "failed")),
			OperatorID: pick("op-a", "op-b", "op-c"),
			TargetID:   pick("u-1", "u-2", "u-3", "u-4", "u-5"),
			Reason:     fmt.Sprintf("reason %d", i),
		}))
	}
	return events
}

// matching is what List should return: the events that f selects,
// newest first, at most limit.
func matching(events []portal.Event, f portal.EventFilter, limit int) []int64 {
	var want []int64
	for _, e := range slices.Backward(events) {
		if (f.OperatorID == "" || e.OperatorID == f.OperatorID) &&
			(f.TargetID == "" || e.TargetID == f.TargetID) &&
			(f.Action == "" || e.Action == f.Action) &&
			(f.Outcome == "" || e.Outcome == f.Outcome) &&
			(f.From.IsZero() || !e.Time.Before(f.From)) &&
			(f.To.IsZero() || e.Time.Before(f.To)) &&
			(f.Before == 0 || e.ID < f.Before) && len(want) < limit {
			want = append(want, e.ID)
		}
	}
	return want
}

func TestList(t *testing.T) {
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	tests := []struct {
		name  string
		f     portal.EventFilter
		limit int // what List should apply; f.Limit or the default
	}{
		{"everything", portal.EventFilter{}, 50},
		{"limit", portal.EventFilter{Limit: 7}, 7},
		{"all rows", portal.EventFilter{Limit: 500}, 500},
		{"operator", portal.EventFilter{OperatorID: "op-b", Limit: 500}, 500},
		{"target", portal.EventFilter{TargetID: "u-3", Limit: 500}, 500},
		{"action", portal.EventFilter{Action: portal.ActionRevoke, Limit: 500}, 500},
		{"outcome", portal.EventFilter{Outcome: portal.OutcomeRefused, Limit: 500}, 500},
		{"operator and action", portal.EventFilter{OperatorID: "op-a", Action: portal.ActionIssue, Limit: 500}, 500},
		{"target and outcome", portal.EventFilter{TargetID: "u-2", Outcome: portal.OutcomeSuccess, Limit: 500}, 500},
		{"four fields", portal.EventFilter{OperatorID: "op-c", TargetID: "u-1", Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, Limit: 500}, 500},
		{"no match", portal.EventFilter{OperatorID: "nobody"}, 50},
		{"from", portal.EventFilter{From: day(20), Limit: 500}, 500},
		{"to", portal.EventFilter{To: day(10), Limit: 500}, 500},
		{"from and to", portal.EventFilter{From: day(5), To: day(12), Limit: 500}, 500},
		{"from and to exactly on a record", portal.EventFilter{From: t0.Add(70 * time.Hour), To: t0.Add(140 * time.Hour), Limit: 500}, 500},
		{"week and operator", portal.EventFilter{From: day(7), To: day(14), OperatorID: "op-a", Limit: 500}, 500},
		{"week, target and outcome", portal.EventFilter{From: day(7), To: day(14), TargetID: "u-4", Outcome: portal.OutcomeSuccess}, 50},
		{"from after everything", portal.EventFilter{From: day(400)}, 50},
		{"to before everything", portal.EventFilter{To: day(-1)}, 50},
		{"to after everything", portal.EventFilter{To: day(400), Limit: 500}, 500},
		{"before", portal.EventFilter{Before: 61, Limit: 20}, 20},
		{"before and operator", portal.EventFilter{Before: 100, OperatorID: "op-c", Limit: 10}, 10},
		{"before and range", portal.EventFilter{Before: 40, From: day(3), To: day(20), Limit: 500}, 500},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		events := dataset(t, s, 120)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.List(t.Context(), tt.f)
				if err != nil {
					t.Fatalf("List(%+v) = %v", tt.f, err)
				}
				want := matching(events, tt.f, tt.limit)
				if !slices.Equal(ids(got), want) {
					t.Errorf("List(%+v) ids = %v, want %v", tt.f, ids(got), want)
				}
				for _, e := range got {
					if e != events[e.ID-1] {
						t.Errorf("List(%+v) returned %+v, want %+v", tt.f, e, events[e.ID-1])
						break
					}
				}
			})
		}
	})
}

func TestListLimitCapped(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		loadRaw(t, s, 520)
		for _, limit := range []int{0, 499, 500, 501, 10000} {
			got, err := s.List(t.Context(), portal.EventFilter{Limit: limit})
			if err != nil {
				t.Fatalf("List(Limit: %d) = %v", limit, err)
			}
			want := min(limit, 500)
			if limit == 0 {
				want = 50
			}
			if len(got) != want {
				t.Errorf("len(List(Limit: %d)) = %d, want %d", limit, len(got), want)
			}
		}
	})
}

// loadRaw appends n simple events in one transaction behind the store's
// back, with valid hashes: quicker than n durable appends when a test
// only needs many rows.
func loadRaw(t *testing.T, s *store.Store, n int) {
	t.Helper()
	db, q := store.WriteDB(s)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	prev := store.Genesis
	for i := range n {
		e := portal.Event{ID: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"}
		var keyID string
		e.Hash, keyID = store.KeyedHash(testutil.AuditKeys[0], prev, e, "")
		_, err := tx.ExecContext(t.Context(), q(`INSERT INTO events (id, time_us, action, outcome, operator_id, one_time, reconciled, prev_hash, hash, key_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.ID, e.Time.UnixMicro(), e.Action, e.Outcome, e.OperatorID, false, false, prev, e.Hash, keyID)
		if err != nil {
			t.Fatalf("insert %d: %v", e.ID, err)
		}
		prev = e.Hash
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	verifyIntact(t, s, int64(n))
}

func TestKeysetPagingWhileAppending(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		for range 60 {
			record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"})
		}
		var seen []int64
		f := portal.EventFilter{OperatorID: "op-1", Limit: 7}
		for page := 0; ; page++ {
			got, err := s.List(t.Context(), f)
			if err != nil {
				t.Fatalf("List(%+v) = %v", f, err)
			}
			if len(got) == 0 {
				break
			}
			seen = append(seen, ids(got)...)
			f.Before = got[len(got)-1].ID
			// Newer records arrive between pages, from this operator and
			// others; they must not shift the pages already being read.
			record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"})
			record(t, s, portal.Event{Action: portal.ActionRevoke, Outcome: portal.OutcomeSuccess, OperatorID: "op-2"})
		}
		var want []int64
		for id := int64(60); id >= 1; id-- {
			want = append(want, id)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("paging while appending saw ids %v, want %v", seen, want)
		}
	})
}

func TestConcurrentRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		const n = 100
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, err := s.Record(t.Context(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess,
					OperatorID: fmt.Sprintf("op-%d", i%7), Reason: fmt.Sprintf("goroutine %d", i)})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Record() = %v", err)
			}
		}
		var got []int64
		reasons := map[string]bool{}
		var prev portal.Event
		err := s.Export(t.Context(), portal.EventFilter{}, func(e portal.Event) error {
			got = append(got, e.ID)
			reasons[e.Reason] = true
			if prev.ID != 0 && e.Time.After(prev.Time) {
				t.Errorf("record %d has time %v after newer record %d's %v", e.ID, e.Time, prev.ID, prev.Time)
			}
			prev = e
			return nil
		})
		if err != nil {
			t.Fatalf("Export() = %v", err)
		}
		if len(got) != n || got[0] != n || got[n-1] != 1 || len(reasons) != n {
			t.Errorf("after %d concurrent Records: %d records, ids %d..%d, %d distinct reasons; want %d, ids %d..1, %d",
				n, len(got), got[0], got[len(got)-1], len(reasons), n, n, n)
		}
		verifyIntact(t, s, n)
	})
}

func TestRecordIntentLimit(t *testing.T) {
	limit := portal.Limit{Max: 3, Window: time.Hour}
	intent := func(op string, at time.Time) portal.Event {
		return portal.Event{Time: at, Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: op}
	}
	now := t0.Add(48 * time.Hour)
	tests := []struct {
		name    string
		earlier []portal.Event
		want    string // error code
	}{
		{"under the limit", []portal.Event{intent("op-1", now.Add(-time.Minute)), intent("op-1", now.Add(-2*time.Minute))}, ""},
		{"at the limit", []portal.Event{intent("op-1", now.Add(-50*time.Minute)), intent("op-1", now.Add(-2*time.Minute)), intent("op-1", now)}, portal.ELimited},
		{"older intents left the window", []portal.Event{intent("op-1", now.Add(-3*time.Hour)), intent("op-1", now.Add(-time.Hour)), intent("op-1", now.Add(-time.Minute)), intent("op-1", now.Add(-time.Second))}, ""},
		{"other operators do not count", []portal.Event{intent("op-2", now.Add(-time.Minute)), intent("op-2", now.Add(-time.Minute)), intent("op-2", now), intent("op-1", now)}, ""},
		{"outcomes and refusals do not count", []portal.Event{
			{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomeRefused, OperatorID: "op-1"},
			{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1", IntentID: 1},
			{Time: now, Action: portal.ActionRevoke, Outcome: portal.OutcomePending, OperatorID: "op-1"},
			intent("op-1", now), intent("op-1", now),
		}, ""},
		{"an intent that failed frees its slot", []portal.Event{
			intent("op-1", now.Add(-3*time.Minute)), intent("op-1", now.Add(-2*time.Minute)), intent("op-1", now.Add(-time.Minute)),
			{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomeFailed, OperatorID: "op-1", IntentID: 2},
		}, ""},
		{"an unknown outcome keeps its slot", []portal.Event{
			intent("op-1", now.Add(-3*time.Minute)), intent("op-1", now.Add(-2*time.Minute)), intent("op-1", now.Add(-time.Minute)),
			{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomeUnknown, OperatorID: "op-1", IntentID: 2},
		}, portal.ELimited},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t, b)
				for _, e := range tt.earlier {
					record(t, s, e)
				}
				got, err := s.RecordIntent(t.Context(), intent("op-1", now), portal.IntentOptions{Limit: limit})
				if code(err) != tt.want {
					t.Fatalf("RecordIntent() error = %v, want code %q", err, tt.want)
				}
				if err == nil && got.ID != int64(len(tt.earlier)+1) {
					t.Errorf("RecordIntent().ID = %d, want %d", got.ID, len(tt.earlier)+1)
				}
				if err != nil {
					msg := portal.ErrorMessage(err)
					// The earlier intents have no outcome yet: they count, and
					// the message says so.
					if want := "You have issued 3 passes in the last hour (3 of them with an outcome not known yet"; !strings.HasPrefix(msg, want) {
						t.Errorf("RecordIntent() message = %q, want it to start %q", msg, want)
					}
					if all, _ := s.List(t.Context(), portal.EventFilter{}); len(all) != len(tt.earlier) {
						t.Errorf("after ELimited, %d records, want %d: nothing appended", len(all), len(tt.earlier))
					}
				}
			})
		}
		t.Run("no limit", func(t *testing.T) {
			s := open(t, b)
			for i := range 5 {
				if _, err := s.RecordIntent(t.Context(), intent("op-1", now), portal.IntentOptions{Limit: portal.Limit{}}); err != nil {
					t.Fatalf("RecordIntent(#%d, zero Limit) = %v, want no limit", i, err)
				}
			}
		})
	})
}

// TestRecordIntentLimitBulk: the rows of bulk runs and single issues each
// count against their own limit.
func TestRecordIntentLimitBulk(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	intent := func(requestID string) portal.Event {
		return portal.Event{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1", RequestID: requestID}
	}
	single, bulk := portal.Limit{Max: 2, Window: time.Hour}, portal.Limit{Max: 3, Window: time.Hour, Bulk: true}
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		for i := range 3 {
			if _, err := s.RecordIntent(t.Context(), intent(portal.BulkRequestPrefix+"run-1"), portal.IntentOptions{Limit: bulk}); err != nil {
				t.Fatalf("bulk row %d: %v, want it under the bulk limit", i+1, err)
			}
		}
		_, err := s.RecordIntent(t.Context(), intent(portal.BulkRequestPrefix+"run-2"), portal.IntentOptions{Limit: bulk})
		if code(err) != portal.ELimited || !strings.Contains(portal.ErrorMessage(err), "3 passes in bulk runs") {
			t.Fatalf("fourth bulk row: %v, want ELimited naming bulk runs", err)
		}
		for i := range 2 {
			if _, err := s.RecordIntent(t.Context(), intent("req-single"), portal.IntentOptions{Limit: single}); err != nil {
				t.Fatalf("single issue %d after three bulk rows: %v, want the bulk rows not to count", i+1, err)
			}
		}
		if _, err := s.RecordIntent(t.Context(), intent("req-single"), portal.IntentOptions{Limit: single}); code(err) != portal.ELimited {
			t.Fatalf("third single issue: %v, want ELimited", err)
		}
	})
}

func TestRecordIntentLimitMessage(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	tests := []struct {
		l   portal.Limit
		ago []time.Duration // the operator's earlier intents
		// unknown is how many of them (the first) have an unknown outcome;
		// the others were issued.
		unknown int
		want    string
	}{
		{portal.Limit{Max: 1, Window: 24 * time.Hour}, []time.Duration{3 * time.Hour}, 0,
			"You have issued 1 pass in the last day: the limit is 1. Try again in 21 hours, or ask a supervisor."},
		{portal.Limit{Max: 2, Window: 15 * time.Minute}, []time.Duration{14*time.Minute + 30*time.Second, 0}, 0,
			"You have issued 2 passes in the last 15 minutes: the limit is 2. Try again in a minute, or ask a supervisor."},
		{portal.Limit{Max: 2, Window: 8 * time.Hour}, []time.Duration{7 * time.Hour, 6 * time.Hour, time.Hour}, 0,
			"You have issued 3 passes in the last 8 hours: the limit is 2. Try again in 2 hours, or ask a supervisor."},
		{portal.Limit{Max: 2, Window: time.Hour}, []time.Duration{30 * time.Minute, 10 * time.Minute}, 1,
			"You have issued 2 passes in the last hour (1 of them with an outcome not known yet, which count until Graph shows no pass came of them): the limit is 2. Try again in 30 minutes, or ask a supervisor."},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			s := open(t, b)
			for i, ago := range tt.ago {
				in := record(t, s, portal.Event{Time: now.Add(-ago), Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"})
				outcome := portal.OutcomeSuccess
				if i < tt.unknown {
					outcome = portal.OutcomeUnknown
				}
				record(t, s, portal.Event{Time: now.Add(-ago), Action: portal.ActionIssue, Outcome: outcome, OperatorID: "op-1", IntentID: in.ID})
			}
			_, err := s.RecordIntent(t.Context(), portal.Event{Time: now, Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"}, portal.IntentOptions{Limit: tt.l})
			if got := portal.ErrorMessage(err); code(err) != portal.ELimited || got != tt.want {
				t.Errorf("RecordIntent(%+v after %v) = %q (code %q), want %q", tt.l, tt.ago, got, code(err), tt.want)
			}
		}
	})
}

func TestRecordIntentLimitConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		const attempts, max = 30, 20
		var wg sync.WaitGroup
		codes := make(chan string, attempts)
		for range attempts {
			wg.Go(func() {
				_, err := s.RecordIntent(t.Context(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"},
					portal.IntentOptions{Limit: portal.Limit{Max: max, Window: time.Hour}})
				codes <- code(err)
			})
		}
		wg.Wait()
		close(codes)
		counts := map[string]int{}
		for c := range codes {
			counts[c]++
		}
		if want := map[string]int{"": max, portal.ELimited: attempts - max}; !cmp.Equal(counts, want) {
			t.Errorf("%d concurrent RecordIntent(max %d) codes = %v, want %v", attempts, max, counts, want)
		}
		verifyIntact(t, s, max)
	})
}

func TestIntentOutcome(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		intent := record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1", TargetID: "u-1"})
		outcome := record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1", TargetID: "u-1", IntentID: intent.ID})
		if outcome.IntentID != intent.ID {
			t.Errorf("Record(outcome).IntentID = %d, want %d", outcome.IntentID, intent.ID)
		}
		_, err := s.Record(t.Context(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeFailed, IntentID: intent.ID, Reconciled: true})
		if code(err) != portal.EConflict {
			t.Errorf("Record(second outcome) error = %v, want code %q", err, portal.EConflict)
		}
		// Two replicas reconciling the same intent at start-up: one wins.
		second := record(t, s, portal.Event{Action: portal.ActionRevoke, Outcome: portal.OutcomePending, OperatorID: "op-1"})
		const replicas = 10
		var wg sync.WaitGroup
		codes := make(chan string, replicas)
		for range replicas {
			wg.Go(func() {
				_, err := s.Record(t.Context(), portal.Event{Action: portal.ActionRevoke, Outcome: portal.OutcomeSuccess, IntentID: second.ID, Reconciled: true})
				codes <- code(err)
			})
		}
		wg.Wait()
		close(codes)
		counts := map[string]int{}
		for c := range codes {
			counts[c]++
		}
		if want := map[string]int{"": 1, portal.EConflict: replicas - 1}; !cmp.Equal(counts, want) {
			t.Errorf("%d concurrent outcomes for one intent: codes %v, want %v", replicas, counts, want)
		}
		verifyIntact(t, s, 4)
	})
}

func TestUnsettled(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		settled := record(t, s, portal.Event{Time: at(0), Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"})
		lost := record(t, s, portal.Event{Time: at(1), Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-2"})
		record(t, s, portal.Event{Time: at(2), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, IntentID: settled.ID})
		record(t, s, portal.Event{Time: at(3), Action: portal.ActionIssue, Outcome: portal.OutcomeRefused, OperatorID: "op-1"})
		lostRevoke := record(t, s, portal.Event{Time: at(4), Action: portal.ActionRevoke, Outcome: portal.OutcomePending, OperatorID: "op-3"})
		recent := record(t, s, portal.Event{Time: at(10), Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"})

		tests := []struct {
			olderThan time.Time
			want      []int64
		}{
			{at(0), nil},
			{at(1), nil},
			{at(2), []int64{lost.ID}},
			{at(5), []int64{lost.ID, lostRevoke.ID}},
			{at(11), []int64{lost.ID, lostRevoke.ID, recent.ID}},
		}
		for _, tt := range tests {
			got, err := s.Unsettled(t.Context(), tt.olderThan)
			if err != nil {
				t.Fatalf("Unsettled(%v) = %v", tt.olderThan, err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Unsettled(%v) = %v, want %v", tt.olderThan, ids(got), tt.want)
			}
		}
		got, err := s.Unsettled(t.Context(), at(2))
		if err != nil || len(got) != 1 || got[0] != lost {
			t.Errorf("Unsettled(at 2) = %+v, %v, want [%+v]", got, err, lost)
		}
	})
}

func dayCount(day time.Time, issued, refused, failed int) portal.DayCount {
	return portal.DayCount{Day: day, Issued: issued, Refused: refused, Failed: failed}
}

func count(label string, n int) portal.Count { return portal.Count{Label: label, N: n} }

func TestStats(t *testing.T) {
	day := func(d int, hour int) time.Time { return t0.Add(time.Duration(d*24+hour) * time.Hour) }
	ev := func(d, hour int, op string, a portal.Action, o portal.Outcome, refusal string) portal.Event {
		names := map[string]string{"op-a": "Alice", "op-b": "Bob", "op-c": "Carol"}
		return portal.Event{Time: day(d, hour), OperatorID: op, OperatorName: names[op], Action: a, Outcome: o, RefusalCode: refusal}
	}
	const issue, revoke = portal.ActionIssue, portal.ActionRevoke
	const pending, success, refused, failed = portal.OutcomePending, portal.OutcomeSuccess, portal.OutcomeRefused, portal.OutcomeFailed
	data := []portal.Event{
		ev(0, 8, "op-a", issue, pending, ""),
		ev(0, 8, "op-a", issue, success, ""),
		ev(0, 9, "op-a", issue, success, ""),
		ev(0, 10, "op-a", issue, success, ""),
		ev(0, 11, "op-b", issue, success, ""),
		ev(0, 12, "op-a", issue, refused, "protected-role"),
		ev(0, 23, "op-b", issue, failed, ""),
		ev(1, 0, "op-b", issue, success, ""),
		ev(1, 1, "op-b", issue, success, ""),
		ev(1, 2, "op-c", revoke, success, ""),
		ev(1, 3, "op-c", issue, refused, "guest"),
		ev(1, 4, "op-c", issue, refused, "guest"),
		ev(1, 5, "op-a", revoke, refused, "protected-role"),
		ev(1, 6, "op-a", issue, pending, ""),
		ev(3, 12, "op-c", issue, failed, ""),
	}
	tests := []struct {
		name string
		f    portal.EventFilter
		want portal.Stats
	}{
		{"everything", portal.EventFilter{Before: 2, Limit: 1}, portal.Stats{ // Before and Limit ignored
			PerDay:           []portal.DayCount{dayCount(day(0, 0), 4, 1, 1), dayCount(day(1, 0), 2, 3, 0), dayCount(day(3, 0), 0, 0, 1)},
			PerOperator:      []portal.Count{count("Alice", 3), count("Bob", 3)},
			RefusalsByReason: []portal.Count{count("guest", 2), count("protected-role", 2)},
		}},
		{"operator", portal.EventFilter{OperatorID: "op-a"}, portal.Stats{
			PerDay:           []portal.DayCount{dayCount(day(0, 0), 3, 1, 0), dayCount(day(1, 0), 0, 1, 0)},
			PerOperator:      []portal.Count{count("Alice", 3)},
			RefusalsByReason: []portal.Count{count("protected-role", 2)},
		}},
		{"date range", portal.EventFilter{From: day(1, 0), To: day(2, 0)}, portal.Stats{
			PerDay:           []portal.DayCount{dayCount(day(1, 0), 2, 3, 0)},
			PerOperator:      []portal.Count{count("Bob", 2)},
			RefusalsByReason: []portal.Count{count("guest", 2), count("protected-role", 1)},
		}},
		{"action", portal.EventFilter{Action: revoke}, portal.Stats{
			PerDay:           []portal.DayCount{dayCount(day(1, 0), 0, 1, 0)},
			RefusalsByReason: []portal.Count{count("protected-role", 1)},
		}},
		{"nothing", portal.EventFilter{TargetID: "nobody"}, portal.Stats{}},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		for _, e := range data {
			record(t, s, e)
		}
		for _, tt := range tests {
			got, err := s.Stats(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("Stats(%s) = %v", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Stats(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

func TestStatsTopOperators(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		// Operator i issues i+1 passes; the last has no name.
		var want []portal.Count
		for i := range 12 {
			op, name := fmt.Sprintf("op-%02d", i), fmt.Sprintf("Operator %02d", i)
			if i == 11 {
				name = ""
			}
			for range i + 1 {
				record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: op, OperatorName: name})
			}
		}
		want = append(want, portal.Count{Label: "op-11", N: 12})
		for i := 10; i >= 2; i-- {
			want = append(want, portal.Count{Label: fmt.Sprintf("Operator %02d", i), N: i + 1})
		}
		got, err := s.Stats(t.Context(), portal.EventFilter{})
		if err != nil {
			t.Fatalf("Stats() = %v", err)
		}
		if diff := cmp.Diff(want, got.PerOperator); diff != "" {
			t.Errorf("Stats().PerOperator mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestExport(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		events := dataset(t, s, 120)
		for _, f := range []portal.EventFilter{
			{},
			{Limit: 5}, // ignored
			{OperatorID: "op-a", Action: portal.ActionIssue},
			{From: t0.Add(72 * time.Hour), To: t0.Add(20 * 24 * time.Hour), Outcome: portal.OutcomeSuccess},
			{Before: 50},
		} {
			var got []portal.Event
			if err := s.Export(t.Context(), f, func(e portal.Event) error {
				got = append(got, e)
				return nil
			}); err != nil {
				t.Fatalf("Export(%+v) = %v", f, err)
			}
			want := matching(events, f, len(events))
			if !slices.Equal(ids(got), want) {
				t.Errorf("Export(%+v) ids = %v, want %v", f, ids(got), want)
			}
			for _, e := range got {
				if e != events[e.ID-1] {
					t.Errorf("Export(%+v) gave %+v, want %+v", f, e, events[e.ID-1])
					break
				}
			}
		}

		stop := errors.New("client went away")
		calls := 0
		err := s.Export(t.Context(), portal.EventFilter{}, func(portal.Event) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("Export(fn failing on call 3) = %v after %d calls, want %v after 3", err, calls, stop)
		}
	})
}

// TestExportChunks exports more records than one chunk read holds, so
// order across chunk boundaries and stopping mid-way both count.
func TestExportChunks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		const n = 10_000
		loadRaw(t, s, n)
		tests := []struct {
			f    portal.EventFilter
			from int64 // the newest id wanted; the oldest is 1
		}{
			{portal.EventFilter{}, n},
			{portal.EventFilter{Before: 9000}, 8999},
			{portal.EventFilter{To: t0.Add(5000 * time.Minute)}, 5000},
		}
		for _, tt := range tests {
			next := tt.from
			err := s.Export(t.Context(), tt.f, func(e portal.Event) error {
				if e.ID != next {
					return fmt.Errorf("got record %d, want %d", e.ID, next)
				}
				next--
				return nil
			})
			if err != nil || next != 0 {
				t.Errorf("Export(%+v) = %v, stopping before record %d; want every record from %d down to 1", tt.f, err, next, tt.from)
			}
		}

		stop := errors.New("client went away")
		calls := 0
		err := s.Export(t.Context(), portal.EventFilter{}, func(portal.Event) error {
			calls++
			if calls == 6000 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 6000 {
			t.Errorf("Export(fn failing on call 6000) = %v after %d calls, want %v after 6000", err, calls, stop)
		}

		ctx, cancel := context.WithCancel(t.Context())
		calls = 0
		err = s.Export(ctx, portal.EventFilter{}, func(portal.Event) error {
			if calls++; calls == 10 {
				cancel()
			}
			return nil
		})
		if code(err) != portal.EUnavailable || !errors.Is(err, context.Canceled) {
			t.Errorf("Export(cancelled after 10 records) = %v after %d calls, want code %q wrapping %v",
				err, calls, portal.EUnavailable, context.Canceled)
		}
	})
}

func TestDeleteBefore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
		var events []portal.Event
		for i := range 10 {
			events = append(events, record(t, s, portal.Event{Time: day(i), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"}))
		}
		by := portal.Event{OperatorID: "sup-1", OperatorName: "Sue Supervisor", RequestID: "req-ret", Reason: "365-day retention"}

		n, err := s.DeleteBefore(t.Context(), day(3).Add(time.Hour), by)
		if err != nil || n != 4 {
			t.Fatalf("DeleteBefore(day 3) = %d, %v, want 4, nil", n, err)
		}
		got, err := s.List(t.Context(), portal.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{11, 10, 9, 8, 7, 6, 5}; !slices.Equal(ids(got), want) {
			t.Errorf("after DeleteBefore(day 3), List() ids = %v, want %v", ids(got), want)
		}
		ret := got[0]
		wantRet := portal.Event{ID: 11, Time: day(9), Action: portal.ActionRetention, Outcome: portal.OutcomeSuccess,
			OperatorID: "sup-1", OperatorName: "Sue Supervisor", RequestID: "req-ret", Reason: "365-day retention",
			Detail: "Retention deleted 4 records older than 2026-03-05T01:00:00Z. The remaining history links to anchor hash " + events[3].Hash + ".",
			Hash:   ret.Hash}
		if ret.Time.Before(wantRet.Time) {
			t.Errorf("retention record time %v is before the newest record's %v", ret.Time, wantRet.Time)
		}
		wantRet.Time = ret.Time
		if diff := cmp.Diff(wantRet, ret); diff != "" {
			t.Errorf("retention record mismatch (-want +got):\n%s", diff)
		}
		verifyIntact(t, s, 7)

		steps := []struct {
			cutoff  time.Time
			deleted int64
			checked int64
		}{
			{day(-1), 0, 8},                  // nothing older: the anchor stays
			{day(6).Add(time.Hour), 3, 6},    // a second run, over the first's record
			{day(1000), 6, 1},                // everything, retention records included
			{day(1000).Add(time.Hour), 1, 1}, // and again: the chain still starts somewhere known
		}
		for _, st := range steps {
			n, err := s.DeleteBefore(t.Context(), st.cutoff, by)
			if err != nil || n != st.deleted {
				t.Fatalf("DeleteBefore(%v) = %d, %v, want %d, nil", st.cutoff, n, err, st.deleted)
			}
			verifyIntact(t, s, st.checked)
		}
	})
}

func TestDeleteBeforeThenTamper(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		for i := range 6 {
			record(t, s, portal.Event{Time: t0.Add(time.Duration(i) * time.Hour), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess})
		}
		if _, err := s.DeleteBefore(t.Context(), t0.Add(2*time.Hour), portal.Event{OperatorID: "sup-1"}); err != nil {
			t.Fatal(err)
		}
		// Records 3..6 and the retention record 7 remain; removing the
		// oldest behind the store's back must not pass for retention.
		if err := store.Exec(t.Context(), s, "DELETE FROM events WHERE id = ?", 3); err != nil {
			t.Fatal(err)
		}
		v, err := s.Verify(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v.BrokenAt != 4 || !strings.Contains(v.Problem, "retention record 7") {
			t.Errorf("Verify() after deleting the oldest record = %+v, want BrokenAt 4 naming retention record 7", v)
		}
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  []string // statements run behind the store's back
		broken  int64
		checked int64
		problem string
	}{
		{"intact", nil, 0, 10, ""},
		{"reason changed", []string{"UPDATE events SET reason = 'nothing to see' WHERE id = 4"}, 4, 4, "changed"},
		{"time changed", []string{"UPDATE events SET time_us = time_us + 1 WHERE id = 8"}, 8, 8, "changed"},
		{"flag changed", []string{"UPDATE events SET one_time = NOT one_time WHERE id = 2"}, 2, 2, "changed"},
		{"privilege erased", []string{"UPDATE events SET privilege = '' WHERE id = 3"}, 3, 3, "changed"},
		{"privilege added", []string{"UPDATE events SET privilege = 'x' WHERE id = 4"}, 4, 4, "changed"},
		{"channel changed", []string{"UPDATE events SET channel = 'read' WHERE id = 5"}, 5, 5, "changed"},
		{"channel added", []string{"UPDATE events SET channel = 'link' WHERE id = 6"}, 6, 6, "changed"},
		{"middle record deleted", []string{"DELETE FROM events WHERE id = 6"}, 7, 6, "Record 6 is missing"},
		{"records deleted", []string{"DELETE FROM events WHERE id IN (6, 7, 8)"}, 9, 6, "Records 6 to 8 are missing"},
		{"first record deleted", []string{"DELETE FROM events WHERE id = 1"}, 2, 1, "no retention record"},
		{"record re-hashed without the key", []string{"UPDATE events SET reason = 'x' WHERE id = 5", "UPDATE events SET hash = '$UNKEYED5' WHERE id = 5"}, 5, 5, "changed"},
		{"record re-hashed as unkeyed", []string{"UPDATE events SET reason = 'x', key_id = '' WHERE id = 5", "UPDATE events SET hash = '$UNKEYED5' WHERE id = 5"}, 5, 5, "carries no audit key, though record 4"},
		{"record re-hashed with the key", []string{"UPDATE events SET reason = 'x' WHERE id = 5", "UPDATE events SET hash = '$KEYED5' WHERE id = 5"}, 6, 6, "does not link to record 5"},
		{"chain re-hashed without the key", []string{"$UNKEYED-ALL"}, 10, 10, "Records up to 10 carry no audit key"},
		{"record keyed with an unknown key", []string{"UPDATE events SET key_id = 'feedfacefeedface' WHERE id = 3"}, 3, 3, "audit key feedfacefeedface, which is not configured"},
		{"record renumbered", []string{"DELETE FROM events WHERE id = 6", "UPDATE events SET id = 6 WHERE id = 7"}, 6, 6, "does not link to record 5"},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t, b)
				var events []portal.Event
				for i := range 10 {
					e := portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OneTime: i%2 == 0, Reason: fmt.Sprintf("reason %d", i+1)}
					if i == 2 {
						e.Privilege = "Global Administrator"
					}
					if i == 4 {
						e.Channel = portal.ChannelManager
					}
					events = append(events, record(t, s, e))
				}
				changed := events[4]
				changed.Reason = "x"
				keyed, _ := store.KeyedHash(testutil.AuditKeys[0], events[3].Hash, changed, "")
				for _, stmt := range tt.tamper {
					if stmt == "$UNKEYED-ALL" {
						rehashUnkeyed(t, s, events)
						continue
					}
					// A forger who recomputes the changed record's hash, even
					// with the key, still breaks the next record's link.
					stmt = strings.NewReplacer("$UNKEYED5", store.LegacyHash(events[3].Hash, changed, ""), "$KEYED5", keyed).Replace(stmt)
					if err := store.Exec(t.Context(), s, stmt); err != nil {
						t.Fatalf("%s: %v", stmt, err)
					}
				}
				v, err := s.Verify(t.Context())
				if err != nil {
					t.Fatalf("Verify() = %v", err)
				}
				if v.BrokenAt != tt.broken || v.Checked != tt.checked || !strings.Contains(v.Problem, tt.problem) {
					t.Errorf("Verify() = %+v, want BrokenAt %d after %d records, problem mentioning %q", v, tt.broken, tt.checked, tt.problem)
				}
			})
		}
	})
}

// rehashUnkeyed rewrites the whole chain with the documented unkeyed
// encoding, as someone without the audit key would to hide an edit.
func rehashUnkeyed(t *testing.T, s *store.Store, events []portal.Event) {
	t.Helper()
	prev := store.Genesis
	for _, e := range events {
		e.Hash = store.LegacyHash(prev, e, "")
		if err := store.Exec(t.Context(), s, "UPDATE events SET hash = ?, prev_hash = ?, key_id = '' WHERE id = ?", e.Hash, prev, e.ID); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
}

func TestOpenErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url  string
		code string
		says string // part of the message
	}{
		{"sqlite:" + filepath.Join(notDir, "portal.db"), portal.EUnavailable, notDir},
		{"sqlite:", portal.EInvalid, "must name a file"},
		{"sqlite::memory:", portal.EInvalid, "must name a file"},
		{"mysql://root:s3cret@db/tap", portal.EInvalid, "mysql://root:xxxxx@db/tap"},
		{"postgres://portal:s3cret@127.0.0.1:1/portal?sslmode=disable&connect_timeout=5", portal.EUnavailable, "postgres://portal:xxxxx@127.0.0.1:1/portal"},
		{"postgres://portal@127.0.0.1:1/portal?password=s3cret&sslmode=disable", portal.EUnavailable, "127.0.0.1:1"},
		{"postgres://portal:s3cret@db:port/portal", portal.EInvalid, "malformed"},
		{"postgresql://portal:s3cret@db/portal?sslmode=bogus", portal.EInvalid, "postgresql://portal:xxxxx@db/portal"},
	}
	for _, tt := range tests {
		s, err := store.Open(t.Context(), tt.url, testOptions)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) = nil error, want code %q", tt.url, tt.code)
			continue
		}
		if code(err) != tt.code || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("Open(%s) = %v (code %q), want code %q and a message saying %q", tt.url, err, code(err), tt.code, tt.says)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s) = %v, want the password left out", tt.url, err)
		}
	}
}

func TestReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		first, err := store.Open(t.Context(), u, testOptions)
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		e, err := first.Record(t.Context(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, Reason: "kept"})
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		s := openURL(t, u)
		got, err := s.Get(t.Context(), e.ID)
		if err != nil || got != e {
			t.Errorf("Get(%d) after reopening = %+v, %v, want %+v", e.ID, got, err, e)
		}
		verifyIntact(t, s, 1)
	})
}

// TestReplicas starts several stores on one PostgreSQL database at once,
// as replicas behind a load balancer do, and has them append together.
func TestReplicas(t *testing.T) {
	u := postgresURL(t)
	const replicas = 4
	stores := make([]*store.Store, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := store.Open(t.Context(), u, testOptions)
			if err != nil {
				t.Errorf("Open(replica %d) = %v", i, err)
				return
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, s := range stores {
		for j := range 25 {
			wg.Go(func() {
				_, err := s.RecordIntent(t.Context(), portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending, OperatorID: "op-1"},
					portal.IntentOptions{Limit: portal.Limit{Max: 60, Window: time.Hour}})
				if err != nil && code(err) != portal.ELimited {
					t.Errorf("replica %d, append %d: %v", i, j, err)
				}
			})
		}
	}
	wg.Wait()
	verifyIntact(t, stores[0], 60)
}

func TestClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess})
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		ctx := context.Background()
		calls := []struct {
			name string
			call func() error
		}{
			{"Ping", func() error { return s.Ping(ctx) }},
			{"Record", func() error {
				_, err := s.Record(ctx, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess})
				return err
			}},
			{"RecordIntent", func() error {
				_, err := s.RecordIntent(ctx, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending}, portal.IntentOptions{Limit: portal.Limit{Max: 1, Window: time.Hour}})
				return err
			}},
			{"List", func() error { _, err := s.List(ctx, portal.EventFilter{}); return err }},
			{"Get", func() error { _, err := s.Get(ctx, 1); return err }},
			{"Export", func() error { return s.Export(ctx, portal.EventFilter{}, func(portal.Event) error { return nil }) }},
			{"Stats", func() error { _, err := s.Stats(ctx, portal.EventFilter{}); return err }},
			{"Unsettled", func() error { _, err := s.Unsettled(ctx, time.Now()); return err }},
			{"DeleteBefore", func() error { _, err := s.DeleteBefore(ctx, time.Now(), portal.Event{}); return err }},
			{"Verify", func() error { _, err := s.Verify(ctx); return err }},
		}
		for _, c := range calls {
			if err := c.call(); code(err) != portal.EUnavailable {
				t.Errorf("%s() after Close = %v, want code %q", c.name, err, portal.EUnavailable)
			}
		}
	})
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(t.Context(), "sqlite:"+path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomePending})
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %o, want no access for group or others", filepath.Base(p), mode)
		}
	}
}

// TestDeleteBeforeOldRows deletes with the old records the requests for
// approval and the one-time links whose every step is older than the
// cutoff, and keeps any that a step after the cutoff, a passcode still
// sealed or a link still open keeps in use. The retention record counts
// them.
func TestDeleteBeforeOldRows(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		cutoff := approvalAt.Add(24 * time.Hour)
		record(t, s, portal.Event{Time: approvalAt, Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"})
		record(t, s, portal.Event{Time: cutoff.Add(time.Hour), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"})

		request := func(target string, created time.Time) portal.ApprovalRequest {
			r, _ := newApproval(t, target)
			r.Created, r.Expires = created, created.Add(4*time.Hour)
			createApproval(t, s, r)
			return r
		}
		rejected := request("rejected-before", approvalAt)
		if _, err := s.DecideApproval(ctx, rejected.ID, approver, false, "No.", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		decidedLate := request("decided-after", cutoff.Add(-time.Hour))
		if _, err := s.DecideApproval(ctx, decidedLate.ID, approver, false, "No.", cutoff.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		stillSealed := request("sealed", approvalAt)
		issueApproval(t, s, stillSealed, approvalAt.Add(time.Minute))
		pending := request("pending", cutoff.Add(-time.Hour))
		recent := request("recent", cutoff.Add(time.Hour))

		link := func(created time.Time, lifetime time.Duration, revealed time.Time) portal.RevealLink {
			l, sealed, _ := newRevealLink(t, "passcode", created, lifetime)
			createRevealLink(t, s, l, sealed)
			if !revealed.IsZero() {
				if _, _, err := s.TakeRevealLink(ctx, l.ID, sealed.Check, revealed); err != nil {
					t.Fatal(err)
				}
			}
			return l
		}
		revealedBefore := link(approvalAt, time.Hour, approvalAt.Add(time.Minute))
		expiredBefore := link(approvalAt, time.Hour, time.Time{})
		revealedAfter := link(cutoff.Add(-time.Hour), 2*time.Hour, cutoff.Add(time.Minute))
		openAtCutoff := link(cutoff.Add(-time.Hour), 2*time.Hour, time.Time{})

		if _, err := s.DeleteBefore(ctx, cutoff, portal.Event{OperatorID: "sup-1"}); err != nil {
			t.Fatalf("DeleteBefore(cutoff) = %v", err)
		}
		for _, tc := range []struct {
			name string
			id   string
			want bool
		}{
			{"a request rejected before the cutoff", rejected.ID, false},
			{"a request decided after the cutoff", decidedLate.ID, true},
			{"a request whose passcode is still sealed", stillSealed.ID, true},
			{"a pending request", pending.ID, true},
			{"a request made after the cutoff", recent.ID, true},
		} {
			_, err := s.GetApproval(ctx, tc.id)
			if kept := err == nil; kept != tc.want || err != nil && code(err) != portal.ENotFound {
				t.Errorf("after DeleteBefore, GetApproval(%s) = %v, want kept %v", tc.name, err, tc.want)
			}
		}
		for _, tc := range []struct {
			name string
			id   string
			want bool
		}{
			{"a link revealed before the cutoff", revealedBefore.ID, false},
			{"a link expired unrevealed before the cutoff", expiredBefore.ID, false},
			{"a link revealed after the cutoff", revealedAfter.ID, true},
			{"a link still open at the cutoff", openAtCutoff.ID, true},
		} {
			_, err := s.RevealLinkStatus(ctx, tc.id)
			if kept := err == nil; kept != tc.want || err != nil && code(err) != portal.ENotFound {
				t.Errorf("after DeleteBefore, RevealLinkStatus(%s) = %v, want kept %v", tc.name, err, tc.want)
			}
		}
		got, err := s.List(ctx, portal.EventFilter{Action: portal.ActionRetention})
		if err != nil || len(got) != 1 {
			t.Fatalf("List(retention) = %d records, %v, want 1", len(got), err)
		}
		if want := "With them went 1 request for approval and 2 one-time links whose every step was older."; !strings.HasSuffix(got[0].Detail, want) {
			t.Errorf("the retention record's detail = %q, want it to end %q", got[0].Detail, want)
		}
		verifyIntact(t, s, 2)
	})
}
