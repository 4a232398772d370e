// Package auth signs operators in with OpenID Connect: the authorization
// code flow with PKCE, state and nonce, against Entra ID or any standard
// provider, and maps the roles claim to the portal's roles.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tapportal/portal/internal/session"
)

// Config configures an Authenticator.
type Config struct {
	Issuer         string
	ClientID       string
	ClientSecret   string
	RedirectURL    string
	RolesClaim     string
	RoleOperator   string
	RoleSupervisor string
	// HTTPClient is used for discovery, keys and the token exchange.
	HTTPClient *http.Client
}

// Authenticator talks to the OpenID provider.
type Authenticator struct {
	cfg        Config
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	client     *http.Client
}

// New discovers the provider.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: discovering the OpenID provider %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: provider metadata: %w", err)
	}
	return &Authenticator{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  cfg.RedirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier:   p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		endSession: meta.EndSession,
		client:     cfg.HTTPClient,
	}, nil
}

// Begin returns a new sign-in attempt and the provider URL to send the
// browser to. forceLogin asks the provider to authenticate again
// (prompt=login), for operations that need a fresh sign-in, and to say
// when it did: with max_age, OpenID Connect makes auth_time a required
// claim.
func (a *Authenticator) Begin(returnTo string, forceLogin bool) (session.Login, string) {
	l := session.Login{
		State:    session.RandomToken(),
		Nonce:    session.RandomToken(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo,
		Fresh:    forceLogin,
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier)}
	if forceLogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	return l, a.oauth.AuthCodeURL(l.State, opts...)
}

// Identity is who the provider says signed in.
type Identity struct {
	Subject  string
	Name     string
	Username string
	Roles    []string
	AuthTime time.Time
	IDToken  string
}

// Errors a callback can end with.
var (
	ErrStateMismatch = errors.New("the sign-in response does not belong to this browser's sign-in (state mismatch)")
	ErrNonceMismatch = errors.New("the ID token was not issued for this sign-in (nonce mismatch)")
)

// Finish completes the flow: it checks the state, exchanges the code with
// the PKCE verifier, verifies the ID token and its nonce.
func (a *Authenticator) Finish(ctx context.Context, l session.Login, state, code string) (Identity, error) {
	if state == "" || state != l.State {
		return Identity{}, ErrStateMismatch
	}
	if code == "" {
		return Identity{}, errors.New("the provider sent no authorization code")
	}
	ctx = oidc.ClientContext(ctx, a.client)
	tok, err := a.oauth.Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("exchanging the authorization code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, errors.New("the provider returned no ID token")
	}
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("verifying the ID token: %w", err)
	}
	if idt.Nonce != l.Nonce {
		return Identity{}, ErrNonceMismatch
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("reading the ID token's claims: %w", err)
	}
	// Without auth_time the sign-in's age is unknown: the zero time, which
	// every freshness check reads as too old (never the token's iat,
	// which a silent renewal makes new).
	id := Identity{Subject: idt.Subject, IDToken: raw}
	str := func(name string) string {
		var s string
		json.Unmarshal(claims[name], &s)
		return s
	}
	// Entra's sub is pairwise per app; oid is the directory object id the
	// guardrails compare with.
	if oid := str("oid"); oid != "" {
		id.Subject = oid
	}
	id.Name = str("name")
	id.Username = str("preferred_username")
	if id.Username == "" {
		id.Username = str("email")
	}
	var authTime int64
	if json.Unmarshal(claims["auth_time"], &authTime) == nil && authTime > 0 {
		id.AuthTime = time.Unix(authTime, 0)
	}
	id.Roles = stringList(claims[a.cfg.RolesClaim])
	return id, nil
}

// stringList reads a claim that is an array of strings or one string.
func stringList(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// RoleOf maps the identity's roles to the portal's; ok is false for
// someone holding neither role.
func (a *Authenticator) RoleOf(id Identity) (session.Role, bool) {
	var op bool
	for _, r := range id.Roles {
		switch r {
		case a.cfg.RoleSupervisor:
			return session.RoleSupervisor, true
		case a.cfg.RoleOperator:
			op = true
		}
	}
	if op {
		return session.RoleOperator, true
	}
	return "", false
}

// RoleValues returns the role values that grant operator and supervisor
// access, as configured.
func (a *Authenticator) RoleValues() (operator, supervisor string) {
	return a.cfg.RoleOperator, a.cfg.RoleSupervisor
}

// EndSessionURL returns the provider's sign-out URL, or "" when the
// provider has none.
func (a *Authenticator) EndSessionURL(idTokenHint, postLogout string) string {
	if a.endSession == "" {
		return ""
	}
	u, err := url.Parse(a.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", a.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}
