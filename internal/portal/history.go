package portal

import (
	"context"
	"time"
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
// Graph call whose outcome is not known yet.
const (
	OutcomePending Outcome = "pending"
	OutcomeSuccess Outcome = "success"
	OutcomeRefused Outcome = "refused"
	OutcomeFailed  Outcome = "failed"
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
	RefusalCode    string
	GraphRequestID string
	// RequestID is the portal's own request id.
	RequestID string
	// IntentID links an outcome to the pending intent recorded before
	// the Graph call.
	IntentID int64
}

// EventFilter selects history records. Zero fields match everything.
type EventFilter struct {
	OperatorID string
	TargetID   string
	Action     Action
	Outcome    Outcome
	From, To   time.Time
	// Before is the keyset cursor: only records with a smaller id.
	Before int64
	Limit  int
}

// History is the durable record of every action. Implementations return
// EUnavailable when the store cannot be reached.
type History interface {
	// Record appends an event and returns it with its id and time.
	Record(ctx context.Context, e Event) (Event, error)
	// List returns matching events, newest first.
	List(ctx context.Context, f EventFilter) ([]Event, error)
}
