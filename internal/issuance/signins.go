package issuance

import (
	"context"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// SignInReader is a directory that can read a user's sign-in activity
// (AuditLog.Read.All, and a tenant with Entra ID P1).
type SignInReader interface {
	LastSignIn(ctx context.Context, userID string) (time.Time, error)
}

// signInRefusalTTL is how long a refused read of sign-in activity is
// remembered: a missing permission or licence does not come back in a
// minute, and each pass looked at would otherwise ask again.
const signInRefusalTTL = time.Hour

// signInRefusal remembers the last refused read of sign-in activity, and
// the last one allowed. Until a read has been allowed, reads go one at a
// time, so that looks made at once learn of a refusal from the first
// rather than each asking Graph.
type signInRefusal struct {
	gate    sync.Mutex
	mu      sync.Mutex
	err     error
	until   time.Time
	okUntil time.Time
}

// read answers from a remembered refusal, or reads with read and
// remembers what Graph said.
func (r *signInRefusal) read(now time.Time, read func() (time.Time, error)) (time.Time, error) {
	if ok, err := r.known(now); err != nil || ok {
		if err != nil {
			return time.Time{}, err
		}
		return r.remember(now, read)
	}
	r.gate.Lock()
	defer r.gate.Unlock()
	if _, err := r.known(now); err != nil {
		return time.Time{}, err
	}
	return r.remember(now, read)
}

// known reports whether reads were allowed lately, or returns the
// refusal remembered at now.
func (r *signInRefusal) known(now time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.until) {
		return false, r.err
	}
	return now.Before(r.okUntil), nil
}

func (r *signInRefusal) remember(now time.Time, read func() (time.Time, error)) (time.Time, error) {
	last, err := read()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case portal.ErrorCode(err) == portal.EForbidden:
		r.err, r.until = err, now.Add(signInRefusalTTL)
	case err == nil:
		r.okUntil = now.Add(signInRefusalTTL)
	}
	return last, err
}

// addSignIn adds to f what the user's sign-in activity says of pass t,
// when Graph does not already say whether t was used and the directory
// can read it.
func (s *Service) addSignIn(ctx context.Context, userID string, t portal.TAP, f *portal.FollowUp) {
	reader, ok := s.dir.(SignInReader)
	if !ok || f.Use != portal.UseUnknown {
		return
	}
	last, err := s.signInRefused.read(s.now(), func() (time.Time, error) { return reader.LastSignIn(ctx, userID) })
	f.AddSignIn(t, last, err)
}
