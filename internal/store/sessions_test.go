package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

func TestRevokedSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		s, other := openURL(t, url), openURL(t, url)
		ctx := t.Context()
		if revoked, err := s.SessionRevoked(ctx, "abc", "subj", time.Now()); err != nil || revoked {
			t.Fatalf("SessionRevoked(unknown) = %v, %v; want false", revoked, err)
		}
		if err := s.RevokeSession(ctx, "abc", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(ctx, "abc", time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("revoking twice = %v, want no error", err)
		}
		// Another replica on the same database sees it.
		if revoked, err := other.SessionRevoked(ctx, "abc", "subj", time.Now()); err != nil || !revoked {
			t.Fatalf("SessionRevoked on another store = %v, %v; want true", revoked, err)
		}
		// Entries past their session's expiry are pruned.
		if err := s.RevokeSession(ctx, "old", time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(ctx, "new", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked, _ := s.SessionRevoked(ctx, "old", "subj", time.Now()); revoked {
			t.Fatal("an expired revocation was kept")
		}
		s.Close()
		if _, err := s.SessionRevoked(ctx, "abc", "subj", time.Now()); err == nil {
			t.Fatal("SessionRevoked on a closed store succeeded")
		}
	})
}

func TestRevokedSubjectsAndUsedStates(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		s, other := openURL(t, url), openURL(t, url)
		ctx := t.Context()
		older, newer := time.Now().Add(-time.Hour), time.Now().Add(time.Second)
		if err := s.RevokeSubject(ctx, "op-1", time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked, err := other.SessionRevoked(ctx, "sess-a", "op-1", older); err != nil || !revoked {
			t.Fatalf("a session of op-1 from before = %v, %v; want ended, on every replica", revoked, err)
		}
		if revoked, _ := other.SessionRevoked(ctx, "sess-b", "op-1", newer); revoked {
			t.Fatal("a session started after the revocation ended too")
		}
		if revoked, _ := other.SessionRevoked(ctx, "sess-c", "op-2", older); revoked {
			t.Fatal("another subject's session ended")
		}
		fresh, err := s.UseState(ctx, "state-1", time.Now().Add(time.Minute))
		if err != nil || !fresh {
			t.Fatalf("first use of a state = %v, %v", fresh, err)
		}
		if again, _ := other.UseState(ctx, "state-1", time.Now().Add(time.Minute)); again {
			t.Fatal("a state was used twice")
		}
	})
}

// A read for a request already cancelled fails rather than answers, on
// every database, however the store watches for cancellation.
func TestReadsHonourCancelledRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if revoked, err := s.SessionRevoked(ctx, "abc", "subj", time.Now()); !errors.Is(err, context.Canceled) {
			t.Errorf("SessionRevoked(cancelled) = %v, %v; want the cancellation", revoked, err)
		}
		if evs, err := s.List(ctx, portal.EventFilter{TargetID: "someone", Limit: 10, Fold: true}); !errors.Is(err, context.Canceled) {
			t.Errorf("List(cancelled) = %v, %v; want the cancellation", evs, err)
		}
	})
}
