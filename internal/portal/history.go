package portal

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Action is what an operator did, or tried to do.
type Action string

// The actions the history records.
const (
	ActionIssue  Action = "issue"
	ActionRevoke Action = "revoke"
)

// Outcome is how an action ended.
type Outcome string

// The outcomes of an action. Pending marks an intent recorded before the
// Graph call whose outcome is not known yet. Unknown is the outcome of a
// write Graph may or may not have carried out (a timeout, a lost
// connection, a 5xx after sending): a later record settles it from Graph.
const (
	OutcomePending Outcome = "pending"
	OutcomeSuccess Outcome = "success"
	OutcomeRefused Outcome = "refused"
	OutcomeFailed  Outcome = "failed"
	OutcomeUnknown Outcome = "unknown"
)

// Operator is the signed-in person acting through the portal.
type Operator struct {
	ID       string // directory object id
	Name     string
	Username string
	// Supervisor is true for supervisors.
	Supervisor bool
	// AuthTime is when the provider last authenticated the operator.
	AuthTime time.Time
}

// Event is one record of the history: an issuance, a revocation, a
// refusal or a failure. It never holds a passcode.
type Event struct {
	ID           int64
	Time         time.Time
	Action       Action
	Outcome      Outcome
	OperatorID   string
	OperatorName string
	TargetID     string
	TargetUPN    string
	TargetName   string
	// TAPID is the pass issued or revoked, when known.
	TAPID           string
	LifetimeMinutes int
	OneTime         bool
	Start           time.Time
	Reason          string
	Ticket          string
	// Detail says why a refusal or failure happened.
	Detail string
	// RefusalCode is a stable key of the guardrail that refused.
	RefusalCode string
	// Privilege, when set, says how the target holds power the portal
	// protects: the reason of a refusal, or what a revocation touched.
	Privilege      string
	GraphRequestID string
	// RequestID is the portal's own request id.
	RequestID string
	// IntentID links an outcome to the record it settles: the pending
	// intent recorded before the Graph call, or an unknown outcome that a
	// later reading of Graph settles.
	IntentID int64
	// Reconciled marks an outcome the portal worked out at start-up for
	// an intent left without one.
	Reconciled bool
	// Channel is how an issue's passcode was to reach its user; empty on
	// other records and on issues recorded before channels.
	Channel Channel
	// Hash is the record's chained hash, hex-encoded.
	Hash string
}

// EventFilter selects history records. Zero fields match everything.
type EventFilter struct {
	OperatorID string
	TargetID   string
	Action     Action
	Outcome    Outcome
	// From and To bound the time: From <= time < To.
	From, To time.Time
	// Before is the keyset cursor: only records with a smaller id.
	Before int64
	// Fold shows one line per action: a record that a later one settles
	// (an intent with its outcome, an unknown outcome settled since) is
	// left out, so only what is still pending or unknown shows as such.
	Fold bool
	// Limit bounds List; 0 means 50. Export ignores it.
	Limit int
}

// Action values beyond issue and revoke.
const (
	// ActionRetention records a retention run that deleted old records.
	ActionRetention Action = "retention"
	// ActionEndSessions records a supervisor ending an operator's
	// sessions.
	ActionEndSessions Action = "end_sessions"
	// ActionBulkRun records an operator confirming a cohort run; its
	// RequestID links it to the run, and to every row's own records.
	ActionBulkRun Action = "bulk_run"
	// ActionReveal records a one-time link opened and its passcode shown;
	// its TAPID and names are the issue's whose passcode it held.
	ActionReveal Action = "reveal"
	// ActionEventRequeue records a supervisor sending a dead security
	// event to the webhook again; its Detail names the delivery.
	ActionEventRequeue Action = "event_requeue"
)

// Actions returns every action the history records, in the order the
// history's filter offers them. A new action goes here and in Label, and
// the pages' tests fail until it does.
func Actions() []Action {
	return []Action{ActionIssue, ActionRevoke, ActionBulkRun, ActionReveal,
		ActionApprovalRequest, ActionApprovalApprove, ActionApprovalReject, ActionApprovalExpire, ActionApprovalCancel,
		ActionRetention, ActionEndSessions, ActionEventRequeue}
}

// ParseAction reads an action's name, as a filter sends it.
func ParseAction(s string) (Action, bool) {
	for _, a := range Actions() {
		if string(a) == s {
			return a, true
		}
	}
	return "", false
}

// Label names the action in the history's words, as its list and its
// filter show it.
func (a Action) Label() string {
	switch a {
	case ActionIssue:
		return "Issue"
	case ActionRevoke:
		return "Revoke"
	case ActionBulkRun:
		return "Cohort run"
	case ActionReveal:
		return "Link opened"
	case ActionApprovalRequest:
		return "Approval requested"
	case ActionApprovalApprove:
		return "Request approved"
	case ActionApprovalReject:
		return "Request rejected"
	case ActionApprovalExpire:
		return "Request expired"
	case ActionApprovalCancel:
		return "Request withdrawn"
	case ActionRetention:
		return "Retention"
	case ActionEndSessions:
		return "Sessions ended"
	case ActionEventRequeue:
		return "Event sent again"
	}
	return string(a)
}

// IntentOptions guard an intent's append.
type IntentOptions struct {
	// Limit, when set, is the operator's rate limit.
	Limit Limit
	// Submission, when set, is the single-use id of the form submitted.
	Submission string
}

// SubmissionRecord is what became of a submitted form.
type SubmissionRecord struct {
	Intent Event
	// Latest is the newest record settling the intent, or the intent
	// itself while it has none.
	Latest Event
}

// TargetLock is the lock on one target user while an action on them is in
// flight.
type TargetLock struct {
	TargetID string
	// Holder identifies the request holding the lock; HolderName names
	// its operator for the others.
	Holder     string
	HolderName string
	Since      time.Time
	// Expires is when the lock lapses if never unlocked (a replica that
	// stopped mid-call).
	Expires time.Time
}

// Limit is a rate limit on issuance intents per operator.
type Limit struct {
	Max    int
	Window time.Duration
	// Bulk counts only the rows of bulk runs (intents whose RequestID
	// starts with BulkRequestPrefix); otherwise those rows do not count.
	// Each kind of issue has a limit of its own.
	Bulk bool
}

// BulkRequestPrefix starts the RequestID of every bulk run's row, followed
// by the run's id: it links the row's records to their run. The portal's
// own request ids never start so.
const BulkRequestPrefix = "bulk:"

// Count is a labelled number, for the dashboard.
type Count struct {
	Label string
	N     int
}

// DayCount is one day of the dashboard's daily chart.
type DayCount struct {
	Day                     time.Time // midnight UTC
	Issued, Refused, Failed int
	// Revoked and Elsewhere (passes made outside the portal) are filled
	// in by the dashboard, not by History.Stats.
	Revoked, Elsewhere int
}

// Stats summarises the history for the dashboard.
type Stats struct {
	PerDay []DayCount
	// PerOperator counts successful issuances, most first.
	PerOperator []Count
	// RefusalsByReason counts refusals by RefusalCode, most first.
	RefusalsByReason []Count
}

// Verification is the result of walking the hash chain and checking it
// against the checkpoints.
type Verification struct {
	Checked int64
	// BrokenAt is the id of the first record whose hash or link does not
	// match, or 0 when the chain is intact.
	BrokenAt int64
	// Problem says what is wrong with the chain at BrokenAt, where the
	// walk stopped; empty when every record verified.
	Problem string
	// HeadID and HeadHash are the newest record walked.
	HeadID   int64
	HeadHash string
	// Checkpoints is how many checkpoints verified and were checked
	// against the chain.
	Checkpoints int
	// Findings are what the checkpoints show: records deleted from the
	// end, records rewritten, checkpoints forged, deleted or missing
	// from the log. Any finding means the history cannot be trusted.
	Findings []string
	// Notes are facts worth knowing that do not show tampering, such as
	// a time the portal wrote no checkpoint because it was not running.
	Notes []string
}

// Intact reports whether the chain verified and the checkpoints found
// nothing wrong with it.
func (v Verification) Intact() bool { return v.Problem == "" && len(v.Findings) == 0 }

// Checkpoint is a signed statement of the chain's head: the portal writes
// one at a steady interval to the database and to its log, so that
// deleting or rewriting records shows up against a copy the database does
// not hold. The MAC covers every other field.
type Checkpoint struct {
	// Seq numbers checkpoints from 1 without gaps.
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	HeadID   int64     `json:"head_id"`
	HeadHash string    `json:"head_hash"`
	// Count is how many records the chain held up to the head.
	Count int64 `json:"count"`
	// Interval is when the next checkpoint is due.
	Interval time.Duration `json:"interval_ns"`
	// Status is ChainIntact, or the problem verification found.
	Status string `json:"status"`
	KeyID  string `json:"key_id"`
	MAC    string `json:"mac"`
}

// ChainIntact is a checkpoint's status when the chain verified.
const ChainIntact = "intact"

// ChainStatus is the chain as of the newest checkpoint, for the
// supervisor's pages.
type ChainStatus struct {
	// Checkpoint is the newest checkpoint; zero Seq when none is written.
	Checkpoint Checkpoint
	// Problem is set when the checkpoint's own status is not intact, when
	// it does not verify, or when the records it vouches for have changed
	// since.
	Problem string
}

// Intact reports whether the newest checkpoint found the chain intact
// and still matches it.
func (c ChainStatus) Intact() bool { return c.Checkpoint.Seq != 0 && c.Problem == "" }

// History is the durable, tamper-evident record of every action. Every
// record carries a hash chained to the previous one. Implementations
// return EUnavailable when the store cannot be reached.
type History interface {
	// Record appends an event and returns it with its id, time and hash.
	// An outcome whose IntentID already has one returns EConflict.
	Record(ctx context.Context, e Event) (Event, error)
	// RecordIntent appends the intent e, within o's rate limit (ELimited
	// when the operator is at it) and under o's submission id, which no
	// two intents share (EConflict for a repeat). Checks and append are
	// atomic across replicas.
	RecordIntent(ctx context.Context, e Event, o IntentOptions) (Event, error)
	// Submission returns the intent recorded under a submission id and the
	// latest record settling it, or ENotFound.
	Submission(ctx context.Context, id string) (SubmissionRecord, error)
	// LockTarget takes the one lock a target may have while an action on
	// it is in flight, until it expires or is unlocked. When another
	// holder has it, it returns EConflict and that holder's lock.
	LockTarget(ctx context.Context, l TargetLock) (TargetLock, error)
	// UnlockTarget releases a lock taken by l.Holder.
	UnlockTarget(ctx context.Context, l TargetLock) error
	// TryLease takes or renews the lease name for holder until ttl from
	// now, and reports whether holder has it: one replica at a time does
	// what the lease guards.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// List returns matching events, newest first.
	List(ctx context.Context, f EventFilter) ([]Event, error)
	// Get returns one event, or ENotFound.
	Get(ctx context.Context, id int64) (Event, error)
	// Export calls fn for every matching event, newest first, streaming
	// from the database.
	Export(ctx context.Context, f EventFilter, fn func(Event) error) error
	// Stats summarises events matching f (Before and Limit ignored).
	Stats(ctx context.Context, f EventFilter) (Stats, error)
	// Unsettled returns the intents without an outcome and the unknown
	// outcomes not settled since, recorded before olderThan, oldest first.
	Unsettled(ctx context.Context, olderThan time.Time) ([]Event, error)
	// DeleteBefore deletes events older than t and records the deletion
	// as an ActionRetention event built from by. It returns the count.
	DeleteBefore(ctx context.Context, t time.Time, by Event) (int64, error)
	// Verify walks the hash chain from the oldest record and checks it
	// against the stored checkpoints.
	Verify(ctx context.Context) (Verification, error)
	// ChainStatus returns the chain's status as of the newest checkpoint.
	ChainStatus(ctx context.Context) (ChainStatus, error)
}

// Clip returns s fit to keep and show on one line: valid UTF-8, each
// control character a space, and at most limit bytes, cut at a character's
// boundary and ended with "…" when s was longer. Text from outside (a
// webhook receiver's answer, a problem a checkpoint repeats, a name in a
// security event) goes through it before it is stored or sent.
func Clip(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= limit {
		return s
	}
	const more = "…"
	cut, end := limit-len(more), more
	if cut < 0 {
		// Too short for the ellipsis: the cut shows nothing.
		cut, end = max(limit, 0), ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + end
}
