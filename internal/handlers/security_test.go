package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/graph/query"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
)

// attack is one way someone might try to get around the portal's rules.
// Each must be refused with the right status and message, and nothing
// may be issued or revoked.
type attack struct {
	name string
	run  func(t *testing.T, s *securityEnv)
}

// securityEnv is a portal with guardrails configured, an operator signed
// in, and a way to tell whether anything reached Graph's write endpoints.
type securityEnv struct {
	h        *harness
	op       *browser
	csrf     string
	eligible graphemu.User
	// wants is what the running case expects the history to gain.
	wants []want
}

// want is a record an attack must leave in the history.
type want struct {
	action  portal.Action
	outcome portal.Outcome
	code    string
	target  string
	// reason and ticket are what the record's must start with, when set.
	reason, ticket string
	// detail is what the record's detail must say, when set.
	detail string
}

// mark is where the history and Graph stood before a case.
type mark struct {
	writes, requests int
	lastID           int64
}

func (s *securityEnv) mark(t *testing.T) mark {
	t.Helper()
	m := mark{writes: s.writes(), requests: len(s.h.Demo.Graph.Requests())}
	if newest := s.events(t, 1); len(newest) == 1 {
		m.lastID = newest[0].ID
	}
	return m
}

func (s *securityEnv) events(t *testing.T, limit int) []portal.Event {
	t.Helper()
	events, err := s.h.App.Store.List(context.Background(), portal.EventFilter{Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// expect says what the running case must leave in the history, oldest
// first; a case that says nothing must leave nothing.
func (s *securityEnv) expect(w ...want) { s.wants = w }

// checkSince asserts the history gained exactly what the case expects
// since m, and that no pass was issued or revoked.
func (s *securityEnv) checkSince(t *testing.T, m mark) {
	t.Helper()
	var got []portal.Event
	for _, e := range s.events(t, 200) {
		if e.ID > m.lastID {
			got = append([]portal.Event{e}, got...)
		}
	}
	if len(got) != len(s.wants) {
		t.Fatalf("the history gained %d records (%s), want %d", len(got), summarize(got), len(s.wants))
	}
	for i, w := range s.wants {
		e := got[i]
		switch {
		case e.Action != w.action || e.Outcome != w.outcome:
			t.Fatalf("record %d is %s %s, want %s %s", e.ID, e.Action, e.Outcome, w.action, w.outcome)
		case w.code != "" && e.RefusalCode != w.code:
			t.Fatalf("record %d has refusal code %q, want %q", e.ID, e.RefusalCode, w.code)
		case w.target != "" && e.TargetID != w.target:
			t.Fatalf("record %d is about %q, want %q", e.ID, e.TargetID, w.target)
		case !strings.HasPrefix(e.Reason, w.reason):
			t.Fatalf("record %d has reason %q, want it to start %q", e.ID, e.Reason, w.reason)
		case !strings.HasPrefix(e.Ticket, w.ticket):
			t.Fatalf("record %d has ticket %q, want it to start %q", e.ID, e.Ticket, w.ticket)
		case !strings.Contains(e.Detail, w.detail):
			t.Fatalf("record %d has detail %q, want it to say %q", e.ID, e.Detail, w.detail)
		}
	}
	if n := s.writes(); n != m.writes {
		t.Fatalf("%d pass writes reached Graph, want none", n-m.writes)
	}
}

func summarize(events []portal.Event) string {
	var parts []string
	for _, e := range events {
		parts = append(parts, fmt.Sprintf("%d %s %s %s", e.ID, e.Action, e.Outcome, e.RefusalCode))
	}
	return strings.Join(parts, "; ")
}

const sessionKey = "security-suite-session-key-0123456789abcdef"

func newSecurityEnv(t *testing.T) *securityEnv {
	h := newHarness(t, map[string]string{
		"PORTAL_SESSION_KEYS":        sessionKey,
		"PORTAL_PROTECTED_GROUP_IDS": graphemu.ExecutiveGroupID,
		"PORTAL_METRICS_TOKEN":       metricsToken,
	})
	op := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	return &securityEnv{h: h, op: op, csrf: issueForm(t, op, u.ID), eligible: u}
}

// writes counts the Graph writes (pass create or delete) so far.
func (s *securityEnv) writes() int {
	n := 0
	for _, r := range s.h.Demo.Graph.Requests() {
		if strings.Contains(r.Path, "temporaryAccessPassMethods") && (r.Method == http.MethodPost || r.Method == http.MethodDelete) {
			n++
		}
	}
	return n
}

func (s *securityEnv) issueForm(id string) url.Values {
	return url.Values{"csrf": {s.csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Security suite"}}
}

// refused asserts a page is a refusal with status and message, and that
// no Graph write happened since before.
func (s *securityEnv) refused(t *testing.T, p page, before, status int, message string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status = %d, want %d", p.status, status)
	}
	if message != "" && !strings.Contains(p.body, message) {
		t.Fatalf("the page does not say %q", message)
	}
	if passcodeRE.MatchString(p.body) {
		t.Fatal("a passcode was shown")
	}
	if n := s.writes(); n != before {
		t.Fatalf("%d Graph writes happened, want none", n-before)
	}
}

var forgeryAttacks = []attack{
	{"CSRF token missing", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Del("csrf")
		before := s.writes()
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), before, http.StatusForbidden, "did not come from this portal")
	}},
	{"CSRF token wrong", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Set("csrf", s.csrf+"x")
		before := s.writes()
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), before, http.StatusForbidden, "did not come from this portal")
	}},
	{"CSRF token of another session", func(t *testing.T, s *securityEnv) {
		other := s.h.signedIn(t, "operator")
		f := s.issueForm(s.eligible.ID)
		f.Set("csrf", issueForm(t, other, s.eligible.ID))
		before := s.writes()
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), before, http.StatusForbidden, "did not come from this portal")
	}},
	{"CSRF token missing on revoke", func(t *testing.T, s *securityEnv) {
		before := s.writes()
		p := s.op.post("/users/"+graphemu.TAPUsableUserID+"/revoke", url.Values{"reason": {"x"}, "tap_id": {"x"}})
		s.refused(t, p, before, http.StatusForbidden, "did not come from this portal")
	}},
	{"CSRF token missing on sign-out", func(t *testing.T, s *securityEnv) {
		p := s.op.post("/auth/logout", url.Values{})
		if p.status != http.StatusForbidden {
			t.Fatalf("sign-out without a CSRF token = %d, want 403", p.status)
		}
		if p := s.op.get("/search"); p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
			t.Fatal("the session ended anyway")
		}
	}},
	{"GET that tries to issue", func(t *testing.T, s *securityEnv) {
		before := s.writes()
		p := s.op.get("/users/" + s.eligible.ID + "/issue?" + s.issueForm(s.eligible.ID).Encode())
		s.refused(t, p, before, http.StatusOK, "Issue the pass")
	}},
	{"GET that tries to revoke", func(t *testing.T, s *securityEnv) {
		before := s.writes()
		p := s.op.get("/users/" + graphemu.TAPUsableUserID + "/revoke?reason=x&tap_id=x&csrf=" + s.csrf)
		s.refused(t, p, before, http.StatusOK, "Revoke the pass")
	}},
	{"GET sign-out", func(t *testing.T, s *securityEnv) {
		p := s.op.getNoFollow("/auth/logout")
		if p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") != http.MethodPost {
			t.Fatalf("GET /auth/logout = %d, Allow %q; want 405 naming POST", p.status, p.header.Get("Allow"))
		}
		if p := s.op.get("/search"); p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
			t.Fatal("the session ended anyway")
		}
	}},
	{"DELETE and PUT", func(t *testing.T, s *securityEnv) {
		for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch} {
			req, _ := http.NewRequest(m, s.h.URL+"/users/"+graphemu.TAPUsableUserID+"/revoke", nil)
			before := s.writes()
			s.refused(t, s.op.do(req, false), before, http.StatusMethodNotAllowed, "")
		}
	}},
}

var sessionAttacks = []attack{
	{"operator opens supervisor pages", func(t *testing.T, s *securityEnv) {
		for _, path := range []string{"/history", "/history/1", "/history/export.csv", "/history/dashboard"} {
			if p := s.op.get(path); p.status != http.StatusForbidden || !strings.Contains(p.body, "for supervisors") {
				t.Fatalf("operator GET %s = %d, want 403", path, p.status)
			}
		}
	}},
	{"user without a role opens any page", func(t *testing.T, s *securityEnv) {
		b := s.h.browser(t)
		if p := b.signIn("no-role", "/search"); p.status != http.StatusForbidden {
			t.Fatalf("no-role sign-in = %d", p.status)
		}
		for _, path := range []string{"/search", "/users/" + s.eligible.ID, "/my-history", "/history"} {
			toSignIn(t, b.getNoFollow(path), path)
		}
		before := s.writes()
		s.refused(t, b.post("/users/"+s.eligible.ID+"/issue", s.issueForm(s.eligible.ID)), before, http.StatusUnauthorized, "session has ended")
	}},
	{"forged session cookie", func(t *testing.T, s *securityEnv) {
		other, _ := session.New(session.Options{Keys: []string{strings.Repeat("z", 40)}, IdleTimeout: time.Hour, MaxAge: time.Hour})
		p := s.withCookie(t, other, session.Session{Subject: graphemu.SupervisorUserID, Name: "Mallory", Role: session.RoleSupervisor}, "/history")
		toSignIn(t, p, "/history")
	}},
	{"tampered session cookie", func(t *testing.T, s *securityEnv) {
		u, _ := url.Parse(s.h.URL)
		var value string
		for _, c := range s.op.client.Jar.Cookies(u) {
			if c.Name == "tap_session" {
				value = c.Value
			}
		}
		if value == "" {
			t.Fatal("no session cookie")
		}
		b := []byte(value)
		b[len(b)/3] ^= 0x01
		req, _ := http.NewRequest(http.MethodGet, s.h.URL+"/search", nil)
		req.AddCookie(&http.Cookie{Name: "tap_session", Value: string(b)})
		toSignIn(t, s.h.browser(t).do(req, false), "/search")
	}},
	{"expired session cookie", func(t *testing.T, s *securityEnv) {
		old := time.Now().Add(-9 * time.Hour)
		m, _ := session.New(session.Options{Keys: []string{sessionKey}, IdleTimeout: 30 * time.Minute, MaxAge: 8 * time.Hour, Now: func() time.Time { return old }})
		p := s.withCookie(t, m, session.Session{Subject: graphemu.OperatorUserID, Name: "Priya", Role: session.RoleOperator}, "/search")
		toSignIn(t, p, "/search")
	}},
	{"session cookie replayed after sign-out", func(t *testing.T, s *securityEnv) {
		b := s.h.signedIn(t, "operator")
		u, _ := url.Parse(s.h.URL)
		var saved *http.Cookie
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name == "tap_session" {
				saved = c
			}
		}
		out := b.post("/auth/logout", url.Values{"csrf": {csrfOf(t, b.get("/search"))}})
		if out.status != http.StatusOK {
			t.Fatalf("sign-out = %d", out.status)
		}
		req, _ := http.NewRequest(http.MethodGet, s.h.URL+"/search", nil)
		req.AddCookie(saved)
		toSignIn(t, s.h.browser(t).do(req, false), "/search")
	}},
}

var signInAttacks = []attack{
	{"open redirect after sign-in", func(t *testing.T, s *securityEnv) {
		for _, target := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/%2F%2Fevil.example", "http:evil.example"} {
			p := s.h.browser(t).signIn("operator", target)
			if p.url.Host != strings.TrimPrefix(s.h.URL, "http://") {
				t.Fatalf("return_to %q left the portal for %s", target, p.url)
			}
		}
	}},
	{"stale sign-in", func(t *testing.T, s *securityEnv) {
		s.h.Demo.Provider.SetAuthTimeOffset(-time.Hour)
		b := s.h.signedIn(t, "operator")
		s.h.Demo.Provider.SetAuthTimeOffset(0)
		before := s.writes()
		p := b.getNoFollow("/users/" + s.eligible.ID + "/issue")
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "reauth=1") {
			t.Fatalf("issue form with a stale sign-in = %d %s, want a step-up redirect", p.status, p.header.Get("Location"))
		}
		login := b.getNoFollow(p.header.Get("Location"))
		if loc := login.header.Get("Location"); !strings.Contains(loc, "prompt=login") {
			t.Fatalf("step-up redirect to the provider = %s, want prompt=login", loc)
		}
		if n := s.writes(); n != before {
			t.Fatal("a pass was issued with a stale sign-in")
		}
	}},
}

var inputAttacks = []attack{
	{"OData injection in search", func(t *testing.T, s *securityEnv) {
		for _, q := range []string{"'", "')", "x' or 1 eq 1 or displayName eq 'y", "a) or (accountEnabled eq true", "' or startswith(displayName,'"} {
			s.h.Demo.Graph.ResetRequests()
			p := s.op.get("/search?q=" + url.QueryEscape(q))
			if p.status != http.StatusOK || !strings.Contains(p.body, "No user matches") {
				t.Fatalf("search %q = %d, want no match", q, p.status)
			}
			// Each query Graph received is one of the portal's forms with
			// the term as one literal or clause value, nothing more.
			term := strings.TrimSpace(q)
			sent := 0
			for _, r := range s.h.Demo.Graph.Requests() {
				if r.Path != "/v1.0/users" {
					continue
				}
				sent++
				f, _ := url.ParseQuery(r.Query)
				filter, search := f.Get("$filter"), f.Get("$search")
				switch {
				case search != "" && search == query.SearchExpr(term) && filter == "":
				case search == "" && (filter == query.SearchFilter(term) || filter == query.IDFilter("employeeId", term)):
				default:
					t.Fatalf("search %q sent $filter=%s $search=%s, want one of the portal's query forms", q, filter, search)
				}
			}
			if sent == 0 {
				t.Fatalf("search %q reached no users listing", q)
			}
		}
	}},
	{"markup in every Graph field", func(t *testing.T, s *securityEnv) {
		var fields []string
		s.h.Demo.Graph.View(func(tn *graphemu.Tenant) {
			u := tn.LookupUser(graphemu.MarkupUserID)
			for _, f := range []string{u.DisplayName, u.JobTitle, u.Department, u.OfficeLocation, u.EmployeeID} {
				if strings.ContainsAny(f, "<>") {
					fields = append(fields, f)
				}
			}
			for _, m := range u.Methods {
				if name, ok := m.Props["displayName"].(string); ok && strings.ContainsAny(name, "<>") {
					fields = append(fields, name)
				}
			}
		})
		if len(fields) < 4 {
			t.Fatalf("the seeded markup user has %d fields with markup, want most of them", len(fields))
		}
		for _, path := range []string{"/users/" + graphemu.MarkupUserID, "/search?q=" + url.QueryEscape("<img")} {
			p := s.op.get(path)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s = %d", path, p.status)
			}
			for _, f := range fields {
				if strings.Contains(p.body, f) {
					t.Fatalf("GET %s: %q from Graph reached the page unescaped", path, f)
				}
			}
			if !strings.Contains(p.body, html.EscapeString(fields[0])) {
				t.Fatalf("GET %s does not show the display name escaped", path)
			}
		}
	}},
	{"oversized body", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Set("reason", strings.Repeat("a", 200<<10))
		before := s.writes()
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), before, http.StatusRequestEntityTooLarge, "more data than the portal accepts")
	}},
}

// protectedTargets are the kinds of account the portal must never give a
// pass to, with the reason the refusal must give.
var protectedTargets = []struct {
	name, id, message string
}{
	{"global administrator", graphemu.GlobalAdminUserID, "is privileged in the directory: Global Administrator"},
	{"administrator through a group", graphemu.GroupRoleAdminUserID, "Helpdesk Administrator through the group Tier 2 Support Admins"},
	{"break-glass account", graphemu.BreakGlassUserID, "privileged in the directory: Global Administrator"},
	{"executive (protected group)", graphemu.ExecutiveUserID, "protected group"},
	{"executive through a nested group", graphemu.NestedExecutiveUserID, "protected group"},
	{"guest", graphemu.GuestUserID, "Guests cannot get a pass"},
	{"disabled account", graphemu.DisabledUserID, "disabled"},
	{"the operator's own account", graphemu.OperatorUserID, "your own account"},
	{"PIM-eligible Global Administrator", graphemu.PIMGlobalAdminUserID, "eligible for Global Administrator through PIM"},
	{"eligible for a role through a group", graphemu.EligibleViaGroupUserID, "eligible for Privileged Role Administrator through the group Identity Admins"},
	{"PIM for Groups: may join an admin group", graphemu.PIMGroupMemberUserID, "through the group Tier 0 Admins, which they can join through PIM"},
	{"PIM for Groups: may own an admin group", graphemu.PIMGroupOwnerUserID, "which they can own through PIM"},
	{"administrator of one administrative unit", graphemu.ScopedHelpdeskUserID, "Helpdesk Administrator in administrative unit Paris office"},
	{"custom role holder", graphemu.CustomRoleUserID, "Northwind Password Reset Operator"},
	{"a supervisor of the portal", graphemu.SupervisorUserID, "holds the TAP Portal role Supervisor"},
	{"another operator of the portal", graphemu.OtherOperatorUserID, "holds the TAP Portal role Helpdesk (other naming)"},
	{"portal staff through a group", graphemu.StaffGroupUserID, "role Supervisor through the group TAP Portal Supervisors"},
}

func (s *securityEnv) withCookie(t *testing.T, m *session.Manager, sess session.Session, path string) page {
	t.Helper()
	rec := &headerRecorder{h: http.Header{}}
	sess = m.Start(sess)
	if err := m.Save(rec, &sess); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.h.URL+path, nil)
	req.Header.Set("Cookie", strings.SplitN(rec.h.Get("Set-Cookie"), ";", 2)[0])
	return s.h.browser(t).do(req, false)
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

// toSignIn asserts p sends the browser to sign in and back to path.
func toSignIn(t *testing.T, p page, path string) {
	t.Helper()
	want := "/auth/login?return_to=" + url.QueryEscape(path)
	if p.status != http.StatusFound || p.header.Get("Location") != want {
		t.Fatalf("status %d, Location %q; want 302 to %s", p.status, p.header.Get("Location"), want)
	}
}

// attackGroups are the suite's cases by what they attack.
var attackGroups = []struct {
	category string
	attacks  []attack
}{
	{"request forgery", forgeryAttacks},
	{"sessions", slices.Concat(sessionAttacks, sessionEndAttacks)},
	{"sign-in", slices.Concat(signInAttacks, signInStateAttacks)},
	{"input", slices.Concat(inputAttacks, targetIDAttacks)},
	{"recorded text", recordedTextAttacks},
	{"CSV export", exportAttacks},
	{"metrics", metricsAttacks},
	{"text that reads differently", displayAttacks},
	{"history tampering", historyAttacks},
}

func TestSecuritySuite(t *testing.T) {
	s := newSecurityEnv(t)
	// Each case fails its subtest unless it was refused as it must be and
	// left the history and Graph as it must: the counts printed are of
	// the cases that ran and passed every assertion.
	var report []string
	passed, total := 0, 0
	run := func(t *testing.T, name string, fn func(t *testing.T, s *securityEnv)) bool {
		total++
		s.wants = nil
		m := s.mark(t)
		ok := t.Run(name, func(t *testing.T) {
			fn(t, s)
			s.checkSince(t, m)
		})
		if ok {
			passed++
		}
		return ok
	}
	for _, g := range attackGroups {
		n := 0
		t.Run(g.category, func(t *testing.T) {
			for _, a := range g.attacks {
				if run(t, a.name, a.run) {
					n++
				}
			}
		})
		report = append(report, fmt.Sprintf("%s %d", g.category, n))
	}
	n := 0
	t.Run("guardrails", func(t *testing.T) {
		for _, pt := range protectedTargets {
			ok := run(t, "pass for "+pt.name, func(t *testing.T, s *securityEnv) {
				form := s.op.get("/users/" + pt.id)
				if !strings.Contains(form.body, "Not eligible") || !strings.Contains(form.body, pt.message) {
					t.Fatalf("the user page does not say %q", pt.message)
				}
				p := s.op.post("/users/"+pt.id+"/issue", s.issueForm(pt.id))
				s.refused(t, p, s.writes(), http.StatusForbidden, pt.message)
				s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, target: pt.id, reason: "Security suite", detail: pt.message})
			})
			if ok {
				n++
			}
		}
	})
	report = append(report, fmt.Sprintf("guardrails %d", n))
	if passed != total {
		t.Fatalf("security: %d of %d attack cases refused as required", passed, total)
	}
	fmt.Printf("security: %d attack cases, each refused as required (%s)\n", passed, strings.Join(report, ", "))
}

// TestRateLimitAcrossInstances runs two portals on one database: the
// limit counts issuances made through either.
func TestRateLimitAcrossInstances(t *testing.T) {
	first := newHarness(t, map[string]string{"PORTAL_RATE_LIMIT": "2/1h", "PORTAL_SESSION_KEYS": sessionKey})
	second := first.sibling(t)
	a := first.signedIn(t, "operator")
	b := second.via(first.signedIn(t, "operator"))
	targets := []string{graphemu.TAPExpiredUserID, graphemu.TAPUsedUserID, first.eligible(t, false).ID}
	issue := func(br *browser, id string) page {
		csrf := issueForm(t, br, id)
		return br.post("/users/"+id+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"rate"}})
	}
	if p := issue(a, targets[0]); p.status != http.StatusOK {
		t.Fatalf("first issuance = %d", p.status)
	}
	if p := issue(b, targets[1]); p.status != http.StatusOK {
		t.Fatalf("second issuance, on the other instance = %d", p.status)
	}
	p := issue(a, targets[2])
	if p.status != http.StatusTooManyRequests || passcodeRE.MatchString(p.body) || !strings.Contains(p.body, "limit") {
		t.Fatalf("third issuance = %d, want 429 naming the limit", p.status)
	}
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	h := newHarness(t, nil)
	b := h.browser(t)
	cb := b.callbackURL("operator")
	req, _ := http.NewRequest(http.MethodGet, cb, nil)
	signIn := b.do(req, false)
	var sessionCookie string
	for _, c := range signIn.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "tap_session=") {
			sessionCookie = c
		}
	}
	for _, flag := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sessionCookie, flag) {
			t.Errorf("session cookie %q lacks %s", sessionCookie, flag)
		}
	}
	if strings.Contains(strings.ToLower(sessionCookie), "domain=") {
		t.Errorf("session cookie %q names a domain, want host-only", sessionCookie)
	}

	pages := map[string]page{
		"search":     b.get("/search?q=a"),
		"user":       b.get("/users/" + graphemu.TAPUsableUserID),
		"error":      b.get("/users/nobody@" + graphemu.DemoDomain),
		"not found":  b.get("/no/such/page"),
		"signed out": h.browser(t).get("/signed-out"),
	}
	for name, p := range pages {
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", name, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q is not strict", name, csp)
		}
		for header, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
		} {
			if got := p.header.Get(header); got != want {
				t.Errorf("%s: %s = %q, want %q", name, header, got, want)
			}
		}
		if p.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS sent over plain http", name)
		}
	}
	css := b.get(regexpAttr(t, pages["search"].body, `rel="stylesheet" href="`))
	if css.status != http.StatusOK || !strings.Contains(css.header.Get("Cache-Control"), "immutable") {
		t.Errorf("stylesheet = %d, Cache-Control %q; want a long-lived immutable asset", css.status, css.header.Get("Cache-Control"))
	}
}

func regexpAttr(t *testing.T, body, prefix string) string {
	t.Helper()
	i := strings.Index(body, prefix)
	if i < 0 {
		t.Fatalf("no %s in the page", prefix)
	}
	rest := body[i+len(prefix):]
	return rest[:strings.Index(rest, `"`)]
}
