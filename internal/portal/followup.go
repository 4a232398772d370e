package portal

import (
	"context"
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
	// SignIn is what the user's sign-in activity says of a pass whose use
	// Graph does not give ("" when it was not read), and SignedIn the
	// user's last sign-in when it fell while the pass worked.
	SignIn   string
	SignedIn time.Time
	// SignInAsOf, when set, is when the portal last read the sign-in
	// activity SignIn reports, for a page that does not read it itself.
	SignInAsOf time.Time
}

// AddSignIn adds what the user's last successful sign-in (last, zero if
// Graph has none; err if it could not be read) says of pass t. Graph keeps
// only the last sign-in and not its method, so a sign-in while the pass
// worked is reported as that, never as the pass's use.
func (f *FollowUp) AddSignIn(t TAP, last time.Time, err error) {
	start, end := t.Start, t.End()
	switch {
	case err != nil:
		f.SignIn = "The user's sign-in activity could not be read: " + ErrorMessage(err)
	case last.IsZero():
		f.SignIn = "Graph holds no sign-in for the user."
	case last.Before(start):
		f.SignIn = "The user has not signed in since the pass started: they last signed in before it."
	case last.After(end):
		f.SignIn = "The user last signed in after the pass ended; Graph keeps only the last sign-in, so any while it worked is not known."
	default:
		f.SignedIn = last
		f.SignIn = "The user last signed in while the pass worked; Graph does not say with which method."
	}
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

// Watch is where the portal's look at a pass stands.
type Watch string

// The states of a watched pass. New, open and unknown passes are looked at
// again; the others are done.
const (
	// WatchNew: not looked at yet.
	WatchNew Watch = "new"
	// WatchOpen: the pass still works (or has not started).
	WatchOpen Watch = "open"
	// WatchUnknown: the last look failed (Detail says why); tried again.
	WatchUnknown Watch = "unknown"
	// WatchUsed: Graph marks the one-time pass used.
	WatchUsed Watch = "used"
	// WatchEnded: the pass expired.
	WatchEnded Watch = "ended"
	// WatchGone: the pass is no longer the user's (revoked or replaced),
	// or the account no longer exists.
	WatchGone Watch = "gone"
)

// Done reports whether a pass in state w is no longer looked at.
func (w Watch) Done() bool { return w == WatchUsed || w == WatchEnded || w == WatchGone }

// WatchedPass is the portal's latest look at a pass it knows was made: by
// one of its issues (RecordID) or elsewhere (AuditID, from the directory
// audit log).
type WatchedPass struct {
	ID       string
	RecordID int64
	AuditID  string
	// The target as the record or the audit entry names them.
	TargetID, TargetUPN, TargetName string
	Made                            time.Time
	// TAPID is the pass's method id: the record's, or for a pass made
	// elsewhere the one found on the user at its first look.
	TAPID string
	State Watch
	// Use is what the last look said of its use; for an ended or gone
	// pass, what was last seen while it could still be used.
	Use         Use
	StillUsable bool
	// After names the methods registered since the pass was made.
	After string
	// Ends is when the pass stops working, once known.
	Ends time.Time
	// SignedIn is a sign-in of the user seen while the pass worked, and
	// SignIn what the last look's sign-in activity said (see FollowUp).
	SignedIn time.Time
	SignIn   string
	// Detail says why the last look failed, or how the pass ended.
	Detail  string
	Checked time.Time
	Next    time.Time
}

// Elsewhere reports whether the pass was made outside the portal.
func (p WatchedPass) Elsewhere() bool { return p.RecordID == 0 }

// Unused reports whether the pass ended (or is gone) and was last seen
// unused while it could still be used: Graph cannot say more once it ends.
func (p WatchedPass) Unused() bool {
	return (p.State == WatchEnded || p.State == WatchGone) && p.Use == UseNotUsed
}

// WatchCounts sum the watched passes by what the portal last saw.
type WatchCounts struct {
	// Waiting are passes that still work and were not seen used.
	Waiting int
	// StillUsable are passes that still work after the user registered a
	// method since: they should be revoked.
	StillUsable int
	Used        int
	// Unused are passes that ended or went without being seen used.
	Unused int
	// Unknown are passes the portal could not look at, or has not yet.
	Unknown int
}

// WatchFilter selects watched passes.
type WatchFilter struct {
	// StillUsable selects the passes that still work after set-up;
	// Unused those that ended without being seen used.
	StillUsable, Unused bool
	// TargetID and TAPID, when set, select one user's pass.
	TargetID, TAPID string
	// From and To select passes made in [From, To); zero is open.
	From, To time.Time
	Limit    int
}

// PassWatches keep the portal's looks at passes. Implementations return
// EUnavailable when the store cannot be reached.
type PassWatches interface {
	// WatchNew starts watching the passes made since a time that are not
	// watched yet: the portal's successful issues and the passes the
	// directory audit log shows made elsewhere. It returns how many.
	WatchNew(ctx context.Context, since time.Time) (int, error)
	// DueWatches returns the passes to look at by now, soonest first.
	DueWatches(ctx context.Context, now time.Time, limit int) ([]WatchedPass, error)
	// SaveWatch stores a look at a pass.
	SaveWatch(ctx context.Context, p WatchedPass) error
	// Watches lists watched passes, newest first; WatchCounts sums those
	// made in f's period (its other fields are ignored).
	Watches(ctx context.Context, f WatchFilter) ([]WatchedPass, error)
	WatchCounts(ctx context.Context, f WatchFilter) (WatchCounts, error)
}
