package portal

import (
	"slices"
	"time"
)

// Use is whether a pass was used to sign in, as far as Graph tells.
type Use string

// What the portal can say about a pass's use. Graph v1.0 says it only for
// a one-time pass: it is marked when used, and usable until then.
const (
	UseUnknown Use = "unknown"
	UseUsed    Use = "used"
	UseNotUsed Use = "not-used"
)

// FollowUp is what became of a pass: whether it was used, what the user
// registered after it was made, and whether it still works though it has
// done its job.
type FollowUp struct {
	Use Use
	// UseWhy says how the portal knows, or why it cannot.
	UseWhy string
	// After are the sign-in methods registered after the pass was made,
	// oldest first. Undated are those whose registration time Graph does
	// not give (phone, email and a few others), so they may be older or
	// newer. MethodsUnknown is set when the methods could not be read.
	After          []Method
	Undated        []Method
	MethodsUnknown bool
	// StillUsable is set when the pass still works after the user
	// registered a method with a known time since it was made: it should
	// be revoked.
	StillUsable bool
}

// FollowUpOf works out the follow-up of pass t from the user's sign-in
// methods (nil known false when they could not be read) at now. It says
// only what Graph's data shows; everything else is UseUnknown.
func FollowUpOf(t TAP, methods []Method, known bool, now time.Time) FollowUp {
	var f FollowUp
	switch st := t.State(now); {
	case st == TAPUsed:
		f.Use, f.UseWhy = UseUsed, "Graph marks the one-time pass as used."
	case st == TAPNotYetValid:
		f.Use, f.UseWhy = UseNotUsed, "The pass has not started yet."
	case st == TAPUsable && t.OneTime:
		f.Use, f.UseWhy = UseNotUsed, "A one-time pass stays usable only until it is used."
	case t.OneTime:
		f.Use, f.UseWhy = UseUnknown, "The one-time pass can no longer be used, and Graph does not say whether it was used first."
	default:
		f.Use, f.UseWhy = UseUnknown, "Graph does not say whether a reusable pass was used."
	}
	made := t.Created
	if made.IsZero() {
		made = t.Start
	}
	f.registeredSince(made, methods, known)
	f.StillUsable = len(f.After) > 0 && t.State(now) == TAPUsable
	return f
}

// FollowUpGone is the follow-up of a pass made at made that is no longer
// the user's: revoked, replaced, or removed after it expired.
func FollowUpGone(made time.Time, methods []Method, known bool) FollowUp {
	f := FollowUp{Use: UseUnknown, UseWhy: "The pass is no longer the user's (revoked, replaced, or removed after it expired), so Graph no longer says whether it was used."}
	f.registeredSince(made, methods, known)
	return f
}

// registeredSince sorts the user's methods into those registered after
// made and those Graph gives no time for.
func (f *FollowUp) registeredSince(made time.Time, methods []Method, known bool) {
	if !known {
		f.MethodsUnknown = true
		return
	}
	for _, m := range methods {
		switch {
		case m.Kind == MethodPassword || m.Kind == MethodTemporaryAccessPass:
		case m.Created.IsZero():
			f.Undated = append(f.Undated, m)
		case m.Created.After(made):
			f.After = append(f.After, m)
		}
	}
	slices.SortFunc(f.After, func(a, b Method) int { return a.Created.Compare(b.Created) })
}
