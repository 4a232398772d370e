package store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
)

// approvalAt is when the test requests are made: a Monday morning.
var approvalAt = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	requesterID = "0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90"
	approverID  = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	passcode    = "Ab3$kP9!mQ2z"
)

var (
	approver = portal.Operator{ID: approverID, Name: "Sam Lee", Supervisor: true}
	// requesterAgain is the requester with the id in another case, as a
	// second sign-in could give it.
	requesterAgain = portal.Operator{ID: strings.ToUpper(requesterID), Name: "Priya Patel", Supervisor: true}
)

// newApproval returns a pending request by the requester, with a new key
// pair, expiring in four hours; the private key is returned beside it.
func newApproval(t *testing.T, target string) (portal.ApprovalRequest, []byte) {
	t.Helper()
	public, private, err := approval.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	return portal.ApprovalRequest{
		ID:              approval.NewID(),
		State:           portal.ApprovalPending,
		RequesterID:     requesterID,
		RequesterName:   "Priya Patel",
		TargetID:        target,
		TargetUPN:       "alex.kim@northwind.example",
		TargetName:      "Alex Kim",
		Start:           approvalAt.Add(time.Hour),
		LifetimeMinutes: 480,
		Reason:          "Lost phone",
		Ticket:          "INC0012345",
		Channel:         "read",
		Reasons: []portal.ApprovalReason{
			{Code: approval.CodeLifetime, Message: "The pass lasts 8 hours, over the 2 hours that need a second pair of eyes."},
			{Code: approval.CodeMultiUse, Message: "The pass can be used more than once: a pass that is not one-time needs a second pair of eyes."},
		},
		Snapshot: portal.ApprovalSnapshot{
			Eligible: true, DisplayName: "Alex Kim", AccountEnabled: true,
			Groups:   []portal.SnapshotGroup{{ID: approverID, Name: "Finance"}},
			Roles:    []string{"Reports Reader"},
			LivePass: true, PassID: "tap-1",
			Policy: portal.SnapshotPolicy{Enabled: true, MinLifetimeMinutes: 60, MaxLifetimeMinutes: 480, DefaultLifetimeMinutes: 60},
		},
		Created:   approvalAt,
		Expires:   approvalAt.Add(4 * time.Hour),
		PublicKey: public,
	}, private
}

func createApproval(t *testing.T, s *store.Store, r portal.ApprovalRequest) {
	t.Helper()
	if err := s.CreateApproval(t.Context(), r); err != nil {
		t.Fatalf("CreateApproval(%s) = %v", r.ID, err)
	}
}

// wantError fails t unless err has code and message.
func wantError(t *testing.T, call string, err error, code, message string) {
	t.Helper()
	if portal.ErrorCode(err) != code || portal.ErrorMessage(err) != message {
		t.Errorf("%s = %v (%s), want %s (%s)", call, err, portal.ErrorCode(err), message, code)
	}
}

// TestApprovalLife follows a request from creation to its passcode taken:
// every field round-trips, each step happens once, and the requester can
// neither decide their own request nor be replaced as the one who takes
// the passcode.
func TestApprovalLife(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		req, private := newApproval(t, "alex")
		createApproval(t, s, req)
		got, err := s.GetApproval(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(req, got); diff != "" {
			t.Fatalf("GetApproval(%s) (-want +got):\n%s", req.ID, diff)
		}
		wantError(t, "CreateApproval(the same id)", s.CreateApproval(ctx, req), portal.EConflict, "A request for approval with this id exists already.")
		_, err = s.GetApproval(ctx, "nope")
		wantError(t, "GetApproval(nope)", err, portal.ENotFound, "No such request for approval.")

		if err := s.SetRequestEvent(ctx, req.ID, 7); err != nil {
			t.Fatalf("SetRequestEvent(7) = %v", err)
		}
		if err := s.SetRequestEvent(ctx, req.ID, 7); err != nil {
			t.Fatalf("SetRequestEvent(7) again = %v, want nothing to change", err)
		}
		wantError(t, "SetRequestEvent(8)", s.SetRequestEvent(ctx, req.ID, 8), portal.EConflict, "The request for approval is linked to history record 7 already.")
		wantError(t, "SetDecisionEvent(nope)", s.SetDecisionEvent(ctx, "nope", 8), portal.ENotFound, "No such request for approval.")

		_, err = s.DecideApproval(ctx, req.ID, requesterAgain, true, "", approvalAt.Add(time.Minute))
		wantError(t, "DecideApproval(by its requester)", err, portal.EDenied, "You made this request: someone else must approve or reject it.")
		_, err = s.TakeSealedApproval(ctx, req.ID, requesterID, approvalAt.Add(time.Minute))
		wantError(t, "TakeSealedApproval(pending)", err, portal.EConflict, "No passcode waits for this request: it is still waiting for a decision.")
		err = s.MarkApprovalIssued(ctx, req.ID, 9, "tap-2", []byte("sealed"), approvalAt.Add(time.Minute))
		wantError(t, "MarkApprovalIssued(pending)", err, portal.EConflict, "This request is still waiting for a decision: only an approved request is issued.")

		decidedAt := approvalAt.Add(5 * time.Minute)
		decided, err := s.DecideApproval(ctx, req.ID, approver, true, "Checked with the user's manager.", decidedAt)
		if err != nil {
			t.Fatalf("DecideApproval(approve) = %v", err)
		}
		if decided.State != portal.ApprovalApproved || decided.DeciderID != approverID || decided.DeciderName != "Sam Lee" ||
			!decided.Decided.Equal(decidedAt) || decided.DecisionNote != "Checked with the user's manager." || decided.RequestEventID != 7 {
			t.Fatalf("DecideApproval(approve) = %+v, want approved by Sam Lee at %s with the note", decided, decidedAt)
		}
		_, err = s.DecideApproval(ctx, req.ID, portal.Operator{ID: "someone-else", Name: "Ana Silva"}, false, "", decidedAt.Add(time.Minute))
		wantError(t, "DecideApproval(a second time)", err, portal.EConflict, "Sam Lee approved this request already, at 2026-03-02 09:05 UTC.")
		_, err = s.CancelApproval(ctx, req.ID, requesterID, decidedAt.Add(time.Minute))
		wantError(t, "CancelApproval(approved)", err, portal.EConflict, "Sam Lee approved this request already, at 2026-03-02 09:05 UTC.")
		if err := s.SetDecisionEvent(ctx, req.ID, 8); err != nil {
			t.Fatalf("SetDecisionEvent(8) = %v", err)
		}

		sealed, err := approval.Seal(req.PublicKey, req.ID, passcode)
		if err != nil {
			t.Fatal(err)
		}
		issuedAt := decidedAt.Add(3 * time.Second)
		if err := s.MarkApprovalIssued(ctx, req.ID, 9, "tap-2", sealed, issuedAt); err != nil {
			t.Fatalf("MarkApprovalIssued = %v", err)
		}
		err = s.MarkApprovalFailed(ctx, req.ID, 10, "Throttled.", issuedAt)
		wantError(t, "MarkApprovalFailed(issued)", err, portal.EConflict, "This request is issued already: only an approved request is issued.")
		got, err = s.GetApproval(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != portal.ApprovalIssued || got.TAPID != "tap-2" || got.IssueEventID != 9 || got.DecisionEventID != 8 ||
			!got.Settled.Equal(issuedAt) || !got.PasscodeWaiting || got.Sealed != nil || !got.Taken.IsZero() {
			t.Fatalf("GetApproval(issued) = %+v, want issued as tap-2, its passcode waiting but not read", got)
		}

		_, err = s.TakeSealedApproval(ctx, req.ID, approverID, issuedAt)
		wantError(t, "TakeSealedApproval(by the approver)", err, portal.EDenied, "Only the operator who made a request can take its passcode.")
		takenAt := issuedAt.Add(time.Minute)
		taken, err := s.TakeSealedApproval(ctx, req.ID, strings.ToUpper(requesterID), takenAt)
		if err != nil {
			t.Fatalf("TakeSealedApproval(by the requester) = %v", err)
		}
		if pc, err := approval.Open(private, req.ID, taken.Sealed); err != nil || pc != passcode {
			t.Fatalf("Open(the passcode taken) = %q, %v, want %q", pc, err, passcode)
		}
		if !taken.Taken.Equal(takenAt) || taken.PasscodeWaiting {
			t.Errorf("TakeSealedApproval() = taken %s, waiting %v; want taken at %s, nothing waiting", taken.Taken, taken.PasscodeWaiting, takenAt)
		}
		_, err = s.TakeSealedApproval(ctx, req.ID, requesterID, takenAt.Add(time.Minute))
		wantError(t, "TakeSealedApproval(a second time)", err, portal.EConflict,
			"The passcode was taken already, at 2026-03-02 09:06 UTC, and the portal does not keep it: revoke a pass whose passcode was lost and ask for another.")
		if got, _ := s.GetApproval(ctx, req.ID); got.PasscodeWaiting || !got.Taken.Equal(takenAt) || got.State != portal.ApprovalIssued {
			t.Errorf("GetApproval(taken) = %+v, want issued, taken at %s, nothing waiting", got, takenAt)
		}
	})
}

// TestApprovalRefusals: what the store refuses to keep, and each way a
// request cannot move, with the message that says why.
func TestApprovalRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		for _, tc := range []struct {
			name   string
			change func(r *portal.ApprovalRequest)
			want   string
		}{
			{"no id", func(r *portal.ApprovalRequest) { r.ID = "" }, "A request for approval needs an id of at most 64 characters."},
			{"a long id", func(r *portal.ApprovalRequest) { r.ID = strings.Repeat("a", 65) }, "A request for approval needs an id of at most 64 characters."},
			{"no requester", func(r *portal.ApprovalRequest) { r.RequesterID = "" }, "A request for approval needs a requester."},
			{"no target", func(r *portal.ApprovalRequest) { r.TargetID = "" }, "A request for approval is for either a user or a cohort run."},
			{"a target and a run", func(r *portal.ApprovalRequest) { r.RunID = "run1" }, "A request for approval is for either a user or a cohort run."},
			{"no reasons", func(r *portal.ApprovalRequest) { r.Reasons = nil }, "A request for approval needs the reasons it needs one."},
			{"no channel", func(r *portal.ApprovalRequest) { r.Channel = "" }, "A request for approval needs the channel its passcode is to go by."},
			{"no lifetime", func(r *portal.ApprovalRequest) { r.LifetimeMinutes = 0 }, "A request for approval needs the pass's lifetime."},
			{"expiring as made", func(r *portal.ApprovalRequest) { r.Expires = r.Created }, "A request for approval must expire after it is made."},
			{"approved already", func(r *portal.ApprovalRequest) { r.State = portal.ApprovalApproved }, "A new request for approval is pending, not approved."},
			{"decided already", func(r *portal.ApprovalRequest) { r.DeciderID = approverID }, "A new request for approval cannot be decided or issued already."},
			{"with a passcode", func(r *portal.ApprovalRequest) { r.Sealed = []byte("x") }, "A new request for approval cannot be decided or issued already."},
		} {
			r, _ := newApproval(t, "alex")
			tc.change(&r)
			wantError(t, "CreateApproval("+tc.name+")", s.CreateApproval(ctx, r), portal.EInvalid, tc.want)
		}

		// A cohort run's request: no target, no pass of its own.
		run, _ := newApproval(t, "")
		run.RunID, run.TargetUPN, run.TargetName, run.Start, run.LifetimeMinutes, run.Snapshot = "run1", "", "", time.Time{}, 0, portal.ApprovalSnapshot{}
		run.Reasons = []portal.ApprovalReason{{Code: approval.CodeBulk, Message: "The run has 250 eligible rows, over the 100 that need a second pair of eyes."}}
		createApproval(t, s, run)
		if got, err := s.GetApproval(ctx, run.ID); err != nil || !cmp.Equal(run, got) {
			t.Errorf("GetApproval(a run's request) = %+v, %v; want %+v", got, err, run)
		}

		// Rejected: nothing more happens to it.
		rejected, _ := newApproval(t, "alex")
		createApproval(t, s, rejected)
		if r, err := s.DecideApproval(ctx, rejected.ID, approver, false, "No ticket.", approvalAt.Add(time.Minute)); err != nil ||
			r.State != portal.ApprovalRejected || r.DecisionNote != "No ticket." {
			t.Fatalf("DecideApproval(reject) = %+v, %v", r, err)
		}
		_, err := s.DecideApproval(ctx, rejected.ID, portal.Operator{ID: "other", Name: "Ana Silva"}, true, "", approvalAt.Add(2*time.Minute))
		wantError(t, "DecideApproval(rejected)", err, portal.EConflict, "Sam Lee rejected this request already, at 2026-03-02 09:01 UTC.")
		wantError(t, "MarkApprovalIssued(rejected)", s.MarkApprovalIssued(ctx, rejected.ID, 1, "tap", nil, approvalAt), portal.EConflict,
			"This request is rejected: only an approved request is issued.")

		// Expired: at its expiry, not only after.
		late, _ := newApproval(t, "alex")
		createApproval(t, s, late)
		_, err = s.DecideApproval(ctx, late.ID, approver, true, "", late.Expires)
		wantError(t, "DecideApproval(at the expiry)", err, portal.EConflict, "This request expired at 2026-03-02 13:00 UTC, before anyone decided it.")
		_, err = s.CancelApproval(ctx, late.ID, requesterID, late.Expires.Add(time.Hour))
		wantError(t, "CancelApproval(after the expiry)", err, portal.EConflict, "This request expired at 2026-03-02 13:00 UTC, before anyone decided it.")
		if r, err := s.DecideApproval(ctx, late.ID, approver, true, "", late.Expires.Add(-time.Microsecond)); err != nil || r.State != portal.ApprovalApproved {
			t.Fatalf("DecideApproval(a moment before the expiry) = %+v, %v", r, err)
		}

		// Cancelled by its requester, and only by them.
		cancelled, _ := newApproval(t, "alex")
		createApproval(t, s, cancelled)
		_, err = s.CancelApproval(ctx, cancelled.ID, approverID, approvalAt.Add(time.Minute))
		wantError(t, "CancelApproval(by another)", err, portal.EDenied, "Only the operator who made a request can cancel it.")
		if r, err := s.CancelApproval(ctx, cancelled.ID, strings.ToUpper(requesterID), approvalAt.Add(time.Minute)); err != nil ||
			r.State != portal.ApprovalCancelled || r.DeciderID != "" || !r.Decided.Equal(approvalAt.Add(time.Minute)) {
			t.Fatalf("CancelApproval(by its requester) = %+v, %v", r, err)
		}
		_, err = s.DecideApproval(ctx, cancelled.ID, approver, true, "", approvalAt.Add(2*time.Minute))
		wantError(t, "DecideApproval(cancelled)", err, portal.EConflict, "Priya Patel cancelled this request at 2026-03-02 09:01 UTC.")
		_, err = s.CancelApproval(ctx, "nope", requesterID, approvalAt)
		wantError(t, "CancelApproval(nope)", err, portal.ENotFound, "No such request for approval.")
		_, err = s.DecideApproval(ctx, "nope", approver, true, "", approvalAt)
		wantError(t, "DecideApproval(nope)", err, portal.ENotFound, "No such request for approval.")

		// Failed after the approval: no passcode ever waits.
		failed, _ := newApproval(t, "alex")
		createApproval(t, s, failed)
		if _, err := s.DecideApproval(ctx, failed.ID, approver, true, "", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkApprovalFailed(ctx, failed.ID, 12, "The tenant policy is disabled.", approvalAt.Add(2*time.Minute)); err != nil {
			t.Fatalf("MarkApprovalFailed = %v", err)
		}
		if r, _ := s.GetApproval(ctx, failed.ID); r.State != portal.ApprovalFailed || r.Detail != "The tenant policy is disabled." || r.IssueEventID != 12 {
			t.Errorf("GetApproval(failed) = %+v", r)
		}
		_, err = s.TakeSealedApproval(ctx, failed.ID, requesterID, approvalAt.Add(3*time.Minute))
		wantError(t, "TakeSealedApproval(failed)", err, portal.EConflict, "No passcode waits for this request: it is approved, but its issue failed.")

		// Issued by another channel: nothing sealed for the requester.
		mailed, _ := newApproval(t, "alex")
		mailed.Channel = "manager"
		createApproval(t, s, mailed)
		if _, err := s.DecideApproval(ctx, mailed.ID, approver, true, "", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkApprovalIssued(ctx, mailed.ID, 13, "tap-3", nil, approvalAt.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.GetApproval(ctx, mailed.ID); r.State != portal.ApprovalIssued || r.PasscodeWaiting {
			t.Errorf("GetApproval(mailed) = %+v, want issued with no passcode waiting", r)
		}
		_, err = s.TakeSealedApproval(ctx, mailed.ID, requesterID, approvalAt.Add(3*time.Minute))
		wantError(t, "TakeSealedApproval(mailed)", err, portal.EConflict, "No passcode waits for this request: it went by the manager channel.")
		_, err = s.TakeSealedApproval(ctx, "nope", requesterID, approvalAt)
		wantError(t, "TakeSealedApproval(nope)", err, portal.ENotFound, "No such request for approval.")
	})
}

// TestApprovalTableChecks: what the store refuses, the table refuses too,
// whatever writes to it behind the store's back: a requester deciding
// their own request, a passcode held by a request not issued, a request
// for both a user and a run.
func TestApprovalTableChecks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		r, _ := newApproval(t, "alex")
		createApproval(t, s, r)
		for _, tc := range []struct {
			name, stmt string
			args       []any
		}{
			{"the requester approving", `UPDATE approvals SET state = 'approved', decider_id = ?, decided_us = 1 WHERE id = ?`, []any{strings.ToUpper(requesterID), r.ID}},
			{"a pending request holding a passcode", `UPDATE approvals SET sealed = ? WHERE id = ?`, []any{[]byte("sealed"), r.ID}},
			{"a request for a user and a run", `UPDATE approvals SET run_id = 'run1' WHERE id = ?`, []any{r.ID}},
			{"a state that is none", `UPDATE approvals SET state = 'done' WHERE id = ?`, []any{r.ID}},
		} {
			if err := store.Exec(ctx, s, tc.stmt, tc.args...); err == nil {
				t.Errorf("the table let through %s", tc.name)
			}
		}
		if got, err := s.GetApproval(ctx, r.ID); err != nil || !cmp.Equal(r, got) {
			t.Errorf("GetApproval() after the refused writes = %+v, %v; want it unchanged", got, err)
		}
	})
}

// TestApprovalDecidersRace: deciders on two replicas at the same moment;
// one decides, every other is told who did and when.
func TestApprovalDecidersRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		replicas := []*store.Store{openURL(t, u), openURL(t, u)}
		ctx := t.Context()
		r, _ := newApproval(t, "alex")
		createApproval(t, replicas[0], r)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				op := portal.Operator{ID: fmt.Sprintf("decider-%d", i), Name: fmt.Sprintf("Decider %d", i)}
				_, errs[i] = replicas[i%2].DecideApproval(ctx, r.ID, op, i%2 == 0, "", approvalAt.Add(time.Minute))
			})
		}
		wg.Wait()
		got, err := replicas[1].GetApproval(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		verb := map[portal.ApprovalState]string{portal.ApprovalApproved: "approved", portal.ApprovalRejected: "rejected"}[got.State]
		want := got.DeciderName + " " + verb + " this request already, at 2026-03-02 09:01 UTC."
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if got.DeciderID != fmt.Sprintf("decider-%d", i) {
					t.Errorf("decider %d succeeded, but the request names %s", i, got.DeciderID)
				}
			case portal.ErrorCode(err) != portal.EConflict || portal.ErrorMessage(err) != want:
				t.Errorf("decider %d: %v, want %s", i, err, want)
			}
		}
		if won != 1 {
			t.Fatalf("%d deciders succeeded, want 1", won)
		}
	})
}

// TestApprovalTakersRace: the requester's passcode taken on two replicas
// at once, from several tabs: one gets it.
func TestApprovalTakersRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		replicas := []*store.Store{openURL(t, u), openURL(t, u)}
		ctx := t.Context()
		r, private := newApproval(t, "alex")
		createApproval(t, replicas[0], r)
		if _, err := replicas[0].DecideApproval(ctx, r.ID, approver, true, "", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		sealed, err := approval.Seal(r.PublicKey, r.ID, passcode)
		if err != nil {
			t.Fatal(err)
		}
		if err := replicas[1].MarkApprovalIssued(ctx, r.ID, 3, "tap-2", sealed, approvalAt.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		const n = 8
		got := make([]portal.ApprovalRequest, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = replicas[i%2].TakeSealedApproval(ctx, r.ID, requesterID, approvalAt.Add(3*time.Minute))
			})
		}
		wg.Wait()
		took := 0
		for i := range n {
			switch {
			case errs[i] == nil:
				took++
				if pc, err := approval.Open(private, r.ID, got[i].Sealed); err != nil || pc != passcode {
					t.Errorf("taker %d: Open() = %q, %v, want the passcode", i, pc, err)
				}
			case portal.ErrorCode(errs[i]) != portal.EConflict:
				t.Errorf("taker %d: %v, want a conflict", i, errs[i])
			}
		}
		if took != 1 {
			t.Fatalf("%d takers got the passcode, want 1", took)
		}
	})
}

// TestExpireApprovals: pending requests at or past their expiry expire,
// each returned once though two replicas sweep at the same moment; the
// rest stay as they are.
func TestExpireApprovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		replicas := []*store.Store{openURL(t, u), openURL(t, u)}
		s, ctx := replicas[0], t.Context()
		now := approvalAt.Add(4 * time.Hour)
		var want []string
		for i := range 20 {
			r, _ := newApproval(t, fmt.Sprintf("user-%d", i))
			// Half expire before now, one exactly at it, the rest after.
			r.Expires = now.Add(time.Duration(i-10) * time.Minute)
			createApproval(t, s, r)
			if i <= 10 {
				want = append(want, r.ID)
			}
		}
		decided, _ := newApproval(t, "decided")
		decided.Expires = now.Add(-time.Hour)
		createApproval(t, s, decided)
		if _, err := s.DecideApproval(ctx, decided.ID, approver, false, "", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		var got []portal.ApprovalRequest
		var wg sync.WaitGroup
		for _, r := range replicas {
			wg.Go(func() {
				expired, err := r.ExpireApprovals(ctx, now)
				if err != nil {
					t.Error(err)
				}
				for i := 1; i < len(expired); i++ {
					if expired[i].Expires.Before(expired[i-1].Expires) {
						t.Errorf("ExpireApprovals() not in order of expiry: %s before %s", expired[i-1].Expires, expired[i].Expires)
					}
				}
				mu.Lock()
				got = append(got, expired...)
				mu.Unlock()
			})
		}
		wg.Wait()
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
			if r.State != portal.ApprovalExpired || !r.Decided.Equal(r.Expires) || r.DeciderID != "" {
				t.Errorf("expired request = %+v, want expired at its expiry, decided by no one", r)
			}
		}
		slices.Sort(ids)
		slices.Sort(want)
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Fatalf("ExpireApprovals() on two replicas (-want +got):\n%s", diff)
		}
		if again, err := s.ExpireApprovals(ctx, now); err != nil || len(again) != 0 {
			t.Fatalf("ExpireApprovals() again = %d, %v, want none", len(again), err)
		}
		pending, err := s.ListApprovals(ctx, portal.ApprovalFilter{State: portal.ApprovalPending})
		if err != nil || len(pending) != 9 {
			t.Fatalf("ListApprovals(pending) = %d, %v, want the 9 that expire later", len(pending), err)
		}
		if r, _ := s.GetApproval(ctx, decided.ID); r.State != portal.ApprovalRejected {
			t.Errorf("a rejected request past its expiry = %s, want rejected still", r.State)
		}
	})
}

// TestListApprovals: pending first, then newest first; filtered by state,
// requester and target; bounded.
func TestListApprovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		var made []portal.ApprovalRequest
		for i := range 6 {
			r, _ := newApproval(t, fmt.Sprintf("user-%d", i%3))
			r.Created = approvalAt.Add(time.Duration(i) * time.Minute)
			if i%2 == 1 {
				r.RequesterID, r.RequesterName = "other-requester", "Tomás Ruiz"
			}
			createApproval(t, s, r)
			made = append(made, r)
		}
		// A cohort run's request, the newest.
		run, _ := newApproval(t, "")
		run.TargetID, run.TargetUPN, run.TargetName, run.RunID, run.LifetimeMinutes = "", "", "", "run-1", 0
		run.Created = approvalAt.Add(6 * time.Minute)
		createApproval(t, s, run)
		// The two oldest are decided; the rest wait.
		for _, r := range made[:2] {
			if _, err := s.DecideApproval(ctx, r.ID, approver, true, "", approvalAt.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		idsOf := func(rs []portal.ApprovalRequest) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		ids := func(is ...int) []string {
			var out []string
			for _, i := range is {
				out = append(out, made[i].ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    portal.ApprovalFilter
			want []string
		}{
			{"all", portal.ApprovalFilter{}, append([]string{run.ID}, ids(5, 4, 3, 2, 1, 0)...)},
			{"pending", portal.ApprovalFilter{State: portal.ApprovalPending}, append([]string{run.ID}, ids(5, 4, 3, 2)...)},
			{"approved", portal.ApprovalFilter{State: portal.ApprovalApproved}, ids(1, 0)},
			{"by a requester", portal.ApprovalFilter{RequesterID: requesterID}, append([]string{run.ID}, ids(4, 2, 0)...)},
			{"for a run", portal.ApprovalFilter{RunID: "run-1"}, []string{run.ID}},
			{"for a user", portal.ApprovalFilter{TargetID: "user-1"}, ids(4, 1)},
			{"all three", portal.ApprovalFilter{State: portal.ApprovalApproved, RequesterID: "other-requester", TargetID: "user-1"}, ids(1)},
			{"bounded", portal.ApprovalFilter{Limit: 5}, append([]string{run.ID}, ids(5, 4, 3, 2)...)},
			{"none", portal.ApprovalFilter{State: portal.ApprovalIssued}, nil},
		} {
			got, err := s.ListApprovals(ctx, tc.f)
			if err != nil {
				t.Fatalf("ListApprovals(%s) = %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, idsOf(got)); diff != "" {
				t.Errorf("ListApprovals(%s) (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

// TestListApprovalsBounded: a list is never longer than the bound, however
// many are asked for.
func TestListApprovalsBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		db, q := store.WriteDB(s)
		r, _ := newApproval(t, "alex")
		createApproval(t, s, r)
		// Copies of the row, made behind the store's back to be quick.
		for i := range portal.MaxApprovalLimit + 10 {
			if _, err := db.ExecContext(ctx, q(`INSERT INTO approvals (id, state, requester_id, requester_name, target_id, target_upn, target_name,
				start_us, lifetime, one_time, reason, ticket, channel, reasons, snapshot, created_us, expires_us, public_key)
				SELECT ?, state, requester_id, requester_name, target_id, target_upn, target_name, start_us, lifetime, one_time, reason,
				ticket, channel, reasons, snapshot, created_us + ?, expires_us, public_key FROM approvals WHERE id = ?`),
				fmt.Sprintf("copy-%04d", i), i+1, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct{ limit, want int }{
			{0, portal.DefaultApprovalLimit},
			{10, 10},
			{portal.MaxApprovalLimit + 5, portal.MaxApprovalLimit},
		} {
			got, err := s.ListApprovals(ctx, portal.ApprovalFilter{Limit: tc.limit})
			if err != nil || len(got) != tc.want {
				t.Errorf("ListApprovals(limit %d) = %d requests, %v, want %d", tc.limit, len(got), err, tc.want)
			}
		}
	})
}

// TestApprovalsHoldNoPasscode: the table has no column for a passcode in
// the clear; what it holds of one is sealed, does not show it in any
// encoding, opens only with the requester's key for its own request, and
// is gone once taken.
func TestApprovalsHoldNoPasscode(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		db, q := store.WriteDB(s)
		query := `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'approvals'`
		if b.name == "sqlite" {
			query = `SELECT name, type FROM pragma_table_info('approvals')`
		}
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		var binary []string
		n := 0
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			n++
			for _, word := range []string{"passcode", "password", "secret", "plain", "private"} {
				if strings.Contains(strings.ToLower(name), word) {
					t.Errorf("the approvals table has a column %s", name)
				}
			}
			if t := strings.ToLower(typ); t == "blob" || t == "bytea" {
				binary = append(binary, name)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(binary)
		if n == 0 || !slices.Equal(binary, []string{"public_key", "sealed"}) {
			t.Fatalf("the approvals table's %d columns hold bytes in %v, want public_key and sealed only", n, binary)
		}

		r, private := newApproval(t, "alex")
		createApproval(t, s, r)
		if _, err := s.DecideApproval(ctx, r.ID, approver, true, "", approvalAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		sealed, err := approval.Seal(r.PublicKey, r.ID, passcode)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MarkApprovalIssued(ctx, r.ID, 3, "tap-2", sealed, approvalAt.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		var stored []byte
		if err := db.QueryRowContext(ctx, q(`SELECT sealed FROM approvals WHERE id = ?`), r.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		row := dumpApproval(t, s, r.ID)
		for _, form := range [][]byte{[]byte(passcode), []byte(hex.EncodeToString([]byte(passcode))),
			[]byte(base64.StdEncoding.EncodeToString([]byte(passcode))), []byte(base64.RawURLEncoding.EncodeToString([]byte(passcode)))} {
			if bytes.Contains(row, form) {
				t.Fatalf("the stored request holds the passcode as %q", form)
			}
		}
		_, otherPrivate, err := approval.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		other, _ := newApproval(t, "alex")
		for _, tc := range []struct {
			name, id string
			key      []byte
		}{
			{"another key", r.ID, otherPrivate},
			{"the public key", r.ID, r.PublicKey},
			{"another request's id", other.ID, private},
		} {
			if pc, err := approval.Open(tc.key, tc.id, stored); !errors.Is(err, approval.ErrUnseal) || pc != "" {
				t.Errorf("Open(the stored bytes, %s) = %q, %v, want ErrUnseal", tc.name, pc, err)
			}
		}
		if pc, err := approval.Open(private, r.ID, stored); err != nil || pc != passcode {
			t.Fatalf("Open(the stored bytes, the requester's key) = %q, %v, want the passcode", pc, err)
		}
		if _, err := s.TakeSealedApproval(ctx, r.ID, requesterID, approvalAt.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		var after []byte
		if err := db.QueryRowContext(ctx, q(`SELECT sealed FROM approvals WHERE id = ?`), r.ID).Scan(&after); err != nil || after != nil {
			t.Fatalf("the sealed column after the passcode is taken = %x, %v, want NULL", after, err)
		}
	})
}

// dumpApproval returns every value of a request's row, read behind the
// store's back.
func dumpApproval(t *testing.T, s *store.Store, id string) []byte {
	t.Helper()
	db, q := store.WriteDB(s)
	rows, err := db.QueryContext(t.Context(), q(`SELECT * FROM approvals WHERE id = ?`), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				out.WriteString(cols[i] + "=")
				out.Write(bs)
			} else {
				fmt.Fprintf(&out, "%s=%v", cols[i], v)
			}
			out.WriteByte('\n')
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// issueApproval approves r and marks it issued with its passcode sealed
// to its key, at at.
func issueApproval(t *testing.T, s *store.Store, r portal.ApprovalRequest, at time.Time) {
	t.Helper()
	if _, err := s.DecideApproval(t.Context(), r.ID, approver, true, "", at); err != nil {
		t.Fatalf("DecideApproval(%s) = %v", r.ID, err)
	}
	sealed, err := approval.Seal(r.PublicKey, r.ID, passcode)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApprovalIssued(t.Context(), r.ID, 9, "tap-"+r.ID, sealed, at); err != nil {
		t.Fatalf("MarkApprovalIssued(%s) = %v", r.ID, err)
	}
}

// TestPurgeSealedApprovals forgets the passcodes sealed for requests made
// before the cutoff, whose keys no browser can hold any more, and keeps
// the others: the request stays, saying its passcode was forgotten, and
// taking it is refused with that reason.
func TestPurgeSealedApprovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		old, _ := newApproval(t, "alex")
		createApproval(t, s, old)
		issueApproval(t, s, old, approvalAt.Add(time.Minute))
		recent, private := newApproval(t, "blair")
		recent.Created = approvalAt.Add(2 * time.Hour)
		recent.Expires = recent.Created.Add(4 * time.Hour)
		createApproval(t, s, recent)
		issueApproval(t, s, recent, recent.Created.Add(time.Minute))

		cutoff := approvalAt.Add(time.Hour)
		if n, err := s.PurgeSealedApprovals(ctx, cutoff); err != nil || n != 1 {
			t.Fatalf("PurgeSealedApprovals(cutoff) = %d, %v, want 1", n, err)
		}
		if n, err := s.PurgeSealedApprovals(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("PurgeSealedApprovals(cutoff) again = %d, %v, want 0", n, err)
		}
		got, err := s.GetApproval(ctx, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != portal.ApprovalIssued || got.PasscodeWaiting || !got.Taken.IsZero() || !strings.Contains(got.Detail, "forgot") {
			t.Errorf("GetApproval(purged) = %+v, want issued, nothing waiting, never taken, its detail saying the passcode was forgotten", got)
		}
		db, q := store.WriteDB(s)
		var sealed []byte
		if err := db.QueryRowContext(ctx, q(`SELECT sealed FROM approvals WHERE id = ?`), old.ID).Scan(&sealed); err != nil || sealed != nil {
			t.Errorf("the purged request's sealed column = %d bytes, %v, want NULL", len(sealed), err)
		}
		_, err = s.TakeSealedApproval(ctx, old.ID, requesterID, cutoff)
		wantError(t, "TakeSealedApproval(purged)", err, portal.EConflict, got.Detail)

		taken, err := s.TakeSealedApproval(ctx, recent.ID, requesterID, cutoff.Add(2*time.Hour))
		if err != nil {
			t.Fatalf("TakeSealedApproval(the recent request) = %v, want its passcode kept", err)
		}
		if pc, err := approval.Open(private, recent.ID, taken.Sealed); err != nil || pc != passcode {
			t.Errorf("Open(the recent request's passcode) = %q, %v, want %q", pc, err, passcode)
		}
	})
}
