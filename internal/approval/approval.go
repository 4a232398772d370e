// Package approval holds the rules of four-eyes approval: which requests
// for a pass wait for a second person (Rules and Check), how a platform
// admin writes those rules (the Parse functions), what changed between a
// request and its approval (Diff), and how the passcode reaches the
// requester sealed to a key only their browser holds (Seal and Open).
//
// It decides nothing about the pass itself: an approved request issues
// through the same guarded path as any other, which checks everything
// again. It imports no database, HTTP or Graph package, so its rules are
// tested as plain functions.
package approval

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Reason is one reason a request needs approval. It is the domain's type,
// so that the reasons Check gives are stored and shown as they are.
type Reason = portal.ApprovalReason

// The codes of the reasons, one per rule. They are stable: the history,
// filters and metrics keep them.
const (
	CodeGroups   = "groups"
	CodeLifetime = "lifetime"
	CodeMultiUse = "multi_use"
	CodeHours    = "hours"
	CodeBulk     = "bulk"
)

// Codes lists every reason code, in the order Check gives them.
func Codes() []string {
	return []string{CodeGroups, CodeLifetime, CodeMultiUse, CodeHours, CodeBulk}
}

// Label names a reason code for people, as a filter or a chart shows it.
func Label(code string) string {
	switch code {
	case CodeGroups:
		return "Watched group"
	case CodeLifetime:
		return "Long lifetime"
	case CodeMultiUse:
		return "Multi-use pass"
	case CodeHours:
		return "Outside working hours"
	case CodeBulk:
		return "Large cohort run"
	}
	return code
}

// Rules are what sends a request to a second pair of eyes, as a platform
// admin sets them. The zero Rules send nothing.
type Rules struct {
	// GroupIDs are groups, by object id, whose members' passes need
	// approval. They are compared without regard to case.
	GroupIDs []string
	// LifetimeOverMinutes, when set, is the longest lifetime a pass may
	// have without approval; 0 turns the rule off.
	LifetimeOverMinutes int
	// MultiUse sends every pass that is not one-time.
	MultiUse bool
	// Hours, when set, are the working hours: a request made outside
	// them needs approval.
	Hours Hours
	// BulkRowsOver, when set, is the most eligible rows a cohort run may
	// have without approval; 0 turns the rule off.
	BulkRowsOver int
}

// IsZero reports whether no rule is set, so that nothing ever waits.
func (r Rules) IsZero() bool {
	return len(r.GroupIDs) == 0 && r.LifetimeOverMinutes == 0 && !r.MultiUse && r.Hours.IsZero() && r.BulkRowsOver == 0
}

// Request is what the rules look at: one pass, or a cohort run.
type Request struct {
	// Time is when the operator asked.
	Time time.Time
	// Groups are every group the target is in, for one pass.
	Groups []portal.Group
	// LifetimeMinutes is the pass's lifetime, the policy default already
	// applied, and OneTime whether it is one-time.
	LifetimeMinutes int
	OneTime         bool
	// Bulk marks a cohort run, and BulkRows is how many of its rows are
	// eligible. A run is checked against the hours and the size of runs
	// only: it is no pass, and its rows are each checked as one.
	Bulk     bool
	BulkRows int
}

// Check returns why req needs approval, one Reason per rule it meets, in
// the order of Codes; none means it does not. A limit is a most: a pass
// of exactly LifetimeOverMinutes, or a run of exactly BulkRowsOver rows,
// goes through.
func (r Rules) Check(req Request) []Reason {
	var out []Reason
	add := func(code, format string, args ...any) {
		out = append(out, Reason{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if !req.Bulk {
		if names := r.watched(req.Groups); len(names) == 1 {
			add(CodeGroups, "The user is in %s, a group whose passes need a second pair of eyes.", names[0])
		} else if len(names) > 1 {
			add(CodeGroups, "The user is in %s, groups whose passes need a second pair of eyes.", join(names))
		}
		if r.LifetimeOverMinutes > 0 && req.LifetimeMinutes > r.LifetimeOverMinutes {
			add(CodeLifetime, "The pass lasts %s, over the %s that need a second pair of eyes.",
				portal.FormatMinutes(req.LifetimeMinutes), portal.FormatMinutes(r.LifetimeOverMinutes))
		}
		if r.MultiUse && !req.OneTime {
			add(CodeMultiUse, "The pass can be used more than once: a pass that is not one-time needs a second pair of eyes.")
		}
	}
	if !r.Hours.IsZero() {
		switch {
		case req.Time.IsZero():
			// A request whose time is unknown is not known to be inside
			// the hours, so it waits: the rule fails closed.
			add(CodeHours, "The time of the request is not known, so it may fall outside the working hours %s (%s).",
				r.Hours.window(), r.Hours.Zone)
		case !r.Hours.Contains(req.Time):
			local := req.Time.In(r.Hours.Zone)
			add(CodeHours, "The request was made on a %s at %s (%s), outside the working hours %s.",
				local.Weekday(), local.Format("15:04"), r.Hours.Zone, r.Hours.window())
		}
	}
	if req.Bulk && r.BulkRowsOver > 0 && req.BulkRows > r.BulkRowsOver {
		add(CodeBulk, "The run has %d eligible rows, over the %d that need a second pair of eyes.", req.BulkRows, r.BulkRowsOver)
	}
	return out
}

// watched names the groups of gs that the rules watch, in gs's order.
func (r Rules) watched(gs []portal.Group) []string {
	var names []string
	for _, g := range gs {
		if slices.ContainsFunc(r.GroupIDs, func(id string) bool { return strings.EqualFold(id, g.ID) }) {
			names = append(names, cmp.Or(g.DisplayName, g.ID))
		}
	}
	return names
}

// join lists names for a sentence: "A", "A and B", "A, B and C".
func join(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
