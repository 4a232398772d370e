package issuance_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// TestRunReasons: a cohort run meets the rules of approval as its rows
// would one by one, and its own; each reason once, naming its lines.
func TestRunReasons(t *testing.T) {
	ctx := context.Background()
	eligible := func(line int, user string, lifetime int, oneTime bool) portal.BulkRow {
		return portal.BulkRow{Line: line, TargetID: user, Lifetime: lifetime, OneTime: oneTime, State: portal.RowEligible}
	}
	weekend, err := approval.ParseHours("Sat-Sun 08:00-18:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	many := []portal.BulkRow{}
	for line := 2; line < 14; line++ {
		many = append(many, eligible(line, managerID, 480, true))
	}
	for _, tt := range []struct {
		name  string
		rules approval.Rules
		rows  []portal.BulkRow
		want  []portal.ApprovalReason
		// groupReads is how many users' groups must be read.
		groupReads int
	}{
		{
			name:  "a member of a watched group, and a long pass",
			rules: approval.Rules{GroupIDs: []string{groupOther}, LifetimeOverMinutes: 240, BulkRowsOver: 5},
			rows: []portal.BulkRow{eligible(2, targetID, 60, true), eligible(3, operatorID, 60, true), eligible(4, managerID, 480, true),
				// Left out at the preview: never checked.
				{Line: 5, TargetID: targetID, Lifetime: 480, State: portal.RowIneligible}},
			want: []portal.ApprovalReason{
				{Code: approval.CodeGroups, Message: "Line 2: The user is in Finance Team, a group whose passes need a second pair of eyes."},
				{Code: approval.CodeLifetime, Message: "Line 4: The pass lasts 8 hours, over the 4 hours that need a second pair of eyes."},
			},
			groupReads: 3,
		},
		{
			name:  "many rows: the reason once, the lines counted past ten, the run's own size",
			rules: approval.Rules{LifetimeOverMinutes: 240, MultiUse: true, BulkRowsOver: 5},
			rows:  append(slices.Clone(many), eligible(14, managerID, 60, false)),
			want: []portal.ApprovalReason{
				{Code: approval.CodeLifetime, Message: "Lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more: The pass lasts 8 hours, over the 4 hours that need a second pair of eyes."},
				{Code: approval.CodeMultiUse, Message: "Line 14: The pass can be used more than once: a pass that is not one-time needs a second pair of eyes."},
				{Code: approval.CodeBulk, Message: "The run has 13 eligible rows, over the 5 that need a second pair of eyes."},
			},
		},
		{
			name:  "outside the hours: the run's time, once",
			rules: approval.Rules{Hours: weekend},
			rows:  []portal.BulkRow{eligible(2, targetID, 60, true), eligible(3, managerID, 60, true)},
			want: []portal.ApprovalReason{
				{Code: approval.CodeHours, Message: "The request was made on a Tuesday at 10:00 (UTC), outside the working hours Sat,Sun 08:00-18:00."},
			},
		},
		{
			name:  "nothing the rules watch",
			rules: approval.Rules{GroupIDs: []string{groupExec}, LifetimeOverMinutes: 240, BulkRowsOver: 5},
			rows:  []portal.BulkRow{eligible(2, targetID, 60, true), eligible(3, managerID, 240, false)},
			// Two eligible rows: two users' groups read.
			groupReads: 2,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario()
			s.in(groupOther)
			s.opts.Approvals = &issuance.Approvals{Rules: tt.rules, TTL: time.Hour}
			got, err := issuance.New(s.dir, s.hist, s.opts).RunReasons(ctx, tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RunReasons (-want +got):\n%s", diff)
			}
			if n := s.dir.Calls(fake.OpGroups); n != tt.groupReads {
				t.Errorf("%d users' groups read, want %d", n, tt.groupReads)
			}
		})
	}

	t.Run("groups that cannot be read refuse the run", func(t *testing.T) {
		s := newScenario()
		s.dir.Fail(fake.OpGroups, errDown)
		s.opts.Approvals = &issuance.Approvals{Rules: approval.Rules{GroupIDs: []string{groupOther}}, TTL: time.Hour}
		_, err := issuance.New(s.dir, s.hist, s.opts).RunReasons(ctx, []portal.BulkRow{eligible(2, targetID, 60, true)})
		if portal.ErrorCode(err) != portal.EUnavailable || !strings.Contains(portal.ErrorMessage(err), "line 2") {
			t.Errorf("RunReasons = %v, want the run refused, naming the line", err)
		}
	})

	t.Run("approvals off", func(t *testing.T) {
		s := newScenario()
		if got, err := issuance.New(s.dir, s.hist, s.opts).RunReasons(ctx, many); got != nil || err != nil {
			t.Errorf("RunReasons = %v, %v; want none", got, err)
		}
	})
}
