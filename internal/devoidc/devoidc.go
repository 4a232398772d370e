// Package devoidc is a small OpenID provider that runs inside the portal's
// process for the demo tenant (`portal dev`) and for tests. It stands in for
// Microsoft Entra ID: its ID tokens carry the claims Entra puts in them (oid,
// tid, name, preferred_username, email, roles), and instead of a password
// prompt it shows a page where the visitor picks one of a few made-up people
// (personas) to sign in as.
//
// The OpenID Connect and OAuth machinery (discovery, the authorization and
// token endpoints, PKCE checks, JWT signing, end session) is the op package
// of github.com/zitadel/oidc; this package supplies an in-memory store, the
// registered clients and the persona picker.
//
// The provider is strict where the portal must be: it accepts only the
// authorization code flow with PKCE (S256), confidential clients with a
// secret, and registered redirect URIs, and a code can be redeemed once. It
// keeps no session, so every sign-in shows the picker and records a fresh
// auth_time, which is also what prompt=login asks for.
//
// It serves plain HTTP and listens only on loopback addresses: anyone who
// can reach it can sign in as any persona.
package devoidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Persona is someone the picker offers to sign in as.
type Persona struct {
	// Key identifies the persona in the picker's form; it never reaches a
	// token.
	Key string
	// Name is the display name (the name claim).
	Name string
	// Email is the sign-in name and mail address (the preferred_username
	// and email claims).
	Email string
	// Subject is the user's object id: the sub and oid claims.
	Subject string
	// Roles are the app role values put in the roles claim; none means the
	// claim is left out, as Entra does for a user with no role assignment.
	Roles []string
	// Description tells the visitor what signing in as this persona shows.
	Description string
}

// Client is a relying party registered with the provider. It is always a
// confidential web client that authenticates to the token endpoint with its
// secret, in the Authorization header or in the form.
type Client struct {
	ID     string
	Secret string
	// RedirectURIs are the only redirect_uri values accepted, compared
	// exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the only post_logout_redirect_uri values
	// the end-session endpoint redirects to.
	PostLogoutRedirectURIs []string
}

// Options configure a Provider.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0". It must be a
	// loopback address.
	Addr string
	// Clients are the registered relying parties; at least one is needed.
	Clients []Client
	// Personas are offered by the picker in this order; default
	// DemoPersonas().
	Personas []Persona
	// TenantID is the tid claim; default DemoTenantID.
	TenantID string
	// Logger receives a line per sign-in and per refused code; default
	// discards. The op package logs its own errors through slog's default
	// logger.
	Logger *slog.Logger
}

// Provider is a running OpenID provider.
type Provider struct {
	issuer string
	logger *slog.Logger
	op     *op.Provider
	store  *store
	srv    *http.Server
	served chan error

	// authTimeOffset is added to the moment a persona is chosen to give
	// auth_time, in nanoseconds.
	authTimeOffset atomic.Int64
	// omitAuthTime leaves auth_time out of the ID tokens.
	omitAuthTime atomic.Bool
}

// Lifetimes of what the provider hands out. Entra's are of the same order.
const (
	authRequestLifetime = 10 * time.Minute
	tokenLifetime       = time.Hour
)

// Start validates opts, listens on opts.Addr and serves the provider until
// Close. Its issuer is http://IP:PORT with the address actually bound, so
// port 0 in Addr picks a free port.
func Start(opts Options) (*Provider, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.Personas) == 0 {
		opts.Personas = DemoPersonas()
	}
	if opts.TenantID == "" {
		opts.TenantID = DemoTenantID
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := validate(opts); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("devoidc: listen: %w", err)
	}
	issuer := "http://" + ln.Addr().String()

	p, err := newProvider(issuer, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.srv = &http.Server{
		Handler:           p.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	p.served = make(chan error, 1)
	go func() { p.served <- p.srv.Serve(ln) }()
	opts.Logger.Info("demo OpenID provider started", slog.String("issuer", issuer))
	return p, nil
}

// newProvider builds everything but the listener.
func newProvider(issuer string, opts Options) (*Provider, error) {
	// A fresh key each start: tokens from an earlier run must not verify,
	// and there is nothing to keep on disk.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devoidc: signing key: %w", err)
	}
	key := signingKey{id: rand.Text(), private: rsaKey}

	clients := make(map[string]*client, len(opts.Clients))
	for _, c := range opts.Clients {
		clients[c.ID] = newClient(c, issuer+loginPath)
	}
	st := newStore(key, clients, opts.Personas, opts.TenantID, opts.Logger)

	config := &op.Config{
		// The key encrypts codes and opaque access tokens; like the signing
		// key it lives only as long as the process.
		CryptoKey:                randomKey(),
		DefaultLogoutRedirectURI: issuer + signedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedClaims: append(slices.Clone(op.DefaultSupportedClaims),
			"oid", "tid", "roles"),
	}
	provider, err := op.NewProvider(config, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("devoidc: %w", err)
	}
	return &Provider{
		issuer: issuer,
		logger: opts.Logger,
		op:     provider,
		store:  st,
	}, nil
}

func validate(opts Options) error {
	if err := validateAddr(opts.Addr); err != nil {
		return err
	}
	if len(opts.Clients) == 0 {
		return errors.New("devoidc: no client registered")
	}
	clientIDs := make(map[string]bool)
	for _, c := range opts.Clients {
		switch {
		case c.ID == "":
			return errors.New("devoidc: a client has no ID")
		case clientIDs[c.ID]:
			return fmt.Errorf("devoidc: client %q registered twice", c.ID)
		case c.Secret == "":
			return fmt.Errorf("devoidc: client %q has no secret", c.ID)
		case len(c.RedirectURIs) == 0:
			return fmt.Errorf("devoidc: client %q has no redirect URI", c.ID)
		}
		clientIDs[c.ID] = true
		for _, u := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
			if err := validateRedirectURI(u); err != nil {
				return fmt.Errorf("devoidc: client %q: %w", c.ID, err)
			}
		}
	}
	keys := make(map[string]bool)
	subjects := make(map[string]bool)
	for _, p := range opts.Personas {
		switch {
		case p.Key == "" || p.Subject == "" || p.Name == "":
			return fmt.Errorf("devoidc: persona %q needs a key, a subject and a name", p.Name)
		case keys[p.Key]:
			return fmt.Errorf("devoidc: persona key %q used twice", p.Key)
		case subjects[p.Subject]:
			return fmt.Errorf("devoidc: persona subject %q used twice", p.Subject)
		}
		keys[p.Key] = true
		subjects[p.Subject] = true
	}
	return nil
}

// validateAddr accepts loopback addresses only, checked before listening so
// that the provider is never reachable from elsewhere, not even briefly:
// anyone who reaches it can sign in as any persona.
func validateAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devoidc: Addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("devoidc: Addr %q: want a loopback address such as 127.0.0.1:0", addr)
	}
	return nil
}

// validateRedirectURI accepts absolute http and https URLs. The origin of a
// redirect URI is written into the picker's Content-Security-Policy, so
// anything unusual is refused here rather than escaped there.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("redirect URI %q: want an absolute http or https URL with no fragment or user", raw)
	}
	return nil
}

// Issuer returns the issuer URL, http://127.0.0.1:PORT, which is also the
// base of the discovery document.
func (p *Provider) Issuer() string {
	return p.issuer
}

// SetAuthTimeOffset shifts the auth_time of the sign-ins completed from now
// on: auth_time is the moment the persona is chosen plus d. A negative d
// makes a sign-in look older, which is how a test produces a sign-in too old
// for an action that wants a recent one. Zero restores the real time.
func (p *Provider) SetAuthTimeOffset(d time.Duration) {
	p.authTimeOffset.Store(int64(d))
}

// SetOmitAuthTime makes the sign-ins completed from now on carry no
// auth_time, as a provider that ignores max_age would issue them; false
// restores it.
func (p *Provider) SetOmitAuthTime(omit bool) {
	p.omitAuthTime.Store(omit)
}

// Close stops the server, waiting a few seconds for requests in flight.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = p.srv.Close()
	}
	if serveErr := <-p.served; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}

// routes puts the picker's pages next to the op package's endpoints, which
// take every path the picker does not.
func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+loginPath, p.showPicker)
	mux.HandleFunc("POST "+loginPath, p.choosePersona)
	mux.HandleFunc("GET "+signedOutPath, p.showSignedOut)
	mux.HandleFunc("GET "+stylesheetPath, serveStylesheet)
	mux.Handle("/", p.op)
	return mux
}

// authCallbackURL is where the picker sends the browser once a persona is
// chosen: the op package's callback, which issues the code.
func (p *Provider) authCallbackURL(ctx context.Context, authRequestID string) string {
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(ctx, p.issuer), authRequestID)
}

// errorRedirect sends the browser back to the client with an OAuth error,
// through the op package so that the response has the client's state and
// response mode.
func (p *Provider) errorRedirect(w http.ResponseWriter, r *http.Request, req authRequest, err *oidc.Error) {
	op.AuthRequestError(w, r, req, err, p.op)
}
