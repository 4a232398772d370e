package handlers_test

import (
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
)

// harness is a portal on the demo tenant, served on a loopback port, with
// the real Graph SDK against the emulator and real OpenID sign-in against
// the embedded provider.
type harness struct {
	*demotest.Portal
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	return &harness{demotest.Start(t, demotest.Options{Env: env})}
}

// sibling starts a second portal on the same database, demo tenant and
// session keys (see demotest.Portal.Replica).
func (h *harness) sibling(t *testing.T) *harness {
	return &harness{h.Replica(t)}
}

// via returns a browser with b's cookies that talks to h.
func (h *harness) via(b *browser) *browser {
	return &browser{t: b.t, h: h, client: b.client}
}

// appCert returns the certificate the demo registered for the portal.
func (h *harness) appCert(t *testing.T) *x509.Certificate {
	certs, _, err := graph.LoadCertificate(h.Config.GraphCertFile, "")
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
	return b.do(b.postRequest(path, form), true)
}

// postNoFollow posts a form and returns the answer, a redirect included.
func (b *browser) postNoFollow(path string, form url.Values) page {
	b.t.Helper()
	return b.do(b.postRequest(path, form), false)
}

func (b *browser) postRequest(path string, form url.Values) *http.Request {
	if strings.HasSuffix(path, "/issue") && form.Has("csrf") && !form.Has("submission") {
		// As a loaded form would: each post without one is a form of its
		// own. Tests of repeats and missing ids set the field themselves.
		form = maps.Clone(form)
		form.Set("submission", issuance.NewSubmission())
	}
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.h.URL + path
}

var (
	authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	passcodeRE    = regexp.MustCompile(`(?s)<p id="passcode" class="passcode"[^>]*>(.*?)</p>`)
	tagRE         = regexp.MustCompile(`<[^>]*>`)
)

// passcodeIn returns the passcode a page shows, as the operator reads it
// (the page marks up each character), or "" when it shows none.
func passcodeIn(body string) string {
	m := passcodeRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(tagRE.ReplaceAllString(m[1], ""))
}

// leaks reports whether s holds code as it is or in any escaping a log,
// a page, a URL or a JSON column would give it.
func leaks(s, code string) bool {
	quoted, _ := json.Marshal(code)
	for _, form := range []string{code, string(quoted[1 : len(quoted)-1]), html.EscapeString(code), url.QueryEscape(code), url.PathEscape(code)} {
		if strings.Contains(s, form) {
			return true
		}
	}
	return false
}

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
		if strings.HasPrefix(next.String(), b.h.URL+"/auth/callback") {
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
	return demotest.Find(t, h.Demo.Graph, what, match)
}

// eligible finds a user the portal will issue a pass to, with a usable
// pass or with none.
func (h *harness) eligible(t *testing.T, withTAP bool) graphemu.User {
	w := demotest.Want{Pass: demotest.NoPass}
	if withTAP {
		w.Pass = demotest.UsablePass
	}
	return h.EligibleUser(t, w)
}

// dbDump returns every text value of every table, to search for secrets.
func (h *harness) dbDump(t *testing.T) string { return dumpSQLite(t, h.DBPath) }

// dumpSQLite returns every text value of every table of the SQLite
// database at path.
func dumpSQLite(t *testing.T, path string) string {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
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
