package handlers_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// TestPortalStaffGetNoPasses issues between the portal's own staff: an
// operator to a supervisor, the supervisor back to the operator (the chain
// that would have beaten the self-issue ban and doubled the rate limit),
// and to staff through a group. Each is refused, recorded, and sends
// nothing to Graph's write endpoints.
func TestPortalStaffGetNoPasses(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	sup := h.signedIn(t, "supervisor")
	writes := func() int {
		n := 0
		for _, r := range h.Demo.Graph.Requests() {
			if strings.Contains(r.Path, "temporaryAccessPassMethods") && r.Method != http.MethodGet {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		name   string
		by     *browser
		target string
		want   string
	}{
		{"operator to supervisor", op, graphemu.SupervisorUserID, "holds the TAP Portal role Supervisor"},
		{"supervisor to operator", sup, graphemu.OperatorUserID, "holds the TAP Portal role Operator"},
		{"operator to the supervisor again, the chain's last step", op, graphemu.SupervisorUserID, "own operators and supervisors do not get passes"},
		{"operator to staff through a group", op, graphemu.StaffGroupUserID, "through the group TAP Portal Supervisors"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			csrf := csrfOf(t, tt.by.get("/search"))
			before := writes()
			form := tt.by.get("/users/" + tt.target + "/issue")
			if form.status != http.StatusForbidden || !strings.Contains(form.body, tt.want) {
				t.Fatalf("issue form = %d, want 403 saying %q", form.status, tt.want)
			}
			p := tt.by.post("/users/"+tt.target+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Staff test"}})
			if p.status != http.StatusForbidden || !strings.Contains(p.body, tt.want) || passcodeRE.MatchString(p.body) {
				t.Fatalf("issue = %d, want 403 saying %q and no passcode", p.status, tt.want)
			}
			if n := writes(); n != before {
				t.Fatalf("%d writes reached Graph", n-before)
			}
			hist := sup.get("/history?outcome=refused&target=" + url.QueryEscape(tt.target))
			if !strings.Contains(hist.body, tt.want) {
				t.Fatal("the refusal is not in the history")
			}
		})
	}
}

// TestRemovedOperatorRefusedWithinAMinute removes the operator's app role
// in Entra while she is signed in: within the staff cache's minute she
// may still act, after it she may not, whatever her session says.
func TestRemovedOperatorRefusedWithinAMinute(t *testing.T) {
	var ahead atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	h := &harness{demotest.Start(t, demotest.Options{Now: now})}
	b := h.signedIn(t, "operator")
	first, second := h.eligible(t, false), h.EligibleUser(t, demotest.Want{Except: []string{h.eligible(t, false).ID}})
	issue := func(id string) page {
		csrf := issueForm(t, b, id)
		return b.post("/users/"+id+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Role removal test"}})
	}
	if p := issue(first.ID); p.status != http.StatusOK || !passcodeRE.MatchString(p.body) {
		t.Fatalf("issue while assigned = %d", p.status)
	}
	removed := 0
	h.Demo.Graph.Update(func(tn *graphemu.Tenant) {
		removed = tn.RemoveAppRoles(graphemu.DemoSignInAppID, graphemu.OperatorUserID)
	})
	if removed != 1 {
		t.Fatalf("removed %d assignments, want the operator's one", removed)
	}
	ahead.Store(int64(61 * time.Second))
	creates := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "temporaryAccessPassMethods") {
			creates++
		}
	}
	p := issue(second.ID)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "no longer assigned") || passcodeRE.MatchString(p.body) {
		t.Fatalf("issue a minute after the removal = %d, want 403 saying the role is no longer assigned", p.status)
	}
	after := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "temporaryAccessPassMethods") {
			after++
		}
	}
	if after != creates {
		t.Fatal("a pass was created for a removed operator")
	}
	if dump := h.dbDump(t); !strings.Contains(dump, "operator_role_removed") {
		t.Error("the refusal is not recorded")
	}
}

// TestStepUpAsAnotherPerson sends an operator with an old sign-in back to
// the provider, where someone else signs in: the new person gets a session
// of their own, the first one's draft is discarded and the switch is
// recorded, and the first session ends.
func TestStepUpAsAnotherPerson(t *testing.T) {
	h := newHarness(t, nil)
	target := h.eligible(t, false)
	h.Demo.Provider.SetAuthTimeOffset(-time.Hour)
	b := h.signedIn(t, "operator")
	h.Demo.Provider.SetAuthTimeOffset(0)
	u, _ := url.Parse(h.URL)
	var priya *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "tap_session" {
			priya = c
		}
	}
	csrf := csrfOf(t, b.get("/search"))
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/users/"+target.ID+"/issue", strings.NewReader(url.Values{
		"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Typed by Priya before the step-up"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	step := b.do(req, false)
	if step.status != http.StatusSeeOther || !strings.Contains(step.header.Get("Location"), "reauth=1") {
		t.Fatalf("issue with an old sign-in = %d %s, want a step-up", step.status, step.header.Get("Location"))
	}
	picker := b.get(step.header.Get("Location"))
	m := authRequestRE.FindStringSubmatch(picker.body)
	if m == nil {
		t.Fatalf("the step-up did not reach the persona picker: %d", picker.status)
	}
	login, _ := http.NewRequest(http.MethodPost, picker.url.Scheme+"://"+picker.url.Host+"/login",
		strings.NewReader(url.Values{"authRequestID": {html.UnescapeString(m[1])}, "persona": {"supervisor"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form := b.do(login, true)
	if form.status != http.StatusOK || !strings.Contains(form.body, "Issue a Temporary Access Pass") {
		t.Fatalf("after the step-up as another person: %d %s", form.status, form.url)
	}
	if strings.Contains(form.body, "Typed by Priya") {
		t.Fatal("the new person's form holds the first person's draft")
	}
	if !strings.Contains(form.body, "discarded") || !strings.Contains(form.body, "Marcus Oyelaran") {
		t.Fatal("the form does not say the first person's entries were discarded")
	}
	hist := b.get("/history?outcome=refused&target=" + url.QueryEscape(target.ID))
	if !strings.Contains(hist.body, "returned another person") {
		t.Fatal("the switch is not in the history")
	}
	replay, _ := http.NewRequest(http.MethodGet, h.URL+"/search", nil)
	replay.AddCookie(priya)
	toSignIn(t, h.browser(t).do(replay, false), "/search")
}
