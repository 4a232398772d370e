package store_test

import (
	"testing"
	"time"
)

func TestRevokedSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		s, other := openURL(t, url), openURL(t, url)
		ctx := t.Context()
		if revoked, err := s.SessionRevoked(ctx, "abc"); err != nil || revoked {
			t.Fatalf("SessionRevoked(unknown) = %v, %v; want false", revoked, err)
		}
		if err := s.RevokeSession(ctx, "abc", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(ctx, "abc", time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("revoking twice = %v, want no error", err)
		}
		// Another replica on the same database sees it.
		if revoked, err := other.SessionRevoked(ctx, "abc"); err != nil || !revoked {
			t.Fatalf("SessionRevoked on another store = %v, %v; want true", revoked, err)
		}
		// Entries past their session's expiry are pruned.
		if err := s.RevokeSession(ctx, "old", time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(ctx, "new", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked, _ := s.SessionRevoked(ctx, "old"); revoked {
			t.Fatal("an expired revocation was kept")
		}
		s.Close()
		if _, err := s.SessionRevoked(ctx, "abc"); err == nil {
			t.Fatal("SessionRevoked on a closed store succeeded")
		}
	})
}
