package handlers_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/handlers"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// metricsToken is the bearer token the security suite's portal requires
// for /metrics.
const metricsToken = "security-suite-metrics-token-0123456789abcdef"

// formulaIDs are user ids a spreadsheet would evaluate, or that are not a
// user's name at all.
var formulaIDs = []string{`=HYPERLINK("http://evil.example","x")`, "@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3", "a b", strings.Repeat("x", 300)}

// postRaw posts form as it is, without the submission id the harness adds
// and without following the answer.
func postRaw(b *browser, path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req, false)
}

// noGraphSince asserts that nothing at all reached Graph since m.
func (s *securityEnv) noGraphSince(t *testing.T, m mark) {
	t.Helper()
	if got := s.h.Demo.Graph.Requests()[m.requests:]; len(got) != 0 {
		t.Fatalf("%d requests reached Graph (first %s %s), want none", len(got), got[0].Method, got[0].Path)
	}
}

var targetIDAttacks = []attack{
	{"a formula or a non-name as the user id of an issue", func(t *testing.T, s *securityEnv) {
		m := s.mark(t)
		for _, id := range formulaIDs {
			p := s.op.post("/users/"+url.PathEscape(id)+"/issue", s.issueForm(id))
			s.refused(t, p, m.writes, http.StatusBadRequest, "does not name a user")
		}
		s.noGraphSince(t, m)
	}},
	{"a formula or a non-name as the user id of a revocation", func(t *testing.T, s *securityEnv) {
		m := s.mark(t)
		for _, id := range formulaIDs {
			p := s.op.post("/users/"+url.PathEscape(id)+"/revoke", url.Values{"csrf": {s.csrf}, "tap_id": {"x"}, "reason": {"Security suite"}})
			s.refused(t, p, m.writes, http.StatusBadRequest, "does not name a user")
		}
		s.noGraphSince(t, m)
	}},
	{"a formula as the operator whose sessions a supervisor ends", func(t *testing.T, s *securityEnv) {
		sup := s.h.signedIn(t, "supervisor")
		m := s.mark(t)
		p := sup.post("/history/operators/"+url.PathEscape(formulaIDs[0])+"/end-sessions", url.Values{"csrf": {csrfOf(t, sup.get("/history"))}})
		s.refused(t, p, m.writes, http.StatusBadRequest, "does not name a user")
	}},
	{"a scheduled start in year 1", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Set("start", "later")
		f.Set("start_at", "0001-01-01T00:00")
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), s.writes(), http.StatusBadRequest, "Enter a scheduled start between now and 30 days ahead")
	}},
}

var recordedTextAttacks = []attack{
	{"markup in the reason of a lifetime out of policy", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Set("lifetime", "5")
		f.Set("reason", "<script>alert(1)</script>")
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), s.writes(), http.StatusBadRequest, "plain text")
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseLifetime, target: s.eligible.ID,
			reason: "[not recorded: The reason must be plain text"})
	}},
	{"an escape sequence and a NUL in the reason of a refused administrator", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(graphemu.GlobalAdminUserID)
		f.Set("reason", "\x1b[31mred\x00")
		s.refused(t, s.op.post("/users/"+graphemu.GlobalAdminUserID+"/issue", f), s.writes(), http.StatusForbidden, "Global Administrator")
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseRole, target: graphemu.GlobalAdminUserID,
			reason: "[not recorded: The reason contains control characters."})
	}},
	{"20,000 characters of reason with a lifetime out of policy", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(s.eligible.ID)
		f.Set("lifetime", "5")
		f.Set("reason", strings.Repeat("a", 20000))
		s.refused(t, s.op.post("/users/"+s.eligible.ID+"/issue", f), s.writes(), http.StatusBadRequest, "too long")
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseLifetime, target: s.eligible.ID,
			reason: "[not recorded: The reason is too long: 20000 characters, at most 500."})
	}},
	{"markup in the reason and invalid UTF-8 in the ticket of a stale sign-in", func(t *testing.T, s *securityEnv) {
		s.h.Demo.Provider.SetAuthTimeOffset(-time.Hour)
		b := s.h.signedIn(t, "operator")
		s.h.Demo.Provider.SetAuthTimeOffset(0)
		f := url.Values{"csrf": {csrfOf(t, b.get("/search"))}, "submission": {issuance.NewSubmission()}, "start": {"now"}, "lifetime": {"60"},
			"reason": {"<img src=x onerror=alert(1)>"}, "ticket": {"INC\xff\xfe"}}
		p := postRaw(b, "/users/"+s.eligible.ID+"/issue", f)
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "reauth=1") {
			t.Fatalf("issuing with a stale sign-in = %d %s, want a step-up redirect", p.status, p.header.Get("Location"))
		}
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseStaleSignIn, target: s.eligible.ID,
			reason: "[not recorded: The reason must be plain text", ticket: "[not recorded: The ticket reference is not valid text.]"})
	}},
}

var exportAttacks = []attack{
	{"formulas behind a BOM, a zero-width space and full-width signs", func(t *testing.T, s *securityEnv) {
		for _, reason := range []string{"\ufeff=HYPERLINK(\"http://evil.example\")", "\u200b@SUM(1+1)", "＝cmd|' /C calc'!A0", " -2+3"} {
			f := s.issueForm(graphemu.GlobalAdminUserID)
			f.Set("reason", reason)
			f.Set("ticket", "\u200b=1+1")
			s.refused(t, s.op.post("/users/"+graphemu.GlobalAdminUserID+"/issue", f), s.writes(), http.StatusForbidden, "Global Administrator")
		}
		want4 := want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseRole, target: graphemu.GlobalAdminUserID}
		s.expect(want4, want4, want4, want4)
		sup := s.h.signedIn(t, "supervisor")
		exp := sup.get("/history/export.csv?target=" + graphemu.GlobalAdminUserID)
		if exp.status != http.StatusOK {
			t.Fatalf("export = %d", exp.status)
		}
		rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
		if err != nil || len(rows) < 5 {
			t.Fatalf("export = %d rows, %v; want the four refusals", len(rows), err)
		}
		for _, row := range rows {
			for i, cell := range row {
				if handlers.Dangerous(cell) {
					t.Fatalf("column %s holds %q, which a spreadsheet would evaluate", rows[0][i], cell)
				}
			}
		}
	}},
	{"a formula in every column the directory fills", func(t *testing.T, s *securityEnv) {
		// The markup user's fields come from Graph as they are; a refusal
		// to them records the name, which the export must defuse too.
		s.h.Demo.Graph.Update(func(tn *graphemu.Tenant) {
			u := tn.LookupUser(graphemu.DisabledUserID)
			u.DisplayName = "=HYPERLINK(\"http://evil.example\",\"Disabled\")"
		})
		f := s.issueForm(graphemu.DisabledUserID)
		s.refused(t, s.op.post("/users/"+graphemu.DisabledUserID+"/issue", f), s.writes(), http.StatusForbidden, "disabled")
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseDisabled, target: graphemu.DisabledUserID})
		sup := s.h.signedIn(t, "supervisor")
		exp := sup.get("/history/export.csv?target=" + graphemu.DisabledUserID)
		if !strings.Contains(exp.body, `'=HYPERLINK(`) {
			t.Fatalf("the export does not hold the defused name:\n%s", exp.body)
		}
		rows, _ := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
		for _, row := range rows {
			for i, cell := range row {
				if handlers.Dangerous(cell) {
					t.Fatalf("column %s holds %q, which a spreadsheet would evaluate", rows[0][i], cell)
				}
			}
		}
	}},
}

// metricsPage fetches /metrics with the suite's token.
func (s *securityEnv) metricsPage(t *testing.T, auth string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.h.URL+"/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return s.h.browser(t).do(req, false)
}

var methodLabelRE = regexp.MustCompile(`tap_portal_http_requests_total\{[^}]*method="([^"]*)"`)

var metricsAttacks = []attack{
	{"500 made-up HTTP methods", func(t *testing.T, s *securityEnv) {
		for i := range 500 {
			req, _ := http.NewRequest(fmt.Sprintf("BREW%03d", i), s.h.URL+"/search", nil)
			if p := s.h.browser(t).do(req, false); p.status != http.StatusUnauthorized {
				t.Fatalf("method BREW%03d without a session = %d, want 401", i, p.status)
			}
		}
		p := s.metricsPage(t, "Bearer "+metricsToken)
		methods := map[string]bool{}
		for _, m := range methodLabelRE.FindAllStringSubmatch(p.body, -1) {
			methods[m[1]] = true
		}
		for m := range methods {
			if !strings.Contains(" GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE OTHER ", " "+m+" ") {
				t.Fatalf("/metrics has a series for method %q: labels must be bounded", m)
			}
		}
		if !methods["OTHER"] {
			t.Fatal("/metrics does not count the made-up methods as OTHER")
		}
	}},
	{"a 60 KB method and path", func(t *testing.T, s *securityEnv) {
		before := len(s.metricsPage(t, "Bearer "+metricsToken).body)
		for range 3 {
			req, _ := http.NewRequest(strings.Repeat("M", 20<<10), s.h.URL+"/"+strings.Repeat("p", 20<<10), nil)
			if p := s.h.browser(t).do(req, false); p.status < 400 {
				t.Fatalf("a 20 KB method = %d, want a 4xx", p.status)
			}
		}
		if after := len(s.metricsPage(t, "Bearer "+metricsToken).body); after > before+4<<10 {
			t.Fatalf("/metrics grew from %d to %d bytes after three long requests", before, after)
		}
	}},
	{"metrics without the bearer token", func(t *testing.T, s *securityEnv) {
		for _, auth := range []string{"", "Bearer ", "Bearer " + metricsToken + "x", "Basic " + metricsToken, metricsToken} {
			if p := s.metricsPage(t, auth); p.status != http.StatusUnauthorized || strings.Contains(p.body, "tap_portal_") {
				t.Fatalf("/metrics with Authorization %q = %d, want 401 and no metrics", auth, p.status)
			}
		}
		if p := s.metricsPage(t, "Bearer "+metricsToken); p.status != http.StatusOK || !strings.Contains(p.body, "tap_portal_http_requests_total") {
			t.Fatalf("/metrics with the token = %d", p.status)
		}
		req, _ := http.NewRequest(http.MethodGet, s.h.URL+"/readyz", nil)
		if p := s.h.browser(t).do(req, false); p.status != http.StatusOK {
			t.Fatalf("/readyz = %d: probes must keep working without the token", p.status)
		}
	}},
}

var displayAttacks = []attack{
	{"a right-to-left override in a display name", func(t *testing.T, s *securityEnv) {
		var name string
		s.h.Demo.Graph.View(func(tn *graphemu.Tenant) { name = tn.LookupUser(graphemu.SpoofedNameUserID).DisplayName })
		if !strings.ContainsRune(name, '\u202e') {
			t.Fatalf("the seeded spoof %q holds no override", name)
		}
		p := s.op.get("/users/" + graphemu.SpoofedNameUserID)
		if p.status != http.StatusOK || !strings.Contains(p.body, "<h1><bdi>"+name+"</bdi></h1>") {
			t.Fatalf("user page = %d, want the name isolated in <bdi>", p.status)
		}
		search := s.op.get("/search?q=Eve")
		if !strings.Contains(search.body, "<bdi>"+name+"</bdi>") {
			t.Fatal("the search result does not isolate the name")
		}
	}},
	{"control and format characters shown to supervisors", func(t *testing.T, s *securityEnv) {
		f := s.issueForm(graphemu.SpoofedNameUserID)
		f.Set("lifetime", "5")
		s.refused(t, s.op.post("/users/"+graphemu.SpoofedNameUserID+"/issue", f), s.writes(), http.StatusBadRequest, "")
		s.expect(want{action: portal.ActionIssue, outcome: portal.OutcomeRefused, code: issuance.RefuseLifetime, target: graphemu.SpoofedNameUserID})
		sup := s.h.signedIn(t, "supervisor")
		hist := sup.get("/history?target=" + graphemu.SpoofedNameUserID)
		if !strings.Contains(hist.body, "Eve ⟦U+202E⟧nimda⟦U+202C⟧ Spoof") || strings.Contains(hist.body, "\u202e") {
			t.Fatal("the supervisor's history does not show the override as a visible mark")
		}
	}},
}

var signInStateAttacks = []attack{
	{"provider error text with a forged state", func(t *testing.T, s *securityEnv) {
		b := s.h.browser(t)
		b.getNoFollow("/auth/login")
		p := b.get("/auth/callback?state=forged&error=access_denied&error_description=" + url.QueryEscape("Your account is locked: call +1 555 0100"))
		if p.status != http.StatusUnauthorized || strings.Contains(p.body, "555 0100") || !strings.Contains(p.body, "could not be completed") {
			t.Fatalf("callback with a forged state and provider text = %d, want 401 with the portal's own words", p.status)
		}
	}},
	{"provider error text with the right state", func(t *testing.T, s *securityEnv) {
		b := s.h.browser(t)
		loc := b.getNoFollow("/auth/login").header.Get("Location")
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		state := u.Query().Get("state")
		p := b.get("/auth/callback?state=" + url.QueryEscape(state) + "&error=access_denied&error_description=" + url.QueryEscape("<b>Call +1 555 0100</b>"))
		if p.status != http.StatusUnauthorized || strings.Contains(p.body, "555 0100") || !strings.Contains(p.body, "cancelled or refused at the identity provider") {
			t.Fatalf("callback with a provider error = %d, want 401 with a fixed message", p.status)
		}
	}},
	{"a replayed login cookie and state with a second code", func(t *testing.T, s *securityEnv) {
		b := s.h.browser(t)
		first := b.callbackURL("operator")
		u, _ := url.Parse(s.h.URL)
		var login *http.Cookie
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name != "tap_session" {
				login = c
			}
		}
		if login == nil {
			t.Fatal("no login cookie before the callback")
		}
		if p := b.get(first); p.status != http.StatusOK || !strings.Contains(p.body, "Find a user") {
			t.Fatalf("the first callback = %d", p.status)
		}
		// The attacker has the cookie and the state, and a fresh code.
		firstURL, _ := url.Parse(first)
		second, _ := url.Parse(s.h.browser(t).callbackURL("supervisor"))
		q := second.Query()
		q.Set("state", firstURL.Query().Get("state"))
		second.RawQuery = q.Encode()
		req, _ := http.NewRequest(http.MethodGet, second.String(), nil)
		req.AddCookie(login)
		p := s.h.browser(t).do(req, false)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "already completed once") {
			t.Fatalf("the replayed callback = %d, want 401 saying it was used", p.status)
		}
		if strings.Contains(p.header.Get("Set-Cookie"), "tap_session=") && !strings.Contains(p.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatal("the replayed callback set a session")
		}
	}},
	{"an ID token without auth_time", func(t *testing.T, s *securityEnv) {
		s.h.Demo.Provider.SetOmitAuthTime(true)
		defer s.h.Demo.Provider.SetOmitAuthTime(false)
		b := s.h.signedIn(t, "operator")
		p := b.getNoFollow("/users/" + s.eligible.ID + "/issue")
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "reauth=1") {
			t.Fatalf("issue form without auth_time = %d %s, want a step-up redirect", p.status, p.header.Get("Location"))
		}
		login := b.getNoFollow(p.header.Get("Location"))
		provider, _ := url.Parse(login.header.Get("Location"))
		if q := provider.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
			t.Fatalf("step-up request to the provider = %s, want prompt=login and max_age=0", provider)
		}
		// The provider again sends no auth_time: the portal says so
		// rather than sending the operator round in circles.
		back := b.get(login.header.Get("Location"))
		m := authRequestRE.FindStringSubmatch(back.body)
		if m == nil {
			t.Fatalf("no persona picker on the step-up: %d", back.status)
		}
		form := url.Values{"authRequestID": {m[1]}, "persona": {"operator"}}
		req, _ := http.NewRequest(http.MethodPost, back.url.Scheme+"://"+back.url.Host+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		landed := b.do(req, true)
		if landed.status != http.StatusForbidden || !strings.Contains(landed.body, "does not say when you signed in") {
			t.Fatalf("after a step-up without auth_time = %d %s, want 403 saying the provider did not say when you signed in", landed.status, landed.url)
		}
	}},
}

var sessionEndAttacks = []attack{
	{"sign out everywhere", func(t *testing.T, s *securityEnv) {
		h := newHarness(t, nil)
		phone, laptop := h.signedIn(t, "operator"), h.signedIn(t, "operator")
		p := laptop.post("/auth/logout-everywhere", url.Values{"csrf": {csrfOf(t, laptop.get("/search"))}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "You have signed out") {
			t.Fatalf("sign out everywhere = %d", p.status)
		}
		for _, b := range []*browser{phone, laptop} {
			toSignIn(t, b.getNoFollow("/search"), "/search")
		}
	}},
	{"a supervisor ends an operator's sessions", func(t *testing.T, s *securityEnv) {
		h := newHarness(t, nil)
		op, sup := h.signedIn(t, "operator"), h.signedIn(t, "supervisor")
		p := sup.post("/history/operators/"+graphemu.OperatorUserID+"/end-sessions", url.Values{"csrf": {csrfOf(t, sup.get("/history"))}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Every session of this operator was ended") {
			t.Fatalf("ending the operator's sessions = %d", p.status)
		}
		toSignIn(t, op.getNoFollow("/search"), "/search")
		if p := sup.get("/search"); p.status != http.StatusOK {
			t.Fatalf("the supervisor's own session = %d, want it untouched", p.status)
		}
		events, err := h.App.Store.List(context.Background(), portal.EventFilter{Limit: 10})
		if err != nil || len(events) != 1 || events[0].Action != portal.ActionEndSessions || events[0].TargetID != graphemu.OperatorUserID || events[0].OperatorID != graphemu.SupervisorUserID {
			t.Fatalf("history after ending sessions = %+v, %v; want one end-sessions record by the supervisor", events, err)
		}
	}},
	{"an operator tries to end another operator's sessions", func(t *testing.T, s *securityEnv) {
		p := s.op.post("/history/operators/"+graphemu.SupervisorUserID+"/end-sessions", url.Values{"csrf": {s.csrf}})
		s.refused(t, p, s.writes(), http.StatusForbidden, "for supervisors")
	}},
}

// tamper runs statements against a portal's SQLite history behind its
// back, as someone with access to the database would.
func tamper(t *testing.T, h *harness, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", h.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// historyWithCheckpoint is a portal with two issuances (four records: an
// intent and an outcome each), a checkpoint after them, and a supervisor
// signed in.
func historyWithCheckpoint(t *testing.T) (*harness, *browser) {
	t.Helper()
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	for _, id := range []string{graphemu.TAPExpiredUserID, graphemu.TAPUsedUserID} {
		issueAs(t, op, id, "Tamper test", nil)
	}
	if _, ok, err := h.App.Checkpoint(context.Background(), false); err != nil || !ok {
		t.Fatalf("Checkpoint() = %v, %v", ok, err)
	}
	sup := h.signedIn(t, "supervisor")
	if p := sup.get("/history"); !strings.Contains(p.body, "History chain intact at checkpoint 1") {
		t.Fatalf("history before tampering does not show the chain intact:\n%s", p.body)
	}
	return h, sup
}

// chainAlert asserts both supervisor pages say the history may have been
// altered, and why.
func chainAlert(t *testing.T, sup *browser, why string) {
	t.Helper()
	for _, path := range []string{"/history", "/history/dashboard"} {
		p := sup.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.body, "The history may have been altered") || !strings.Contains(p.body, why) {
			t.Fatalf("%s = %d, want the alert saying %q", path, p.status, why)
		}
	}
}

var historyAttacks = []attack{
	{"a record edited in the database", func(t *testing.T, s *securityEnv) {
		h, sup := historyWithCheckpoint(t)
		tamper(t, h, "UPDATE events SET reason = 'Nothing to see' WHERE id = 2")
		if _, _, err := h.App.Checkpoint(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		chainAlert(t, sup, "Record 2 has been changed since it was written")
	}},
	{"the newest records deleted after a checkpoint", func(t *testing.T, s *securityEnv) {
		h, sup := historyWithCheckpoint(t)
		tamper(t, h, "DELETE FROM events WHERE id > 2")
		chainAlert(t, sup, "records were deleted since")
	}},
	{"a checkpoint forged in the database", func(t *testing.T, s *securityEnv) {
		h, sup := historyWithCheckpoint(t)
		tamper(t, h, "UPDATE checkpoints SET head_id = head_id - 1, count = count - 1")
		chainAlert(t, sup, "does not verify")
	}},
	{"records re-hashed in the database", func(t *testing.T, s *securityEnv) {
		h, sup := historyWithCheckpoint(t)
		// Without the key, the best a forger can do is copy a valid hash.
		tamper(t, h, "UPDATE events SET reason = 'Nothing to see', hash = (SELECT hash FROM events WHERE id = 1) WHERE id = 4")
		chainAlert(t, sup, "Record 4 has changed since checkpoint 1")
	}},
}
