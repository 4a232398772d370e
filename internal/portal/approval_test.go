package portal

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestApprovalStates(t *testing.T) {
	done := map[ApprovalState]bool{ApprovalRejected: true, ApprovalExpired: true, ApprovalCancelled: true, ApprovalIssued: true, ApprovalFailed: true}
	for _, st := range ApprovalStates() {
		if got := st.Done(); got != done[st] {
			t.Errorf("%s.Done() = %v, want %v", st, got, done[st])
		}
		if got, ok := ParseApprovalState(string(st)); !ok || got != st {
			t.Errorf("ParseApprovalState(%q) = %q, %v, want %q", st, got, ok, st)
		}
		if got := st.Label(); got == "" || got == string(st) {
			t.Errorf("%s.Label() = %q, want words", st, got)
		}
	}
	if got, ok := ParseApprovalState("done"); ok || got != "" {
		t.Errorf("ParseApprovalState(done) = %q, %v, want nothing", got, ok)
	}
}

// TestApprovalStateAt: a pending request is expired from its expiry on;
// any other state stands.
func TestApprovalStateAt(t *testing.T) {
	expires := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		state ApprovalState
		at    time.Time
		want  ApprovalState
	}{
		{ApprovalPending, expires.Add(-time.Nanosecond), ApprovalPending},
		{ApprovalPending, expires, ApprovalExpired},
		{ApprovalPending, expires.Add(time.Hour), ApprovalExpired},
		{ApprovalApproved, expires.Add(time.Hour), ApprovalApproved},
		{ApprovalIssued, expires.Add(time.Hour), ApprovalIssued},
	} {
		r := ApprovalRequest{State: tc.state, Expires: expires}
		if got := r.StateAt(tc.at); got != tc.want {
			t.Errorf("(%s until %s).StateAt(%s) = %s, want %s", tc.state, expires, tc.at, got, tc.want)
		}
	}
}

// TestApprovalSnapshotJSON: a snapshot is kept as JSON under stable names,
// and reads back as it was.
func TestApprovalSnapshotJSON(t *testing.T) {
	s := ApprovalSnapshot{
		Eligible: true, Refusals: []string{"A."}, DisplayName: "Alex Kim", AccountEnabled: true,
		Groups: []SnapshotGroup{{ID: "g1", Name: "Finance"}}, Roles: []string{"Reports Reader"}, LivePass: true, PassID: "tap-1",
		Policy: SnapshotPolicy{Enabled: true, MinLifetimeMinutes: 60, MaxLifetimeMinutes: 480, DefaultLifetimeMinutes: 60, OneTimeForced: true},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"eligible":true,"refusals":["A."],"display_name":"Alex Kim","account_enabled":true,"groups":[{"id":"g1","name":"Finance"}],` +
		`"roles":["Reports Reader"],"live_pass":true,"pass_id":"tap-1","policy":{"enabled":true,"min_lifetime_minutes":60,` +
		`"max_lifetime_minutes":480,"default_lifetime_minutes":60,"one_time_forced":true}}`
	if string(b) != want {
		t.Errorf("json.Marshal(snapshot) = %s, want %s", b, want)
	}
	var back ApprovalSnapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("the snapshot read back (-want +got):\n%s", diff)
	}
}
