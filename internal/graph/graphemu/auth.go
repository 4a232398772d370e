package graphemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AllPermissions is the least-privileged set of Graph application
// permissions the portal needs, for registering the demo app. Treat it as
// read-only.
var AllPermissions = []string{
	"UserAuthMethod-TAP.ReadWrite.All",
	"UserAuthenticationMethod.Read.All",
	"User.Read.All",
	"Policy.Read.All",
	"GroupMember.Read.All",
	"RoleManagement.Read.Directory",
	"PrivilegedEligibilitySchedule.Read.AzureADGroup",
	"Application.Read.All",
	"AdministrativeUnit.Read.All",
	"AuditLog.Read.All",
	"Mail.Send",
}

// App is an application registered in the emulated tenant: the client id,
// the certificate its client assertions are signed with, and the Graph
// application permissions (roles) granted to it.
type App struct {
	ClientID    string
	DisplayName string
	Certificate *x509.Certificate
	Permissions []string
	// MailboxScope, when set, is what an Exchange application access
	// policy lets the app reach with its mail permissions: the object ids
	// or addresses of the mailboxes it may send as. Sending as any other
	// is refused although the app holds Mail.Send.
	MailboxScope []string
}

// RegisterApp registers (or replaces) an application. Tokens already issued
// keep the permissions the app had when they were issued, as Entra's do.
func (s *Server) RegisterApp(app App) {
	a := app
	a.Permissions = slices.Clone(app.Permissions)
	a.MailboxScope = slices.Clone(app.MailboxScope)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[app.ClientID] = &a
}

// token is an issued access token. app is the registration as it stood at
// issue time; RegisterApp never changes an App in place, so it may be read
// without the lock.
type token struct {
	app     *App
	expires time.Time
	revoked bool
}

// RevokeTokens invalidates every access token issued so far to the app
// with clientID, as Entra does when an app's credential is rolled or its
// tokens are revoked: Graph answers 401 until the client gets a new token.
// It returns how many it revoked.
func (s *Server) RevokeTokens(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if t.app.ClientID == clientID && !t.revoked {
			t.revoked = true
			n++
		}
	}
	return n
}

// permKind selects the 403 shape: Graph's directory APIs, its
// authentication-method APIs and the mail APIs Exchange Online serves
// word a missing permission differently.
type permKind int

const (
	permDirectory permKind = iota
	permAuthMethods
	permMail
)

// accessTokenLifetime is what Entra grants app-only tokens by default,
// expressed the way its token endpoint reports it.
const accessTokenLifetime = 3599 * time.Second

// graphAppID is Microsoft Graph's well-known application id, named in
// Graph's WWW-Authenticate challenges.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// authorize checks the request's bearer token and that its app holds one of
// perms (with no perms, a valid token is enough). On failure it writes
// Graph's 401 or 403 reply and returns false. It takes the server's lock,
// so callers must not hold it.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, kind permKind, perms ...string) bool {
	raw := bearerToken(r)
	if raw == "" {
		s.unauthorized(w, r, "Access token is empty.")
		return false
	}
	s.mu.Lock()
	tok := s.tokens[raw]
	s.mu.Unlock()
	switch {
	case tok == nil:
		// Graph says this for a token that is well formed but not meant for
		// it, the commonest real cause of an unknown token.
		s.unauthorized(w, r, "Access token validation failure. Invalid audience.")
		return false
	case !time.Now().Before(tok.expires):
		s.unauthorized(w, r, "Lifetime validation failed, the token is expired.")
		return false
	case tok.revoked:
		s.unauthorized(w, r, "Access token validation failure: the token has been revoked.")
		return false
	}
	if len(perms) == 0 || slices.ContainsFunc(perms, func(p string) bool { return slices.Contains(tok.app.Permissions, p) }) {
		return true
	}
	switch kind {
	case permAuthMethods:
		writeError(w, r, http.StatusForbidden, "accessDenied", "Request Authorization failed")
	case permMail:
		// An application access policy that keeps the app from the
		// mailbox is refused with the same code and other words (mail.go).
		writeError(w, r, http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	default:
		writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	return false
}

// callerApp returns the app whose valid token the request carries, or nil.
// Handlers use it after authorize to name the initiator of an audited
// change. It takes the server's lock, so callers must not hold it.
func (s *Server) callerApp(r *http.Request) *App {
	raw := bearerToken(r)
	if raw == "" {
		return nil
	}
	s.mu.Lock()
	tok := s.tokens[raw]
	s.mu.Unlock()
	if tok == nil || tok.revoked || !time.Now().Before(tok.expires) {
		return nil
	}
	return tok.app
}

// bearerToken returns the token of an "Authorization: Bearer" header, or ""
// when there is none (other schemes count as none, as they do for Graph).
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// unauthorized writes Graph's 401 with the challenge that points clients at
// the authority.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, message string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(
		`Bearer realm="", authorization_uri="%s/common/oauth2/authorize", client_id="%s"`, s.URL(), graphAppID))
	writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", message)
}

// IssueToken mints an access token for a registered app without the
// client-assertion exchange, for tests and tools that speak raw HTTP.
func (s *Server) IssueToken(clientID string) (string, error) {
	s.mu.Lock()
	app := s.apps[clientID]
	s.mu.Unlock()
	if app == nil {
		return "", fmt.Errorf("graph emulator: no app registered with client id %q", clientID)
	}
	tok, _ := s.mintToken(app)
	return tok, nil
}

// mintToken stores a new opaque access token for app and returns it with
// its expiry. Expiry follows real time, not the emulated clock: the token
// caches in azidentity and MSAL judge it by real time.
func (s *Server) mintToken(app *App) (string, time.Time) {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	raw := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	expires := now.Add(accessTokenLifetime)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Forget tokens long expired so a long demo session does not grow the
	// map without bound; recently expired ones stay so that Graph can still
	// say "expired" rather than "invalid".
	for k, t := range s.tokens {
		if now.Sub(t.expires) > 24*time.Hour {
			delete(s.tokens, k)
		}
	}
	s.tokens[raw] = &token{app: app, expires: expires}
	return raw, expires
}

// GenerateAppCertificate creates a self-signed certificate valid for two
// years with a fresh RSA 2048 key, as an app registration's credential. It
// returns the certificate PEM, the key as a PKCS #8 "PRIVATE KEY" PEM, and
// the parsed certificate for RegisterApp.
func GenerateAppCertificate(commonName string) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	if commonName == "" {
		return nil, nil, nil, errors.New("graph emulator: certificate needs a common name")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return certPEM, keyPEM, cert, nil
}
