package issuance

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// TAPBatcher is a directory that creates several passes in one request
// (Graph's $batch, at most MaxBatchIssue).
type TAPBatcher interface {
	CreateTAPs(ctx context.Context, creates []portal.TAPCreate) ([]portal.TAPCreated, error)
}

// MaxBatchIssue is the most issues IssueBatch takes: Graph's $batch limit.
const MaxBatchIssue = 20

// BatchIssue is one issue of a batch: the target and the request, whose
// Submission makes it happen once however often the batch is sent.
type BatchIssue struct {
	Target string
	Req    IssueRequest
}

// BatchIssued is what became of one BatchIssue, as Issue would answer it.
type BatchIssued struct {
	Result IssueResult
	Err    error
}

// IssueBatch issues up to MaxBatchIssue passes as one: each goes through
// every check of Issue and is recorded as its own intent and outcome,
// counted against limit; the creates of those that pass go to Graph
// together. A create Graph throttles is sent again once its Retry-After
// has passed, up to Options.ThrottleRetries times, and then fails with
// the reason.
// The answers come in the order of the issues. The operator's fresh
// sign-in is the caller's to check, once, when the operator confirms the
// batches (a run's later batches act on that confirmation).
func (s *Service) IssueBatch(ctx context.Context, op portal.Operator, issues []BatchIssue, limit portal.Limit) []BatchIssued {
	out := make([]BatchIssued, len(issues))
	pending := make([]*pendingIssue, len(issues))
	var wg sync.WaitGroup
	for i, is := range issues {
		wg.Go(func() {
			p, err := s.prepare(ctx, op, is.Target, is.Req, limit, issueKind{batch: true})
			if err != nil {
				out[i] = BatchIssued{Result: p.res, Err: err}
				return
			}
			pending[i] = p
		})
	}
	wg.Wait()
	created := s.createAll(ctx, pending)
	for i, p := range pending {
		if p != nil {
			res, err := s.finishIssue(ctx, p, created[i].Issued, created[i].Err)
			out[i] = BatchIssued{Result: res, Err: err}
		}
	}
	return out
}

// createAll creates the passes of the prepared issues (nil ones are
// skipped): in one batch when the directory can, sending throttled ones
// again.
func (s *Service) createAll(ctx context.Context, pending []*pendingIssue) []portal.TAPCreated {
	out := make([]portal.TAPCreated, len(pending))
	batcher, ok := s.dir.(TAPBatcher)
	if !ok {
		for i, p := range pending {
			if p != nil {
				out[i].Issued, out[i].Err = s.dir.CreateTAP(ctx, p.f.user.ID, p.newTAP())
			}
		}
		return out
	}
	todo := map[string]int{}
	for i, p := range pending {
		if p != nil {
			todo[strconv.Itoa(i)] = i
		}
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		var creates []portal.TAPCreate
		for key, i := range todo {
			creates = append(creates, portal.TAPCreate{Key: key, UserID: pending[i].f.user.ID, Req: pending[i].newTAP()})
		}
		got, err := batcher.CreateTAPs(ctx, creates)
		if err != nil {
			for key, i := range todo {
				out[i] = portal.TAPCreated{Key: key, Err: err}
			}
			return out
		}
		var wait time.Duration
		for _, c := range got {
			i := todo[c.Key]
			out[i] = c
			if portal.ErrorCode(c.Err) == portal.EThrottled && attempt < s.throttleRetries {
				wait = max(wait, retryWait(c.Err))
				continue
			}
			delete(todo, c.Key)
		}
		if len(todo) > 0 && !sleepCtx(ctx, wait) {
			return out
		}
	}
	return out
}

// retryWait is how long a throttled create waits: Graph's Retry-After,
// or a second when it gave none.
func retryWait(err error) time.Duration {
	if pe, ok := err.(*portal.Error); ok && pe.RetryAfter > 0 {
		return pe.RetryAfter
	}
	return time.Second
}

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
