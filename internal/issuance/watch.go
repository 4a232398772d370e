package issuance

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// WatchOptions tune a Watcher.
type WatchOptions struct {
	// Every is how often a pass is looked at while it works. Default 15
	// minutes.
	Every time.Duration
	// Lookback is how old a pass may be when the portal starts watching
	// it. Default 7 days.
	Lookback time.Duration
	// Batch bounds the passes looked at in one run, two or three Graph
	// reads each.
	// Default 20.
	Batch int
}

// Watcher looks at the passes the portal knows were made, its own and
// those made elsewhere, until each is used, ends or is gone: what the
// dashboard says of them comes from these looks, not from Graph reads on
// page load. Run it on one replica at a time.
type Watcher struct {
	s *Service
	w portal.PassWatches
	o WatchOptions
}

// NewWatcher returns a Watcher over svc's directory.
func NewWatcher(svc *Service, w portal.PassWatches, o WatchOptions) *Watcher {
	if o.Every <= 0 {
		o.Every = 15 * time.Minute
	}
	if o.Lookback <= 0 {
		o.Lookback = 7 * 24 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 20
	}
	return &Watcher{s: svc, w: w, o: o}
}

// watchParallel is how many passes are looked at at once.
const watchParallel = 4

// Watching is what one run did.
type Watching struct {
	// New are the passes watched from this run on; Looked those looked at.
	New, Looked int
	// Failed counts the looks that could not complete.
	Failed int
}

// Run starts watching new passes and looks at those due.
func (w *Watcher) Run(ctx context.Context) (Watching, error) {
	var rep Watching
	now := w.s.now()
	n, err := w.w.WatchNew(ctx, now.Add(-w.o.Lookback))
	if err != nil {
		return rep, err
	}
	rep.New = n
	due, err := w.w.DueWatches(ctx, now, w.o.Batch)
	if err != nil {
		return rep, err
	}
	// The looks go to Graph a few at a time; each user's reads are few.
	looked := make([]portal.WatchedPass, len(due))
	sem := make(chan struct{}, watchParallel)
	var wg sync.WaitGroup
	for i, p := range due {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			looked[i] = w.look(ctx, p)
		})
	}
	wg.Wait()
	for _, p := range looked {
		if p.State == portal.WatchUnknown {
			rep.Failed++
		}
		if err := w.w.SaveWatch(ctx, p); err != nil {
			return rep, err
		}
		rep.Looked++
	}
	return rep, nil
}

// look reads the pass's user and works out where the pass stands. A read
// that fails leaves what was last seen and says why.
func (w *Watcher) look(ctx context.Context, p portal.WatchedPass) portal.WatchedPass {
	now := w.s.now()
	p.Checked, p.Next, p.Detail = now, now.Add(w.o.Every), ""
	if !portal.IsObjectID(p.TargetID) {
		p.State, p.Detail = portal.WatchGone, "The record names no account to look at."
		return p
	}
	tap, err := w.s.dir.CurrentTAP(ctx, p.TargetID)
	if portal.ErrorCode(err) == portal.ENotFound {
		p.State, p.StillUsable, p.Detail = portal.WatchGone, false, "The account no longer exists in the directory."
		return p
	}
	if err != nil {
		p.State, p.Detail = portal.WatchUnknown, portal.ErrorMessage(err)
		return p
	}
	if !w.thePass(&p, tap) {
		p.State, p.StillUsable = portal.WatchGone, false
		p.Detail = "The pass is no longer the user's: revoked, replaced, or removed after it expired."
		if p.TAPID == "" {
			p.Detail = "No pass made at that time was found on the user: it was gone before the portal looked."
		}
		return p
	}
	methods, err := w.s.dir.Methods(ctx, p.TargetID)
	fu := portal.FollowUpOf(*tap, methods, err == nil, now)
	w.s.addSignIn(ctx, p.TargetID, *tap, &fu)
	// Graph keeps only the last sign-in: one seen while the pass worked
	// stays known after the user signs in again.
	if !fu.SignedIn.IsZero() {
		p.SignedIn = fu.SignedIn
	}
	p.SignIn = fu.SignIn
	if err != nil {
		p.Detail = "The user's sign-in methods could not be read: " + portal.ErrorMessage(err)
	} else {
		p.After = methodNames(fu.After)
	}
	switch tap.State(now) {
	case portal.TAPUsed:
		p.State = portal.WatchUsed
	case portal.TAPExpired:
		p.State = portal.WatchEnded
	default:
		p.State = portal.WatchOpen
	}
	// Graph stops saying whether a one-time pass was used once it expires:
	// keep what was seen while it could be.
	if fu.Use != portal.UseUnknown || p.State != portal.WatchEnded {
		p.Use = fu.Use
	}
	p.StillUsable = fu.StillUsable
	p.Ends = tap.End()
	if p.Ends.After(now) && p.Ends.Before(p.Next) {
		p.Next = p.Ends
	}
	return p
}

// thePass reports whether tap is the watched pass: the record's method id,
// or for a pass made elsewhere, the user's pass made within the match
// window before its audit entry (whose id it then keeps).
func (w *Watcher) thePass(p *portal.WatchedPass, tap *portal.TAP) bool {
	if tap == nil {
		return false
	}
	if p.TAPID != "" {
		return strings.EqualFold(tap.ID, p.TAPID)
	}
	made := tap.Created
	if made.IsZero() || made.Before(p.Made.Add(-matchWindow)) || made.After(p.Made.Add(matchSkew)) {
		return false
	}
	p.TAPID = tap.ID
	return true
}

// methodNames names methods for a stored summary.
func methodNames(ms []portal.Method) string {
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.Kind.Label())
	}
	return strings.Join(names, ", ")
}
