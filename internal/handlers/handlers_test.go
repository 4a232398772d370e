package handlers_test

import (
	"compress/gzip"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

func TestSignInRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	for _, tt := range []struct {
		persona string
		status  int
		want    string
	}{
		{"operator", http.StatusOK, "Priya Natarajan"},
		{"supervisor", http.StatusOK, "Supervisor"},
		{"no-role", http.StatusForbidden, "No access"},
		{"other-role-name", http.StatusForbidden, "No access"},
	} {
		t.Run(tt.persona, func(t *testing.T) {
			b := h.browser(t)
			p := b.signIn(tt.persona, "/search?q=ad")
			if p.status != tt.status || !strings.Contains(p.body, tt.want) {
				t.Fatalf("sign-in as %s = %d, want %d with %q", tt.persona, p.status, tt.status, tt.want)
			}
			if tt.status == http.StatusOK && p.url.RequestURI() != "/search?q=ad" {
				t.Fatalf("landed on %s, want the page the sign-in started from", p.url.RequestURI())
			}
			if tt.status != http.StatusOK {
				toSignIn(t, b.getNoFollow("/search"), "/search")
			}
		})
	}

	t.Run("the role value is configurable", func(t *testing.T) {
		h := newHarness(t, map[string]string{"PORTAL_ROLE_OPERATOR": "Helpdesk.TemporaryAccessPass"})
		p := h.browser(t).signIn("other-role-name", "/search")
		if p.status != http.StatusOK || !strings.Contains(p.body, "Operator") {
			t.Fatalf("operator with the configured role value = %d", p.status)
		}
	})
}

func TestSignInRequestCarriesPKCEStateNonce(t *testing.T) {
	h := newHarness(t, nil)
	b := h.browser(t)
	p := b.getNoFollow("/auth/login")
	if p.status != http.StatusFound {
		t.Fatalf("/auth/login = %d, want a redirect", p.status)
	}
	u, _ := url.Parse(p.header.Get("Location"))
	q := u.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("authorization request %s = %q, want a random value", k, q.Get(k))
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
		t.Errorf("authorization request = %s, want the code flow with S256", u.RawQuery)
	}
	if strings.Contains(p.header.Get("Location"), "code_verifier") {
		t.Error("the PKCE verifier left the portal")
	}
}

func TestCallbackRefusals(t *testing.T) {
	h := newHarness(t, nil)

	t.Run("replayed callback", func(t *testing.T) {
		b := h.browser(t)
		cb := b.callbackURL("operator")
		if p := b.get(cb); p.status != http.StatusOK {
			t.Fatalf("first callback = %d", p.status)
		}
		b2 := h.browser(t)
		if p := b2.get(cb); p.status != http.StatusUnauthorized {
			t.Fatalf("the callback replayed in another browser = %d, want 401", p.status)
		}
		if p := b.getNoFollow(cb); p.status != http.StatusUnauthorized {
			t.Fatalf("the callback replayed in the same browser = %d, want 401", p.status)
		}
	})
	t.Run("forged state", func(t *testing.T) {
		b := h.browser(t)
		cb, _ := url.Parse(b.callbackURL("operator"))
		q := cb.Query()
		q.Set("state", "forged-"+q.Get("state"))
		cb.RawQuery = q.Encode()
		p := b.get(cb.String())
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "could not be completed") {
			t.Fatalf("forged state = %d", p.status)
		}
		toSignIn(t, b.getNoFollow("/search"), "/search")
	})
	t.Run("code without the sign-in that asked for it", func(t *testing.T) {
		attacker := h.browser(t)
		cb := attacker.callbackURL("supervisor")
		victim := h.browser(t)
		victim.getNoFollow("/auth/login") // the victim has a sign-in of their own in progress
		if p := victim.get(cb); p.status != http.StatusUnauthorized {
			t.Fatalf("a code injected into another browser's sign-in = %d, want 401", p.status)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		b := h.browser(t)
		b.getNoFollow("/auth/login")
		p := b.get("/auth/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E")
		if p.status != http.StatusUnauthorized || strings.Contains(p.body, "<script>alert") {
			t.Fatalf("provider error = %d, body escaped: %v", p.status, !strings.Contains(p.body, "<script>alert"))
		}
	})
}

func TestAnonymousAccess(t *testing.T) {
	h := newHarness(t, nil)
	b := h.browser(t)
	p := b.getNoFollow("/users/" + graphemu.OperatorUserID)
	if p.status != http.StatusFound || p.header.Get("Location") != "/auth/login?return_to=%2Fusers%2F"+graphemu.OperatorUserID {
		t.Fatalf("anonymous user page = %d to %q, want a redirect to sign in that comes back", p.status, p.header.Get("Location"))
	}
	p = b.post("/users/"+graphemu.OperatorUserID+"/issue", url.Values{"reason": {"x"}})
	if p.status != http.StatusUnauthorized {
		t.Fatalf("anonymous issue = %d, want 401", p.status)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if p := b.get(path); p.status != http.StatusOK {
			t.Fatalf("%s = %d %s", path, p.status, p.body)
		}
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	h := newHarness(t, nil)
	for _, target := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/auth/logout"} {
		b := h.browser(t)
		p := b.signIn("operator", target)
		if p.url.Host != strings.TrimPrefix(h.URL, "http://") || p.url.Path != "/search" {
			t.Errorf("return_to %q landed on %s, want /search on the portal", target, p.url)
		}
	}
}

func TestSearch(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	markup := h.user(t, "user with markup", func(u *graphemu.User, _ *graphemu.Tenant) bool { return strings.Contains(u.DisplayName, "<") })

	for _, tt := range []struct {
		name, q string
		status  int
		want    string
	}{
		{"finds by name", "Priya", http.StatusOK, "priya"},
		{"finds by surname, with the count", "Herrera", http.StatusOK, "1 user matches “<bdi>Herrera</bdi>”"},
		{"shows the pass on the row", "Herrera", http.StatusOK, `<td data-label="Pass"><span class="badge badge-success">Usable</span>`},
		{"finds by employee id", "nw10629", http.StatusOK, "tomas.herrera@"},
		{"finds by object id", "A1000000-0000-4000-8000-000000000017", http.StatusOK, "tomas.herrera@"},
		{"finds a pasted address in another case", "TOMAS.HERRERA@", http.StatusOK, "Tomás Herrera"},
		{"quote", "O'", http.StatusOK, "O&#39;"},
		{"injection", "') or startswith(displayName,'", http.StatusOK, "No user matches"},
		{"too long", strings.Repeat("x", 10000), http.StatusBadRequest, "too long"},
		{"markup is escaped", "<img", http.StatusOK, html.EscapeString(markup.DisplayName)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get("/search?q=" + url.QueryEscape(tt.q))
			if p.status != tt.status || !strings.Contains(strings.ToLower(p.body), strings.ToLower(tt.want)) {
				t.Fatalf("search %q = %d, want %d containing %q", tt.q, p.status, tt.status, tt.want)
			}
			if strings.Contains(p.body, "<img src=x") || strings.Contains(p.body, "<script>alert") {
				t.Fatal("markup from Graph reached the page unescaped")
			}
		})
	}

	t.Run("htmx gets the results alone", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.URL+"/search?q=Priya", nil)
		req.Header.Set("HX-Request", "true")
		p := b.do(req, false)
		if p.status != http.StatusOK || strings.Contains(p.body, "<html") || !strings.Contains(p.body, `id="results"`) {
			t.Fatalf("htmx search = %d, want the result fragment", p.status)
		}
	})
}

func TestUserPage(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	admin := h.user(t, "admin", func(u *graphemu.User, tn *graphemu.Tenant) bool { return len(tn.RolesOf(u.ID)) > 0 && u.AccountEnabled })
	guest := h.user(t, "guest", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.UserType == "Guest" })
	disabled := h.user(t, "disabled", func(u *graphemu.User, _ *graphemu.Tenant) bool { return !u.AccountEnabled })
	plain := h.eligible(t, false)

	for _, tt := range []struct {
		name string
		id   string
		want []string
	}{
		{"eligible", plain.ID, []string{"Eligible.", "Issue a pass", "Sign-in methods", "Password"}},
		{"admin", admin.ID, []string{"Not eligible", "privileged in the directory"}},
		{"guest", guest.ID, []string{"Not eligible", "Guests cannot get a pass"}},
		{"disabled", disabled.ID, []string{"Not eligible", "disabled"}},
		{"self", graphemu.OperatorUserID, []string{"Not eligible", "your own account"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get("/users/" + url.PathEscape(tt.id))
			if p.status != http.StatusOK {
				t.Fatalf("user page = %d", p.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("user page lacks %q", w)
				}
			}
			if tt.name != "eligible" && strings.Contains(p.body, "/issue\"") {
				t.Error("an ineligible user's page offers the issue form")
			}
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		p := b.get("/users/nobody@" + graphemu.DemoDomain)
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "was not found") || !strings.Contains(p.body, "request id") {
			t.Fatalf("unknown user = %d", p.status)
		}
	})
	t.Run("issue form refused for an admin", func(t *testing.T) {
		p := b.get("/users/" + admin.ID + "/issue")
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "privileged in the directory") {
			t.Fatalf("issue form for an admin = %d", p.status)
		}
	})
}

// issueForm fetches the issue form and returns the CSRF token.
func issueForm(t *testing.T, b *browser, userID string) string {
	t.Helper()
	p := b.get("/users/" + url.PathEscape(userID) + "/issue")
	if p.status != http.StatusOK {
		t.Fatalf("issue form = %d: %s", p.status, p.body)
	}
	return csrfOf(t, p)
}

func TestIssueShowsPasscodeOnce(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	csrf := issueForm(t, b, u.ID)
	p := b.post("/users/"+u.ID+"/issue", url.Values{
		"csrf": {csrf}, "start": {"now"}, "lifetime": {"120"}, "one_time": {"on"},
		"reason": {"New phone, re-registering Authenticator"}, "ticket": {"INC0012345"},
	})
	code := passcodeIn(p.body)
	if p.status != http.StatusOK || len(code) != 8 {
		t.Fatalf("issue = %d, want the passcode page: %s", p.status, p.body)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("passcode page Cache-Control = %q, want no-store", p.header.Get("Cache-Control"))
	}
	// Read out in two groups of four, spelled on request, with its expiry
	// and what to tell the user.
	if n := strings.Count(p.body, `<span class="pc-group">`); n != 2 {
		t.Errorf("the passcode shows in %d groups, want 2", n)
	}
	if n := strings.Count(p.body, "<li><span class=\"pc pc-"); n != 8 {
		t.Errorf("the spelling lists %d characters, want 8", n)
	}
	for _, want := range []string{"Spell it out", "data-countdown>in 2 h</time>", "It works for one sign-in.", "Tell the user", html.EscapeString(config.DefaultPassInstructions)} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the passcode page lacks %q", want)
		}
	}
	if leaks(p.url.String(), code) {
		t.Error("the passcode is in the URL")
	}

	next := b.get("/users/" + u.ID)
	if leaks(next.body, code) {
		t.Error("the passcode appears on the next request")
	}
	if !strings.Contains(next.body, "Usable") || !strings.Contains(next.body, "INC0012345") {
		t.Error("the user page does not show the new pass and its history")
	}
	if dump := h.dbDump(t); leaks(dump, code) {
		t.Error("the passcode is in the database")
	} else if !strings.Contains(dump, "re-registering Authenticator") {
		t.Error("the issuance is not in the history")
	}
	if leaks(h.Logs.String(), code) {
		t.Error("the passcode is in the logs")
	}
	for _, r := range h.Demo.Graph.Requests() {
		if leaks(r.Path+r.Query, code) {
			t.Error("the passcode went into a URL to Graph")
		}
	}
}

func TestIssueReplacesAfterConfirmation(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, true)
	csrf := issueForm(t, b, u.ID)
	form := url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Lost the first pass"}}
	p := b.post("/users/"+u.ID+"/issue", form)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "Confirm that the new pass replaces") || passcodeRE.MatchString(p.body) {
		t.Fatalf("issue over an existing pass without confirming = %d", p.status)
	}
	if !strings.Contains(p.body, "Lost the first pass") {
		t.Error("the reason typed was lost")
	}
	form.Set("confirm_replace", "yes")
	p = b.post("/users/"+u.ID+"/issue", form)
	if p.status != http.StatusOK || !passcodeRE.MatchString(p.body) {
		t.Fatalf("confirmed replacement = %d", p.status)
	}
}

func TestIssueBadInput(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	csrf := issueForm(t, b, u.ID)
	script := `<script>alert("x")</script>`
	past := time.Now().Add(-2 * time.Hour).Format("2006-01-02T15:04")
	valid := func() url.Values {
		return url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Onboarding"}, "ticket": {"HD-1"}}
	}
	for _, tt := range []struct {
		name  string
		set   map[string]string
		field string
		want  string
	}{
		{"empty reason", map[string]string{"reason": ""}, "reason", "The reason is required."},
		{"blank reason", map[string]string{"reason": "   "}, "reason", "The reason is required."},
		{"reason of 10,000 characters", map[string]string{"reason": strings.Repeat("a", 10000)}, "reason", "too long"},
		{"script in reason", map[string]string{"reason": script}, "reason", "plain text"},
		{"script in ticket", map[string]string{"ticket": script}, "ticket", "letters, digits"},
		{"ticket too long", map[string]string{"ticket": strings.Repeat("1", 65)}, "ticket", "too long"},
		{"lifetime not a number", map[string]string{"lifetime": "abc"}, "lifetime", "Choose a lifetime"},
		{"script in lifetime", map[string]string{"lifetime": script}, "lifetime", "Choose a lifetime"},
		{"lifetime negative", map[string]string{"lifetime": "-60"}, "lifetime", "Choose a lifetime"},
		{"lifetime out of policy", map[string]string{"lifetime": "9999"}, "lifetime", "maximum"},
		{"start in the past", map[string]string{"start": "later", "start_at": past}, "start", "in the past"},
		{"start malformed", map[string]string{"start": "later", "start_at": "tomorrow"}, "start", "date and time"},
		{"script in start", map[string]string{"start": script}, "start", "Choose when"},
		{"script in start_at", map[string]string{"start": "later", "start_at": script}, "start", "date and time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := valid()
			for k, v := range tt.set {
				form.Set(k, v)
			}
			before := len(h.Demo.Graph.Requests())
			p := b.post("/users/"+u.ID+"/issue", form)
			if p.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", p.status)
			}
			if !strings.Contains(p.body, `id="`+tt.field+`-error"`) || !strings.Contains(p.body, tt.want) {
				t.Fatalf("no message %q next to field %s", tt.want, tt.field)
			}
			if strings.Contains(p.body, script) {
				t.Fatal("the script was echoed unescaped")
			}
			if passcodeRE.MatchString(p.body) {
				t.Fatal("a pass was issued")
			}
			for _, r := range h.Demo.Graph.Requests()[before:] {
				if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "temporaryAccessPassMethods") {
					t.Fatal("a create reached Graph")
				}
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, true)
	form := b.get("/users/" + u.ID + "/revoke")
	if form.status != http.StatusOK {
		t.Fatalf("revoke form = %d", form.status)
	}
	csrf := csrfOf(t, form)
	tapID := regexpValue(t, form.body, "tap_id")

	p := b.post("/users/"+u.ID+"/revoke", url.Values{"csrf": {csrf}, "tap_id": {tapID}, "reason": {""}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "The reason is required.") {
		t.Fatalf("revoke without a reason = %d", p.status)
	}
	p = b.post("/users/"+u.ID+"/revoke", url.Values{"csrf": {csrf}, "tap_id": {"not-the-current-pass"}, "reason": {"done"}})
	if p.status != http.StatusConflict {
		t.Fatalf("revoke of a pass that is no longer current = %d, want 409", p.status)
	}
	p = b.post("/users/"+u.ID+"/revoke", url.Values{"csrf": {csrf}, "tap_id": {tapID}, "reason": {"User finished onboarding"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "was revoked") || !strings.Contains(p.body, "has no Temporary Access Pass") {
		t.Fatalf("revoke = %d", p.status)
	}
	if !strings.Contains(p.body, "User finished onboarding") {
		t.Error("the revocation is not in the user's history")
	}
	if p := b.get("/users/" + u.ID + "/revoke"); p.status != http.StatusNotFound {
		t.Fatalf("revoke form with no pass = %d, want 404", p.status)
	}
}

func regexpValue(t *testing.T, body, name string) string {
	t.Helper()
	i := strings.Index(body, `name="`+name+`" value="`)
	if i < 0 {
		t.Fatalf("no field %s", name)
	}
	rest := body[i+len(`name="`+name+`" value="`):]
	return html.UnescapeString(rest[:strings.Index(rest, `"`)])
}

func TestCSRFRequired(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	for _, token := range []string{"", "wrong"} {
		p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {token}, "start": {"now"}, "lifetime": {"60"}, "reason": {"x"}})
		if p.status != http.StatusForbidden || passcodeRE.MatchString(p.body) {
			t.Fatalf("issue with CSRF token %q = %d, want 403", token, p.status)
		}
	}
}

func TestGraphErrorsRenderHelpfulPages(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	path := "/v1.0/users/" + u.ID
	for _, tt := range []struct {
		name   string
		fault  graphemu.Fault
		status int
		want   string
	}{
		{"throttled", graphemu.Fault{Path: path, Status: 429, RetryAfter: time.Second}, http.StatusTooManyRequests, "asked the portal to wait 1 s"},
		{"unavailable", graphemu.Fault{Path: path, Status: 503, RetryAfter: time.Second}, http.StatusServiceUnavailable, "unavailable"},
		{"dropped connection", graphemu.Fault{Path: path, Drop: true}, http.StatusServiceUnavailable, "could not be reached"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			remove := h.Demo.Graph.Inject(tt.fault)
			defer remove()
			p := b.get("/users/" + u.ID)
			if p.status != tt.status || !strings.Contains(p.body, tt.want) {
				t.Fatalf("user page = %d, want %d saying %q", p.status, tt.status, tt.want)
			}
			if tt.fault.Status != 0 && !strings.Contains(p.body, "Microsoft Graph request id") {
				t.Error("the page does not show Graph's request id")
			}
		})
	}
	t.Run("missing permission", func(t *testing.T) {
		// Permissions travel in the token, so the app is re-registered
		// before the fresh portal's first Graph call.
		h := newHarness(t, nil)
		var perms []string
		for _, p := range graphemu.AllPermissions {
			if p != "UserAuthenticationMethod.Read.All" {
				perms = append(perms, p)
			}
		}
		h.Demo.Graph.RegisterApp(graphemu.App{ClientID: graphemu.DemoGraphClientID, Certificate: h.appCert(t), Permissions: perms})
		b := h.signedIn(t, "operator")
		// The methods only inform: their card says what is missing, the
		// rest of the page (the pass, the verdict) stands.
		p := b.get("/users/" + u.ID)
		if p.status != http.StatusOK || !strings.Contains(p.body, "could not be read") || !strings.Contains(p.body, "UserAuthenticationMethod.Read.All") ||
			!strings.Contains(p.body, "Eligible") {
			t.Fatalf("user page without the methods permission = %d, want the page with the methods card saying what is missing", p.status)
		}
	})
}

// Pages go out gzipped to a browser that accepts it, and say they vary by
// Accept-Encoding; the CSRF token they carry is masked afresh on every
// render (a compressed page must not hold a secret beside text an
// attacker chose), and every mask of it is accepted.
func TestPagesCompressedAndTokensMasked(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/search?q=Priya", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	p := b.do(req, false)
	if p.status != http.StatusOK || p.header.Get("Content-Encoding") != "gzip" || !strings.Contains(p.header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("search = %d, Content-Encoding %q, Vary %q; want 200 gzipped, varying by Accept-Encoding", p.status, p.header.Get("Content-Encoding"), p.header.Get("Vary"))
	}
	zr, err := gzip.NewReader(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(plain), "Find a user") || len(p.body) > len(plain)/2 {
		t.Fatalf("gzipped page: %d bytes from %d (%v), want the page at under half its size", len(p.body), len(plain), err)
	}

	first, second := issueForm(t, b, u.ID), issueForm(t, b, u.ID)
	if first == second {
		t.Fatal("two renders carry the same CSRF token: it is not masked")
	}
	for _, tok := range []string{first, second} {
		p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {tok}, "start": {"now"}, "lifetime": {"60"}, "one_time": {"on"}, "reason": {"Masked token check"}, "confirm_replace": {"yes"}})
		if p.status != http.StatusOK || passcodeIn(p.body) == "" {
			t.Fatalf("issuing with a masked token = %d, want the passcode page", p.status)
		}
	}
	for _, bad := range []string{"", first[:len(first)-2], strings.Repeat("A", len(first)), "not-base64!"} {
		p := b.post("/users/"+u.ID+"/issue", url.Values{"csrf": {bad}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Forged"}})
		if p.status != http.StatusForbidden || passcodeIn(p.body) != "" {
			t.Errorf("issuing with token %q = %d, want 403 and nothing issued", bad, p.status)
		}
	}
}

// A refusal says what to do next, in the platform admin's words where
// given; the issue form of a refused user and a refused submit show the
// reasons, not a form to send again.
func TestRefusalsSayWhatToDo(t *testing.T) {
	help := filepath.Join(t.TempDir(), "help.txt")
	if err := os.WriteFile(help, []byte("# ours\nprivileged_role: Call the Tier 0 desk on extension 4410.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, map[string]string{"PORTAL_REFUSAL_HELP_FILE": help})
	b := h.signedIn(t, "operator")
	admin := "/users/" + graphemu.GlobalAdminUserID

	if p := b.get(admin); p.status != http.StatusOK || !strings.Contains(p.body, "What to do:</strong> Call the Tier 0 desk on extension 4410.") {
		t.Fatalf("admin's page = %d, want the refusal with the configured help", p.status)
	}
	for _, p := range []page{
		b.get(admin + "/issue"),
		b.post(admin+"/issue", url.Values{"csrf": {csrfOf(t, b.get(admin))}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Trying anyway"}}),
	} {
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "Nothing was issued.") ||
			!strings.Contains(p.body, "Global Administrator") || !strings.Contains(p.body, "extension 4410") || strings.Contains(p.body, `name="reason"`) {
			t.Errorf("%s = %d, want 403 with the refusal and its help and no form", p.url.Path, p.status)
		}
	}
	// A refusal kind without a configured text keeps the built-in one.
	guest := "/users/" + graphemu.GuestUserID
	if p := b.get(guest); !strings.Contains(p.body, "What to do:</strong> Ask the guest to contact their own organisation") {
		t.Errorf("guest's page lacks the built-in help")
	}

	// A kind the portal does not have is a start-up error, not ignored.
	if err := os.WriteFile(help, []byte("privileged_roles: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string { return map[string]string{"PORTAL_REFUSAL_HELP_FILE": help}[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Options{}); err == nil || !strings.Contains(err.Error(), `"privileged_roles" is not a kind of refusal`) {
		t.Errorf("app.New with an unknown refusal kind = %v, want it refused by name", err)
	}
}

// The no-access page says which roles the sign-in carried and which the
// portal expects, so a mismatch of names is plain.
func TestNoAccessNamesTheRoles(t *testing.T) {
	h := newHarness(t, nil)
	b := h.browser(t)
	p := b.signIn("other-role-name", "")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "<code><bdi>Helpdesk.TemporaryAccessPass</bdi></code>") ||
		!strings.Contains(p.body, "<code>TAP.Operator</code>") || !strings.Contains(p.body, "PORTAL_ROLE_OPERATOR") {
		t.Fatalf("no-access page = %d, want the carried role and the expected ones named", p.status)
	}
	if p := h.browser(t).signIn("no-role", ""); !strings.Contains(p.body, "carried no roles") {
		t.Errorf("no-access page without roles does not say so")
	}
}
