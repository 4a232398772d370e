package graphemu

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OAuth parameter values of the client-credentials flow with a certificate.
const (
	grantClientCredentials = "client_credentials"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// assertionSkew is the clock skew Entra tolerates on a client assertion's
// exp and nbf.
const assertionSkew = 5 * time.Minute

// graphResources are the Graph resources a client-credentials scope may
// name: the global cloud and the national clouds.
var graphResources = []string{
	"https://graph.microsoft.com",
	"https://graph.microsoft.us",
	"https://dod-graph.microsoft.us",
	"https://microsoftgraph.chinacloudapi.cn",
}

// oidcScopes are the scopes MSAL adds to every request; the token endpoint
// ignores them in the client-credentials flow.
var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

func (s *Server) registerTokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleOpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
}

// resolveTenant maps the tenant segment of an authority path, a tenant id or
// the tenant's domain name, to the tenant id.
func (s *Server) resolveTenant(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.EqualFold(name, s.tenant.ID) || s.tenant.Domain != "" && strings.EqualFold(name, s.tenant.Domain) {
		return s.tenant.ID, true
	}
	return "", false
}

// tenantNotFound is Entra's reply for an authority naming another tenant.
func tenantNotFound(name string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf(
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", name)}
}

func (s *Server) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tid, ok := s.resolveTenant(r.PathValue("tenant"))
	if !ok {
		s.writeTokenError(w, r, tenantNotFound(r.PathValue("tenant")))
		return
	}
	// Entra names the tenant by id in every endpoint, whichever form the
	// client asked with; MSAL then posts to token_endpoint as given.
	base := s.URL() + "/" + tid
	writeLoginJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"request_uri_parameter_supported": false,
		"http_logout_supported":           true,
		"frontchannel_logout_supported":   true,
		"tenant_region_scope":             "NA",
		"cloud_instance_name":             "microsoftonline.com",
	})
}

// handleKeys serves an empty key set: the emulator's access tokens are
// opaque and it issues no ID tokens, so there is nothing to verify with.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.resolveTenant(r.PathValue("tenant")); !ok {
		s.writeTokenError(w, r, tenantNotFound(r.PathValue("tenant")))
		return
	}
	writeLoginJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
}

// handleToken is the client-credentials grant with a certificate-signed
// client assertion, the only flow the portal uses.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	app, te := s.authenticateClient(r)
	if te != nil {
		s.writeTokenError(w, r, te)
		return
	}
	tok, _ := s.mintToken(app)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeLoginJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(accessTokenLifetime / time.Second),
		"ext_expires_in": int(accessTokenLifetime / time.Second),
		"access_token":   tok,
	})
}

// authenticateClient checks the token request in the order Entra does
// (request shape, then the client, then its credential) and returns the
// app it authenticates.
func (s *Server) authenticateClient(r *http.Request) (*App, *tokenError) {
	tid, ok := s.resolveTenant(r.PathValue("tenant"))
	if !ok {
		return nil, tenantNotFound(r.PathValue("tenant"))
	}
	if err := r.ParseForm(); err != nil {
		// A body that does not parse as a form has no parameters at all;
		// Entra names the first one it looks for.
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'."}
	}
	form := r.PostForm
	for _, p := range []string{"grant_type", "client_id"} {
		if form.Get(p) == "" {
			return nil, missingParameter(p)
		}
	}
	if g := form.Get("grant_type"); g != grantClientCredentials {
		return nil, &tokenError{http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", g)}
	}
	if form.Get("scope") == "" {
		return nil, missingParameter("scope")
	}
	if te := checkScope(form.Get("scope"), tid); te != nil {
		return nil, te
	}

	clientID := form.Get("client_id")
	s.mu.Lock()
	app := s.apps[clientID]
	s.mu.Unlock()
	if app == nil {
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been "+
				"installed by the administrator of the tenant or consented to by any user in the tenant. "+
				"You may have sent your authentication request to the wrong tenant.", clientID, tid)}
	}

	if form.Get("client_secret") != "" {
		// Apps here hold certificates only, so any secret is a wrong one.
		return nil, &tokenError{http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, " +
				fmt.Sprintf("for a secret added to app '%s'.", clientID)}
	}
	// Entra only looks at client_assertion when the type names a JWT, so a
	// wrong type reads as no credential at all.
	if form.Get("client_assertion_type") != assertionTypeJWTBearer || form.Get("client_assertion") == "" {
		return nil, &tokenError{http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	audience := s.URL() + r.URL.Path
	if te := verifyAssertion(form.Get("client_assertion"), app, audience, time.Now()); te != nil {
		return nil, te
	}
	return app, nil
}

// checkScope accepts exactly one Graph resource with the /.default suffix,
// besides the OpenID scopes MSAL always adds.
func checkScope(scope, tenantID string) *tokenError {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if !containsFold(oidcScopes, sc) {
			resources = append(resources, sc)
		}
	}
	invalid := &tokenError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "+
			"suffixed to the resource identifier (application ID URI).", scope)}
	switch {
	case len(resources) == 0:
		return invalid
	case len(resources) > 1:
		return &tokenError{http.StatusBadRequest, "invalid_scope", 28000, fmt.Sprintf(
			"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)}
	}
	resource, ok := strings.CutSuffix(resources[0], "/.default")
	if !ok {
		return invalid
	}
	if !containsFold(graphResources, resource) {
		return &tokenError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not "+
				"been installed by the administrator of the tenant or consented to by any user in the tenant. "+
				"You might have sent your authentication request to the wrong tenant.", resource, tenantID)}
	}
	return nil
}

// verifyAssertion checks a client assertion the way Entra does for a
// certificate credential: the header names the registered certificate by
// its SHA-256 thumbprint, the signature verifies with that certificate's
// key, and the claims bind the assertion to this client and this token
// endpoint for a short time.
func verifyAssertion(assertion string, app *App, audience string, now time.Time) *tokenError {
	malformed := &tokenError{http.StatusUnauthorized, "invalid_client", 50027, "JWT token is invalid or malformed."}
	// MSAL signs with PS256; RS256 is what other libraries and older MSALs
	// use. Anything else, "none" included, fails to parse.
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.PS256, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return malformed
	}

	// Entra reports thumbprints in hex.
	thumb, _ := tok.Headers[0].ExtraHeaders["x5t#S256"].(string)
	thumbHex := ""
	if b, err := base64.StdEncoding.DecodeString(thumb); err == nil {
		thumbHex = strings.ToUpper(hex.EncodeToString(b))
	}
	keyNotFound := &tokenError{http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
		"The certificate with identifier used to sign the client assertion is not registered on application. "+
			"[Reason - The key was not found., Thumbprint of key used by client: '%s', "+
			"Please visit the Microsoft Entra admin center and upload the certificate for application '%s'.]", thumbHex, app.ClientID)}
	cert := app.Certificate
	if cert == nil {
		return keyNotFound
	}
	// The registered thumbprint is compared in its standard base64 form, as
	// MSAL writes it; a URL-safe encoding of the same hash is refused.
	sum := sha256.Sum256(cert.Raw)
	if thumb == "" || thumb != base64.StdEncoding.EncodeToString(sum[:]) {
		return keyNotFound
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '%s', "+
				"Found key 'Start=%s, End=%s']", thumbHex, cert.NotBefore.UTC().Format(time.DateTime), cert.NotAfter.UTC().Format(time.DateTime))}
	}

	var claims jwt.Claims
	if err := tok.Claims(cert.PublicKey, &claims); err != nil {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., "+
				"Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumbHex, cert.NotBefore.UTC().Format(time.DateTime), cert.NotAfter.UTC().Format(time.DateTime))}
	}

	for _, c := range []struct {
		name    string
		present bool
	}{
		{"iss", claims.Issuer != ""},
		{"sub", claims.Subject != ""},
		{"aud", len(claims.Audience) > 0},
		{"exp", claims.Expiry != nil},
		{"jti", claims.ID != ""},
	} {
		if !c.present {
			return &tokenError{http.StatusBadRequest, "invalid_request", 90014, fmt.Sprintf(
				"The required field '%s' is missing from the credential. Ensure that you have all the necessary parameters for the login request.", c.name)}
		}
	}
	if claims.Issuer != app.ClientID || claims.Subject != app.ClientID {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter. " +
				"Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."}
	}
	// The audience is the token endpoint exactly, one value only.
	if len(claims.Audience) != 1 || claims.Audience[0] != audience {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700023, fmt.Sprintf(
			"Client assertion audience claim does not match Realm issuer. Review the documentation at "+
				"https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Expected audience '%s'.", audience)}
	}
	exp := claims.Expiry.Time()
	nbf := time.Time{}
	if claims.NotBefore != nil {
		nbf = claims.NotBefore.Time()
	}
	if !now.Before(exp.Add(assertionSkew)) || nbf.After(now.Add(assertionSkew)) {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700024, fmt.Sprintf(
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. "+
				"Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
			now.UTC().Format(time.RFC3339Nano), nbf.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339))}
	}
	return nil
}

func missingParameter(name string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// tokenError is a refusal by the token endpoint: the HTTP status, the OAuth
// error, the AADSTS number and its description.
type tokenError struct {
	status int
	code   string
	aadsts int
	desc   string
}

// writeTokenError writes Entra's error reply. Entra appends the trace and
// correlation ids and a timestamp to the description; clients print it
// whole, so it is kept that way.
func (s *Server) writeTokenError(w http.ResponseWriter, r *http.Request, e *tokenError) {
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace := requestID(r)
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = trace
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeLoginJSON(w, e.status, map[string]any{
		"error": e.code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			e.aadsts, e.desc, trace, corr, now),
		"error_codes":    []int{e.aadsts},
		"timestamp":      now,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      s.URL() + "/error?code=" + strconv.Itoa(e.aadsts),
	})
}

// writeLoginJSON writes a JSON reply of the token service, which, unlike
// Graph, carries no OData parameters in its content type.
func writeLoginJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
