package portal

import (
	"context"
	"time"
)

// ApprovalState is where a request for a second pair of eyes stands.
type ApprovalState string

// The states of a request for approval. A request leaves pending once,
// whichever way; an approved one then ends issued or failed.
const (
	// ApprovalPending: in the supervisors' queue, until someone other
	// than its requester decides it, its requester cancels it, or it
	// expires.
	ApprovalPending ApprovalState = "pending"
	// ApprovalApproved: approved; the pass is on its way through the
	// guarded path, which may still refuse it, or Graph left its outcome
	// unknown and the history settles it (Detail says so). The portal
	// settles a request left here from the history of its issue.
	ApprovalApproved ApprovalState = "approved"
	// ApprovalRejected: rejected; nothing is issued.
	ApprovalRejected ApprovalState = "rejected"
	// ApprovalExpired: no one decided it in time; nothing is issued.
	ApprovalExpired ApprovalState = "expired"
	// ApprovalCancelled: withdrawn by its requester while pending.
	ApprovalCancelled ApprovalState = "cancelled"
	// ApprovalIssued: approved and issued. Detail says so when nothing
	// waits for the requester that was to: the pass exists, but its
	// passcode reached nobody.
	ApprovalIssued ApprovalState = "issued"
	// ApprovalFailed: approved, but the issue was refused or failed
	// (Detail says why).
	ApprovalFailed ApprovalState = "failed"
)

// ApprovalStates lists every state, pending first, for filters.
func ApprovalStates() []ApprovalState {
	return []ApprovalState{ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalExpired, ApprovalCancelled,
		ApprovalIssued, ApprovalFailed}
}

// ParseApprovalState reads a state's name, as a filter sends it.
func ParseApprovalState(s string) (ApprovalState, bool) {
	for _, st := range ApprovalStates() {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Done reports whether a request in state s has come to its end: nothing
// more will happen to it.
func (s ApprovalState) Done() bool {
	switch s {
	case ApprovalRejected, ApprovalExpired, ApprovalCancelled, ApprovalIssued, ApprovalFailed:
		return true
	}
	return false
}

// Label names the state for people.
func (s ApprovalState) Label() string {
	switch s {
	case ApprovalPending:
		return "Waiting for approval"
	case ApprovalApproved:
		// A request stays here only while its pass is being issued, or
		// until the history settles an outcome Graph left unknown.
		return "Approved: outcome being settled"
	case ApprovalRejected:
		return "Rejected"
	case ApprovalExpired:
		return "Expired"
	case ApprovalCancelled:
		return "Cancelled"
	case ApprovalIssued:
		return "Issued"
	case ApprovalFailed:
		return "Approved, not issued"
	}
	return string(s)
}

// The history's actions for the steps of an approval. Each record's
// RequestID is ApprovalRequestPrefix and the request's id, which links the
// steps to each other; the issue that follows an approval is recorded as
// any issue is (ActionIssue), through the same guarded path.
const (
	ActionApprovalRequest Action = "approval_request"
	ActionApprovalApprove Action = "approval_approve"
	ActionApprovalReject  Action = "approval_reject"
	ActionApprovalExpire  Action = "approval_expire"
	ActionApprovalCancel  Action = "approval_cancel"
)

// ApprovalRequestPrefix starts the RequestID of the history records of a
// request for approval, followed by the request's id.
const ApprovalRequestPrefix = "approval:"

// ApprovalReason is one reason a request needs a second pair of eyes: a
// rule a platform admin set, which the request meets.
type ApprovalReason struct {
	// Code is stable, for the history, filters and metrics: groups,
	// lifetime, multi_use, hours or bulk.
	Code string `json:"code"`
	// Message says it in a sentence, for the requester and the approver.
	Message string `json:"message"`
}

// ApprovalSnapshot is what a request was decided on, recorded when it is
// made and read again when it is approved, so that the approver sees what
// changed in between. It holds facts, not the decision: the approval
// issues through the guarded path, which decides afresh.
type ApprovalSnapshot struct {
	// Eligible is the verdict's; Refusals are its messages.
	Eligible bool     `json:"eligible"`
	Refusals []string `json:"refusals,omitempty"`
	// DisplayName and AccountEnabled are the target's.
	DisplayName    string `json:"display_name"`
	AccountEnabled bool   `json:"account_enabled"`
	// Groups are every group the target is in.
	Groups []SnapshotGroup `json:"groups,omitempty"`
	// Roles name the directory roles and app roles the target holds, as
	// the user page names them ("Helpdesk Administrator"): the guardrails
	// refuse those they protect, so these are the ones they let through.
	Roles []string `json:"roles,omitempty"`
	// LivePass is set when the target has a pass that works or is yet to
	// start, which the new one would replace; PassID is its id.
	LivePass bool   `json:"live_pass"`
	PassID   string `json:"pass_id,omitempty"`
	// Policy holds the tenant policy's bounds.
	Policy SnapshotPolicy `json:"policy"`
}

// SnapshotGroup is a group in an ApprovalSnapshot.
type SnapshotGroup struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// SnapshotPolicy is the tenant policy's bounds in an ApprovalSnapshot.
type SnapshotPolicy struct {
	Enabled                bool `json:"enabled"`
	MinLifetimeMinutes     int  `json:"min_lifetime_minutes"`
	MaxLifetimeMinutes     int  `json:"max_lifetime_minutes"`
	DefaultLifetimeMinutes int  `json:"default_lifetime_minutes"`
	OneTimeForced          bool `json:"one_time_forced"`
}

// ApprovalRequest is an operator's request for a pass that a rule sends
// to a second pair of eyes. It holds what the pass would be, why it needs
// approval, what the request saw, and what became of it; the passcode
// only ever sealed to the requester's key.
type ApprovalRequest struct {
	// ID is 128 random bits, base64url: it names the request in URLs.
	ID    string
	State ApprovalState
	// RequesterID and RequesterName are the operator who asked.
	RequesterID   string
	RequesterName string
	// TargetID, TargetUPN and TargetName are the user the pass is for.
	TargetID   string
	TargetUPN  string
	TargetName string
	// RunID is set instead of a target for a cohort run that waits for
	// approval before it is confirmed; the pass fields are then empty,
	// each row holding its own, and PublicKey is the one the run's
	// passcodes are to be sealed to.
	RunID string
	// Start is zero for "when issued".
	Start time.Time
	// LifetimeMinutes is the lifetime asked for, the policy default
	// already applied.
	LifetimeMinutes int
	OneTime         bool
	Reason          string
	Ticket          string
	// Channel is how the passcode is to reach the user: "read" (shown
	// once to the requester), "manager" or "link".
	Channel string
	// Reasons are the rules the request meets, at least one.
	Reasons []ApprovalReason
	// Snapshot is what the request saw when it was made.
	Snapshot ApprovalSnapshot
	// Created is when the request was made; it can be decided until
	// Expires, not at it.
	Created time.Time
	Expires time.Time
	// DeciderID and DeciderName are who approved or rejected it: never
	// the requester, and empty when it expired or was cancelled.
	DeciderID   string
	DeciderName string
	// Decided is when it left pending, whichever way.
	Decided      time.Time
	DecisionNote string
	// RequestEventID and DecisionEventID are the history records of the
	// request and of what ended its wait (approval, rejection, expiry,
	// cancellation); IssueEventID is the outcome of the issue that
	// followed an approval. Each is 0 until it is set.
	RequestEventID  int64
	DecisionEventID int64
	IssueEventID    int64
	// TAPID is the pass issued; Detail says why an approved request was
	// not issued. Settled is when it was issued or failed.
	TAPID   string
	Detail  string
	Settled time.Time
	// PublicKey is the requester's, made with the request: what reaches
	// the requester after the approval is sealed to it, and only the
	// requester's browser holds the private key.
	PublicKey []byte
	// Sealed is the passcode sealed to PublicKey. Only the answer of
	// TakeSealedApproval holds it; everything else reads
	// PasscodeWaiting, which is set while it waits to be taken.
	Sealed          []byte
	PasscodeWaiting bool
	// Taken is when the requester took the sealed passcode; zero until
	// then.
	Taken time.Time
}

// StateAt returns where the request stands at now: a pending request
// past its expiry is expired, though the store moves it there only when
// ExpireApprovals finds it.
func (r ApprovalRequest) StateAt(now time.Time) ApprovalState {
	if r.State == ApprovalPending && !now.Before(r.Expires) {
		return ApprovalExpired
	}
	return r.State
}

// ApprovalFilter selects requests for approval. Zero fields match
// everything.
type ApprovalFilter struct {
	State       ApprovalState
	RequesterID string
	TargetID    string
	RunID       string
	// Limit bounds the list; 0 means DefaultApprovalLimit, and no list
	// is longer than MaxApprovalLimit.
	Limit int
}

// Bounds on a list of requests for approval.
const (
	DefaultApprovalLimit = 50
	MaxApprovalLimit     = 500
)

// Approvals keep requests for approval. Implementations return
// EUnavailable when the store cannot be reached, and ENotFound for an
// unknown request. A request moves out of each state at most once, across
// replicas: of two who try at the same moment, one does, and the other
// gets EConflict saying what happened.
type Approvals interface {
	// CreateApproval keeps a new pending request: EInvalid without an
	// id, a requester, either a target with a lifetime or a run, a reason
	// for approval, or a channel, with an expiry not after its creation,
	// or in another state than pending; EConflict for an id in use.
	CreateApproval(ctx context.Context, r ApprovalRequest) error
	// GetApproval returns one request, without its sealed passcode.
	GetApproval(ctx context.Context, id string) (ApprovalRequest, error)
	// ListApprovals returns the requests f selects, pending first, then
	// newest first, without their sealed passcodes.
	ListApprovals(ctx context.Context, f ApprovalFilter) ([]ApprovalRequest, error)
	// DecideApproval approves or rejects a pending request that has not
	// expired at now, and returns it as decided. Its requester gets
	// EDenied: no one approves their own request. A request decided
	// already, cancelled, or expired gets EConflict, saying who decided
	// it and when.
	DecideApproval(ctx context.Context, id string, decider Operator, approve bool, note string, now time.Time) (ApprovalRequest, error)
	// SetRequestEvent and SetDecisionEvent link a request to its history
	// records; EConflict when it is linked to another record already.
	SetRequestEvent(ctx context.Context, id string, eventID int64) error
	SetDecisionEvent(ctx context.Context, id string, eventID int64) error
	// MarkApprovalIssued moves an approved request to issued, with the
	// issue's history record, the pass's id and, for the read channel,
	// the passcode sealed to the requester's key; MarkApprovalFailed
	// moves it to failed, saying why. EConflict for a request that is not
	// approved.
	MarkApprovalIssued(ctx context.Context, id string, eventID int64, tapID string, sealed []byte, now time.Time) error
	MarkApprovalFailed(ctx context.Context, id string, eventID int64, detail string, now time.Time) error
	// SettleApproval moves an approved request to issued or failed (to),
	// with the history record that settled its issue, the pass's id and a
	// detail saying what came of it and what the requester should do,
	// and no sealed passcode: for a request settled from the history.
	// EInvalid for another state to move to; EConflict for a request that
	// is not approved.
	SettleApproval(ctx context.Context, id string, to ApprovalState, eventID int64, tapID, detail string, now time.Time) error
	// NoteApproval links an approved request to the history record of its
	// issue and says where it stands, leaving it approved: for an issue
	// whose outcome Graph left unknown, which the history settles.
	// EConflict for a request that is not approved.
	NoteApproval(ctx context.Context, id string, eventID int64, detail string) error
	// ApprovedBefore lists the requests approved at or before before and
	// neither issued nor failed since, oldest first, at most limit: those
	// whose issue the portal settles from the history.
	ApprovedBefore(ctx context.Context, before time.Time, limit int) ([]ApprovalRequest, error)
	// UnrecordedApprovals lists the requests whose request is in the
	// history (RequestEventID set) but whose end is not (DecisionEventID
	// 0), though they left pending at or before before, oldest first, at
	// most limit: the steps a failing history kept out, to record late.
	UnrecordedApprovals(ctx context.Context, before time.Time, limit int) ([]ApprovalRequest, error)
	// TakeSealedApproval returns the request with its sealed passcode
	// and forgets the passcode, in one step: of two takers, one gets it.
	// Anyone but the requester gets EDenied; a request with no passcode
	// waiting (not issued, sent another way, or taken already) EConflict.
	TakeSealedApproval(ctx context.Context, id, requesterID string, now time.Time) (ApprovalRequest, error)
	// ExpireApprovals moves every pending request that expired at or
	// before now to expired and returns them, so that each expiry is
	// recorded: each is returned once, to one caller.
	ExpireApprovals(ctx context.Context, now time.Time) ([]ApprovalRequest, error)
	// CancelApproval withdraws a pending request that has not expired,
	// for its requester: EDenied for anyone else, EConflict when it is no
	// longer pending.
	CancelApproval(ctx context.Context, id, requesterID string, now time.Time) (ApprovalRequest, error)
}
