package devoidc_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/tapportal/portal/internal/devoidc"
)

// The registered client stands for the portal on its default public URL.
// Nothing listens there: the test's browser stops at the redirect.
const (
	clientID         = "tap-portal"
	clientSecret     = "demo-secret"
	redirectURI      = "http://localhost:8080/auth/callback"
	otherRedirectURI = "http://localhost:8080/auth/other-callback"
	postLogoutURI    = "http://localhost:8080/signed-out"
)

func startProvider(t *testing.T, opts devoidc.Options) *devoidc.Provider {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = []devoidc.Client{{
			ID:                     clientID,
			Secret:                 clientSecret,
			RedirectURIs:           []string{redirectURI, otherRedirectURI},
			PostLogoutRedirectURIs: []string{postLogoutURI},
		}}
	}
	p, err := devoidc.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// relyingParty signs in the way the portal does, with go-oidc and oauth2,
// and plays the browser with an http.Client that has a cookie jar and stops
// at the first redirect that leaves the provider.
type relyingParty struct {
	issuer   string
	ctx      context.Context
	browser  *http.Client
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	config   oauth2.Config
}

func newRelyingParty(t *testing.T, p *devoidc.Provider) *relyingParty {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := url.Parse(p.Issuer())
	if err != nil {
		t.Fatalf("Issuer() = %q: %v", p.Issuer(), err)
	}
	browser := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != issuer.Host {
				return http.ErrUseLastResponse
			}
			if len(via) > 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	ctx := oidc.ClientContext(t.Context(), browser)
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &relyingParty{
		issuer:   p.Issuer(),
		ctx:      ctx,
		browser:  browser,
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		config: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirectURI,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
	}
}

// flow is what the relying party keeps between the redirect to the
// provider and the callback.
type flow struct {
	state, nonce, verifier string
}

func newFlow() flow {
	return flow{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
}

// authURL is the authorization URL the portal sends the browser to.
func (rp *relyingParty) authURL(f flow, opts ...oauth2.AuthCodeOption) string {
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}, opts...)
	return rp.config.AuthCodeURL(f.state, opts...)
}

func (rp *relyingParty) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := rp.browser.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

func (rp *relyingParty) get(t *testing.T, rawURL string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(rp.ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rp.do(t, req)
}

func (rp *relyingParty) post(t *testing.T, rawURL string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(rp.ctx, http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return rp.do(t, req)
}

// openPicker follows an authorization URL to the persona picker and returns
// the picker's response, its body and the auth request id it is for.
func (rp *relyingParty) openPicker(t *testing.T, authURL string) (*http.Response, string, string) {
	t.Helper()
	resp, body := rp.get(t, authURL)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" {
		t.Fatalf("GET authorization URL ended at %s with status %d, Location %q: %s",
			resp.Request.URL, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("picker URL %s has no authRequestID", resp.Request.URL)
	}
	return resp, body, id
}

// choose presses a button of the picker and returns where the provider
// sends the browser: the client's redirect URI.
func (rp *relyingParty) choose(t *testing.T, authRequestID string, form url.Values) *url.URL {
	t.Helper()
	form.Set("authRequestID", authRequestID)
	resp, body := rp.post(t, rp.issuer+"/login", form)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /login: status %d, want %d: %s", resp.StatusCode, http.StatusFound, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	return loc
}

// signIn runs the browser's part of a sign-in as persona and returns the
// authorization code.
func (rp *relyingParty) signIn(t *testing.T, f flow, persona string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	_, _, id := rp.openPicker(t, rp.authURL(f, opts...))
	loc := rp.choose(t, id, url.Values{"persona": {persona}})
	if got := withoutQuery(loc); got != redirectURI {
		t.Fatalf("redirect after the picker = %s, want %s", got, redirectURI)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("redirect after the picker carries error %q: %q", q.Get("error"), q.Get("error_description"))
	}
	if got := q.Get("state"); got != f.state {
		t.Errorf("state = %q, want %q", got, f.state)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("redirect after the picker has no code: %s", loc)
	}
	return code
}

// exchange redeems a code and verifies the ID token as the portal does.
func (rp *relyingParty) exchange(f flow, code string) (*oauth2.Token, *oidc.IDToken, error) {
	tok, err := rp.config.Exchange(rp.ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return nil, nil, err
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, nil, errors.New("token response has no id_token")
	}
	idToken, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	return tok, idToken, nil
}

func (rp *relyingParty) mustSignIn(t *testing.T, persona string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	f := newFlow()
	code := rp.signIn(t, f, persona, opts...)
	tok, idToken, err := rp.exchange(f, code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if idToken.Nonce != f.nonce {
		t.Errorf("ID token nonce = %q, want %q", idToken.Nonce, f.nonce)
	}
	return tok, idToken
}

// idClaims are the ID token claims the portal reads.
type idClaims struct {
	Subject           string   `json:"sub"`
	OID               string   `json:"oid"`
	TID               string   `json:"tid"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	Roles             []string `json:"roles"`
}

func authTime(t *testing.T, idToken *oidc.IDToken) time.Time {
	t.Helper()
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idToken.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.AuthTime == 0 {
		t.Fatal("ID token has no auth_time")
	}
	return time.Unix(c.AuthTime, 0)
}

func withoutQuery(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	return v.String()
}

// between reports whether t lies within [from, to] at the one-second
// resolution of JWT times.
func between(t, from, to time.Time) bool {
	return !t.Before(from.Truncate(time.Second)) && !t.After(to)
}

func TestDiscovery(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	rp := newRelyingParty(t, p)

	var doc struct {
		Issuer                     string   `json:"issuer"`
		EndSessionEndpoint         string   `json:"end_session_endpoint"`
		JWKSURI                    string   `json:"jwks_uri"`
		ResponseTypes              []string `json:"response_types_supported"`
		CodeChallengeMethods       []string `json:"code_challenge_methods_supported"`
		TokenEndpointAuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		IDTokenSigningAlgs         []string `json:"id_token_signing_alg_values_supported"`
		ClaimsSupported            []string `json:"claims_supported"`
		AuthorizationEndpoint      string   `json:"authorization_endpoint"`
		TokenEndpoint              string   `json:"token_endpoint"`
		UserinfoEndpoint           string   `json:"userinfo_endpoint"`
		RequestParameterSupported  bool     `json:"request_parameter_supported"`
		BackChannelLogoutSupported bool     `json:"backchannel_logout_supported"`
	}
	if err := rp.provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}

	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Errorf("Issuer() = %q, want http://127.0.0.1:PORT", p.Issuer())
	}
	if doc.Issuer != p.Issuer() {
		t.Errorf("issuer = %q, want %q", doc.Issuer, p.Issuer())
	}
	for name, endpoint := range map[string]string{
		"authorization_endpoint": doc.AuthorizationEndpoint,
		"token_endpoint":         doc.TokenEndpoint,
		"userinfo_endpoint":      doc.UserinfoEndpoint,
		"end_session_endpoint":   doc.EndSessionEndpoint,
		"jwks_uri":               doc.JWKSURI,
	} {
		if !strings.HasPrefix(endpoint, p.Issuer()+"/") {
			t.Errorf("%s = %q, want a URL under the issuer", name, endpoint)
		}
	}
	if !slices.Contains(doc.ResponseTypes, "code") {
		t.Errorf("response_types_supported = %v, want it to hold code", doc.ResponseTypes)
	}
	if diff := cmp.Diff([]string{"S256"}, doc.CodeChallengeMethods); diff != "" {
		t.Errorf("code_challenge_methods_supported (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"RS256"}, doc.IDTokenSigningAlgs); diff != "" {
		t.Errorf("id_token_signing_alg_values_supported (-want +got):\n%s", diff)
	}
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		if !slices.Contains(doc.TokenEndpointAuthMethods, method) {
			t.Errorf("token_endpoint_auth_methods_supported = %v, want it to hold %s", doc.TokenEndpointAuthMethods, method)
		}
	}
	for _, claim := range []string{"oid", "tid", "roles", "auth_time", "nonce", "name", "preferred_username", "email"} {
		if !slices.Contains(doc.ClaimsSupported, claim) {
			t.Errorf("claims_supported = %v, want it to hold %s", doc.ClaimsSupported, claim)
		}
	}

	// The signing key is a fresh RSA key of 2048 bits.
	resp, body := rp.get(t, doc.JWKSURI)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET jwks_uri: status %d", resp.StatusCode)
	}
	var jwks struct {
		Keys []struct {
			Kty, Alg, Use, Kid, N string
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &jwks); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	if len(jwks.Keys) != 1 {
		t.Fatalf("jwks has %d keys, want 1", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.Kid == "" {
		t.Errorf("jwks key = kty %q alg %q use %q kid %q, want RSA RS256 sig and a kid", k.Kty, k.Alg, k.Use, k.Kid)
	}
	// 2048 bits of modulus are 342 base64url characters.
	if len(k.N) != 342 {
		t.Errorf("jwks key modulus is %d base64url characters, want 342 (2048 bits)", len(k.N))
	}
}

func TestSignIn(t *testing.T) {
	p := startProvider(t, devoidc.Options{TenantID: "11111111-2222-4333-8444-555555555555"})
	tests := []struct {
		persona string
		style   oauth2.AuthStyle
		want    idClaims
	}{
		{
			persona: "operator",
			style:   oauth2.AuthStyleInHeader,
			want: idClaims{
				Subject:           "a1000000-0000-4000-8000-000000000001",
				Name:              "Priya Natarajan",
				PreferredUsername: "priya.natarajan@northwind.example",
				Roles:             []string{"TAP.Operator"},
			},
		},
		{
			persona: "supervisor",
			style:   oauth2.AuthStyleInParams,
			want: idClaims{
				Subject:           "a1000000-0000-4000-8000-000000000002",
				Name:              "Marcus Oyelaran",
				PreferredUsername: "marcus.oyelaran@northwind.example",
				Roles:             []string{"TAP.Supervisor"},
			},
		},
		{
			persona: "no-role",
			style:   oauth2.AuthStyleInHeader,
			want: idClaims{
				Subject:           "a1000000-0000-4000-8000-000000000003",
				Name:              "Dana Whitfield",
				PreferredUsername: "dana.whitfield@northwind.example",
			},
		},
		{
			persona: "other-role-name",
			style:   oauth2.AuthStyleInParams,
			want: idClaims{
				Subject:           "a1000000-0000-4000-8000-000000000004",
				Name:              "Tomás Ferreira",
				PreferredUsername: "tomas.ferreira@northwind.example",
				Roles:             []string{"Helpdesk.TemporaryAccessPass"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			want.OID = want.Subject
			want.TID = "11111111-2222-4333-8444-555555555555"
			want.Email = want.PreferredUsername

			rp := newRelyingParty(t, p)
			rp.config.Endpoint.AuthStyle = tt.style
			f := newFlow()
			_, _, id := rp.openPicker(t, rp.authURL(f))
			before := time.Now()
			loc := rp.choose(t, id, url.Values{"persona": {tt.persona}})
			after := time.Now()
			if got := loc.Query().Get("state"); got != f.state {
				t.Errorf("state = %q, want %q", got, f.state)
			}
			tok, idToken, err := rp.exchange(f, loc.Query().Get("code"))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}

			if idToken.Issuer != p.Issuer() {
				t.Errorf("iss = %q, want %q", idToken.Issuer, p.Issuer())
			}
			if diff := cmp.Diff([]string{clientID}, idToken.Audience); diff != "" {
				t.Errorf("aud (-want +got):\n%s", diff)
			}
			if idToken.Nonce != f.nonce {
				t.Errorf("nonce = %q, want %q", idToken.Nonce, f.nonce)
			}
			if got := authTime(t, idToken); !between(got, before, after) {
				t.Errorf("auth_time = %v, want the moment of the choice, between %v and %v", got, before, after)
			}
			if lifetime := idToken.Expiry.Sub(idToken.IssuedAt); lifetime <= 0 || lifetime > 2*time.Hour {
				t.Errorf("exp - iat = %v, want a positive lifetime of at most two hours", lifetime)
			}
			var got idClaims
			if err := idToken.Claims(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ID token claims (-want +got):\n%s", diff)
			}
			var raw map[string]any
			if err := idToken.Claims(&raw); err != nil {
				t.Fatal(err)
			}
			if _, ok := raw["roles"]; ok != (len(want.Roles) > 0) {
				t.Errorf("roles claim present = %t, want %t: Entra leaves it out for a user with no role", ok, len(want.Roles) > 0)
			}

			// The access token is good for the userinfo endpoint.
			info, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Subject != want.Subject || info.Email != want.Email {
				t.Errorf("userinfo = sub %q email %q, want %q %q", info.Subject, info.Email, want.Subject, want.Email)
			}
		})
	}
}

func TestScopesLimitProfileClaims(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	rp := newRelyingParty(t, p)
	rp.config.Scopes = []string{oidc.ScopeOpenID}

	_, idToken := rp.mustSignIn(t, "operator")

	var got idClaims
	if err := idToken.Claims(&got); err != nil {
		t.Fatal(err)
	}
	want := idClaims{
		Subject: "a1000000-0000-4000-8000-000000000001",
		OID:     "a1000000-0000-4000-8000-000000000001",
		TID:     devoidc.DemoTenantID,
		Roles:   []string{"TAP.Operator"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims with scope openid alone (-want +got):\n%s", diff)
	}
}

func TestAuthTime(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	rp := newRelyingParty(t, p)

	// A sign-in made to look two hours old, as a test of the portal's
	// step-up needs.
	p.SetAuthTimeOffset(-2 * time.Hour)
	before := time.Now()
	_, idToken := rp.mustSignIn(t, "operator")
	after := time.Now()
	if got := authTime(t, idToken); !between(got, before.Add(-2*time.Hour), after.Add(-2*time.Hour)) {
		t.Errorf("auth_time with offset -2h = %v, want between %v and %v", got, before.Add(-2*time.Hour), after.Add(-2*time.Hour))
	}
	if idToken.IssuedAt.Before(before.Truncate(time.Second)) {
		t.Errorf("iat = %v, want now: only auth_time is shifted", idToken.IssuedAt)
	}

	// Stepping up with prompt=login shows the picker again and records a
	// fresh sign-in.
	p.SetAuthTimeOffset(0)
	before = time.Now()
	_, idToken = rp.mustSignIn(t, "operator", oauth2.SetAuthURLParam("prompt", "login"))
	after = time.Now()
	if got := authTime(t, idToken); !between(got, before, after) {
		t.Errorf("auth_time after prompt=login = %v, want between %v and %v", got, before, after)
	}
}

func TestCodeReplayRefused(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	rp := newRelyingParty(t, p)
	f := newFlow()
	code := rp.signIn(t, f, "operator")

	tok, _, err := rp.exchange(f, code)
	if err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, _, err = rp.exchange(f, code)
	if code := retrieveErrorCode(err); code != "invalid_grant" {
		t.Fatalf("second exchange of one code: error %v, want invalid_grant", err)
	}
	// The tokens issued for a replayed code are revoked.
	if _, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo with the access token of a replayed code succeeded, want it refused")
	}
}

func retrieveErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestAuthorizationRefused(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	tests := []struct {
		name string
		// url builds the authorization URL from a correct configuration.
		url func(rp *relyingParty, f flow) string
		// wantError is the error sent back to the redirect URI; empty
		// when the provider must not redirect at all.
		wantError string
	}{
		{
			name: "no PKCE",
			url: func(rp *relyingParty, f flow) string {
				return rp.config.AuthCodeURL(f.state, oidc.Nonce(f.nonce))
			},
			wantError: "invalid_request",
		},
		{
			name: "plain PKCE",
			url: func(rp *relyingParty, f flow) string {
				return rp.config.AuthCodeURL(f.state, oidc.Nonce(f.nonce),
					oauth2.SetAuthURLParam("code_challenge", f.verifier),
					oauth2.SetAuthURLParam("code_challenge_method", "plain"))
			},
			wantError: "invalid_request",
		},
		{
			name: "PKCE without a method",
			url: func(rp *relyingParty, f flow) string {
				return rp.config.AuthCodeURL(f.state, oidc.Nonce(f.nonce),
					oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(f.verifier)))
			},
			wantError: "invalid_request",
		},
		{
			name: "prompt=none without a session",
			url: func(rp *relyingParty, f flow) string {
				return rp.authURL(f, oauth2.SetAuthURLParam("prompt", "none"))
			},
			wantError: "login_required",
		},
		{
			// Refused before the response type is looked at: an http
			// redirect URI is allowed for the code flow only.
			name: "implicit flow",
			url: func(rp *relyingParty, f flow) string {
				return rp.authURL(f, oauth2.SetAuthURLParam("response_type", "id_token"))
			},
		},
		{
			name: "unregistered redirect URI",
			url: func(rp *relyingParty, f flow) string {
				rp.config.RedirectURL = "https://elsewhere.example/auth/callback"
				return rp.authURL(f)
			},
		},
		{
			name: "unknown client",
			url: func(rp *relyingParty, f flow) string {
				rp.config.ClientID = "someone-else"
				return rp.authURL(f)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := newRelyingParty(t, p)
			f := newFlow()
			resp, body := rp.get(t, tt.url(rp, f))

			if tt.wantError == "" {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("status %d, Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want a redirect with error %s: %s", resp.StatusCode, tt.wantError, body)
			}
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			if got := withoutQuery(loc); got != redirectURI {
				t.Errorf("redirect to %s, want %s", got, redirectURI)
			}
			q := loc.Query()
			if got := q.Get("error"); got != tt.wantError {
				t.Errorf("error = %q (%s), want %q", got, q.Get("error_description"), tt.wantError)
			}
			if got := q.Get("state"); got != f.state {
				t.Errorf("state = %q, want %q", got, f.state)
			}
			if q.Has("code") {
				t.Error("redirect carries a code")
			}
		})
	}
}

func TestTokenExchangeRefused(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	tests := []struct {
		name string
		// exchange redeems the code of a correct sign-in, wrongly.
		exchange  func(rp *relyingParty, f flow, code string) error
		wantError string
	}{
		{
			name: "wrong code verifier",
			exchange: func(rp *relyingParty, f flow, code string) error {
				_, err := rp.config.Exchange(rp.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
				return err
			},
			wantError: "invalid_grant",
		},
		{
			name: "no code verifier",
			exchange: func(rp *relyingParty, f flow, code string) error {
				_, err := rp.config.Exchange(rp.ctx, code)
				return err
			},
			wantError: "invalid_request",
		},
		{
			name: "wrong client secret",
			exchange: func(rp *relyingParty, f flow, code string) error {
				rp.config.ClientSecret = "not-the-secret"
				_, err := rp.config.Exchange(rp.ctx, code, oauth2.VerifierOption(f.verifier))
				return err
			},
			wantError: "invalid_client",
		},
		{
			name: "another redirect URI",
			exchange: func(rp *relyingParty, f flow, code string) error {
				rp.config.RedirectURL = otherRedirectURI
				_, err := rp.config.Exchange(rp.ctx, code, oauth2.VerifierOption(f.verifier))
				return err
			},
			wantError: "invalid_grant",
		},
		{
			name: "made-up code",
			exchange: func(rp *relyingParty, f flow, _ string) error {
				_, err := rp.config.Exchange(rp.ctx, "made-up", oauth2.VerifierOption(f.verifier))
				return err
			},
			wantError: "invalid_grant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := newRelyingParty(t, p)
			f := newFlow()
			code := rp.signIn(t, f, "operator")
			err := tt.exchange(rp, f, code)
			if got := retrieveErrorCode(err); got != tt.wantError {
				t.Errorf("exchange error = %v, want %s", err, tt.wantError)
			}
		})
	}
}

func TestEndSession(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	tests := []struct {
		name string
		// params of the end-session request; idTokenHint adds the ID
		// token of a fresh sign-in.
		params      url.Values
		idTokenHint bool
		wantStatus  int
		// wantLocation is relative to the issuer when it starts with "/".
		wantLocation string
	}{
		{
			name:         "ID token hint and a registered URI",
			params:       url.Values{"post_logout_redirect_uri": {postLogoutURI}, "state": {"s1"}},
			idTokenHint:  true,
			wantStatus:   http.StatusFound,
			wantLocation: postLogoutURI + "?state=s1",
		},
		{
			name:         "client id and a registered URI",
			params:       url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {postLogoutURI}},
			wantStatus:   http.StatusFound,
			wantLocation: postLogoutURI,
		},
		{
			name:        "unregistered URI",
			params:      url.Values{"post_logout_redirect_uri": {"http://localhost:8080/elsewhere"}},
			idTokenHint: true,
			wantStatus:  http.StatusBadRequest,
		},
		{
			name:         "no redirect asked",
			wantStatus:   http.StatusFound,
			wantLocation: "/signed-out",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := newRelyingParty(t, p)
			var endSession struct {
				URL string `json:"end_session_endpoint"`
			}
			if err := rp.provider.Claims(&endSession); err != nil {
				t.Fatal(err)
			}
			params := url.Values{}
			for k, v := range tt.params {
				params[k] = v
			}
			var tok *oauth2.Token
			if tt.idTokenHint {
				tok, _ = rp.mustSignIn(t, "operator")
				params.Set("id_token_hint", tok.Extra("id_token").(string))
			}

			// Stop at the first redirect, even one back to the provider.
			rp.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, body := rp.get(t, endSession.URL+"?"+params.Encode())

			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantLocation == "" {
				return
			}
			want := tt.wantLocation
			if strings.HasPrefix(want, "/") {
				want = p.Issuer() + want
			}
			if got := resp.Header.Get("Location"); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if strings.HasPrefix(want, p.Issuer()) {
				resp, body := rp.get(t, want)
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You have signed out") {
					t.Errorf("GET %s: status %d, want 200 and a signed-out page: %s", want, resp.StatusCode, body)
				}
			}
			if tok != nil {
				if _, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok)); err == nil {
					t.Error("userinfo after end session succeeded, want the access token revoked")
				}
			}
		})
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	client := devoidc.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}
	persona := devoidc.Persona{Key: "k", Name: "N", Subject: "s"}
	tests := []struct {
		name string
		opts devoidc.Options
	}{
		{"no client", devoidc.Options{}},
		{"client without secret", devoidc.Options{Clients: []devoidc.Client{{ID: clientID, RedirectURIs: []string{redirectURI}}}}},
		{"client without redirect URI", devoidc.Options{Clients: []devoidc.Client{{ID: clientID, Secret: clientSecret}}}},
		{"client twice", devoidc.Options{Clients: []devoidc.Client{client, client}}},
		{"relative redirect URI", devoidc.Options{Clients: []devoidc.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{"/auth/callback"}}}}},
		{"custom scheme redirect URI", devoidc.Options{Clients: []devoidc.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{"portal:callback"}}}}},
		{"persona key twice", devoidc.Options{Clients: []devoidc.Client{client}, Personas: []devoidc.Persona{persona, {Key: "k", Name: "M", Subject: "t"}}}},
		{"persona subject twice", devoidc.Options{Clients: []devoidc.Client{client}, Personas: []devoidc.Persona{persona, {Key: "l", Name: "M", Subject: "s"}}}},
		{"persona without subject", devoidc.Options{Clients: []devoidc.Client{client}, Personas: []devoidc.Persona{{Key: "k", Name: "N"}}}},
		{"all interfaces", devoidc.Options{Addr: ":0", Clients: []devoidc.Client{client}}},
		{"non-loopback address", devoidc.Options{Addr: "0.0.0.0:0", Clients: []devoidc.Client{client}}},
		{"host name", devoidc.Options{Addr: "example.com:0", Clients: []devoidc.Client{client}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := devoidc.Start(tt.opts)
			if err == nil {
				p.Close()
				t.Fatal("Start succeeded, want an error")
			}
		})
	}
}
