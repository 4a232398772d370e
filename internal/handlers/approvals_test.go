package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// askApproval issues a pass for u that a rule sends to the queue, and
// returns the request's path.
func askApproval(t *testing.T, b *browser, u graphemu.User, lifetime string) string {
	t.Helper()
	csrf := issueForm(t, b, u.ID)
	p := b.postNoFollow("/users/"+u.ID+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {lifetime}, "one_time": {"on"},
		"channel": {"read"}, "reason": {"Month-end close, locked out"}, "ticket": {"INC0099"}, "confirm_replace": {"yes"}})
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/approvals/") {
		t.Fatalf("issue = %d to %q, want a redirect to the request", p.status, loc)
	}
	return loc
}

// historyOf renders the target's records as action:outcome, oldest first.
func historyOf(t *testing.T, h *harness, targetID string) []string {
	t.Helper()
	evs, err := h.App.Store.List(t.Context(), portal.EventFilter{TargetID: targetID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, string(evs[i].Action)+":"+string(evs[i].Outcome))
	}
	return out
}

// TestApprovalIssuesOnceApproved: a pass for a member of a watched group
// waits for a supervisor; approved, it is issued through the guarded path
// as the requester, and its passcode opens once, in the requester's
// browser only; every step is in the history.
func TestApprovalIssuesOnceApproved(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	u := h.WatchedUser(t, demotest.Want{Pass: demotest.NoPass})
	path := askApproval(t, op, u, "60")
	if n := creates(h); n != 0 {
		t.Fatalf("%d passes made before the approval, want none", n)
	}
	if p := op.get(path); !strings.Contains(p.body, "waits for a supervisor other than you") || !strings.Contains(p.body, "Finance Team") {
		t.Errorf("the requester's page does not say it waits, and why: %s", p.body)
	}

	sup := h.signedIn(t, "supervisor")
	if q := sup.get("/approvals?state=pending"); !strings.Contains(q.body, u.DisplayName) {
		t.Fatalf("the supervisors' queue does not list the request")
	}
	page := sup.get(path)
	if !strings.Contains(page.body, "Nothing changed since the request") || !strings.Contains(page.body, "Approve and issue") {
		t.Fatalf("the supervisor's page lacks the changes and the decision: %s", page.body)
	}
	if p := sup.post(path+"/approve", url.Values{"csrf": {csrfOf(t, page)}, "note": {"Checked with finance"}}); p.status != http.StatusOK ||
		!strings.Contains(p.body, "Issued") || passcodeIn(p.body) != "" {
		t.Fatalf("approve = %d, want the request issued and no passcode for the approver: %s", p.status, p.body)
	}

	// The requester's browser holds the key; another of theirs does not.
	other := h.signedIn(t, "operator")
	if p := other.get(path); strings.Contains(p.body, `id="open-passcode"`) || !strings.Contains(p.body, "does not hold the key") {
		t.Errorf("a browser without the key is offered the passcode")
	}
	if p := other.post(path+"/passcode", url.Values{"csrf": {csrfOf(t, other.get(path))}}); p.status != http.StatusConflict {
		t.Errorf("taking it without the key = %d, want 409", p.status)
	}
	mine := op.get(path)
	p := op.post(path+"/passcode", url.Values{"csrf": {csrfOf(t, mine)}})
	code := passcodeIn(p.body)
	if p.status != http.StatusOK || len(code) < 8 || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("taking the passcode = %d (%q), want it once, not cached", p.status, code)
	}
	if again := op.post(path+"/passcode", url.Values{"csrf": {csrfOf(t, op.get(path))}}); again.status != http.StatusConflict || passcodeIn(again.body) != "" {
		t.Errorf("taking it twice = %d, want 409 and no passcode", again.status)
	}
	want := []string{"approval_request:success", "approval_approve:success", "issue:pending", "issue:success"}
	if got := historyOf(t, h, u.ID); !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	for name, where := range map[string]string{"the database": h.dbDump(t), "the logs": h.Logs.String(), "the approver's page": sup.get(path).body} {
		if leaks(where, code) {
			t.Errorf("the passcode is in %s", name)
		}
	}
}

// TestApprovalRefusals: the requester cannot approve their own request; an
// old sign-in is sent to sign in again before approving; a rejection needs
// a note; each is recorded or changes nothing.
func TestApprovalRefusals(t *testing.T) {
	h := newHarness(t, nil)
	sup := h.signedIn(t, "supervisor")
	u := h.WatchedUser(t, demotest.Want{Pass: demotest.NoPass})
	path := askApproval(t, sup, u, "60")

	page := sup.get(path)
	if strings.Contains(page.body, "Approve and issue") {
		t.Error("the requester is offered to approve their own request")
	}
	if p := sup.post(path+"/approve", url.Values{"csrf": {csrfOf(t, page)}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "another supervisor") {
		t.Errorf("self-approval = %d, want 403 saying someone else must: %s", p.status, p.body)
	}
	if got := historyOf(t, h, u.ID); !slices.Equal(got, []string{"approval_request:success", "approval_approve:refused"}) {
		t.Errorf("history = %v, want the request and the refused self-approval", got)
	}

	// An operator's request, rejected: with a note, never without.
	op := h.signedIn(t, "operator")
	u2 := h.WatchedUser(t, demotest.Want{Pass: demotest.NoPass, Except: []string{u.ID}})
	path2 := askApproval(t, op, u2, "60")
	csrf := csrfOf(t, sup.get(path2))
	if p := sup.postNoFollow(path2+"/reject", url.Values{"csrf": {csrf}}); p.status != http.StatusBadRequest {
		t.Errorf("a rejection without a note = %d, want 400", p.status)
	}
	p := sup.postNoFollow(path2+"/reject", url.Values{"csrf": {csrf}, "note": {"Ask the finance lead"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("reject = %d, want a redirect to the request", p.status)
	}
	if page := op.get(path2); !strings.Contains(page.body, "Rejected") || !strings.Contains(page.body, "Ask the finance lead") {
		t.Errorf("the requester's page does not say it was rejected, and why")
	}
	if got := historyOf(t, h, u2.ID); !slices.Equal(got, []string{"approval_request:success", "approval_reject:success"}) {
		t.Errorf("history = %v, want the request and its rejection", got)
	}
	if n := creates(h); n != 0 {
		t.Errorf("%d passes made, want none", n)
	}
}

// creates counts the passes Graph was asked to make.
func creates(h *harness) int {
	n := 0
	for _, r := range h.Demo.Graph.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
			n++
		}
	}
	return n
}

// TestApprovalStepsInTheHistory: every action, the approvals' steps among
// them, can be chosen in the history's filter and is named in words; the
// steps of a request show as such, not as their raw names.
func TestApprovalStepsInTheHistory(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	u := h.WatchedUser(t, demotest.Want{Pass: demotest.NoPass})
	path := askApproval(t, op, u, "60")
	sup := h.signedIn(t, "supervisor")
	if p := sup.postNoFollow(path+"/reject", url.Values{"csrf": {csrfOf(t, sup.get(path))}, "note": {"Ask the finance lead"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reject = %d, want a redirect to the request", p.status)
	}

	for _, a := range portal.Actions() {
		p := sup.get("/history?action=" + url.QueryEscape(string(a)))
		option := `<option value="` + string(a) + `" selected>` + a.Label() + `</option>`
		if p.status != http.StatusOK || !strings.Contains(p.body, option) {
			t.Errorf("history?action=%s = %d, want 200 with %s chosen", a, p.status, option)
		}
	}
	cell := func(a portal.Action) string { return `<td data-label="Action">` + a.Label() }
	p := sup.get("/history?action=approval_reject")
	if !strings.Contains(p.body, cell(portal.ActionApprovalReject)) || !strings.Contains(p.body, "Ask the finance lead") ||
		strings.Contains(p.body, cell(portal.ActionApprovalRequest)) {
		t.Errorf("the history filtered to rejections does not show the rejection alone, in words: %s", p.body)
	}
	mine := op.get("/my-history?action=approval_request")
	if mine.status != http.StatusOK || !strings.Contains(mine.body, cell(portal.ActionApprovalRequest)) || !strings.Contains(mine.body, "Month-end close") {
		t.Errorf("the operator's history of requests = %d, want their request, in words: %s", mine.status, mine.body)
	}
	if strings.Contains(mine.body, `value="`+string(portal.ActionRetention)+`"`) {
		t.Error("the operator's history offers retention, which only the portal does")
	}
}

// TestApprovalsFilterAndRoles: a state the list does not know is answered
// 400, saying so, not with every request; only a supervisor reaches the
// decision's routes, whatever the service would say.
func TestApprovalsFilterAndRoles(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	u := h.WatchedUser(t, demotest.Want{Pass: demotest.NoPass})
	path := askApproval(t, op, u, "60")

	for _, bad := range []string{"nonsense", "PENDING", "%3Cscript%3E"} {
		p := op.get("/approvals?state=" + bad)
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "not one a request can be in") || strings.Contains(p.body, u.DisplayName) {
			t.Errorf("approvals?state=%s = %d, want 400 saying the state is unknown, listing nothing", bad, p.status)
		}
	}
	if p := op.get("/approvals?state=pending"); p.status != http.StatusOK || !strings.Contains(p.body, u.DisplayName) {
		t.Errorf("approvals?state=pending = %d, want 200 listing the request", p.status)
	}

	other := h.signedIn(t, "operator")
	csrf := csrfOf(t, other.get("/approvals"))
	for _, decision := range []string{"approve", "reject"} {
		p := other.postNoFollow(path+"/"+decision, url.Values{"csrf": {csrf}, "note": {"Looks fine"}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "for supervisors") {
			t.Errorf("an operator's %s = %d, want 403 for supervisors", decision, p.status)
		}
	}
	if got := historyOf(t, h, u.ID); !slices.Equal(got, []string{"approval_request:success"}) {
		t.Errorf("history = %v, want the request alone", got)
	}
	if p := op.get(path); !strings.Contains(p.body, "waits for a supervisor other than you") {
		t.Errorf("the request is no longer waiting after an operator's decisions")
	}
}
