package devoidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is one sign-in, from the authorization endpoint to the code
// exchange. The store hands out copies, so the op package can read one while
// the picker completes the original.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	scopes       []string
	state        string
	nonce        string
	challenge    *oidc.CodeChallenge

	// Set when a persona is chosen.
	subject  string
	authTime time.Time
	done     bool

	// code is the one authorization code issued for the request, if any.
	code string
}

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string                         { return a.id }
func (a authRequest) GetACR() string                        { return "" }
func (a authRequest) GetAMR() []string                      { return nil }
func (a authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a authRequest) GetClientID() string                   { return a.clientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a authRequest) GetNonce() string                      { return a.nonce }
func (a authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a authRequest) GetScopes() []string                   { return a.scopes }
func (a authRequest) GetState() string                      { return a.state }
func (a authRequest) GetSubject() string                    { return a.subject }
func (a authRequest) Done() bool                            { return a.done }

// accessToken is what an opaque access token stands for. The op package
// hands the token to the client encrypted; only its id comes back here.
type accessToken struct {
	subject       string
	clientID      string
	scopes        []string
	expires       time.Time
	authRequestID string
}

// redeemedCode remembers a code after its exchange, until it would have
// expired anyway, so that a second use can be told from a made-up code.
type redeemedCode struct {
	authRequestID string
	expires       time.Time
}

// store is the provider's op.Storage: everything in memory, behind one
// mutex, gone when the process ends.
type store struct {
	// now is the clock; tests replace it.
	now     func() time.Time
	key     signingKey
	clients map[string]*client
	// personaList keeps the picker's order; personas finds one by subject.
	personaList []Persona
	personas    map[string]Persona
	tenantID    string
	logger      *slog.Logger

	mu       sync.Mutex
	requests map[string]*authRequest // by id
	codes    map[string]string       // code to auth request id, until redeemed
	redeemed map[string]redeemedCode // by code
	tokens   map[string]accessToken  // by id
}

var _ op.Storage = (*store)(nil)
var _ op.CanSetUserinfoFromRequest = (*store)(nil)

func newStore(key signingKey, clients map[string]*client, personas []Persona, tenantID string, logger *slog.Logger) *store {
	list := make([]Persona, len(personas))
	bySubject := make(map[string]Persona, len(personas))
	for i, p := range personas {
		p.Roles = slices.Clone(p.Roles)
		list[i] = p
		bySubject[p.Subject] = p
	}
	return &store{
		now:         time.Now,
		key:         key,
		clients:     clients,
		personaList: list,
		personas:    bySubject,
		tenantID:    tenantID,
		logger:      logger,
		requests:    make(map[string]*authRequest),
		codes:       make(map[string]string),
		redeemed:    make(map[string]redeemedCode),
		tokens:      make(map[string]accessToken),
	}
}

// personaByKey finds the persona a picker button names.
func (s *store) personaByKey(key string) (Persona, bool) {
	for _, p := range s.personaList {
		if p.Key == key {
			return p, true
		}
	}
	return Persona{}, false
}

// errNotFound is returned for an unknown or expired auth request, code or
// token. It is a plain error on purpose: the op package answers those as
// client faults, where an oidc server_error would be a 500.
var errNotFound = errors.New("unknown or expired")

// CreateAuthRequest stores a validated authorization request. The op package
// has already checked the client, the redirect URI, the response type and the
// code challenge method, but it lets a confidential client skip PKCE and
// accepts the plain method; the portal must always use S256, so a request
// without it is refused here and the error goes back to the client.
func (s *store) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is required: use PKCE with S256")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	// No session is kept, so a sign-in without the picker cannot succeed;
	// Entra answers the same when it has no session.
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("the demo provider keeps no session: sign in interactively")
	}

	now := s.now()
	a := &authRequest{
		id:           rand.Text(),
		created:      now,
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		scopes:       slices.Clone(req.Scopes),
		state:        req.State,
		nonce:        req.Nonce,
		challenge: &oidc.CodeChallenge{
			Challenge: req.CodeChallenge,
			Method:    req.CodeChallengeMethod,
		},
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now)
	s.requests[a.id] = a
	return *a, nil
}

// AuthRequestByID returns a copy of a live auth request.
func (s *store) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.liveRequestLocked(id)
	if err != nil {
		return nil, err
	}
	return *a, nil
}

// pendingRequest is AuthRequestByID for the picker: it returns the concrete
// type, and only while no persona has been chosen.
func (s *store) pendingRequest(id string) (authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.liveRequestLocked(id)
	if err != nil {
		return authRequest{}, err
	}
	if a.done {
		return authRequest{}, fmt.Errorf("auth request %w: already completed", errNotFound)
	}
	return *a, nil
}

// complete records the persona chosen for a pending auth request.
func (s *store) complete(id, subject string, authTime time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.liveRequestLocked(id)
	if err != nil {
		return err
	}
	if a.done {
		return fmt.Errorf("auth request %w: already completed", errNotFound)
	}
	a.subject = subject
	a.authTime = authTime
	a.done = true
	return nil
}

// SaveAuthCode records the code issued for a completed auth request. A
// request has at most one code: a new one, say from a reloaded callback,
// replaces the old.
func (s *store) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.liveRequestLocked(id)
	if err != nil {
		return err
	}
	if !a.done {
		return oidc.ErrInteractionRequired().WithDescription("no persona chosen yet")
	}
	delete(s.codes, a.code)
	a.code = code
	s.codes[code] = id
	return nil
}

// AuthRequestByCode finds the auth request of an unspent code. The code is
// spent later, by CreateAccessToken, because the op package calls this before
// it checks the client's secret and code verifier: a failed attempt, such as
// the first try of a client that probes for its authentication style, must
// not cost the client its code. A code presented after it was spent revokes
// the access tokens issued for it (RFC 6749, section 4.1.2).
func (s *store) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		if r, spent := s.redeemed[code]; spent && s.now().Before(r.expires) {
			revoked := s.revokeLocked(func(t accessToken) bool { return t.authRequestID == r.authRequestID })
			s.logger.Warn("authorization code used twice; its tokens are revoked",
				slog.Int("revoked_tokens", revoked))
			return nil, errors.New("code already used")
		}
		return nil, fmt.Errorf("code %w", errNotFound)
	}
	a, err := s.liveRequestLocked(id)
	if err != nil {
		return nil, err
	}
	return *a, nil
}

// DeleteAuthRequest forgets an auth request once its tokens are issued.
func (s *store) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		delete(s.codes, a.code)
		delete(s.requests, id)
	}
	return nil
}

// liveRequestLocked returns the stored auth request, or errNotFound once it
// has expired.
func (s *store) liveRequestLocked(id string) (*authRequest, error) {
	a, ok := s.requests[id]
	if !ok || !s.now().Before(a.created.Add(authRequestLifetime)) {
		return nil, fmt.Errorf("auth request %w", errNotFound)
	}
	return a, nil
}

// purgeLocked drops what has expired. It runs on every new auth request
// rather than on a timer: the demo sees few requests, and there is then no
// goroutine to stop.
func (s *store) purgeLocked(now time.Time) {
	maps.DeleteFunc(s.requests, func(_ string, a *authRequest) bool {
		if now.Before(a.created.Add(authRequestLifetime)) {
			return false
		}
		delete(s.codes, a.code)
		return true
	})
	maps.DeleteFunc(s.redeemed, func(_ string, r redeemedCode) bool { return !now.Before(r.expires) })
	maps.DeleteFunc(s.tokens, func(_ string, t accessToken) bool { return !now.Before(t.expires) })
}

// revokeLocked deletes the access tokens that match and says how many.
func (s *store) revokeLocked(match func(accessToken) bool) int {
	n := len(s.tokens)
	maps.DeleteFunc(s.tokens, func(_ string, t accessToken) bool { return match(t) })
	return n - len(s.tokens)
}

// CreateAccessToken spends the code of an auth request and records an
// opaque access token for it. The op package calls it once the client and
// the code verifier have passed its checks, and spending the code here,
// under the lock, means that of two exchanges racing with one code only one
// gets tokens.
func (s *store) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.code == "" || s.codes[a.code] != a.id {
		return "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	delete(s.codes, a.code)
	s.redeemed[a.code] = redeemedCode{authRequestID: a.id, expires: a.created.Add(authRequestLifetime)}

	id := rand.Text()
	expires := s.now().Add(tokenLifetime)
	s.tokens[id] = accessToken{
		subject:       a.subject,
		clientID:      a.clientID,
		scopes:        a.scopes,
		expires:       expires,
		authRequestID: a.id,
	}
	return id, expires, nil
}

// CreateAccessAndRefreshTokens is never called: no client has the
// refresh_token grant, so the op package issues no refresh token.
func (s *store) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not issued")
}

// TokenRequestByRefreshToken refuses every refresh token: none is issued.
func (s *store) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// GetRefreshTokenInfo refuses every refresh token: none is issued.
func (s *store) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession revokes the user's access tokens for the client. There
// is no sign-in session to end: the next sign-in shows the picker anyway.
func (s *store) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeLocked(func(t accessToken) bool { return t.subject == userID && t.clientID == clientID })
	return nil
}

// RevokeToken revokes an access token of the client. An unknown token is no
// error (RFC 7009, section 2.2).
func (s *store) RevokeToken(_ context.Context, tokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenID]; ok && t.clientID == clientID {
		delete(s.tokens, tokenID)
	}
	return nil
}

// SigningKey returns the key that signs ID tokens.
func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	return s.key, nil
}

// SignatureAlgorithms lists RS256 only, as Entra does.
func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet publishes the public half of the signing key.
func (s *store) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// GetClientByClientID returns a registered client.
func (s *store) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client %q %w", clientID, errNotFound)
	}
	return c, nil
}

// AuthorizeClientIDSecret checks a client's secret in constant time.
func (s *store) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	c, ok := s.clients[clientID]
	if !ok || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return errors.New("wrong client id or secret")
	}
	return nil
}

// SetUserinfoFromScopes does nothing: the op package calls it for
// compatibility, and the ID token's claims come from SetUserinfoFromRequest.
func (s *store) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *store) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	p, ok := s.personas[req.GetSubject()]
	if !ok {
		return fmt.Errorf("persona %q %w", req.GetSubject(), errNotFound)
	}
	s.setUserinfo(info, p, scopes)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (s *store) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.token(tokenID, subject)
	if err != nil {
		return err
	}
	p, ok := s.personas[t.subject]
	if !ok {
		return fmt.Errorf("persona %q %w", t.subject, errNotFound)
	}
	s.setUserinfo(info, p, t.scopes)
	return nil
}

// SetIntrospectionFromToken answers the introspection endpoint for the
// client's own tokens.
func (s *store) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.token(tokenID, subject)
	if err != nil {
		return err
	}
	if t.clientID != clientID {
		return errors.New("token of another client")
	}
	p, ok := s.personas[t.subject]
	if !ok {
		return fmt.Errorf("persona %q %w", t.subject, errNotFound)
	}
	info := new(oidc.UserInfo)
	s.setUserinfo(info, p, t.scopes)
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Audience = []string{t.clientID}
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

func (s *store) token(id, subject string) (accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || t.subject != subject || !s.now().Before(t.expires) {
		return accessToken{}, fmt.Errorf("access token %w", errNotFound)
	}
	return t, nil
}

// setUserinfo writes the claims Entra would. As there, name and
// preferred_username need the profile scope and email the email scope,
// while oid, tid and roles are always present (roles only for a user with a
// role).
func (s *store) setUserinfo(info *oidc.UserInfo, p Persona, scopes []string) {
	info.Subject = p.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = p.Name
		info.PreferredUsername = p.Email
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = p.Email
	}
	info.AppendClaims("oid", p.Subject)
	info.AppendClaims("tid", s.tenantID)
	if len(p.Roles) > 0 {
		info.AppendClaims("roles", slices.Clone(p.Roles))
	}
}

// GetPrivateClaimsFromScopes adds nothing: it is for JWT access tokens, and
// the provider's access tokens are opaque.
func (s *store) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID refuses: clients authenticate with a secret, never
// with a signed JWT.
func (s *store) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT client authentication is not supported")
}

// ValidateJWTProfileScopes refuses: the JWT profile grant is not supported.
func (s *store) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("the JWT profile grant is not supported")
}

// Health reports the store ready: it cannot be otherwise.
func (s *store) Health(context.Context) error {
	return nil
}
