// Package graph is the portal's directory client: it speaks Microsoft Graph
// through the official SDK with the Graph app's certificate credential and
// turns every reply into the portal's domain types and errors. It is the
// only package that imports the Graph SDK.
package graph

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	authentication "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/tapportal/portal/internal/portal"
)

// Cloud endpoints: the authority and the Graph root of each national cloud.
type cloudEndpoints struct {
	authority string
	graph     string
}

var clouds = map[string]cloudEndpoints{
	"public":   {"https://login.microsoftonline.com/", "https://graph.microsoft.com"},
	"usgov":    {"https://login.microsoftonline.us/", "https://graph.microsoft.us"},
	"usgovdod": {"https://login.microsoftonline.us/", "https://dod-graph.microsoft.us"},
	"china":    {"https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn"},
}

// Clouds lists the accepted values of Config.Cloud.
func Clouds() []string { return []string{"public", "usgov", "usgovdod", "china"} }

// Config configures a Client.
type Config struct {
	TenantID string
	ClientID string
	// Certificate and Key are the app's credential; see LoadCertificate.
	Certificate []*x509.Certificate
	Key         crypto.PrivateKey
	// Cloud is "public" (default), "usgov", "usgovdod" or "china".
	Cloud string
	// BaseURL overrides the cloud's Graph root (without "/v1.0").
	BaseURL string
	// AuthorityURL overrides the cloud's Entra authority host.
	AuthorityURL string
	// RootCAs are the roots trusted for outbound TLS; nil means the
	// system's.
	RootCAs *x509.CertPool
	// Timeout bounds each operation, retries included; default 30s.
	Timeout time.Duration
	// PolicyTTL is how long the tenant policy is cached; default 1 minute.
	PolicyTTL time.Duration
	// StaffAppID is the app id of the portal's sign-in app, whose app role
	// holders are the portal's staff; empty turns Staff off.
	StaffAppID string
	// StaffTTL is how long the staff are cached; default and most 1 minute.
	StaffTTL time.Duration
	// NamesTTL is how long role definition and administrative unit names
	// are cached; default 1 hour.
	NamesTTL time.Duration
	// MaxRetries and RetryDelay tune the retry of 429, 503 and 504 replies
	// that carry no Retry-After; defaults 3 and 3s.
	MaxRetries int
	RetryDelay time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// WrapTransport, when set, wraps the HTTP transport of every Graph
	// and token request (metrics use it).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// ObserveBatchItem, when set, is told of each item of a $batch reply:
	// Graph throttles and answers each on its own (metrics use it).
	ObserveBatchItem func(method, path string, status int)
}

// Client is a portal.Directory backed by Microsoft Graph.
type Client struct {
	sdk       *services
	v1        string // Graph root including /v1.0
	timeout   time.Duration
	policyTTL time.Duration
	now       func() time.Time

	policyMu      sync.Mutex
	policy        portal.Policy
	policyFetched time.Time

	adapter *msgraphsdk.GraphRequestAdapter
	// batchURL is where a $batch is posted; subjectURLs are the steps of
	// a Subject's batch.
	batchURL    *url.URL
	subjectURLs subjectURLs
	staffAppID  string
	staff       staffCache
	names       names
	// methodsFailing is set while the sign-in methods cannot be read, so
	// that Subject asks for the pass's own list in the same batch.
	methodsFailing atomic.Bool
	observeItem    func(method, path string, status int)

	cred *healingCredential
}

var _ portal.Directory = (*Client)(nil)

// LoadCertificate reads a PEM file (certificate and private key) or a
// PKCS#12 (PFX) file, with password for an encrypted one.
func LoadCertificate(path, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseCertificate(data, password)
}

// ParseCertificate parses a PEM bundle or a PKCS#12 blob into the
// certificate chain and private key.
func ParseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if strings.Contains(string(data), "-----BEGIN") {
		certs, key, err := azidentity.ParseCertificates(data, []byte(password))
		if err != nil {
			return nil, nil, fmt.Errorf("PEM: %w", err)
		}
		return certs, key, nil
	}
	// The SDK's own PKCS#12 reader cannot read files with SHA-256 MACs,
	// which current tools write by default.
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, nil, fmt.Errorf("PKCS#12: %w", err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}

// Endpoints returns the authority and Graph root cfg resolves to.
func (cfg Config) Endpoints() (authority, graphRoot string, err error) {
	name := cfg.Cloud
	if name == "" {
		name = "public"
	}
	c, ok := clouds[name]
	if !ok {
		return "", "", fmt.Errorf("unknown cloud %q: want one of %s", cfg.Cloud, strings.Join(Clouds(), ", "))
	}
	authority, graphRoot = c.authority, c.graph
	if cfg.AuthorityURL != "" {
		authority = strings.TrimSuffix(cfg.AuthorityURL, "/") + "/"
	}
	if cfg.BaseURL != "" {
		graphRoot = strings.TrimSuffix(strings.TrimSuffix(cfg.BaseURL, "/"), "/v1.0")
	}
	for _, u := range []string{authority, graphRoot} {
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			return "", "", fmt.Errorf("endpoint %q must be an absolute https URL", u)
		}
	}
	return authority, graphRoot, nil
}

// New builds a Client. It does not call Graph; Ping does.
func New(cfg Config) (*Client, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, errors.New("graph: tenant id and client id are required")
	}
	if len(cfg.Certificate) == 0 || cfg.Key == nil {
		return nil, errors.New("graph: a certificate and its private key are required")
	}
	authority, graphRoot, err := cfg.Endpoints()
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.PolicyTTL <= 0 {
		cfg.PolicyTTL = time.Minute
	}
	if cfg.StaffTTL <= 0 || cfg.StaffTTL > time.Minute {
		cfg.StaffTTL = time.Minute
	}
	if cfg.NamesTTL <= 0 {
		cfg.NamesTTL = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 32
	var base http.RoundTripper = tr
	if cfg.WrapTransport != nil {
		base = cfg.WrapTransport(base)
	}

	name := cfg.Cloud
	if name == "" {
		name = "public"
	}
	// The token's audience is the cloud's Graph resource even when the
	// Graph root is overridden (a proxy or an emulator stands in for it).
	scope := clouds[name].graph + "/.default"
	cred, err := newHealingCredential(scope, func() (azcore.TokenCredential, error) {
		return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, cfg.Certificate, cfg.Key,
			&azidentity.ClientCertificateCredentialOptions{
				ClientOptions: azcore.ClientOptions{
					Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
					Transport: &http.Client{Transport: base, Timeout: cfg.Timeout},
				},
				// Instance discovery asks the public cloud about the
				// authority, which fails for an overridden one and adds a
				// call otherwise.
				DisableInstanceDiscovery: cfg.AuthorityURL != "",
			})
	})
	if err != nil {
		return nil, fmt.Errorf("graph: credential: %w", err)
	}
	root, _ := url.Parse(graphRoot)
	auth, err := authentication.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{root.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph: auth provider: %w", err)
	}

	retry := khttp.RetryHandlerOptions{
		MaxRetries:   cfg.MaxRetries,
		DelaySeconds: int(cfg.RetryDelay / time.Second),
		// Called for 429, 503 and 504 only: see resilience.go.
		ShouldRetry: shouldRetry(cfg.RetryDelay),
	}
	if cfg.RetryDelay > 0 && retry.DelaySeconds == 0 {
		retry.DelaySeconds = 1
	}
	kiota, err := khttp.GetDefaultMiddlewaresWithOptions(&retry)
	if err != nil {
		return nil, fmt.Errorf("graph: middleware: %w", err)
	}
	kiota = afterRetries(kiota, freshAttempt{})
	opts := msgraphsdk.GetDefaultClientOptions()
	middleware := append([]khttp.Middleware{
		// Outermost, so that a request sent again after a 401 goes
		// through the whole pipeline with its new token.
		tokenHealer{cred},
		msgraphcore.NewGraphTelemetryHandler(&opts),
		khttp.NewUrlReplaceHandler(true, msgraphcore.ReplacementPairs),
	}, kiota...)
	// Runs after the telemetry handler so the portal's id replaces the
	// random one it adds.
	// Innermost, next to the network: only a connection never made is
	// tried again there.
	middleware = append(middleware, clientRequestID{}, replyLimit{max: maxReply}, dialRetry{delay: 200 * time.Millisecond})
	httpClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(base, middleware...),
		// Graph does not redirect the calls the portal makes; a redirect
		// would carry the bearer token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph: adapter: %w", err)
	}
	v1 := graphRoot + "/v1.0"
	adapter.SetBaseUrl(v1)
	batchURL, err := url.Parse(v1 + "/$batch")
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	c := &Client{
		sdk:         newServices(adapter),
		v1:          v1,
		timeout:     cfg.Timeout,
		policyTTL:   cfg.PolicyTTL,
		now:         cfg.Now,
		cred:        cred,
		adapter:     adapter,
		staffAppID:  cfg.StaffAppID,
		staff:       staffCache{ttl: cfg.StaffTTL},
		names:       names{ttl: cfg.NamesTTL},
		observeItem: cfg.ObserveBatchItem,
		batchURL:    batchURL,
	}
	if c.subjectURLs, err = newSubjectURLs(c); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return c, nil
}

// Ping gets a Graph token through the credential every call uses,
// proving the certificate, the authority and the network path work, and
// fails while Graph refuses the portal's tokens even after renewing them.
// Readiness checks use it.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{}); err != nil {
		return &portal.Error{Code: portal.EUnavailable, Message: "The portal could not get a Microsoft Graph token with its certificate.", Err: err}
	}
	if why := c.cred.refusal(); why != "" {
		return &portal.Error{Code: portal.EUnavailable, Message: why}
	}
	return nil
}

// clientRequestID is a pipeline middleware that sets client-request-id to
// the portal's request id (portal.WithRequestID), so one id follows a
// request from the portal's logs into Graph's.
type clientRequestID struct{}

func (clientRequestID) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if id := portal.RequestIDFrom(req.Context()); id != "" {
		req.Header.Set("client-request-id", id)
	}
	if req.Context().Value(itemRetryKey{}) != nil && req.Header.Get("Retry-Attempt") == "" {
		// A batch item read again alone is a retry, marked as the SDK's
		// retry handler marks its own.
		req.Header.Set("Retry-Attempt", "1")
	}
	return p.Next(req, i)
}

// itemRetryKey marks the context of a batch item read again alone.
type itemRetryKey struct{}
