package devoidc

import (
	"log/slog"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestAuthRequestsExpire(t *testing.T) {
	tests := []struct {
		name string
		// look reads the request back, by id or by code.
		look func(s *store, id, code string) error
	}{
		{"by id", func(s *store, id, _ string) error {
			_, err := s.AuthRequestByID(t.Context(), id)
			return err
		}},
		{"by code", func(s *store, _, code string) error {
			_, err := s.AuthRequestByCode(t.Context(), code)
			return err
		}},
		{"in the picker", func(s *store, id, _ string) error {
			_, err := s.pendingRequest(id)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			s := newStore(signingKey{}, nil, DemoPersonas(), DemoTenantID, slog.New(slog.DiscardHandler))
			s.now = func() time.Time { return now }

			req, err := s.CreateAuthRequest(t.Context(), &oidc.AuthRequest{
				ClientID:            "c",
				RedirectURI:         "http://localhost:8080/auth/callback",
				ResponseType:        oidc.ResponseTypeCode,
				Scopes:              []string{oidc.ScopeOpenID},
				CodeChallenge:       oidc.NewSHACodeChallenge("verifier"),
				CodeChallengeMethod: oidc.CodeChallengeMethodS256,
			}, "")
			if err != nil {
				t.Fatalf("CreateAuthRequest: %v", err)
			}
			id := req.GetID()
			code := "code-" + id
			if tt.name != "in the picker" {
				if err := s.complete(id, "a1000000-0000-4000-8000-000000000001", now); err != nil {
					t.Fatalf("complete: %v", err)
				}
				if err := s.SaveAuthCode(t.Context(), id, code); err != nil {
					t.Fatalf("SaveAuthCode: %v", err)
				}
			}

			now = now.Add(authRequestLifetime)
			if err := tt.look(s, id, code); err == nil {
				t.Errorf("auth request found %v after its creation, want it expired", authRequestLifetime)
			}
		})
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	s := newStore(signingKey{}, nil, DemoPersonas(), DemoTenantID, slog.New(slog.DiscardHandler))
	req, err := s.CreateAuthRequest(t.Context(), &oidc.AuthRequest{
		ClientID:            "c",
		CodeChallenge:       oidc.NewSHACodeChallenge("verifier"),
		CodeChallengeMethod: oidc.CodeChallengeMethodS256,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := req.GetID()
	if err := s.complete(id, "a1000000-0000-4000-8000-000000000001", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAuthCode(t.Context(), id, "first"); err != nil {
		t.Fatal(err)
	}
	// A reloaded callback issues a new code that replaces the first.
	if err := s.SaveAuthCode(t.Context(), id, "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthRequestByCode(t.Context(), "first"); err == nil {
		t.Error("AuthRequestByCode(replaced code) succeeded, want an error")
	}
	// Finding the request does not spend the code: the op package checks
	// the client after this, and a failed check must leave the code usable.
	for range 2 {
		got, err := s.AuthRequestByCode(t.Context(), "second")
		if err != nil {
			t.Fatalf("AuthRequestByCode(second) = %v, want the request", err)
		}
		if got.GetID() != id || !got.Done() {
			t.Errorf("AuthRequestByCode(second) = id %q done %t, want %q true", got.GetID(), got.Done(), id)
		}
	}
	got, _ := s.AuthRequestByCode(t.Context(), "second")
	tokenID, _, err := s.CreateAccessToken(t.Context(), got)
	if err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	// Two exchanges that raced past the lookup: only the first gets tokens.
	if _, _, err := s.CreateAccessToken(t.Context(), got); err == nil {
		t.Error("CreateAccessToken for a spent code succeeded, want an error")
	}
	// A spent code is refused, and revokes what it was exchanged for.
	if _, err := s.AuthRequestByCode(t.Context(), "second"); err == nil {
		t.Error("AuthRequestByCode(spent code) succeeded, want an error")
	}
	if _, err := s.token(tokenID, got.GetSubject()); err == nil {
		t.Error("access token of a replayed code still valid, want it revoked")
	}
}
