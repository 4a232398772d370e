package portal

import "time"

// TAPState is where a pass stands in its life.
type TAPState string

// The states of a pass. They follow Graph's methodUsabilityReason, with the
// portal's own reading of the times when Graph's flag lags behind.
const (
	TAPUsable           TAPState = "usable"
	TAPNotYetValid      TAPState = "not-yet-valid"
	TAPExpired          TAPState = "expired"
	TAPUsed             TAPState = "used"
	TAPDisabledByPolicy TAPState = "disabled-by-policy"
)

// Label returns the state in words for an operator.
func (s TAPState) Label() string {
	switch s {
	case TAPUsable:
		return "Usable"
	case TAPNotYetValid:
		return "Not yet valid"
	case TAPExpired:
		return "Expired"
	case TAPUsed:
		return "Used"
	case TAPDisabledByPolicy:
		return "Disabled by policy"
	}
	return string(s)
}

// TAP is a Temporary Access Pass as read from the directory. It never
// holds the passcode: see IssuedTAP.
type TAP struct {
	ID              string
	Created         time.Time
	Start           time.Time
	LifetimeMinutes int
	OneTime         bool
	Usable          bool
	// Reason is Graph's methodUsabilityReason, as sent.
	Reason string
}

// End returns when the pass stops being valid.
func (t TAP) End() time.Time {
	return t.Start.Add(time.Duration(t.LifetimeMinutes) * time.Minute)
}

// State returns the pass's state as Graph reports it (isUsable and
// methodUsabilityReason): Graph decides whether a pass works, the portal's
// clock only counts down. The clock decides alone when Graph gives no
// reason the portal knows, or one that contradicts isUsable.
func (t TAP) State(now time.Time) TAPState {
	switch {
	case t.Reason == "OneTimeUsed":
		return TAPUsed
	case t.Reason == "DisabledByPolicy":
		return TAPDisabledByPolicy
	case t.Reason == "Expired":
		return TAPExpired
	case t.Reason == "NotYetValid":
		return TAPNotYetValid
	case t.Reason == "EnabledByPolicy" && t.Usable:
		return TAPUsable
	}
	switch {
	case now.Before(t.Start):
		return TAPNotYetValid
	case !now.Before(t.End()):
		return TAPExpired
	case !t.Usable:
		return TAPDisabledByPolicy
	}
	return TAPUsable
}

// NewTAP asks for a pass.
type NewTAP struct {
	// Start is when the pass becomes valid; zero means now.
	Start time.Time
	// LifetimeMinutes is the lifetime; 0 means the policy default.
	LifetimeMinutes int
	OneTime         bool
}

// IssuedTAP is a pass just created, with its passcode.
type IssuedTAP struct {
	TAP
	Passcode Secret
	// RequestID is Graph's request id of the create.
	RequestID string
}

// Live reports whether the pass still works or is yet to start at now: a
// new pass would replace it, so issuing one needs a confirmation.
func (t TAP) Live(now time.Time) bool {
	st := t.State(now)
	return st == TAPUsable || st == TAPNotYetValid
}

// TAPCreate is one pass to create in a batch; Key names it in the reply.
type TAPCreate struct {
	Key    string
	UserID string
	Req    NewTAP
}

// TAPCreated is the answer to one TAPCreate: the pass, or the error (with
// Unsure set when Graph may have created it, and RetryAfter when Graph
// throttled it and it may be sent again).
type TAPCreated struct {
	Key    string
	Issued IssuedTAP
	Err    error
}
