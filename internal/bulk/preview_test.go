package bulk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/bulk"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// TestPreview checks each row with the single issue's guardrails, read
// fresh through the SDK and the emulator, and issues nothing.
func TestPreview(t *testing.T) {
	p := demotest.Start(t, ownRunner)
	ctx := context.Background()
	eligible := cohort(t, p, 1)[0]
	rows := []bulk.Row{
		{Line: 2, Target: eligible},
		{Line: 3, Target: graphemu.GlobalAdminUserID},
		{Line: 4, Target: graphemu.TAPUsableUserID},
		{Line: 5, Target: "nobody@" + graphemu.DemoDomain},
		{Line: 6, Target: graphemu.DisabledUserID},
	}
	for i := range rows {
		rows[i].Request = issuance.IssueRequest{LifetimeMinutes: 60, Reason: "First day"}
	}
	op := portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}
	p.Demo.Graph.ResetRequests()
	got := bulk.Preview(ctx, p.App.Service, op, "run", rows, time.Now())
	want := []struct {
		state  portal.RowState
		detail string
	}{
		{portal.RowEligible, ""},
		{portal.RowIneligible, "Global Administrator"},
		{portal.RowIneligible, "never replaces"},
		{portal.RowIneligible, "No such user"},
		{portal.RowIneligible, "disabled"},
	}
	subs := map[string]bool{}
	for i, w := range want {
		g := got[i]
		if g.State != w.state || !strings.Contains(g.Detail, w.detail) || g.Line != rows[i].Line || g.Reason != "First day" {
			t.Errorf("row %d = %s %q; want %s …%s…", g.Line, g.State, g.Detail, w.state, w.detail)
		}
		if subs[g.Submission] || g.Submission == "" {
			t.Errorf("row %d's submission %q is not its own", g.Line, g.Submission)
		}
		subs[g.Submission] = true
	}
	if got[0].TargetID != eligible || got[0].TargetName == "" {
		t.Errorf("the eligible row = %+v; want the user's id and name", got[0])
	}
	if n := creates(p); n != 0 {
		t.Fatalf("the preview created %d passes", n)
	}
	if evs, _ := p.App.Store.List(ctx, portal.EventFilter{Limit: 10}); len(evs) != 0 {
		t.Fatalf("the preview recorded %+v", evs)
	}
}
