// Package issuance is the portal's one guarded path to a Temporary Access
// Pass. Each action gathers its facts from the directory once, decides on
// them, and records every attempt in the history before and after it calls
// Graph:
//
//   - view.go: what a user page shows
//   - facts.go and verdict.go: what a decision is made on, and the
//     guardrails that decide it
//   - validate.go: the operator's input, on every path that records it
//   - issue.go and revoke.go: the two writes
//   - once.go: one submission, one pass; one action in flight per user
//   - settle.go and retention.go: the history's upkeep
package issuance

import (
	"context"
	"log/slog"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Guardrails are the portal's own rules on top of the tenant policy.
type Guardrails struct {
	// ProtectedRoleIDs are role template ids whose holders are refused;
	// empty means every active directory role.
	ProtectedRoleIDs []string
	// ProtectedGroupIDs are groups whose members are refused.
	ProtectedGroupIDs []string
	// EligibleGroupIDs, when set, are the only groups whose members may
	// get a pass.
	EligibleGroupIDs []string
	// AllowedCustomRoleIDs are custom roles whose holders may get a pass
	// when ProtectedRoleIDs is a list.
	AllowedCustomRoleIDs []string
	// ProtectStaff refuses anyone holding one of the portal's app roles.
	ProtectStaff bool
}

// Options tune a Service.
type Options struct {
	Guardrails Guardrails
	// RateLimit bounds each operator's issuances; zero means none.
	RateLimit portal.Limit
	// MaxAuthAge is how old a sign-in may be to issue; zero means any.
	MaxAuthAge time.Duration
	// StaffChecks reads the portal's app-role holders (Directory.Staff):
	// for the ProtectStaff guardrail, and to confirm before every write
	// that the operator still holds one of OperatorRoles.
	StaffChecks   bool
	OperatorRoles []string
	// LockTTL bounds how long a target stays locked by a request that
	// never releases it (its replica stopped): longer than any request.
	// Default 2 minutes.
	LockTTL time.Duration
	// ReadBackTimeout bounds the read of a user's pass after a write Graph
	// did not confirm. Default 10 seconds.
	ReadBackTimeout time.Duration
	// SettleWindow is how long after an unconfirmed write the settler
	// waits for Graph's replicas to show a change before it concludes
	// there was none. Default 45 seconds.
	SettleWindow time.Duration
	// ThrottleRetries is how often IssueBatch sends again a create Graph
	// throttles before its issue fails. Default 5.
	ThrottleRetries int
	Now             func() time.Time
	Logger          *slog.Logger
	// Observe, when set, is told every settled action: its outcome and,
	// for a refusal, the refusal code.
	Observe func(a portal.Action, o portal.Outcome, refusal string)
	// Delivery says how passcodes may reach users and who is told.
	Delivery Delivery
	// Approvals, when set, send the issues their rules name to a second
	// pair of eyes.
	Approvals *Approvals
}

// Service issues and revokes passes.
type Service struct {
	dir        portal.Directory
	history    portal.History
	rails      Guardrails
	limit      portal.Limit
	maxAuthAge time.Duration
	staffApp   bool
	opRoles    []string

	lockTTL         time.Duration
	readBackTimeout time.Duration
	settleWindow    time.Duration
	now             func() time.Time
	log             *slog.Logger
	observe         func(portal.Action, portal.Outcome, string)
	signInRefused   signInRefusal
	throttleRetries int
	delivery        Delivery
	approvals       *Approvals
}

// New returns a Service.
func New(dir portal.Directory, history portal.History, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(portal.Action, portal.Outcome, string) {}
	}
	if !o.StaffChecks {
		o.Guardrails.ProtectStaff = false
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 2 * time.Minute
	}
	if o.ReadBackTimeout <= 0 {
		o.ReadBackTimeout = 10 * time.Second
	}
	if o.SettleWindow <= 0 {
		o.SettleWindow = 45 * time.Second
	}
	if o.ThrottleRetries <= 0 {
		o.ThrottleRetries = 5
	}
	return &Service{dir: dir, history: history, rails: o.Guardrails, limit: o.RateLimit, maxAuthAge: o.MaxAuthAge,
		staffApp: o.StaffChecks, opRoles: o.OperatorRoles, now: o.Now, log: o.Logger, observe: o.Observe,
		lockTTL: o.LockTTL, readBackTimeout: o.ReadBackTimeout, settleWindow: o.SettleWindow, throttleRetries: o.ThrottleRetries,
		delivery: o.Delivery, approvals: o.Approvals}
}

// FreshSignIn reports whether op signed in recently enough to issue.
func (s *Service) FreshSignIn(op portal.Operator) bool {
	return s.maxAuthAge <= 0 || s.now().Sub(op.AuthTime) <= s.maxAuthAge
}

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Policy returns the tenant's Temporary Access Pass policy, as the
// directory caches it.
func (s *Service) Policy(ctx context.Context) (portal.Policy, error) { return s.dir.Policy(ctx) }
