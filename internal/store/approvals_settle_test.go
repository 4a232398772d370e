package store_test

import (
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// TestApprovalSettlement settles approved requests as the portal's upkeep
// does: an issue Graph left unknown noted and left approved, the approved
// requests listed oldest first once they are old enough, each settled
// once, and nothing but issued or failed as where they end.
func TestApprovalSettlement(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		first, _ := newApproval(t, "0a000000-0000-4000-8000-000000000001")
		second, _ := newApproval(t, "0a000000-0000-4000-8000-000000000002")
		waiting, _ := newApproval(t, "0a000000-0000-4000-8000-000000000003")
		for _, r := range []portal.ApprovalRequest{first, second, waiting} {
			createApproval(t, s, r)
		}
		for i, r := range []portal.ApprovalRequest{first, second} {
			if _, err := s.DecideApproval(ctx, r.ID, approver, true, "", approvalAt.Add(time.Duration(i+1)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}

		if got, err := s.ApprovedBefore(ctx, approvalAt.Add(time.Minute-time.Second), 10); err != nil || len(got) != 0 {
			t.Errorf("ApprovedBefore(before either approval) = %d requests, %v; want none", len(got), err)
		}
		got, err := s.ApprovedBefore(ctx, approvalAt.Add(time.Hour), 10)
		if err != nil || len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID {
			t.Fatalf("ApprovedBefore = %d requests, %v; want both approved ones, oldest first", len(got), err)
		}
		if got, _ := s.ApprovedBefore(ctx, approvalAt.Add(time.Hour), 1); len(got) != 1 || got[0].ID != first.ID {
			t.Errorf("ApprovedBefore(limit 1) = %d requests, want the oldest", len(got))
		}

		const unknown = "Microsoft Graph did not say whether it made the pass."
		if err := s.NoteApproval(ctx, first.ID, 41, unknown); err != nil {
			t.Fatalf("NoteApproval = %v", err)
		}
		noted, _ := s.GetApproval(ctx, first.ID)
		if noted.State != portal.ApprovalApproved || noted.IssueEventID != 41 || noted.Detail != unknown || !noted.Settled.IsZero() {
			t.Errorf("noted request = %s, record %d, %q, settled %v; want it approved, linked and saying why", noted.State, noted.IssueEventID, noted.Detail, noted.Settled)
		}
		if err := s.NoteApproval(ctx, waiting.ID, 41, unknown); code(err) != portal.EConflict {
			t.Errorf("NoteApproval(pending) = %v, want a conflict", err)
		}

		settledAt := approvalAt.Add(2 * time.Hour)
		if err := s.SettleApproval(ctx, first.ID, portal.ApprovalPending, 42, "", "", settledAt); code(err) != portal.EInvalid {
			t.Errorf("SettleApproval(to pending) = %v, want invalid", err)
		}
		const lost = "The pass was made, but its passcode never reached the portal."
		if err := s.SettleApproval(ctx, first.ID, portal.ApprovalIssued, 42, "tap-42", lost, settledAt); err != nil {
			t.Fatalf("SettleApproval(issued) = %v", err)
		}
		issued, _ := s.GetApproval(ctx, first.ID)
		if issued.State != portal.ApprovalIssued || issued.IssueEventID != 42 || issued.TAPID != "tap-42" || issued.Detail != lost ||
			!issued.Settled.Equal(settledAt) || issued.PasscodeWaiting {
			t.Errorf("settled request = %+v; want issued from record 42, saying what happened, with no passcode waiting", issued)
		}
		if err := s.SettleApproval(ctx, first.ID, portal.ApprovalFailed, 43, "", "again", settledAt); code(err) != portal.EConflict {
			t.Errorf("settling it again = %v, want a conflict", err)
		}
		if err := s.SettleApproval(ctx, second.ID, portal.ApprovalFailed, 0, "", "Nothing was made.", settledAt); err != nil {
			t.Fatalf("SettleApproval(failed) = %v", err)
		}
		if got, _ := s.GetApproval(ctx, second.ID); got.State != portal.ApprovalFailed || got.Detail != "Nothing was made." {
			t.Errorf("failed request = %s %q", got.State, got.Detail)
		}
		if got, _ := s.ApprovedBefore(ctx, settledAt, 10); len(got) != 0 {
			t.Errorf("ApprovedBefore after both settled = %d requests, want none", len(got))
		}
	})
}

// TestUnrecordedApprovals lists the requests that left pending with no
// record of how, once their request is recorded: not those recorded
// since, not those never recorded, not those still waiting.
func TestUnrecordedApprovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, ctx := open(t, b), t.Context()
		rejected, _ := newApproval(t, "0a000000-0000-4000-8000-000000000001")
		rejected.RequestEventID = 10
		linked, _ := newApproval(t, "0a000000-0000-4000-8000-000000000002")
		linked.RequestEventID = 11
		unrecorded, _ := newApproval(t, "0a000000-0000-4000-8000-000000000003")
		waiting, _ := newApproval(t, "0a000000-0000-4000-8000-000000000004")
		waiting.RequestEventID = 12
		for _, r := range []portal.ApprovalRequest{rejected, linked, unrecorded, waiting} {
			createApproval(t, s, r)
		}
		decided := approvalAt.Add(time.Minute)
		for _, r := range []portal.ApprovalRequest{rejected, linked, unrecorded} {
			if _, err := s.DecideApproval(ctx, r.ID, approver, false, "No.", decided); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetDecisionEvent(ctx, linked.ID, 13); err != nil {
			t.Fatal(err)
		}
		if got, err := s.UnrecordedApprovals(ctx, decided.Add(-time.Second), 10); err != nil || len(got) != 0 {
			t.Errorf("UnrecordedApprovals(before the decisions) = %d, %v; want none", len(got), err)
		}
		got, err := s.UnrecordedApprovals(ctx, decided, 10)
		if err != nil || len(got) != 1 || got[0].ID != rejected.ID || got[0].State != portal.ApprovalRejected {
			t.Fatalf("UnrecordedApprovals = %+v, %v; want the rejection whose request is recorded and whose decision is not", got, err)
		}
		if err := s.SetDecisionEvent(ctx, rejected.ID, 14); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.UnrecordedApprovals(ctx, decided, 10); len(got) != 0 {
			t.Errorf("UnrecordedApprovals once recorded = %d, want none", len(got))
		}
	})
}
