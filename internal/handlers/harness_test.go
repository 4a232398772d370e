package handlers_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/testutil"
)

// harness is a portal on the demo tenant, served on a loopback port, with
// the real Graph SDK against the emulator and real OpenID sign-in against
// the embedded provider.
type harness struct {
	url  string
	demo *app.Demo
	app  *app.App
	db   string
	logs *testutil.Buffer
	cert string
	cfg  config.Config
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dir := t.TempDir()
	db := filepath.Join(dir, "portal.db")
	vars := map[string]string{"PORTAL_PUBLIC_URL": base, "PORTAL_DATABASE_URL": "sqlite:" + db}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	demo, err := app.StartDemo(&cfg, dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Close)
	h := &harness{url: base, demo: demo, db: db, logs: logs, cert: cfg.GraphCertFile, cfg: cfg}
	h.app = h.serve(t, ln)
	return h
}

// serve runs a portal with the harness's configuration on ln.
func (h *harness) serve(t *testing.T, ln net.Listener) *app.App {
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), h.cfg, logger, app.Options{RootCAs: h.demo.Graph.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	return a
}

// sibling starts a second portal on the same database, demo tenant and
// session keys, as a second replica behind a load balancer would be. Its
// browsers sign in through the first (the provider knows one redirect
// URI) and share their cookies, which carry no port.
func (h *harness) sibling(t *testing.T) *harness {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := *h
	s.url = "http://" + ln.Addr().String()
	s.app = s.serve(t, ln)
	return &s
}

// via returns a browser with b's cookies that talks to h.
func (h *harness) via(b *browser) *browser {
	return &browser{t: b.t, h: h, client: b.client}
}

// appCert returns the certificate the demo registered for the portal.
func (h *harness) appCert(t *testing.T) *x509.Certificate {
	certs, _, err := graph.LoadCertificate(h.cert, "")
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// browser is a cookie-keeping client that does not follow redirects on
// its own unless asked.
type browser struct {
	t      *testing.T
	h      *harness
	client *http.Client
}

func (h *harness) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, h: h, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (b *browser) do(req *http.Request, follow bool) page {
	b.t.Helper()
	for range 10 {
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if !follow || loc == "" || resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return page{status: resp.StatusCode, header: resp.Header, body: string(body), url: req.URL}
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
	}
	b.t.Fatal("too many redirects")
	return page{}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(path), nil)
	return b.do(req, true)
}

func (b *browser) getNoFollow(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(path), nil)
	return b.do(req, false)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req, true)
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.h.url + path
}

var (
	authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	passcodeRE    = regexp.MustCompile(`<p id="passcode" class="passcode"[^>]*>([^<]+)</p>`)
)

// signIn runs the whole OpenID flow as persona and returns the page it
// lands on.
func (b *browser) signIn(persona, returnTo string) page {
	b.t.Helper()
	picker := b.get("/auth/login?return_to=" + url.QueryEscape(returnTo))
	m := authRequestRE.FindStringSubmatch(picker.body)
	if picker.status != http.StatusOK || m == nil {
		b.t.Fatalf("sign-in did not reach the persona picker: %d %s", picker.status, picker.body)
	}
	form := url.Values{"authRequestID": {html.UnescapeString(m[1])}, "persona": {persona}}
	req, _ := http.NewRequest(http.MethodPost, picker.url.Scheme+"://"+picker.url.Host+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req, true)
}

// callbackURL runs the flow up to the portal's callback and returns its
// URL without visiting it.
func (b *browser) callbackURL(persona string) string {
	b.t.Helper()
	picker := b.get("/auth/login")
	m := authRequestRE.FindStringSubmatch(picker.body)
	if m == nil {
		b.t.Fatalf("no persona picker: %s", picker.body)
	}
	form := url.Values{"authRequestID": {html.UnescapeString(m[1])}, "persona": {persona}}
	req, _ := http.NewRequest(http.MethodPost, picker.url.Scheme+"://"+picker.url.Host+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for range 10 {
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		next, err := req.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			b.t.Fatalf("the flow stopped at %s with %d", req.URL, resp.StatusCode)
		}
		if strings.HasPrefix(next.String(), b.h.url+"/auth/callback") {
			return next.String()
		}
		req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
	}
	b.t.Fatal("never reached the callback")
	return ""
}

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page %s", p.url)
	}
	return html.UnescapeString(m[1])
}

// signedIn returns a browser signed in as persona.
func (h *harness) signedIn(t *testing.T, persona string) *browser {
	b := h.browser(t)
	p := b.signIn(persona, "/search")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Find a user") {
		t.Fatalf("signing in as %s landed on %d %s", persona, p.status, p.url)
	}
	return b
}

// user returns a copy of the first seeded user that match accepts.
func (h *harness) user(t *testing.T, what string, match func(*graphemu.User, *graphemu.Tenant) bool) graphemu.User {
	t.Helper()
	var found *graphemu.User
	h.demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if found == nil && match(u, tn) {
				c := *u
				found = &c
			}
		}
	})
	if found == nil {
		t.Fatalf("the demo tenant has no %s", what)
	}
	return *found
}

func memberOf(tn *graphemu.Tenant, userID string, groupIDs ...string) bool {
	for _, g := range tn.Groups {
		for _, id := range groupIDs {
			if g.ID == id {
				for _, m := range g.Members {
					if m == userID {
						return true
					}
				}
			}
		}
	}
	return false
}

func holdsRole(tn *graphemu.Tenant, userID string) bool {
	for _, r := range tn.Roles {
		for _, m := range r.Members {
			if m == userID || memberOf(tn, userID, m) {
				return true
			}
		}
	}
	return false
}

func excluded(tn *graphemu.Tenant, userID string) bool {
	for _, x := range tn.Policy.ExcludeTargets {
		if memberOf(tn, userID, x.ID) {
			return true
		}
	}
	return false
}

// eligible finds an eligible user: enabled member, no role, inside the
// policy, not a persona, plain name.
func (h *harness) eligible(t *testing.T, withTAP bool) graphemu.User {
	now := h.demo.Graph.Clock().Now()
	return h.user(t, "eligible user", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		hasUsable := u.TAP != nil && !u.TAP.Used && !now.Before(u.TAP.Start) && now.Before(u.TAP.Start.Add(minutes(u.TAP.LifetimeMinutes)))
		for _, g := range h.cfg.ProtectedGroupIDs {
			if tn.IsMemberOf(u.ID, g) {
				return false
			}
		}
		return u.UserType == "Member" && u.AccountEnabled && !holdsRole(tn, u.ID) && !excluded(tn, u.ID) &&
			!strings.ContainsAny(u.DisplayName, "<>&'\"") && u.ID != graphemu.OperatorUserID && u.ID != graphemu.SupervisorUserID &&
			u.ID != graphemu.OtherOperatorUserID && u.ID != graphemu.NoRoleUserID && hasUsable == withTAP && (withTAP || u.TAP == nil)
	})
}

// dbDump returns every text value of every table, to search for secrets.
func (h *harness) dbDump(t *testing.T) string {
	db, err := sql.Open("sqlite", "file:"+h.db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var out strings.Builder
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for _, v := range vals {
				switch x := v.(type) {
				case string:
					out.WriteString(x + "\n")
				case []byte:
					out.Write(x)
					out.WriteString("\n")
				}
			}
		}
		rows.Close()
	}
	return out.String()
}
