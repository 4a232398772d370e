package portal

import (
	"context"
	"time"
)

// RunState is where a bulk run stands.
type RunState string

// The states of a bulk run.
const (
	// RunPreview: the rows are checked; nothing is issued until the
	// operator confirms.
	RunPreview RunState = "preview"
	// RunRunning: confirmed; its queued rows are being issued.
	RunRunning RunState = "running"
	// RunCancelled: stopped by the operator; rows not yet sent stay unsent.
	RunCancelled RunState = "cancelled"
	// RunDone: every confirmed row has its outcome.
	RunDone RunState = "done"
)

// RowState is where one row of a bulk run stands.
type RowState string

// The states of a bulk run's row.
const (
	// RowEligible passed every check at preview; RowIneligible did not
	// (Detail says why) and is never sent.
	RowEligible   RowState = "eligible"
	RowIneligible RowState = "ineligible"
	// RowQueued: confirmed, waiting to be issued.
	RowQueued RowState = "queued"
	// The outcomes: as the row's own history records say.
	RowIssued  RowState = "issued"
	RowRefused RowState = "refused"
	RowFailed  RowState = "failed"
	RowUnknown RowState = "unknown"
	// RowCancelled: the run was cancelled before the row was sent.
	RowCancelled RowState = "cancelled"
)

// Done reports whether a row in state r has its outcome (or never will).
func (r RowState) Done() bool {
	switch r {
	case RowIssued, RowRefused, RowFailed, RowUnknown, RowCancelled, RowIneligible:
		return true
	}
	return false
}

// BulkRun is an operator's run of a cohort file.
type BulkRun struct {
	ID                       string
	OperatorID, OperatorName string
	FileName                 string
	Created, Updated         time.Time
	State                    RunState
	// PublicKey seals the run's passcodes; the private key is the
	// operator's alone.
	PublicKey []byte
	Detail    string
}

// BulkRow is one row of a run: the issue it asks for and what became of
// it.
type BulkRow struct {
	RunID      string
	Line       int
	Target     string
	TargetID   string
	TargetName string
	Start      time.Time
	Lifetime   int
	OneTime    bool
	Reason     string
	Ticket     string
	// Submission makes the row's issue happen once, however often the
	// run is resumed.
	Submission string
	State      RowState
	Detail     string
	TAPID      string
	// Sealed is the passcode sealed to the run's public key, until it is
	// shown.
	Sealed  []byte
	Updated time.Time
}

// BulkRuns keep bulk runs. Implementations return EUnavailable when the
// store cannot be reached and ENotFound for an unknown run.
type BulkRuns interface {
	CreateRun(ctx context.Context, r BulkRun, rows []BulkRow) error
	Run(ctx context.Context, id string) (BulkRun, error)
	// SetRunState moves a run from one state to another, and reports
	// false when it was not in from.
	SetRunState(ctx context.Context, id string, from, to RunState, detail string, now time.Time) (bool, error)
	// Runs lists the runs in state, oldest first.
	Runs(ctx context.Context, state RunState) ([]BulkRun, error)
	// RecentRuns lists the latest runs, newest first, at most limit: an
	// operator's own, or everyone's for operatorID "".
	RecentRuns(ctx context.Context, operatorID string, limit int) ([]BulkRun, error)
	// ConfirmRun starts a run in preview with the public key its
	// passcodes are sealed to, and queues its eligible rows, in one step;
	// it reports false when the run was not in preview.
	ConfirmRun(ctx context.Context, id string, publicKey []byte, now time.Time) (bool, error)
	// RowCounts counts a run's rows by state.
	RowCounts(ctx context.Context, runID string) (map[RowState]int, error)
	// Rows lists a run's rows by line; RowsIn only those in a state, at
	// most limit.
	Rows(ctx context.Context, runID string) ([]BulkRow, error)
	RowsIn(ctx context.Context, runID string, state RowState, limit int) ([]BulkRow, error)
	// SaveRows stores the rows' state, detail, target name, pass id,
	// start, lifetime and sealed passcode.
	SaveRows(ctx context.Context, rows []BulkRow) error
	// MoveRows moves every row of a run in state from to state to.
	MoveRows(ctx context.Context, runID string, from, to RowState, now time.Time) (int, error)
	// TakeSealed returns the run's sealed passcodes and removes them in
	// one step: each can be taken once.
	TakeSealed(ctx context.Context, runID string) ([]BulkRow, error)
}
