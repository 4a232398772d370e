package portal

import (
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	// Wednesday 2 December 2026, in Paris.
	at := func(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 30, 0, 0, paris) }
	s := NewSummary(paris)
	for _, e := range []Event{
		{Action: ActionIssue, Outcome: OutcomeSuccess, OperatorID: "op-1", OperatorName: "Priya", TargetID: "u-1", Time: at(2, 9)},
		{Action: ActionIssue, Outcome: OutcomeSuccess, OperatorID: "op-1", OperatorName: "Priya", TargetID: "U-1", Time: at(2, 19)}, // repeated, evening
		{Action: ActionIssue, Outcome: OutcomeSuccess, OperatorID: "op-1", OperatorName: "Priya", TargetID: "u-2", Time: at(5, 10)}, // Saturday
		{Action: ActionIssue, Outcome: OutcomeRefused, OperatorID: "op-1", OperatorName: "Priya", TargetID: "u-3", Time: at(2, 10)},
		{Action: ActionIssue, Outcome: OutcomeSuccess, OperatorID: "op-2", OperatorName: "Tomás", TargetID: "u-1", Time: at(2, 7)}, // early
		{Action: ActionIssue, Outcome: OutcomeRefused, OperatorID: "op-2", OperatorName: "Tomás", TargetID: "u-4", Time: at(2, 11)},
		{Action: ActionIssue, Outcome: OutcomeRefused, OperatorID: "op-2", OperatorName: "Tomás", TargetID: "u-4", Time: at(2, 12)},
		{Action: ActionRevoke, Outcome: OutcomeSuccess, OperatorID: "op-3", OperatorName: "Marcus", TargetID: "u-1", Time: at(3, 23)}, // 3 Dec in Paris
		{Action: ActionRevoke, Outcome: OutcomeRefused, OperatorID: "op-3", OperatorName: "Marcus", TargetID: "u-5", Time: at(3, 9)},
		{Action: ActionIssue, Outcome: OutcomeFailed, OperatorID: "op-2", TargetID: "u-6", Time: at(2, 13)},
		{Action: ActionIssue, Outcome: OutcomeUnknown, OperatorID: "op-2", TargetID: "u-7", Time: at(2, 14)},
		{Action: ActionRetention, Outcome: OutcomeSuccess, Time: at(2, 3)},
	} {
		s.Add(e)
	}
	if want := (Totals{Issued: 4, Revoked: 1, Refused: 4, Failed: 1, Unknown: 1}); s.Totals != want {
		t.Fatalf("totals = %+v, want %+v", s.Totals, want)
	}
	if s.RevokedPerDay["2026-12-03"] != 1 || len(s.RevokedPerDay) != 1 {
		t.Fatalf("revocations per day = %v, want one on 3 December (Paris)", s.RevokedPerDay)
	}
	ops := s.Operators()
	if len(ops) != 2 {
		t.Fatalf("operators = %+v, want Priya and Tomás (Marcus only revoked)", ops)
	}
	if p := ops[0]; p.Name != "Priya" || p.Issued != 3 || p.Refused != 1 || p.OutOfHours != 2 || p.Repeated != 1 || p.RefusalShare() != 25 {
		t.Errorf("Priya = %+v (share %d); want 3 issued, 1 refused, 2 out of hours, 1 repeated, 25%%", p, p.RefusalShare())
	}
	if o := ops[1]; o.Name != "Tomás" || o.Issued != 1 || o.Refused != 2 || o.OutOfHours != 1 || o.Repeated != 0 || o.RefusalShare() != 67 {
		t.Errorf("Tomás = %+v (share %d); want 1 issued, 2 refused, 1 out of hours, 67%%", o, o.RefusalShare())
	}
}
