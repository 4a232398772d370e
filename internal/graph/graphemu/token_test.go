package graphemu

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// certApp is an app credential: a certificate and its private key.
type certApp struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newCertApp(t *testing.T, cn string) certApp {
	t.Helper()
	certPEM, keyPEM, cert, err := GenerateAppCertificate(cn)
	if err != nil {
		t.Fatalf("GenerateAppCertificate: %v", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("certificate PEM: got %q block, want CERTIFICATE", b.Type)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM: want a PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() != 2048 {
		t.Fatalf("key is %T, want a 2048-bit RSA key", k)
	}
	return certApp{cert: cert, key: key}
}

func x5tS256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// tokenRequest is a token request before it is sent; the client assertion
// is built from its parts unless form already carries one.
type tokenRequest struct {
	path    string
	form    url.Values
	alg     jose.SignatureAlgorithm
	signKey any
	headers map[jose.HeaderKey]any
	claims  map[string]any
}

func (tr *tokenRequest) encode(t *testing.T) string {
	t.Helper()
	if tr.form.Get("client_assertion") == "" && tr.signKey != nil {
		opts := (&jose.SignerOptions{}).WithType("JWT")
		for k, v := range tr.headers {
			opts = opts.WithHeader(k, v)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tr.alg, Key: tr.signKey}, opts)
		if err != nil {
			t.Fatalf("NewSigner: %v", err)
		}
		a, err := jwt.Signed(signer).Claims(tr.claims).Serialize()
		if err != nil {
			t.Fatalf("signing the assertion: %v", err)
		}
		tr.form.Set("client_assertion", a)
	}
	return tr.form.Encode()
}

// newTokenRequest is a valid request for the test app, signed as MSAL signs.
func newTokenRequest(ts *testServer, app certApp) *tokenRequest {
	path := "/" + ts.TenantID() + "/oauth2/v2.0/token"
	now := time.Now()
	return &tokenRequest{
		path: path,
		form: url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {DemoGraphClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_info":           {"1"},
			"scope":                 {"https://graph.microsoft.com/.default openid offline_access profile"},
		},
		alg:     jose.PS256,
		signKey: app.key,
		headers: map[jose.HeaderKey]any{"x5t#S256": x5tS256(app.cert)},
		claims: map[string]any{
			"aud": ts.URL() + path,
			"iss": DemoGraphClientID,
			"sub": DemoGraphClientID,
			"jti": "0f3a5c9e-0000-4000-8000-000000000001",
			"nbf": now.Unix(),
			"exp": now.Add(10 * time.Minute).Unix(),
		},
	}
}

// tokenReply is the token endpoint's reply, success or error.
type tokenReply struct {
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	ExtExpiresIn     int    `json:"ext_expires_in"`
	AccessToken      string `json:"access_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
}

func postToken(t *testing.T, ts *testServer, tr *tokenRequest) (int, tokenReply) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	status, _, b := ts.do(t, "POST", tr.path, "", strings.NewReader(tr.encode(t)), h)
	var reply tokenReply
	if err := json.Unmarshal(b, &reply); err != nil {
		t.Fatalf("token reply %q: %v", b, err)
	}
	return status, reply
}

func TestTokenMetadata(t *testing.T) {
	ts := newTestServer(t)
	tid := ts.TenantID()
	var domain string
	ts.View(func(tn *Tenant) { domain = tn.Domain })

	for _, name := range []string{tid, strings.ToUpper(tid), domain} {
		if name == "" {
			continue
		}
		status, h, b := ts.do(t, "GET", "/"+name+"/v2.0/.well-known/openid-configuration", "", nil, nil)
		if status != http.StatusOK {
			t.Fatalf("metadata for %q: status = %d, want 200", name, status)
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		var md map[string]any
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatal(err)
		}
		base := ts.URL() + "/" + tid
		for field, want := range map[string]string{
			"issuer":                 base + "/v2.0",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"jwks_uri":               base + "/discovery/v2.0/keys",
		} {
			if got := md[field]; got != want {
				t.Errorf("metadata for %q: %s = %v, want %s", name, field, got, want)
			}
		}
		if _, ok := md["response_types_supported"].([]any); !ok {
			t.Errorf("metadata for %q: response_types_supported missing", name)
		}
	}

	status, _, b := ts.do(t, "GET", "/"+tid+"/discovery/v2.0/keys", "", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"keys":[]`) {
		t.Errorf("keys: status %d body %s, want 200 with an empty key set", status, b)
	}
}

func TestTokenMetadataUnknownTenant(t *testing.T) {
	ts := newTestServer(t)
	for _, name := range []string{"contoso.onmicrosoft.com", "common", "00000000-0000-0000-0000-000000000000"} {
		status, _, b := ts.do(t, "GET", "/"+name+"/v2.0/.well-known/openid-configuration", "", nil, nil)
		var reply tokenReply
		json.Unmarshal(b, &reply)
		if status != http.StatusBadRequest || reply.Error != "invalid_tenant" {
			t.Errorf("metadata for %q: status %d error %q, want 400 invalid_tenant", name, status, reply.Error)
		}
		if want := "AADSTS90002: Tenant '" + name + "' not found."; !strings.HasPrefix(reply.ErrorDescription, want) {
			t.Errorf("error_description = %q, want prefix %q", reply.ErrorDescription, want)
		}
		if len(reply.ErrorCodes) != 1 || reply.ErrorCodes[0] != 90002 {
			t.Errorf("error_codes = %v, want [90002]", reply.ErrorCodes)
		}
	}
}

func TestTokenExchange(t *testing.T) {
	ts := newTestServer(t)
	app := newCertApp(t, "portal")
	ts.RegisterApp(App{ClientID: DemoGraphClientID, Certificate: app.cert, Permissions: []string{"User.Read.All"}})

	status, reply := postToken(t, ts, newTokenRequest(ts, app))
	if status != http.StatusOK {
		t.Fatalf("token: status = %d (%s: %s), want 200", status, reply.Error, reply.ErrorDescription)
	}
	if reply.TokenType != "Bearer" || reply.ExpiresIn != 3599 || reply.ExtExpiresIn != 3599 || reply.AccessToken == "" {
		t.Errorf("token reply = %+v, want a Bearer token for 3599 s", reply)
	}
	if status, _, b := ts.do(t, "GET", testRoot+"/dir", reply.AccessToken, nil, nil); status != http.StatusOK {
		t.Errorf("Graph call with the issued token: status = %d, body %s; want 200", status, b)
	}
	if status, _, _ := ts.do(t, "GET", testRoot+"/methods", reply.AccessToken, nil, nil); status != http.StatusForbidden {
		t.Errorf("Graph call beyond the app's permissions: status = %d, want 403", status)
	}
}

func TestTokenAccepted(t *testing.T) {
	ts := newTestServer(t)
	app := newCertApp(t, "portal")
	ts.RegisterApp(App{ClientID: DemoGraphClientID, Certificate: app.cert})
	var domain string
	ts.View(func(tn *Tenant) { domain = tn.Domain })

	tests := []struct {
		name   string
		mutate func(tr *tokenRequest)
	}{
		{"RS256", func(tr *tokenRequest) { tr.alg = jose.RS256 }},
		{"US government cloud", func(tr *tokenRequest) { tr.form.Set("scope", "https://graph.microsoft.us/.default") }},
		{"China cloud", func(tr *tokenRequest) { tr.form.Set("scope", "https://microsoftgraph.chinacloudapi.cn/.default") }},
		{"aud as a list", func(tr *tokenRequest) { tr.claims["aud"] = []string{tr.claims["aud"].(string)} }},
		{"slightly early nbf", func(tr *tokenRequest) { tr.claims["nbf"] = time.Now().Add(2 * time.Minute).Unix() }},
		{"domain in the path", func(tr *tokenRequest) {
			if domain == "" {
				t.Skip("tenant has no domain")
			}
			tr.path = "/" + domain + "/oauth2/v2.0/token"
			tr.claims["aud"] = ts.URL() + tr.path
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTokenRequest(ts, app)
			tt.mutate(tr)
			status, reply := postToken(t, ts, tr)
			if status != http.StatusOK || reply.AccessToken == "" {
				t.Errorf("token: status = %d (%s: %s), want 200 with a token", status, reply.Error, reply.ErrorDescription)
			}
		})
	}
}

func TestTokenRefused(t *testing.T) {
	ts := newTestServer(t)
	app := newCertApp(t, "portal")
	other := newCertApp(t, "intruder")
	ts.RegisterApp(App{ClientID: DemoGraphClientID, Certificate: app.cert, Permissions: AllPermissions})
	ts.RegisterApp(App{ClientID: "7c1d0a52-0000-4000-8000-00000000c0de"}) // no certificate

	tests := []struct {
		name       string
		mutate     func(tr *tokenRequest)
		wantStatus int
		wantError  string
		wantCode   int
	}{
		{"unknown tenant", func(tr *tokenRequest) {
			tr.path = "/contoso.onmicrosoft.com/oauth2/v2.0/token"
			tr.claims["aud"] = ts.URL() + tr.path
		}, 400, "invalid_tenant", 90002},
		{"no grant type", func(tr *tokenRequest) { tr.form.Del("grant_type") }, 400, "invalid_request", 900144},
		{"wrong grant", func(tr *tokenRequest) { tr.form.Set("grant_type", "password") }, 400, "unsupported_grant_type", 70003},
		{"no client id", func(tr *tokenRequest) { tr.form.Del("client_id") }, 400, "invalid_request", 900144},
		{"no scope", func(tr *tokenRequest) { tr.form.Del("scope") }, 400, "invalid_request", 900144},
		{"delegated scope", func(tr *tokenRequest) { tr.form.Set("scope", "User.Read.All") }, 400, "invalid_scope", 1002012},
		{"Graph scope without .default", func(tr *tokenRequest) {
			tr.form.Set("scope", "https://graph.microsoft.com/User.Read.All")
		}, 400, "invalid_scope", 1002012},
		{"only OpenID scopes", func(tr *tokenRequest) { tr.form.Set("scope", "openid profile") }, 400, "invalid_scope", 1002012},
		{"other resource", func(tr *tokenRequest) {
			tr.form.Set("scope", "https://management.azure.com/.default")
		}, 400, "invalid_resource", 500011},
		{"two resources", func(tr *tokenRequest) {
			tr.form.Set("scope", "https://graph.microsoft.com/.default https://graph.microsoft.us/.default")
		}, 400, "invalid_scope", 28000},
		{"unknown client", func(tr *tokenRequest) {
			tr.form.Set("client_id", "99999999-0000-4000-8000-000000000000")
			tr.claims["iss"], tr.claims["sub"] = "99999999-0000-4000-8000-000000000000", "99999999-0000-4000-8000-000000000000"
		}, 400, "unauthorized_client", 700016},
		{"client secret", func(tr *tokenRequest) { tr.form.Set("client_secret", "hunter2") }, 401, "invalid_client", 7000215},
		{"no assertion", func(tr *tokenRequest) { tr.signKey = nil }, 401, "invalid_client", 7000218},
		{"wrong assertion type", func(tr *tokenRequest) {
			tr.form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}, 401, "invalid_client", 7000218},
		{"not a JWT", func(tr *tokenRequest) { tr.form.Set("client_assertion", "not.a.jwt") }, 401, "invalid_client", 50027},
		{"HS256", func(tr *tokenRequest) { tr.alg, tr.signKey = jose.HS256, []byte("0123456789abcdef0123456789abcdef") }, 401, "invalid_client", 50027},
		{"wrong signature", func(tr *tokenRequest) { tr.signKey = other.key }, 401, "invalid_client", 700027},
		{"unregistered certificate", func(tr *tokenRequest) {
			tr.signKey = other.key
			tr.headers["x5t#S256"] = x5tS256(other.cert)
		}, 401, "invalid_client", 700027},
		{"no x5t#S256", func(tr *tokenRequest) { delete(tr.headers, "x5t#S256") }, 401, "invalid_client", 700027},
		{"SHA-1 x5t only", func(tr *tokenRequest) {
			sum := sha1.Sum(app.cert.Raw)
			delete(tr.headers, "x5t#S256")
			tr.headers["x5t"] = base64.StdEncoding.EncodeToString(sum[:])
		}, 401, "invalid_client", 700027},
		{"x5t#S256 in URL-safe base64", func(tr *tokenRequest) {
			sum := sha256.Sum256(app.cert.Raw)
			tr.headers["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
		}, 401, "invalid_client", 700027},
		{"app without certificate", func(tr *tokenRequest) {
			id := "7c1d0a52-0000-4000-8000-00000000c0de"
			tr.form.Set("client_id", id)
			tr.claims["iss"], tr.claims["sub"] = id, id
		}, 401, "invalid_client", 700027},
		{"wrong aud", func(tr *tokenRequest) {
			tr.claims["aud"] = "https://login.microsoftonline.com/" + ts.TenantID() + "/oauth2/v2.0/token"
		}, 401, "invalid_client", 700023},
		{"aud with a trailing slash", func(tr *tokenRequest) { tr.claims["aud"] = tr.claims["aud"].(string) + "/" }, 401, "invalid_client", 700023},
		{"iss differs from sub", func(tr *tokenRequest) { tr.claims["sub"] = "someone-else" }, 401, "invalid_client", 700021},
		{"iss differs from client id", func(tr *tokenRequest) {
			tr.claims["iss"], tr.claims["sub"] = "someone-else", "someone-else"
		}, 401, "invalid_client", 700021},
		{"expired", func(tr *tokenRequest) {
			tr.claims["nbf"] = time.Now().Add(-30 * time.Minute).Unix()
			tr.claims["exp"] = time.Now().Add(-10 * time.Minute).Unix()
		}, 401, "invalid_client", 700024},
		{"not yet valid", func(tr *tokenRequest) { tr.claims["nbf"] = time.Now().Add(10 * time.Minute).Unix() }, 401, "invalid_client", 700024},
		{"no jti", func(tr *tokenRequest) { delete(tr.claims, "jti") }, 400, "invalid_request", 90014},
		{"no exp", func(tr *tokenRequest) { delete(tr.claims, "exp") }, 400, "invalid_request", 90014},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTokenRequest(ts, app)
			tt.mutate(tr)
			status, reply := postToken(t, ts, tr)
			if status != tt.wantStatus || reply.Error != tt.wantError {
				t.Fatalf("token: status %d error %q (%s), want %d %q", status, reply.Error, reply.ErrorDescription, tt.wantStatus, tt.wantError)
			}
			if prefix := "AADSTS" + strconv.Itoa(tt.wantCode) + ": "; !strings.HasPrefix(reply.ErrorDescription, prefix) {
				t.Errorf("error_description = %q, want prefix %q", reply.ErrorDescription, prefix)
			}
			if len(reply.ErrorCodes) != 1 || reply.ErrorCodes[0] != tt.wantCode {
				t.Errorf("error_codes = %v, want [%d]", reply.ErrorCodes, tt.wantCode)
			}
			if reply.TraceID == "" || reply.AccessToken != "" {
				t.Errorf("reply = %+v, want a trace id and no token", reply)
			}
		})
	}
}

func TestTokenEndpointGet(t *testing.T) {
	ts := newTestServer(t)
	if status, _, _ := ts.do(t, "GET", "/"+ts.TenantID()+"/oauth2/v2.0/token", "", nil, nil); status != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: status = %d, want 405", status)
	}
}

func TestAuthAppCertificate(t *testing.T) {
	app := newCertApp(t, "helpdesk portal")
	c := app.cert
	if c.Subject.CommonName != "helpdesk portal" {
		t.Errorf("CommonName = %q, want %q", c.Subject.CommonName, "helpdesk portal")
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
	if life := time.Until(c.NotAfter); life < 729*24*time.Hour || life > 732*24*time.Hour {
		t.Errorf("certificate lives %v more, want about two years", life)
	}
	if _, _, _, err := GenerateAppCertificate(""); err == nil {
		t.Error("GenerateAppCertificate(\"\") succeeded, want an error")
	}
}

func TestAuthorize(t *testing.T) {
	ts := newTestServer(t)
	ts.RegisterApp(App{ClientID: "reader", Permissions: []string{"Directory.Read.All"}})
	ts.RegisterApp(App{ClientID: "auditor", Permissions: []string{"AuditLog.Read.All"}})
	issue := func(id string) string {
		tok, err := ts.IssueToken(id)
		if err != nil {
			t.Fatalf("IssueToken(%q): %v", id, err)
		}
		return tok
	}
	expired := issue(DemoGraphClientID)
	ts.mu.Lock()
	ts.tokens[expired].expires = time.Now().Add(-time.Minute)
	ts.mu.Unlock()

	tests := []struct {
		name        string
		path        string
		auth        string
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{"full permissions", "/dir", "Bearer " + issue(DemoGraphClientID), 200, "", ""},
		{"second accepted permission", "/dir", "Bearer " + issue("reader"), 200, "", ""},
		{"lowercase scheme", "/dir", "bearer " + issue(DemoGraphClientID), 200, "", ""},
		{"no token", "/dir", "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"empty bearer", "/dir", "Bearer ", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"basic scheme", "/dir", "Basic dXNlcjpwYXNz", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"garbage token", "/dir", "Bearer eyJ0eXAiOiJKV1QifQ.garbage", 401, "InvalidAuthenticationToken",
			"Access token validation failure. Invalid audience."},
		{"expired token", "/dir", "Bearer " + expired, 401, "InvalidAuthenticationToken",
			"Lifetime validation failed, the token is expired."},
		{"directory permission missing", "/dir", "Bearer " + issue("auditor"), 403, "Authorization_RequestDenied",
			"Insufficient privileges to complete the operation."},
		{"methods permission missing", "/methods", "Bearer " + issue("reader"), 403, "accessDenied", "Request Authorization failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			status, rh, b := ts.do(t, "GET", testRoot+tt.path, "", nil, h)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tt.wantStatus, b)
			}
			if tt.wantStatus == 200 {
				return
			}
			e := decodeGraphError(t, b)
			if e.Error.Code != tt.wantCode || e.Error.Message != tt.wantMessage {
				t.Errorf("error = %q %q, want %q %q", e.Error.Code, e.Error.Message, tt.wantCode, tt.wantMessage)
			}
			if e.Error.InnerError.RequestID == "" || e.Error.InnerError.RequestID != rh.Get("request-id") {
				t.Errorf("innerError request-id = %q, header = %q; want equal and set", e.Error.InnerError.RequestID, rh.Get("request-id"))
			}
			if got := rh.Get("WWW-Authenticate"); (status == 401) != strings.HasPrefix(got, "Bearer ") {
				t.Errorf("status %d with WWW-Authenticate %q; want a Bearer challenge exactly on 401", status, got)
			}
		})
	}
}

func TestAuthorizeKeepsPermissionsOfIssue(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t)
	ts.RegisterApp(App{ClientID: DemoGraphClientID})
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", tok, nil, nil); status != http.StatusOK {
		t.Errorf("token issued before the permissions were withdrawn: status = %d, want 200", status)
	}
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", ts.token(t), nil, nil); status != http.StatusForbidden {
		t.Errorf("token issued after the permissions were withdrawn: status = %d, want 403", status)
	}
}

func TestAuthIssueTokenUnknownApp(t *testing.T) {
	ts := newTestServer(t)
	if tok, err := ts.IssueToken("nobody"); err == nil {
		t.Errorf("IssueToken(nobody) = %q, want an error", tok)
	}
}
