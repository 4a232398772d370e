package bulk

import (
	"context"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// previewParallel is how many rows are checked at once.
const previewParallel = 16

// Preview checks each row's target with the guardrails of a single issue
// (read fresh, nothing recorded, nothing issued) and returns the rows as
// a run would hold them: eligible, or ineligible with the reasons. A user
// who holds a working pass is ineligible, since a run never replaces one;
// a check that cannot complete makes its row ineligible and says why.
func Preview(ctx context.Context, svc *issuance.Service, op portal.Operator, runID string, rows []Row, now time.Time) []portal.BulkRow {
	out := make([]portal.BulkRow, len(rows))
	sem := make(chan struct{}, previewParallel)
	var wg sync.WaitGroup
	for i, row := range rows {
		out[i] = portal.BulkRow{RunID: runID, Line: row.Line, Target: row.Target, Start: row.Request.Start, Lifetime: row.Request.LifetimeMinutes,
			OneTime: row.Request.OneTime, Reason: row.Request.Reason, Ticket: row.Request.Ticket, Submission: issuance.NewSubmission(),
			State: portal.RowIneligible, Updated: now}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			check(ctx, svc, op, &out[i])
		})
	}
	wg.Wait()
	return out
}

// check decides one row.
func check(ctx context.Context, svc *issuance.Service, op portal.Operator, w *portal.BulkRow) {
	f, err := svc.IssueForm(ctx, op, w.Target)
	if f.User.ID != "" {
		w.TargetID, w.TargetName = f.User.ID, f.User.DisplayName
	}
	switch {
	case portal.ErrorCode(err) == portal.ENotFound:
		w.Detail = "No such user in the directory."
	case err != nil:
		w.Detail = "The checks could not be completed, so the row is left out: " + portal.ErrorMessage(err)
	case !f.Verdict.Eligible():
		w.Detail = f.Verdict.Message()
	case f.Replaces != nil:
		w.Detail = "The user holds a working pass, and a cohort run never replaces one: issue theirs from their page."
	default:
		w.State = portal.RowEligible
	}
}
