package bulk

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// Leases grant a named lease to one holder at a time.
type Leases interface {
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// RunnerOptions tune a Runner.
type RunnerOptions struct {
	// Parallel is how many batches of a run are in flight at once;
	// default 8.
	Parallel int
	// Limit is the bulk rate limit per operator (PORTAL_BULK_*), counted
	// by each row's intent instead of the single-issue limit.
	Limit portal.Limit
	// LeaseTTL is how long a replica holds a run between two batches
	// before another may resume it; default a minute.
	LeaseTTL time.Duration
	Now      func() time.Time
}

// Runner issues the queued rows of running bulk runs. Each run is worked
// by one replica at a time, under a lease renewed between batches, so a
// run left by a stopped replica is resumed by another. Every row is issued
// by its own submission, so a row resumed after its intent was recorded is
// answered from the history, never issued twice.
type Runner struct {
	svc     *issuance.Service
	runs    portal.BulkRuns
	leases  Leases
	replica string
	o       RunnerOptions
}

// NewRunner returns a Runner for replica.
func NewRunner(svc *issuance.Service, runs portal.BulkRuns, leases Leases, replica string, o RunnerOptions) *Runner {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Runner{svc: svc, runs: runs, leases: leases, replica: replica, o: o}
}

// Step works every running run this replica can lease until its queued
// rows are done, it is cancelled, or ctx ends, and returns how many rows
// got their outcome.
func (r *Runner) Step(ctx context.Context) (int, error) {
	runs, err := r.runs.Runs(ctx, portal.RunRunning)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, run := range runs {
		n, err := r.work(ctx, run)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// work issues a run's queued rows: Parallel workers each send one batch
// of MaxBatchIssue rows at a time, and each batch is handed out only while
// this replica holds the run's lease and the run is still running.
func (r *Runner) work(ctx context.Context, run portal.BulkRun) (int, error) {
	rows, err := r.runs.RowsIn(ctx, run.ID, portal.RowQueued, maxRunRows)
	if err != nil {
		return 0, err
	}
	chunks := make(chan []portal.BulkRow)
	var mu sync.Mutex
	var errs []error
	done := 0
	var wg sync.WaitGroup
	for range r.o.Parallel {
		wg.Go(func() {
			for chunk := range chunks {
				err := r.send(ctx, run, chunk)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					done += len(chunk)
				}
				mu.Unlock()
			}
		})
	}
	// A batch can wait on Graph's throttle longer than the lease lasts:
	// keep the lease while batches are in flight, so that no other replica
	// takes the run and sends their rows again.
	stop := r.keepLease(ctx, run.ID)
	stopped, err := r.dispatch(ctx, run, rows, chunks)
	close(chunks)
	wg.Wait()
	stop()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil || stopped {
		return done, err
	}
	_, err = r.runs.SetRunState(ctx, run.ID, portal.RunRunning, portal.RunDone, "", r.o.Now())
	return done, err
}

// keepLease renews the run's lease every third of its life until the
// returned stop is called.
func (r *Runner) keepLease(ctx context.Context, runID string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(r.o.LeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				// A renewal that fails leaves the lease to lapse; the
				// batches in flight finish either way.
				_, _ = r.leases.TryLease(context.WithoutCancel(ctx), "bulk:"+runID, r.replica, r.o.LeaseTTL)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// maxRunRows bounds the rows one run may hold.
const maxRunRows = 100_000

// dispatch hands out rows in batches while the run may go on, and reports
// whether it stopped early: the lease lost, the run cancelled (its unsent
// rows are then marked so), or ctx ended.
func (r *Runner) dispatch(ctx context.Context, run portal.BulkRun, rows []portal.BulkRow, chunks chan<- []portal.BulkRow) (bool, error) {
	for start := 0; start < len(rows); start += issuance.MaxBatchIssue {
		ok, err := r.leases.TryLease(ctx, "bulk:"+run.ID, r.replica, r.o.LeaseTTL)
		if err != nil || !ok {
			return true, err
		}
		cur, err := r.runs.Run(ctx, run.ID)
		if err != nil {
			return true, err
		}
		if cur.State != portal.RunRunning {
			// Cancelled: what was not sent stays unsent.
			_, err := r.runs.MoveRows(ctx, run.ID, portal.RowQueued, portal.RowCancelled, r.o.Now())
			return true, err
		}
		select {
		case chunks <- rows[start:min(start+issuance.MaxBatchIssue, len(rows))]:
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
	return false, nil
}

// send issues one batch of rows and stores each row's outcome.
func (r *Runner) send(ctx context.Context, run portal.BulkRun, chunk []portal.BulkRow) error {
	op := portal.Operator{ID: run.OperatorID, Name: run.OperatorName}
	issues := make([]issuance.BatchIssue, len(chunk))
	for i, w := range chunk {
		issues[i] = issuance.BatchIssue{Target: w.Target, Req: issuance.IssueRequest{Start: w.Start, LifetimeMinutes: w.Lifetime,
			OneTime: w.OneTime, Reason: w.Reason, Ticket: w.Ticket, Submission: w.Submission, RequestID: portal.BulkRequestPrefix + run.ID}}
	}
	limit := r.o.Limit
	limit.Bulk = true
	got := r.svc.IssueBatch(ctx, op, issues, limit)
	now := r.o.Now()
	for i := range chunk {
		outcomeOf(&chunk[i], got[i], run)
		chunk[i].Updated = now
	}
	// The outcomes are stored even when ctx has just ended: the passes
	// exist, and their passcodes must not be lost.
	return r.runs.SaveRows(context.WithoutCancel(ctx), chunk)
}

// outcomeOf sets a row's state and detail from its issue's answer, and
// seals its passcode to the run's public key: the plain passcode is not
// kept.
func outcomeOf(w *portal.BulkRow, got issuance.BatchIssued, run portal.BulkRun) {
	if u := got.Result.Form.User; u.ID != "" {
		w.TargetID, w.TargetName = u.ID, u.DisplayName
	}
	var handled *issuance.AlreadyHandledError
	switch err := got.Err; {
	case err == nil:
		sealed, serr := Seal(run.PublicKey, run.ID, w.Line, got.Result.Issued.Passcode.Reveal())
		w.State, w.TAPID, w.Sealed, w.Detail = portal.RowIssued, got.Result.Issued.ID, sealed, ""
		// The pass as Graph made it: a row to start at once gets its time.
		if t := got.Result.Issued.TAP; !t.Start.IsZero() {
			w.Start, w.Lifetime = t.Start, t.LifetimeMinutes
		}
		if serr != nil {
			w.Sealed, w.Detail = nil, "The pass was issued, but its passcode could not be sealed, so it cannot be shown: revoke it and issue another."
		}
	case errors.As(err, &handled):
		w.TargetID = handled.Record.Latest.TargetID
		w.TAPID = handled.Record.Latest.TAPID
		w.State, w.Detail = stateOf(handled.Record.Latest.Outcome), "Issued before the run was resumed: "+handled.Outcome()+"."
		if w.State == portal.RowIssued {
			w.Detail = "Issued before the run was resumed; its passcode was not kept, so it cannot be shown: revoke the pass and issue another."
		}
	case errors.Is(err, issuance.ErrPasscodeLost):
		w.State, w.TAPID, w.Detail = portal.RowIssued, got.Result.Issued.ID, portal.ErrorMessage(err)
	case errors.Is(err, issuance.ErrIssueUnknown):
		w.State, w.Detail = portal.RowUnknown, portal.ErrorMessage(err)
	case errors.Is(err, issuance.ErrNeedsConfirmation):
		w.State, w.Detail = portal.RowRefused, "The user holds a working pass, and a cohort run never replaces one: issue theirs from their page."
	case portal.ErrorCode(err) == portal.EPolicy, portal.ErrorCode(err) == portal.ELimited:
		// Refused by a guardrail or the bulk limit, and recorded so.
		w.State, w.Detail = portal.RowRefused, portal.ErrorMessage(err)
	default:
		w.State, w.Detail = portal.RowFailed, messageOf(err)
	}
}

// stateOf is the row state of a recorded outcome.
func stateOf(o portal.Outcome) portal.RowState {
	switch o {
	case portal.OutcomeSuccess:
		return portal.RowIssued
	case portal.OutcomeRefused:
		return portal.RowRefused
	case portal.OutcomeFailed:
		return portal.RowFailed
	}
	return portal.RowUnknown
}

// messageOf words an error for the row, including the form's field errors.
func messageOf(err error) string {
	var fe issuance.FieldErrors
	if errors.As(err, &fe) {
		return fe.Error()
	}
	return portal.ErrorMessage(err)
}

// Cancel stops a run in preview or running: no row not yet sent is sent,
// and those already in a batch finish. It reports false when the run was
// neither.
func Cancel(ctx context.Context, runs portal.BulkRuns, id, detail string, now time.Time) (bool, error) {
	ok, err := runs.SetRunState(ctx, id, portal.RunRunning, portal.RunCancelled, detail, now)
	if err == nil && !ok {
		ok, err = runs.SetRunState(ctx, id, portal.RunPreview, portal.RunCancelled, detail, now)
	}
	if err != nil || !ok {
		return false, err
	}
	for _, from := range []portal.RowState{portal.RowQueued, portal.RowEligible} {
		if _, err := runs.MoveRows(ctx, id, from, portal.RowCancelled, now); err != nil {
			return true, err
		}
	}
	return true, nil
}

// Start confirms a run in preview with the public key its passcodes are
// sealed to, as op's, and records it in the history with its counts of
// rows to issue and left out; a run the history cannot record is stopped
// before a row is sent. It reports whether this call started the run: a
// run confirmed already, by a second click or another replica, is left
// as it is.
func Start(ctx context.Context, runs portal.BulkRuns, svc *issuance.Service, op portal.Operator, run portal.BulkRun, public []byte, now time.Time) (bool, error) {
	counts, err := runs.RowCounts(ctx, run.ID)
	if err != nil {
		return false, err
	}
	ok, err := runs.ConfirmRun(ctx, run.ID, public, now)
	if err != nil || !ok {
		return false, err
	}
	if err := svc.RecordBulkRun(ctx, op, run.ID, run.FileName, counts[portal.RowEligible], counts[portal.RowIneligible]); err != nil {
		// No run without its record: stop it before a row is sent.
		if _, cerr := Cancel(context.WithoutCancel(ctx), runs, run.ID, "Stopped: the run could not be recorded in the history.", now); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return false, err
	}
	return true, nil
}
