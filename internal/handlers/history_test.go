package handlers_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

var recordLinkRE = regexp.MustCompile(`href="/history/(\d+)"`)

// issueAs issues a pass to id through b and fails the test otherwise.
func issueAs(t *testing.T, b *browser, id, reason string, extra url.Values) {
	t.Helper()
	form := url.Values{"csrf": {issueForm(t, b, id)}, "start": {"now"}, "lifetime": {"60"}, "reason": {reason}}
	for k, v := range extra {
		form[k] = v
	}
	if p := b.post("/users/"+id+"/issue", form); p.status != http.StatusOK || !passcodeRE.MatchString(p.body) {
		t.Fatalf("issuing to %s = %d", id, p.status)
	}
}

func TestSupervisorHistory(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	issueAs(t, op, graphemu.TAPExpiredUserID, "Expired pass, onboarding day two", nil)
	// A refusal, recorded too.
	op.post("/users/"+graphemu.GlobalAdminUserID+"/issue", url.Values{"csrf": {csrfOf(t, op.get("/search"))}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Admin asked"}})

	sup := h.signedIn(t, "supervisor")
	issueAs(t, sup, graphemu.TAPUsedUserID, "Supervisor issued one", nil)

	all := sup.get("/history")
	for _, want := range []string{"Expired pass, onboarding day two", "Admin asked", "Supervisor issued one", "refused", "success"} {
		if !strings.Contains(all.body, want) {
			t.Errorf("the supervisor's history lacks %q", want)
		}
	}
	mine := sup.get("/history?operator=" + graphemu.OperatorUserID)
	if !strings.Contains(mine.body, "Admin asked") || strings.Contains(mine.body, "Supervisor issued one") {
		t.Error("filtering by operator did not narrow the history to that operator")
	}
	refused := sup.get("/history?outcome=refused")
	if !strings.Contains(refused.body, "Admin asked") || strings.Contains(refused.body, "Expired pass") {
		t.Error("filtering by outcome did not work")
	}
	for _, bad := range []string{"outcome=maybe", "action=%3Cscript%3E", "from=yesterday", "from=2026-02-01&to=2026-01-01", "operator=%27%20OR%201%3D1", "before=-3"} {
		if p := sup.get("/history?" + bad); p.status != http.StatusBadRequest || !strings.Contains(p.body, "field-error") {
			t.Errorf("history?%s = %d, want 400 with the field's message", bad, p.status)
		}
	}

	// The operator sees their own history only, not the supervisor's.
	own := op.get("/my-history")
	if !strings.Contains(own.body, "Admin asked") || strings.Contains(own.body, "Supervisor issued one") {
		t.Error("an operator's history shows someone else's records")
	}

	// Export streams the same records as CSV.
	exp := sup.get("/history/export.csv?operator=" + graphemu.OperatorUserID)
	if exp.status != http.StatusOK || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %s", exp.status, exp.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not valid CSV: %v", err)
	}
	if len(rows) < 3 || rows[0][0] != "id" {
		t.Fatalf("export has %d rows, want a header and the operator's records", len(rows))
	}
	for _, r := range rows[1:] {
		if r[4] != graphemu.OperatorUserID {
			t.Fatalf("export row %v is not the operator's", r)
		}
	}

	dash := sup.get("/history/dashboard")
	if dash.status != http.StatusOK || !strings.Contains(dash.body, "<svg id=\"chart-daily\"") || !strings.Contains(dash.body, "Directory role") {
		t.Fatalf("dashboard = %d, want the charts with the refusal reason", dash.status)
	}

	// A record's detail, with its intent and hash.
	p := sup.get("/history?action=issue&outcome=success&operator=" + graphemu.OperatorUserID)
	m := recordLinkRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no record link")
	}
	link := "/history/" + m[1]
	detail := sup.get(link)
	if detail.status != http.StatusOK || !strings.Contains(detail.body, "Chained hash") || !strings.Contains(detail.body, "before the Graph call") {
		t.Fatalf("record detail = %d", detail.status)
	}
	if p := op.get(strings.Replace(link, "/history/", "/my-history/", 1)); p.status != http.StatusOK {
		t.Fatalf("the operator's own record = %d", p.status)
	}
	other := recordLinkRE.FindStringSubmatch(sup.get("/history?operator=" + graphemu.SupervisorUserID).body)[1]
	if p := op.get("/my-history/" + other); p.status != http.StatusNotFound {
		t.Fatalf("an operator opening someone else's record = %d, want 404", p.status)
	}

	anon := h.browser(t)
	for _, path := range []string{"/history", "/history/dashboard", "/history/export.csv", "/my-history"} {
		if p := anon.getNoFollow(path); p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), "/auth/login") {
			t.Errorf("anonymous GET %s = %d, want a redirect to sign in", path, p.status)
		}
	}
}

// TestHistoryPickerPresetsAndCount: a supervisor filters by a person's
// name instead of an id, is offered a choice when a name fits several,
// is told when it fits nobody, sees the record count and the periods,
// and an operator's own history finds only the people of their records.
func TestHistoryPickerPresetsAndCount(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	issueAs(t, op, graphemu.TAPExpiredUserID, "Expired pass", nil)
	issueAs(t, op, graphemu.TAPUsableUserID, "Second pass", url.Values{"confirm_replace": {"yes"}})
	sup := h.signedIn(t, "supervisor")
	issueAs(t, sup, graphemu.TAPUsedUserID, "Supervisor issued one", url.Values{"confirm_replace": {"yes"}})

	byName := sup.get("/history?operator=" + url.QueryEscape("priya"))
	if byName.status != http.StatusOK || !strings.Contains(byName.body, "Second pass") || strings.Contains(byName.body, "Supervisor issued one") ||
		!strings.Contains(byName.body, `id="operator-resolved"`) || !strings.Contains(byName.body, "2 records match") {
		t.Errorf("operator=priya: %d; want Priya's two records, her name shown and the count", byName.status)
	}
	if !strings.Contains(byName.body, "End this operator") {
		t.Error("a resolved operator lacks the button to end their sessions")
	}
	user := sup.get("/history?target=" + url.QueryEscape("ben.carter@northwind.example"))
	if !strings.Contains(user.body, "Expired pass") || strings.Contains(user.body, "Second pass") || !strings.Contains(user.body, "1 record matches") {
		t.Errorf("target by UPN: want Ben's record only")
	}
	// "er" is in Ben Carter's and Tomás Herrera's names.
	several := sup.get("/history?target=er")
	if several.status != http.StatusBadRequest || !strings.Contains(several.body, "people in the history fit: choose one") ||
		!strings.Contains(several.body, "target="+graphemu.TAPExpiredUserID) || !strings.Contains(several.body, "target="+graphemu.TAPUsableUserID) {
		t.Errorf("target=er: %d; want 400 offering both users as links", several.status)
	}
	if none := sup.get("/history?operator=nobody"); none.status != http.StatusBadRequest || !strings.Contains(none.body, "No operator in the history has a name like this.") {
		t.Errorf("operator=nobody: %d; want 400 saying so", none.status)
	}
	for _, preset := range []string{"Today", "This week", "This month", "Last month"} {
		if !strings.Contains(sup.get("/history").body, ">"+preset+"<") {
			t.Errorf("the history lacks the %q period", preset)
		}
	}
	today := h.App.Service.Now().Format("2006-01-02")
	if p := sup.get("/history?from=" + today + "&to=" + today); !strings.Contains(p.body, `aria-current="true">Today<`) || !strings.Contains(p.body, "3 records match") {
		t.Errorf("today's period is not marked current, or its count is not 3")
	}
	// An operator finds only the users of their own records.
	own := h.signedIn(t, "operator")
	if p := own.get("/my-history?target=" + url.QueryEscape("chlo")); p.status != http.StatusBadRequest || strings.Contains(p.body, "Chloé") {
		t.Errorf("an operator found a user of someone else's record: %d", p.status)
	}
	if p := own.get("/my-history?target=" + url.QueryEscape("carter")); p.status != http.StatusOK || !strings.Contains(p.body, "Expired pass") {
		t.Errorf("an operator could not find their own record's user: %d", p.status)
	}
}
