package issuance

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

// runReadParallel is how many users' groups RunReasons reads at once.
const runReadParallel = 8

// maxLinesNamed bounds the lines a reason of a cohort run names; the
// others are counted.
const maxLinesNamed = 10

// RunReasons are the rules that send a cohort run to a second pair of
// eyes, given its rows as the preview left them; none when approvals are
// off. A run is no back door: each eligible row meets the rules a single
// pass would (the user's groups, read now; the lifetime; one-time), and
// the run meets its own (its size, the hours). Each reason comes once, in
// the order of approval.Codes, naming the lines it is for. A row whose
// groups cannot be read refuses the confirmation: the rules could not be
// checked, so nothing is started.
func (s *Service) RunReasons(ctx context.Context, rows []portal.BulkRow) ([]portal.ApprovalReason, error) {
	if s.approvals == nil {
		return nil, nil
	}
	rules, now := s.approvals.Rules, s.now()
	var eligible []portal.BulkRow
	for _, w := range rows {
		if w.State == portal.RowEligible {
			eligible = append(eligible, w)
		}
	}
	groups, err := s.rowGroups(ctx, eligible)
	if err != nil {
		return nil, err
	}
	// The lines of each message, by reason code.
	lines := map[string]map[string][]int{}
	var messages []string // in the order first met
	for i, w := range eligible {
		for _, r := range rules.Check(approval.Request{Time: now, Groups: groups[i], LifetimeMinutes: w.Lifetime, OneTime: w.OneTime}) {
			if r.Code == approval.CodeHours {
				continue // a run's time is its own, checked once below
			}
			if lines[r.Code] == nil {
				lines[r.Code] = map[string][]int{}
			}
			if _, seen := lines[r.Code][r.Message]; !seen {
				messages = append(messages, r.Message)
			}
			lines[r.Code][r.Message] = append(lines[r.Code][r.Message], w.Line)
		}
	}
	own := rules.Check(approval.Request{Time: now, Bulk: true, BulkRows: len(eligible)})
	var out []portal.ApprovalReason
	for _, code := range approval.Codes() {
		if i := slices.IndexFunc(own, func(r portal.ApprovalReason) bool { return r.Code == code }); i >= 0 {
			out = append(out, own[i])
			continue
		}
		if len(lines[code]) == 0 {
			continue
		}
		var says []string
		for _, m := range messages {
			if ls, ok := lines[code][m]; ok {
				says = append(says, linesText(ls)+": "+m)
			}
		}
		out = append(out, portal.ApprovalReason{Code: code, Message: strings.Join(says, " ")})
	}
	return out, nil
}

// rowGroups reads the groups of each row's user, when a rule watches
// groups; nil otherwise.
func (s *Service) rowGroups(ctx context.Context, rows []portal.BulkRow) ([][]portal.Group, error) {
	out := make([][]portal.Group, len(rows))
	if len(s.approvals.Rules.GroupIDs) == 0 {
		return out, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runReadParallel)
	for i, w := range rows {
		g.Go(func() error {
			gs, err := s.dir.Groups(gctx, w.TargetID)
			if err != nil {
				return &portal.Error{Code: portal.EUnavailable, Err: err,
					Message: fmt.Sprintf("The groups of line %d's user could not be read, so the rules of approval could not be checked and nothing was started: %s",
						w.Line, portal.ErrorMessage(err))}
			}
			out[i] = gs
			return nil
		})
	}
	return out, g.Wait()
}

// linesText names the lines of a file: "Line 4", "Lines 4, 7 and 9", and
// past maxLinesNamed, "Lines 2, 3, … 11 and 30 more".
func linesText(ls []int) string {
	if len(ls) == 1 {
		return "Line " + strconv.Itoa(ls[0])
	}
	var names []string
	for _, l := range ls[:min(len(ls), maxLinesNamed)] {
		names = append(names, strconv.Itoa(l))
	}
	if more := len(ls) - len(names); more > 0 {
		return "Lines " + strings.Join(names, ", ") + fmt.Sprintf(" and %d more", more)
	}
	return "Lines " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// RunApproval is the newest request cohort run runID waited or waits on,
// or nil.
func (s *Service) RunApproval(ctx context.Context, runID string) (*portal.ApprovalRequest, error) {
	if s.approvals == nil {
		return nil, nil
	}
	rs, err := s.approvals.Store.ListApprovals(ctx, portal.ApprovalFilter{RunID: runID, Limit: 1})
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// RequestRunApproval sends op's cohort run, with rows eligible rows and
// left rows left out, to the supervisors' queue for reasons, instead of
// confirming it; public is the key its passcodes will be sealed to. A
// request of the run that is still waiting is answered instead of a
// second one. An approval confirms the run as op's (Approvals.StartRun).
func (s *Service) RequestRunApproval(ctx context.Context, op portal.Operator, run portal.BulkRun, rows, left int, reasons []portal.ApprovalReason, public []byte) (*AwaitingApproval, error) {
	now := s.now()
	if w, err := s.RunApproval(ctx, run.ID); err != nil {
		return nil, err
	} else if w != nil && w.StateAt(now) == portal.ApprovalPending {
		return &AwaitingApproval{Request: *w, Again: true}, nil
	}
	if err := checkKey(public); err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("Cohort %s: %d passes to issue, %d rows left out at the preview.", run.FileName, rows, left)
	r := portal.ApprovalRequest{
		ID: approval.NewID(), State: portal.ApprovalPending, RequesterID: op.ID, RequesterName: op.Name, RunID: run.ID,
		Reason: recordable(summary, CheckReason, "reason"), Channel: string(portal.ChannelRead), Reasons: reasons,
		Created: now, Expires: now.Add(s.approvals.TTL), PublicKey: public,
	}
	r, rec, err := s.keepRequest(ctx, r, approvalEvent(r, portal.ActionApprovalRequest, op, portal.OutcomeSuccess,
		"Cohort run "+run.ID+" waits for a second pair of eyes until "+r.Expires.UTC().Format(time.RFC3339)+": "+reasonText(reasons)))
	if err != nil {
		return nil, err
	}
	s.notify(ctx, portal.Notice{ID: "approval.requested:" + r.ID, Kind: portal.NoticeApprovalRequested, RecordID: rec.ID, RunID: run.ID,
		Summary:    fmt.Sprintf("%s asks to run the cohort %s, which needs a second pair of eyes: %s", op.Name, run.FileName, reasonText(reasons)),
		OperatorID: op.ID, OperatorName: op.Name, Counts: map[string]int{"to_issue": rows, "left_out": left}})
	return &AwaitingApproval{Request: r}, nil
}
