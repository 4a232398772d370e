package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// History is a portal.History in memory. It keeps the store's contract
// (one outcome per intent, the rate limit counted with the append, newest
// first) but no hash chain: Verify reports every record intact.
type History struct {
	// Now stamps records recorded without a time; default time.Now.
	Now func() time.Time

	mu          sync.Mutex
	events      []portal.Event // oldest first
	lastID      int64
	submissions map[string]int64
	locks       map[string]portal.TargetLock
	fail        error
}

var _ portal.History = (*History)(nil)

// Fail makes every later call return err; nil heals it.
func (h *History) Fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

// Events returns every record, oldest first.
func (h *History) Events() []portal.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// Record implements portal.History.
func (h *History) Record(_ context.Context, e portal.Event) (portal.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.append(e)
}

func (h *History) append(e portal.Event) (portal.Event, error) {
	if h.fail != nil {
		return portal.Event{}, h.fail
	}
	if e.Action == "" || e.Outcome == "" {
		return portal.Event{}, portal.Errorf(portal.EInvalid, "A history record needs an action and an outcome.")
	}
	if e.IntentID != 0 && slices.ContainsFunc(h.events, func(x portal.Event) bool { return x.IntentID == e.IntentID }) {
		return portal.Event{}, portal.Errorf(portal.EConflict, "History record %d already has an outcome.", e.IntentID)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
		if h.Now != nil {
			e.Time = h.Now()
		}
	}
	h.lastID++
	e.ID = h.lastID
	e.Hash = fmt.Sprintf("hash-%d", e.ID)
	h.events = append(h.events, e)
	return e, nil
}

// RecordIntent implements portal.History.
func (h *History) RecordIntent(_ context.Context, e portal.Event, o portal.IntentOptions) (portal.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return portal.Event{}, h.fail
	}
	if l := o.Limit; l.Max > 0 && l.Window > 0 {
		now := e.Time
		if now.IsZero() {
			now = h.now()
		}
		n := 0
		for _, x := range h.events {
			if x.OperatorID == e.OperatorID && x.Action == portal.ActionIssue && x.Outcome == portal.OutcomePending &&
				x.Time.After(now.Add(-l.Window)) && !h.cameToNothing(x.ID) {
				n++
			}
		}
		if n >= l.Max {
			return portal.Event{}, portal.Errorf(portal.ELimited, "You have issued %d passes in the last %s: the limit is %d.", n, l.Window, l.Max)
		}
	}
	if o.Submission != "" {
		if _, ok := h.submissions[o.Submission]; ok {
			return portal.Event{}, portal.Errorf(portal.EConflict, "This form was already submitted.")
		}
	}
	out, err := h.append(e)
	if err == nil && o.Submission != "" {
		if h.submissions == nil {
			h.submissions = map[string]int64{}
		}
		h.submissions[o.Submission] = out.ID
	}
	return out, err
}

// cameToNothing reports whether the intent's outcome is a failure.
func (h *History) cameToNothing(intentID int64) bool {
	for _, x := range h.events {
		if x.IntentID == intentID {
			return x.Outcome == portal.OutcomeFailed || x.Outcome == portal.OutcomeRefused
		}
	}
	return false
}

func (h *History) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Submission implements portal.History.
func (h *History) Submission(_ context.Context, id string) (portal.SubmissionRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	intentID, ok := h.submissions[id]
	if !ok {
		return portal.SubmissionRecord{}, portal.Errorf(portal.ENotFound, "No form was submitted with this id.")
	}
	var rec portal.SubmissionRecord
	for _, x := range h.events {
		if x.ID == intentID {
			rec.Intent, rec.Latest = x, x
		}
	}
	for changed := true; changed; {
		changed = false
		for _, x := range h.events {
			if x.IntentID == rec.Latest.ID {
				rec.Latest, changed = x, true
			}
		}
	}
	return rec, nil
}

// LockTarget implements portal.History.
func (h *History) LockTarget(_ context.Context, l portal.TargetLock) (portal.TargetLock, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return portal.TargetLock{}, h.fail
	}
	if held, ok := h.locks[l.TargetID]; ok && held.Holder != l.Holder && h.now().Before(held.Expires) {
		return held, portal.Errorf(portal.EConflict, "Another action for this user is in progress.")
	}
	if h.locks == nil {
		h.locks = map[string]portal.TargetLock{}
	}
	h.locks[l.TargetID] = l
	return l, nil
}

// UnlockTarget implements portal.History.
func (h *History) UnlockTarget(_ context.Context, l portal.TargetLock) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if held, ok := h.locks[l.TargetID]; ok && held.Holder == l.Holder {
		delete(h.locks, l.TargetID)
	}
	return nil
}

// Locked returns the lock held on target, if any.
func (h *History) Locked(target string) (portal.TargetLock, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[target]
	return l, ok
}

// TryLease implements portal.History: every holder always has it, as one
// replica alone would.
func (h *History) TryLease(context.Context, string, string, time.Duration) (bool, error) {
	return h.fail == nil, h.fail
}

func matches(f portal.EventFilter, e portal.Event) bool {
	return (f.OperatorID == "" || e.OperatorID == f.OperatorID) && (f.TargetID == "" || e.TargetID == f.TargetID) &&
		(f.Action == "" || e.Action == f.Action) && (f.Outcome == "" || e.Outcome == f.Outcome) &&
		(f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To)) &&
		(f.Before == 0 || e.ID < f.Before)
}

// settled reports whether a later record settles e.
func settled(events []portal.Event, e portal.Event) bool {
	return slices.ContainsFunc(events, func(x portal.Event) bool { return x.IntentID == e.ID })
}

// List implements portal.History.
func (h *History) List(_ context.Context, f portal.EventFilter) ([]portal.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var out []portal.Event
	for i := len(h.events) - 1; i >= 0 && len(out) < limit; i-- {
		if matches(f, h.events[i]) && !(f.Fold && settled(h.events, h.events[i])) {
			out = append(out, h.events[i])
		}
	}
	return out, nil
}

// Get implements portal.History.
func (h *History) Get(_ context.Context, id int64) (portal.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return portal.Event{}, h.fail
	}
	for _, e := range h.events {
		if e.ID == id {
			return e, nil
		}
	}
	return portal.Event{}, portal.Errorf(portal.ENotFound, "There is no such history record.")
}

// Export implements portal.History.
func (h *History) Export(_ context.Context, f portal.EventFilter, fn func(portal.Event) error) error {
	h.mu.Lock()
	events := slices.Clone(h.events)
	err := h.fail
	h.mu.Unlock()
	if err != nil {
		return err
	}
	f.Before = 0
	for i := len(events) - 1; i >= 0; i-- {
		if matches(f, events[i]) {
			if err := fn(events[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stats implements portal.History: only the refusal counts, which is what
// the domain tests look at.
func (h *History) Stats(_ context.Context, f portal.EventFilter) (portal.Stats, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return portal.Stats{}, h.fail
	}
	f.Before = 0
	by := map[string]int{}
	for _, e := range h.events {
		if matches(f, e) && e.Outcome == portal.OutcomeRefused {
			by[e.RefusalCode]++
		}
	}
	var st portal.Stats
	for code, n := range by {
		st.RefusalsByReason = append(st.RefusalsByReason, portal.Count{Label: code, N: n})
	}
	slices.SortFunc(st.RefusalsByReason, func(a, b portal.Count) int { return b.N - a.N })
	return st, nil
}

// Unsettled implements portal.History.
func (h *History) Unsettled(_ context.Context, olderThan time.Time) ([]portal.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	settled := map[int64]bool{}
	for _, e := range h.events {
		settled[e.IntentID] = true
	}
	var out []portal.Event
	for _, e := range h.events {
		if (e.Outcome == portal.OutcomePending || e.Outcome == portal.OutcomeUnknown) && !settled[e.ID] && e.Time.Before(olderThan) {
			out = append(out, e)
		}
	}
	return out, nil
}

// DeleteBefore implements portal.History.
func (h *History) DeleteBefore(_ context.Context, t time.Time, by portal.Event) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return 0, h.fail
	}
	kept := h.events[:0]
	var n int64
	for _, e := range h.events {
		if e.Time.Before(t) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	h.events = kept
	by.Action, by.Outcome, by.Time = portal.ActionRetention, portal.OutcomeSuccess, time.Time{}
	_, err := h.append(by)
	return n, err
}

// Verify implements portal.History.
func (h *History) Verify(context.Context) (portal.Verification, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return portal.Verification{}, h.fail
	}
	return portal.Verification{Checked: int64(len(h.events))}, nil
}

// ChainStatus implements portal.History: the fake writes no checkpoints.
func (h *History) ChainStatus(context.Context) (portal.ChainStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return portal.ChainStatus{}, h.fail
}
