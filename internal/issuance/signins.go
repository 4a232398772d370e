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

// signInRefusal remembers the last refused read of sign-in activity.
type signInRefusal struct {
	mu    sync.Mutex
	err   error
	until time.Time
}

func (r *signInRefusal) get(now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.until) {
		return r.err
	}
	return nil
}

func (r *signInRefusal) set(err error, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err, r.until = err, now.Add(signInRefusalTTL)
}

// addSignIn adds to f what the user's sign-in activity says of pass t,
// when Graph does not already say whether t was used and the directory
// can read it.
func (s *Service) addSignIn(ctx context.Context, userID string, t portal.TAP, f *portal.FollowUp) {
	reader, ok := s.dir.(SignInReader)
	if !ok || f.Use != portal.UseUnknown {
		return
	}
	now := s.now()
	if err := s.signInRefused.get(now); err != nil {
		f.AddSignIn(t, time.Time{}, err)
		return
	}
	last, err := reader.LastSignIn(ctx, userID)
	if portal.ErrorCode(err) == portal.EForbidden {
		s.signInRefused.set(err, now)
	}
	f.AddSignIn(t, last, err)
}
