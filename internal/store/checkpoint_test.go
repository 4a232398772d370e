package store_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
)

const interval = 5 * time.Minute

// checkpoint writes a checkpoint, logs it to log, and fails the test if
// either fails or the chain was not intact.
func checkpoint(t *testing.T, s *store.Store, log *bytes.Buffer) portal.Checkpoint {
	t.Helper()
	c, err := s.WriteCheckpoint(t.Context(), interval)
	if err != nil {
		t.Fatalf("WriteCheckpoint() = %v", err)
	}
	if c.Status != portal.ChainIntact {
		t.Fatalf("WriteCheckpoint() status = %q, want intact", c.Status)
	}
	store.LogCheckpoint(t.Context(), slog.New(slog.NewJSONHandler(log, nil)), c)
	return c
}

func readLog(t *testing.T, log string) []store.LoggedCheckpoint {
	t.Helper()
	cs, unreadable, err := store.ReadCheckpoints(strings.NewReader(log))
	if err != nil || len(unreadable) != 0 {
		t.Fatalf("ReadCheckpoints() = %v, %v", unreadable, err)
	}
	return cs
}

func recordN(t *testing.T, s *store.Store, n int) []portal.Event {
	t.Helper()
	var events []portal.Event
	for i := range n {
		events = append(events, record(t, s, portal.Event{Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1", Reason: "reason " + string(rune('a'+i%26))}))
	}
	return events
}

func TestCheckpointRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		var log bytes.Buffer
		first := checkpoint(t, s, &log)
		if first.Seq != 1 || first.HeadID != 0 || first.HeadHash != store.Genesis || first.Count != 0 {
			t.Errorf("checkpoint of an empty history = %+v, want seq 1 naming the genesis hash", first)
		}
		events := recordN(t, s, 5)
		second := checkpoint(t, s, &log)
		if second.Seq != 2 || second.HeadID != 5 || second.HeadHash != events[4].Hash || second.Count != 5 || second.Interval != interval {
			t.Errorf("checkpoint after 5 records = %+v, want seq 2, head 5 with its hash, count 5", second)
		}
		logged := readLog(t, "not JSON\n"+log.String()+`{"msg":"other","checkpoint":{}}`+"\n")
		if diff := cmp.Diff([]store.LoggedCheckpoint{{Checkpoint: first, Line: 2}, {Checkpoint: second, Line: 3}}, logged); diff != "" {
			t.Errorf("ReadCheckpoints() differs from what was written (-want +got):\n%s", diff)
		}
		v, err := s.VerifyWith(t.Context(), logged)
		if err != nil || !v.Intact() || v.Checked != 5 || v.Checkpoints != 2 {
			t.Errorf("VerifyWith(the log) = %+v, %v; want 5 records and 2 checkpoints, intact", v, err)
		}
		st, err := s.ChainStatus(t.Context())
		if err != nil || !st.Intact() || st.Checkpoint != second {
			t.Errorf("ChainStatus() = %+v, %v; want intact as of checkpoint 2", st, err)
		}
	})
}

func TestChainStatusWithoutCheckpoint(t *testing.T) {
	s := open(t, backends[0])
	recordN(t, s, 2)
	st, err := s.ChainStatus(t.Context())
	if err != nil || st.Intact() || st.Checkpoint.Seq != 0 {
		t.Errorf("ChainStatus() before any checkpoint = %+v, %v; want no checkpoint, not intact", st, err)
	}
}

// TestCheckpointsFindTampering tampers with the database, and with the
// log, as each attacker could, and checks what verification names.
func TestCheckpointsFindTampering(t *testing.T) {
	tests := []struct {
		name string
		// tamper changes the database; log changes the logged lines.
		tamper func(t *testing.T, s *store.Store, events []portal.Event)
		log    func(lines []string) []string
		// dbOnly is what verification without the log finds (a substring
		// of the problem or of the first finding; "" for intact), withLog
		// what it finds with the log, status what ChainStatus says.
		dbOnly, withLog, status string
	}{
		{
			name: "intact",
		},
		{
			name:   "newest records deleted",
			tamper: exec("DELETE FROM events WHERE id > 8"),
			dbOnly: "names record 10 as the newest, but the newest record is 8: records 9 to 10 were deleted",
			status: "newest record is 8: records were deleted since",
		},
		{
			// What a DBA can hide from the database alone: only the log
			// shows it.
			name:    "newest records and their checkpoint deleted",
			tamper:  exec("DELETE FROM events WHERE id > 8", "DELETE FROM checkpoints WHERE seq = 3"),
			withLog: "Checkpoint 3 (",
		},
		{
			name: "newest records replaced",
			tamper: func(t *testing.T, s *store.Store, events []portal.Event) {
				exec("DELETE FROM events WHERE id > 8")(t, s, events)
				recordN(t, s, 2)
			},
			dbOnly: "Record 10 is not the record checkpoint 3",
			status: "Record 10 has changed since checkpoint 3",
		},
		{
			// An insider with the key re-hashes an edited record and every
			// one after it: the chain verifies, the checkpoints do not.
			name: "records rewritten with the key",
			tamper: func(t *testing.T, s *store.Store, events []portal.Event) {
				prev := events[6].Hash
				for _, e := range events[7:] {
					e.Reason = "rewritten"
					var keyID string
					e.Hash, keyID = store.KeyedHash(testutil.AuditKeys[0], prev, e, "")
					mustExec(t, s, "UPDATE events SET reason = ?, hash = ?, prev_hash = ?, key_id = ? WHERE id = ?", e.Reason, e.Hash, prev, keyID, e.ID)
					prev = e.Hash
				}
			},
			dbOnly: "Record 10 is not the record checkpoint 3",
			status: "Record 10 has changed since checkpoint 3",
		},
		{
			name:   "checkpoint edited",
			tamper: exec("UPDATE checkpoints SET head_id = 8 WHERE seq = 3"),
			dbOnly: "Checkpoint 3 in the database does not verify",
			status: "The newest checkpoint does not verify",
		},
		{
			name:   "checkpoint signed with an unknown key",
			tamper: exec("UPDATE checkpoints SET key_id = 'feedfacefeedface' WHERE seq = 2"),
			dbOnly: `Checkpoint 2 in the database is signed with audit key "feedfacefeedface", which is not configured`,
		},
		{
			name:   "checkpoint status edited",
			tamper: exec("UPDATE checkpoints SET status = 'intact ' WHERE seq = 3"),
			dbOnly: "Checkpoint 3 in the database does not verify",
			status: "The newest checkpoint does not verify",
		},
		{
			name: "checkpoint deleted and written again",
			tamper: func(t *testing.T, s *store.Store, events []portal.Event) {
				exec("DELETE FROM events WHERE id > 8", "DELETE FROM checkpoints WHERE seq = 3")(t, s, events)
				if _, err := s.WriteCheckpoint(t.Context(), interval); err != nil {
					t.Fatal(err)
				}
			},
			withLog: "Checkpoint 3 differs between the log (line 3",
		},
		{
			name:    "checkpoint line removed from the log",
			log:     func(lines []string) []string { return []string{lines[0], lines[2]} },
			withLog: "Checkpoint 2 is missing from the log (checkpoints 1 and 3 are on lines 1 and 2)",
		},
		{
			// Replicas' logs merged in any order, with a line twice.
			name:    "log lines out of order and repeated",
			log:     func(lines []string) []string { return []string{lines[2], lines[0], lines[1], lines[2]} },
			withLog: "",
		},
		{
			name: "checkpoint line edited in the log",
			log: func(lines []string) []string {
				lines[1] = strings.Replace(lines[1], `"head_id":6`, `"head_id":5`, 1)
				return lines
			},
			withLog: "Checkpoint 2 on line 2 of the log does not verify",
		},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t, b)
				var log bytes.Buffer
				checkpoint(t, s, &log)
				events := recordN(t, s, 6)
				checkpoint(t, s, &log)
				events = append(events, recordN(t, s, 4)...)
				checkpoint(t, s, &log)
				if tt.tamper != nil {
					tt.tamper(t, s, events)
				}
				lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
				if tt.log != nil {
					lines = tt.log(lines)
				}
				logged := readLog(t, strings.Join(lines, "\n"))

				dbOnly, err := s.Verify(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				checkFinding(t, "Verify()", dbOnly, tt.dbOnly)
				withLog, err := s.VerifyWith(t.Context(), logged)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.withLog
				if want == "" {
					want = tt.dbOnly
				}
				checkFinding(t, "VerifyWith(the log)", withLog, want)
				st, err := s.ChainStatus(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if tt.status == "" && !st.Intact() || tt.status != "" && !strings.Contains(st.Problem, tt.status) {
					t.Errorf("ChainStatus() = %+v, want problem %q", st, tt.status)
				}
			})
		}
	})
}

// checkFinding checks that v is intact when want is "", or that its
// problem or one of its findings says want.
func checkFinding(t *testing.T, call string, v portal.Verification, want string) {
	t.Helper()
	if want == "" {
		if !v.Intact() {
			t.Errorf("%s = %+v, want intact", call, v)
		}
		return
	}
	said := append([]string{v.Problem}, v.Findings...)
	for _, s := range said {
		if strings.Contains(s, want) {
			return
		}
	}
	t.Errorf("%s = %+v, want a problem or finding saying %q", call, v, want)
}

// exec returns a tamper function running statements.
func exec(stmts ...string) func(t *testing.T, s *store.Store, events []portal.Event) {
	return func(t *testing.T, s *store.Store, _ []portal.Event) {
		t.Helper()
		for _, stmt := range stmts {
			mustExec(t, s, stmt)
		}
	}
}

// mustExec runs a statement behind the store's back.
func mustExec(t *testing.T, s *store.Store, stmt string, args ...any) {
	t.Helper()
	if err := store.Exec(t.Context(), s, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestLegacyUnkeyedRecords opens a history written before the chain was
// keyed: its records stand only once a keyed record follows them or the
// first checkpoint vouches for them.
func TestLegacyUnkeyedRecords(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		prev := store.Genesis
		for i := range 3 {
			e := portal.Event{ID: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess, OperatorID: "op-1"}
			e.Hash = store.LegacyHash(prev, e, "")
			mustExec(t, s, `INSERT INTO events (id, time_us, action, outcome, operator_id, one_time, reconciled, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Time.UnixMicro(), e.Action, e.Outcome, e.OperatorID, false, false, prev, e.Hash)
			prev = e.Hash
		}
		v, err := s.Verify(t.Context())
		if err != nil || v.BrokenAt != 3 || !strings.Contains(v.Problem, "Records up to 3 carry no audit key") {
			t.Errorf("Verify() of unkeyed records alone = %+v, %v; want broken at 3, nothing vouching for them", v, err)
		}
		// The first checkpoint after the upgrade takes them over...
		c, err := s.WriteCheckpoint(t.Context(), interval)
		if err != nil || c.Status != portal.ChainIntact || c.HeadID != 3 {
			t.Fatalf("first WriteCheckpoint() = %+v, %v; want intact at record 3", c, err)
		}
		verifyIntact(t, s, 3)
		// ...and keyed records follow them.
		recordN(t, s, 2)
		verifyIntact(t, s, 5)
		// A later unkeyed record is a forgery.
		e := portal.Event{ID: 6, Time: t0.Add(time.Hour), Action: portal.ActionIssue, Outcome: portal.OutcomeSuccess}
		head, err := s.Get(t.Context(), 5)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = store.LegacyHash(head.Hash, e, "")
		mustExec(t, s, `INSERT INTO events (id, time_us, action, outcome, operator_id, one_time, reconciled, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, micros(head.Time)+1, e.Action, e.Outcome, "", false, false, head.Hash, e.Hash)
		v, err = s.Verify(t.Context())
		if err != nil || v.BrokenAt != 6 || !strings.Contains(v.Problem, "Record 6 carries no audit key, though record 5 before it does") {
			t.Errorf("Verify() with an unkeyed record after keyed ones = %+v, %v; want broken at 6", v, err)
		}
	})
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// TestAuditKeyRotation adds a key in front of the old one: new records
// and checkpoints use it, old ones verify with the old key, and dropping
// the old key too soon says so.
func TestAuditKeyRotation(t *testing.T) {
	u := sqliteURL(t)
	oldKey, newKey := testutil.AuditKeys[0], "the next audit key, at least thirty-two characters"
	openWith := func(keys ...string) *store.Store {
		s, err := store.Open(t.Context(), u, store.Options{AuditKeys: keys})
		if err != nil {
			t.Fatalf("Open(keys %d) = %v", len(keys), err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := openWith(oldKey)
	recordN(t, s, 2)
	var log bytes.Buffer
	checkpoint(t, s, &log)
	s.Close()

	s = openWith(newKey, oldKey)
	recordN(t, s, 2)
	c := checkpoint(t, s, &log)
	if c.KeyID != store.KeyID(newKey) {
		t.Errorf("checkpoint after rotation signed with %s, want the new key %s", c.KeyID, store.KeyID(newKey))
	}
	v, err := s.VerifyWith(t.Context(), readLog(t, log.String()))
	if err != nil || !v.Intact() || v.Checked != 4 || v.Checkpoints != 2 {
		t.Errorf("VerifyWith() under both keys = %+v, %v; want 4 records and 2 checkpoints, intact", v, err)
	}
	s.Close()

	s = openWith(newKey)
	v, err = s.Verify(t.Context())
	if err != nil || v.BrokenAt != 1 || !strings.Contains(v.Problem, "keyed with audit key "+store.KeyID(oldKey)+", which is not configured") {
		t.Errorf("Verify() without the old key = %+v, %v; want broken at 1, naming the missing key", v, err)
	}
}

func TestOpenNeedsAnAuditKey(t *testing.T) {
	for _, tt := range []struct {
		keys []string
		says string
	}{
		{nil, "needs an audit key"},
		{[]string{"short"}, "Audit key 1 is 5 characters"},
		{[]string{testutil.AuditKeys[0], testutil.AuditKeys[0]}, "Audit key 2 repeats"},
	} {
		_, err := store.Open(t.Context(), sqliteURL(t), store.Options{AuditKeys: tt.keys})
		if code(err) != portal.EInvalid || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("Open(keys %q) = %v, want EInvalid saying %q", tt.keys, err, tt.says)
		}
	}
}
