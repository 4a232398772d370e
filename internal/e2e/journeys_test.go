package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

// Journey 1: an operator finds an eligible user, issues a pass, copies the
// passcode, cannot get it back through the history, and revokes the pass.
// The search and the issue form are done with the keyboard only.
func TestJourneyIssueAndRevoke(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "issue", portalOptions{})
	target := j.portal.eligibleWithoutPass(t)
	var defaultLifetime int
	j.portal.demo.Graph.View(func(tn *graphemu.Tenant) { defaultLifetime = tn.Policy.DefaultLifetimeInMinutes })
	userPath := "/users/" + target.ID

	b := j.newBrowser()
	b.signInAsOperator()

	// Search with the keyboard: the search box has the focus on arrival.
	if f := b.focused(); f.ID != "q" {
		t.Fatalf("on the search page the focus is on %s, want the search box #q", f)
	}
	b.wantFocusIndicator()
	// A full page load would lose this; an htmx swap keeps it.
	evaluate[chromedp.Void](b, `window.portalTestSamePage = true`)
	b.press(target.DisplayName)
	b.press(kb.Enter)
	b.waitVisible(`#results a[href="` + userPath + `"]`)
	if !evaluate[bool](b, `window.portalTestSamePage === true`) {
		t.Errorf("the search loaded a new page; want the results swapped in by htmx")
	}
	if got := b.path(); !strings.HasPrefix(got, "/search?") || !strings.Contains(got, "q=") {
		t.Errorf("after the search the address is %s, want /search?q=…", got)
	}
	b.keyPage("search-results")

	// Open the user with the keyboard.
	b.tabTo(`#results a[href="` + userPath + `"]`)
	b.wantFocusIndicator()
	if status := b.pressToNavigate(kb.Enter); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	b.wantHeading(target.DisplayName)
	b.wantText("Eligible.", "The user has no Temporary Access Pass.")
	b.keyPage("user")

	// The issue form, with the keyboard only.
	b.tabTo(`a[href="` + userPath + `/issue"]`)
	if status := b.pressToNavigate(kb.Enter); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	if got, want := b.value("#lifetime"), strconv.Itoa(defaultLifetime); got != want {
		t.Errorf("the lifetime starts at %s minutes, want the policy default %s", got, want)
	}
	b.keyPage("issue-form")
	if b.exists("#one_time") {
		b.tabTo("#one_time")
		if !evaluate[bool](b, `document.querySelector("#one_time").checked`) {
			b.press(" ")
		}
		if !evaluate[bool](b, `document.querySelector("#one_time").checked`) {
			t.Fatalf("the space bar did not tick One-time use")
		}
	}
	b.tabTo("#reason")
	b.wantFocusIndicator()
	b.press("New phone, re-registering Authenticator")
	if f := b.tabTo(`main form button[type="submit"]`); f.Text != "Issue the pass" {
		t.Fatalf("the form's submit button is %s, want “Issue the pass”", f)
	}
	b.wantFocusIndicator()
	resp := b.navigation("press the space bar on “Issue the pass”", chromedp.KeyEvent(" "))
	if resp.Status != http.StatusOK {
		t.Fatalf("issuing answered %d", resp.Status)
	}
	if cc := header(resp, "Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the passcode page has Cache-Control %q, want no-store", cc)
	}
	b.wantHeading("Pass issued")
	passcode := b.text("#passcode")
	if passcode == "" {
		t.Fatal("the passcode page shows no passcode in #passcode")
	}
	b.keyPage("passcode")

	// Copy it, as the operator would to paste it into a chat.
	b.clickInPlace("button.copy-btn")
	b.waitUntil(`the copy button to say “Copied”`, `document.querySelector("button.copy-btn").innerText.trim() === "Copied"`)
	if got := evaluate[string](b, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); got != passcode {
		t.Errorf("the clipboard holds %q, want the passcode", got)
	}

	// Done, then the browser's back button: the passcode page's place in
	// the history must not show the passcode again, nor the form before it.
	if status := b.click(`.passcode-box a[href="` + userPath + `"]`); status != http.StatusOK {
		t.Fatalf("Done answered %d", status)
	}
	b.wantHeading(target.DisplayName)
	b.wantNoPasscode(passcode)
	if b.historyBack() {
		t.Logf("the browser restored the passcode page's entry from its back/forward cache")
	}
	b.wantNoPasscode(passcode)
	if b.historyBack() {
		t.Logf("the browser restored the issue form from its back/forward cache")
	}
	if got := b.path(); got != userPath+"/issue" {
		t.Errorf("back past the passcode page landed on %s, want %s/issue", got, userPath)
	}
	b.wantNoPasscode(passcode)

	// Revoke it from the user page.
	if status := b.click(`nav.breadcrumbs a[href="` + userPath + `"]`); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	b.wantText("Usable")
	b.wantNoPasscode(passcode)
	if status := b.click(`a[href="` + userPath + `/revoke"]`); status != http.StatusOK {
		t.Fatalf("the revoke form answered %d", status)
	}
	b.wantHeading("Revoke the Temporary Access Pass")
	b.keyPage("revoke-form")
	b.typeInto("#reason", "Onboarding finished")
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("revoking ended with %d", status)
	}
	b.wantHeading(target.DisplayName)
	b.wantText("The Temporary Access Pass was revoked.", "The user has no Temporary Access Pass.")
	b.keyPage("revoked")
}

// wantNoPasscode fails the test if the passcode is anywhere in the page:
// its text, its markup or its address.
func (b *browser) wantNoPasscode(passcode string) {
	b.t.Helper()
	where := evaluate[string](b, `(function (p) {
  if (location.href.indexOf(p) >= 0) { return "address"; }
  var html = document.documentElement.outerHTML;
  var escaped = p.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  if (html.indexOf(p) >= 0 || html.indexOf(escaped) >= 0 || html.indexOf(escaped.replace(/"/g, "&quot;")) >= 0) { return "markup"; }
  if (document.body.innerText.indexOf(p) >= 0) { return "text"; }
  return "";
})(`+js(passcode)+`)`)
	if where != "" {
		b.t.Errorf("%s: the passcode is shown again on %s (in its %s)", b.j.name, b.path(), where)
	}
}

// Journey 2: an operator opens an administrator and is refused, on the
// user page and on the issue form's address.
func TestJourneyAdministratorRefused(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "admin", portalOptions{})
	admin := j.portal.user(t, graphemu.GlobalAdminUserID)
	if len(admin.Roles) == 0 {
		t.Fatalf("the seeded administrator %s holds no directory role", admin.DisplayName)
	}
	userPath := "/users/" + admin.ID

	b := j.newBrowser()
	b.signInAsOperator()
	b.search(admin.DisplayName)
	if status := b.openUser(admin); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	b.wantHeading(admin.DisplayName)
	verdict := b.text(".verdict")
	for _, want := range append([]string{"Not eligible.", "is privileged in the directory: "}, admin.Roles...) {
		if !strings.Contains(verdict, want) {
			t.Errorf("the verdict says %q; want it to contain %q", verdict, want)
		}
	}
	if b.exists(`a[href="` + userPath + `/issue"]`) {
		t.Errorf("the user page of an administrator offers to issue a pass")
	}
	b.keyPage("user")

	if status := b.open(userPath + "/issue"); status != http.StatusForbidden {
		t.Errorf("GET %s/issue answered %d, want %d", userPath, status, http.StatusForbidden)
	}
	b.wantHeading("No pass for " + admin.DisplayName)
	b.wantText("Nothing was issued.", "is privileged in the directory: "+admin.Roles[0], "What to do: Escalate to the identity team")
	if b.exists(`main form`) {
		t.Errorf("the refusal page has a form")
	}
	b.keyPage("refusal")
}

// Journey 3: an operator replaces a user's usable pass: the form warns,
// and asks for a confirmation before it replaces anything.
func TestJourneyReplaceUsablePass(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "replace", portalOptions{})
	holder := j.portal.user(t, graphemu.TAPUsableUserID)
	userPath := "/users/" + holder.ID

	b := j.newBrowser()
	b.signInAsOperator()
	b.search(holder.DisplayName)
	if status := b.openUser(holder); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	b.wantText("Usable", "Eligible.")
	if status := b.click(`a[href="` + userPath + `/issue"]`); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	if warning := b.text(".alert-warning"); !strings.Contains(warning, "already has a pass") || !strings.Contains(warning, "replaces it") {
		t.Errorf("the form warns %q; want it to say the user already has a pass and the new one replaces it", warning)
	}
	b.keyPage("issue-form")

	const reason = "Lost phone, replacing the pass from this morning"
	b.typeInto("#reason", reason)
	if status := b.click(`main form button[type="submit"]`); status != http.StatusConflict {
		t.Errorf("issuing without the confirmation answered %d, want %d", status, http.StatusConflict)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	if got := b.text("#confirm_replace-error"); got != "Confirm that the new pass replaces the current one." {
		t.Errorf("the confirmation's error says %q", got)
	}
	if got := b.value("#reason"); got != reason {
		t.Errorf("the reason came back as %q, want %q", got, reason)
	}
	if b.exists("#passcode") {
		t.Fatalf("a passcode was shown without the confirmation")
	}
	b.keyPage("confirmation-error")

	b.clickInPlace("#confirm_replace")
	if !evaluate[bool](b, `document.querySelector("#confirm_replace").checked`) {
		t.Fatalf("clicking “Replace the current pass” did not tick it")
	}
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("issuing with the confirmation answered %d", status)
	}
	b.wantHeading("Pass issued")
	if b.text("#passcode") == "" {
		t.Fatal("the passcode page shows no passcode")
	}
	b.keyPage("passcode")
}

// Journey 5: someone without a portal role sees the No access page, and
// an operator is refused the supervisors' history.
func TestJourneyAccessByRole(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "access", portalOptions{})
	nobody := persona(t, "no-role")

	b := j.newBrowser()
	if status := b.signIn(nobody.Key); status != http.StatusForbidden {
		t.Errorf("signing in without a role answered %d, want %d", status, http.StatusForbidden)
	}
	b.wantHeading("No access")
	b.wantText(nobody.Name, "has no TAP Portal role")
	if b.exists("nav.mainnav") {
		t.Errorf("the No access page shows the portal's navigation")
	}
	b.keyPage("no-access")

	op := j.newBrowser()
	op.signInAsOperator()
	if op.exists(`a[href="/history"]`) {
		t.Errorf("an operator's navigation links to the history")
	}
	if status := op.open("/history"); status != http.StatusForbidden {
		t.Errorf("an operator's GET /history answered %d, want %d", status, http.StatusForbidden)
	}
	op.keyPage("history-refused")
	op.wantHeading("Not allowed")
}

// Journey 4: an operator issues a pass, revokes it, replaces another
// user's usable pass and is refused for an administrator; a supervisor
// then finds all of it in the history, filtered to that operator, opens a
// record, exports the CSV and reads the dashboard.
func TestJourneySupervisorReview(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "supervisor", portalOptions{})
	first := j.portal.eligibleWithoutPass(t)
	second := j.portal.eligibleWithoutPass(t, first.ID)
	holder := j.portal.user(t, graphemu.TAPUsableUserID)
	admin := j.portal.user(t, graphemu.GlobalAdminUserID)
	operator := persona(t, "operator")
	const (
		issueReason   = "New starter, first sign-in to set up Authenticator"
		issueTicket   = "INC-40017"
		revokeReason  = "Authenticator registered, the pass is no longer needed"
		replaceReason = "Pass lost before use, issuing a new one"
		refusedReason = "Locked out after a phone reset"
	)

	// The operator's day, in one browser.
	b := j.newBrowser()
	b.signInAsOperator()

	// A pass for a new starter, revoked once they are set up.
	firstPath := "/users/" + first.ID
	b.findAndOpen(first)
	if status := b.click(`a[href="` + firstPath + `/issue"]`); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	b.typeInto("#reason", issueReason)
	b.typeInto("#ticket", issueTicket)
	b.submitIssueForm()
	if status := b.click(`.passcode-box a[href="` + firstPath + `"]`); status != http.StatusOK {
		t.Fatalf("Done answered %d", status)
	}
	if status := b.click(`a[href="` + firstPath + `/revoke"]`); status != http.StatusOK {
		t.Fatalf("the revoke form answered %d", status)
	}
	b.typeInto("#reason", revokeReason)
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("revoking ended with %d", status)
	}
	b.wantText("The Temporary Access Pass was revoked.")

	// A usable pass replaced, after confirming.
	holderPath := "/users/" + holder.ID
	b.findAndOpen(holder)
	if status := b.click(`a[href="` + holderPath + `/issue"]`); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	if warning := b.text(".alert-warning"); !strings.Contains(warning, "already has a pass") {
		t.Errorf("the form for %s warns %q; want it to say the user already has a pass", holder.DisplayName, warning)
	}
	b.typeInto("#reason", replaceReason)
	b.clickInPlace("#confirm_replace")
	b.submitIssueForm()

	// An administrator: the issue form's address shows a refusal page,
	// which is not an attempt to issue and records nothing.
	if status := b.open("/users/" + admin.ID + "/issue"); status != http.StatusForbidden {
		t.Errorf("GET /users/%s/issue answered %d, want %d", admin.ID, status, http.StatusForbidden)
	}
	b.wantHeading("No pass for " + admin.DisplayName)

	// A user who becomes an administrator while the operator fills the
	// form in: submitting it is an attempt, refused and recorded.
	secondPath := "/users/" + second.ID
	b.findAndOpen(second)
	if status := b.click(`a[href="` + secondPath + `/issue"]`); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	j.portal.makeGlobalAdministrator(t, second.ID)
	b.typeInto("#reason", refusedReason)
	if status := b.click(`main form button[type="submit"]`); status != http.StatusForbidden {
		t.Errorf("issuing to a new Global Administrator answered %d, want %d", status, http.StatusForbidden)
	}
	// The refusal, not the form again: there is nothing to correct.
	b.wantHeading("No pass for " + second.DisplayName)
	if alert := b.text(".verdict"); !strings.HasPrefix(alert, "Nothing was issued.") || !strings.Contains(alert, "Global Administrator") || !strings.Contains(alert, "What to do:") {
		t.Errorf("the refusal says %q; want “Nothing was issued.”, the role Global Administrator and what to do", alert)
	}
	if b.exists("main form") {
		t.Error("a refused submit shows a form to send again")
	}
	if b.exists("#passcode") {
		t.Fatal("a passcode was shown for a Global Administrator")
	}
	b.keyPage("refused")

	// The supervisor, in the same browser.
	b.signOut()
	if status := b.signIn("supervisor"); status != http.StatusOK {
		t.Fatalf("signing in as the supervisor ended with %d on %s", status, b.path())
	}
	if status := b.click(`nav.mainnav a[href="/history"]`); status != http.StatusOK {
		t.Fatalf("the history answered %d", status)
	}
	b.wantHeading("Issuance history")

	// The filter filters: nothing was done by the supervisor.
	b.typeInto("#operator", graphemu.SupervisorUserID)
	if status := b.pressToNavigate(kb.Enter); status != http.StatusOK {
		t.Fatalf("filtering the history answered %d", status)
	}
	b.wantText("No records match.")
	if status := b.click(`main form a[href="/history"]`); status != http.StatusOK {
		t.Fatalf("clearing the filter answered %d", status)
	}

	// Everything the operator did, newest first, one row per action: the
	// supervisor types part of the operator's name, not an id.
	const typed = "natarajan"
	b.typeInto("#operator", typed)
	if status := b.pressToNavigate(kb.Enter); status != http.StatusOK {
		t.Fatalf("filtering the history answered %d", status)
	}
	if got := b.path(); !strings.Contains(got, "operator="+typed) {
		t.Errorf("the filtered history's address is %s, want operator=%s in it", got, typed)
	}
	if got := b.value("#operator"); got != typed {
		t.Errorf("the Operator field holds %q after filtering, want %q", got, typed)
	}
	if got := b.text("#operator-resolved"); got != "Showing "+operator.Name {
		t.Errorf("under the Operator field: %q, want “Showing %s”", got, operator.Name)
	}
	if got := b.text("#record-count"); got != "4 records match" {
		t.Errorf("the record count reads %q, want 4 records match (one per action, as the rows)", got)
	}
	rows := b.historyRows()
	want := []historyRow{
		{"Action": "Issue protected account", "Outcome": "Refused by guardrail", "Operator": operator.Name, "User": userCell(second), "Reason": refusedReason, "Ticket": "—"},
		{"Action": "Issue", "Outcome": "Issued", "Operator": operator.Name, "User": userCell(holder), "Reason": replaceReason, "Ticket": "—"},
		{"Action": "Revoke", "Outcome": "Revoked", "Operator": operator.Name, "User": userCell(first), "Reason": revokeReason, "Ticket": "—"},
		{"Action": "Issue", "Outcome": "Issued", "Operator": operator.Name, "User": userCell(first), "Reason": issueReason, "Ticket": issueTicket},
	}
	if !wantRows(t, "the operator's history", rows, want) {
		t.FailNow()
	}
	if detail := rows[0]["Detail"]; !strings.Contains(detail, "Global Administrator") {
		t.Errorf("the refusal's detail is %q; want it to name the role Global Administrator", detail)
	}
	b.keyPage("history-filtered")

	// The export of the filtered history: every record, intents included.
	export := `main form a[download]`
	if href := evaluate[string](b, `document.querySelector(`+js(export)+`).getAttribute("href")`); !strings.HasPrefix(href, "/history/export.csv?") ||
		!strings.Contains(href, "operator="+typed) {
		t.Errorf("Export CSV links to %q, want /history/export.csv with the operator filter", href)
	}
	name, content := b.download(export)
	if !regexp.MustCompile(`^tap-history-\d{8}-\d{6}\.csv$`).MatchString(name) {
		t.Errorf("the export is named %q, want tap-history-YYYYMMDD-HHMMSS.csv", name)
	}
	checkExport(t, content, exportWant{
		operator: operator.Name, refusedUser: second.ID, refusedReason: refusedReason,
		issued: []string{holder.ID, first.ID}, revoked: first.ID, ticket: issueTicket,
	})
	b.checkClean("the export")

	// One record in full: the refusal.
	if status := b.click(`main table a[href="` + rows[0]["record"] + `"]`); status != http.StatusOK {
		t.Fatalf("the record %s answered %d", rows[0]["record"], status)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	props := evaluate[map[string]string](b, `(function () {
  var out = {};
  document.querySelectorAll("dl.props > dt").forEach(function (dt) {
    var dd = dt.nextElementSibling;
    out[dt.textContent.trim()] = dd ? dd.textContent.replace(/\s+/g, " ").trim() : "";
  });
  return out;
})()`)
	for field, want := range map[string]string{
		"Operator":     operator.Name + " " + graphemu.OperatorUserID,
		"User":         second.DisplayName + " " + second.UPN + " " + second.ID,
		"Reason":       refusedReason,
		"Refusal code": "privileged_role",
	} {
		if got := props[field]; got != want {
			t.Errorf("the record's %s is %q, want %q", field, got, want)
		}
	}
	if !strings.Contains(props["Detail"], "Global Administrator") {
		t.Errorf("the record's Detail is %q; want it to name the role Global Administrator", props["Detail"])
	}
	if outcome := b.text(".page-header .subtitle span"); outcome != "Refused by guardrail" {
		t.Errorf("the record's outcome reads %q, want Refused by guardrail", outcome)
	}
	b.keyPage("record")

	// The dashboard of the last 30 days.
	if status := b.click(`nav.mainnav a[href="/history/dashboard"]`); status != http.StatusOK {
		t.Fatalf("the dashboard answered %d", status)
	}
	b.wantHeading("Dashboard")
	daily := b.chart("chart-daily")
	if daily.Bars["bar-issued"] != 1 || daily.Bars["bar-refused"] != 1 || len(daily.Bars) != 2 {
		t.Errorf("the daily chart has the bars %v, want one issued and one refused (today's)", daily.Bars)
	}
	for _, suffix := range []string{": 2 issued", ": 1 refused"} {
		if !slices.ContainsFunc(daily.Titles, func(s string) bool { return strings.HasSuffix(s, suffix) }) {
			t.Errorf("no bar of the daily chart says “…%s”; their titles are %q", suffix, daily.Titles)
		}
	}
	if len(daily.Labels) == 0 {
		t.Errorf("the daily chart labels no day")
	}
	wantChart(t, "operators", b.chart("chart-operators"), "bar-issued", operator.Name, "2")
	wantChart(t, "refusals", b.chart("chart-refusals"), "bar-refused", "Directory role", "1")
	for id, want := range map[string]string{"#total-issued": "2", "#total-revoked": "1", "#total-refused": "1", "#total-failed": "0", "#total-unknown": "0"} {
		if got := b.text(id); got != want {
			t.Errorf("the dashboard's total %s reads %q, want %s", id, got, want)
		}
	}
	if got := evaluate[[]string](b, `Array.from(document.querySelectorAll("#operator-review tbody tr")).map(function (tr) { return tr.innerText.replace(/\s+/g, " ").trim(); })`); len(got) != 1 ||
		!strings.HasPrefix(got[0], operator.Name+" 2 1 33%") {
		t.Errorf("the operators' table reads %q, want one line: %s, 2 issued, 1 refused, 33%%", got, operator.Name)
	}
	b.keyPage("dashboard")

	// A period in one click: today holds every action of the journey.
	if status := b.click(`nav.presets a[href*="from="]`); status != http.StatusOK {
		t.Fatalf("the first period answered %d", status)
	}
	if got := b.text(`nav.presets [aria-current="true"]`); got != "Today" {
		t.Errorf("after clicking the first period, the current one is %q, want Today", got)
	}
	if got := b.text("#total-issued"); got != "2" {
		t.Errorf("today's issued total reads %q, want 2", got)
	}
}

// findAndOpen goes to Find a user with the top bar's link, searches for
// the user and opens their page.
func (b *browser) findAndOpen(u seededUser) {
	b.t.Helper()
	if status := b.click(`nav.mainnav a[href="/search"]`); status != http.StatusOK {
		b.t.Fatalf("%s: Find a user answered %d", b.j.name, status)
	}
	b.search(u.DisplayName)
	if status := b.openUser(u); status != http.StatusOK {
		b.t.Fatalf("%s: the user page of %s answered %d", b.j.name, u.DisplayName, status)
	}
	b.wantHeading(u.DisplayName)
}

// submitIssueForm submits the issue form, which must issue: the passcode
// page shows, with a passcode.
func (b *browser) submitIssueForm() {
	b.t.Helper()
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		b.t.Fatalf("%s: issuing answered %d on %s", b.j.name, status, b.path())
	}
	b.wantHeading("Pass issued")
	if b.text("#passcode") == "" {
		b.t.Fatalf("%s: the passcode page shows no passcode", b.j.name)
	}
}

// historyRow is one row of a history table: each cell's text by its
// column's heading, and "record", the address of the row's record. The
// text is the markup's, whatever case the stylesheet shows it in; the
// parts of a cell (a user's name and UPN, say) are separated by a space.
type historyRow map[string]string

// historyRows reads the history table of the page, top to bottom.
func (b *browser) historyRows() []historyRow {
	b.t.Helper()
	return evaluate[[]historyRow](b, `(function () {
  var table = document.querySelector("main table");
  if (!table) { return []; }
  var text = function (cell) {
    return Array.from(cell.childNodes).map(function (n) { return n.textContent.replace(/\s+/g, " ").trim(); })
      .filter(function (s) { return s !== ""; }).join(" ");
  };
  var heads = Array.from(table.tHead.rows[0].cells).map(text);
  return Array.from(table.tBodies[0].rows).map(function (tr) {
    var row = {};
    Array.from(tr.cells).forEach(function (c, i) { row[heads[i]] = text(c); });
    var a = tr.cells[0].querySelector("a");
    row.record = a ? a.getAttribute("href") : "";
    return row;
  });
})()`)
}

// userCell is what a history row's User cell says of a user.
func userCell(u seededUser) string { return u.DisplayName }

// wantRows fails the test unless the rows are the wanted ones, in order;
// only the columns a wanted row names are compared. It reports whether
// they were.
func wantRows(t *testing.T, what string, got, want []historyRow) bool {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		for col, w := range want[i] {
			ok = ok && got[i][col] == w
		}
	}
	if !ok {
		var out strings.Builder
		for _, list := range []struct {
			name string
			rows []historyRow
		}{{"has", got}, {"want", want}} {
			fmt.Fprintf(&out, "\n%s %d rows:", list.name, len(list.rows))
			for _, r := range list.rows {
				fmt.Fprintf(&out, "\n  %v", map[string]string(r))
			}
		}
		t.Errorf("%s is not as expected:%s", what, out.String())
	}
	return ok
}

// exportWant is what the export of journey 4 must hold.
type exportWant struct {
	operator      string   // the operator's name
	refusedUser   string   // the id of the user the refusal was for
	refusedReason string   // its reason
	issued        []string // the users given a pass, newest first
	revoked       string   // the user whose pass was revoked
	ticket        string   // the ticket of the oldest issue
}

// checkExport checks the CSV export of the operator's history: a header
// row, then one row per record, newest first, with every intent that an
// outcome settled.
func checkExport(t *testing.T, content []byte, want exportWant) {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%s", err, content)
	}
	if len(records) == 0 {
		t.Fatal("the export is empty: no header row")
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	for _, name := range []string{"id", "action", "outcome", "operator_id", "operator_name", "target_id", "reason", "ticket", "refusal_code", "intent_id"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("the export's header row %q has no column %s", records[0], name)
		}
	}
	rows := records[1:]
	cell := func(r []string, name string) string { return r[col[name]] }
	// Issue and revoke each record an intent, then its outcome; the
	// refusal is recorded alone.
	if len(rows) != 7 {
		t.Fatalf("the export has %d rows, want 7 (three intents, three outcomes, one refusal):\n%s", len(rows), content)
	}
	intents := map[string]bool{}
	var got []string
	for _, r := range rows {
		if cell(r, "operator_id") != graphemu.OperatorUserID || cell(r, "operator_name") != want.operator {
			t.Errorf("the export has a row of %s (%s), want only the operator's: %q", cell(r, "operator_name"), cell(r, "operator_id"), r)
		}
		if cell(r, "outcome") == "pending" {
			intents[cell(r, "id")] = true
		}
	}
	for _, r := range rows {
		switch cell(r, "outcome") {
		case "pending":
			continue
		case "success":
			if !intents[cell(r, "intent_id")] {
				t.Errorf("the export's outcome %s settles the intent %q, which it does not hold", cell(r, "id"), cell(r, "intent_id"))
			}
		case "refused":
			if cell(r, "target_id") != want.refusedUser || cell(r, "refusal_code") != "privileged_role" ||
				cell(r, "reason") != want.refusedReason || cell(r, "intent_id") != "0" {
				t.Errorf("the export's refusal is %q; want one for %s, privileged_role, %q, with no intent", r, want.refusedUser, want.refusedReason)
			}
		}
		got = append(got, cell(r, "action")+" "+cell(r, "outcome")+" "+cell(r, "target_id"))
	}
	if len(intents) != 3 {
		t.Errorf("the export holds %d intents, want 3", len(intents))
	}
	wantOutcomes := []string{
		"issue refused " + want.refusedUser,
		"issue success " + want.issued[0],
		"revoke success " + want.revoked,
		"issue success " + want.issued[1],
	}
	if !slices.Equal(got, wantOutcomes) {
		t.Errorf("the export's outcomes, newest first, are\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(wantOutcomes, "\n  "))
	}
	if last := rows[len(rows)-1]; cell(last, "ticket") != want.ticket {
		t.Errorf("the export's oldest row has the ticket %q, want %q", cell(last, "ticket"), want.ticket)
	}
}

// chartView is what an SVG chart of the dashboard draws.
type chartView struct {
	Found  bool           `json:"found"`
	Bars   map[string]int `json:"bars"`   // bars (rect) by class
	Titles []string       `json:"titles"` // the bars' titles
	Labels []string       `json:"labels"` // category or axis labels
	Values []string       `json:"values"` // the numbers next to the bars
}

// chart reads the chart svg#id; it fails the test if there is none.
func (b *browser) chart(id string) chartView {
	b.t.Helper()
	c := evaluate[chartView](b, `(function (id) {
  var svg = document.getElementById(id);
  if (!svg || svg.tagName.toLowerCase() !== "svg") { return {found: false, bars: {}, titles: [], labels: [], values: []}; }
  var bars = {};
  svg.querySelectorAll("rect").forEach(function (r) { var k = r.getAttribute("class") || ""; bars[k] = (bars[k] || 0) + 1; });
  var texts = function (sel) { return Array.from(svg.querySelectorAll(sel)).map(function (e) { return e.textContent.trim(); }); };
  return {found: true, bars: bars, titles: texts("rect > title"), labels: texts("text.chart-label"), values: texts("text.chart-value")};
})(`+js(id)+`)`)
	if !c.Found {
		b.t.Fatalf("%s: the page %s has no chart svg#%s", b.j.name, b.path(), id)
	}
	return c
}

// wantChart fails the test unless the horizontal bar chart has exactly
// one bar, of the class, labelled label, with the value.
func wantChart(t *testing.T, what string, c chartView, class, label, value string) {
	t.Helper()
	if c.Bars[class] != 1 || len(c.Bars) != 1 || !slices.Equal(c.Labels, []string{label}) || !slices.Equal(c.Values, []string{value}) {
		t.Errorf("the %s chart draws the bars %v labelled %q with the values %q; want one %s bar, %q, %s",
			what, c.Bars, c.Labels, c.Values, class, label, value)
	}
}

// Journey 6: an operator whose sign-in is too old to issue is sent
// through the provider again, from the issue button and from the issue
// form's submit button, and keeps what they typed.
func TestJourneyStaleSignInStepUp(t *testing.T) {
	t.Parallel()
	const maxAuthAge = 15 * time.Minute
	portalClock := &clock{}
	j := newJourney(t, "step-up", portalOptions{
		Env: map[string]string{"PORTAL_MAX_AUTH_AGE": "15m"},
		Now: portalClock.now,
	})
	provider := j.portal.demo.Provider
	target := j.portal.eligibleWithoutPass(t)
	issuePath := "/users/" + target.ID + "/issue"

	// A sign-in an hour old, as far as the portal can tell.
	b := j.newBrowser()
	provider.SetAuthTimeOffset(-time.Hour)
	b.signInAsOperator()
	provider.SetAuthTimeOffset(0)

	// Finding the user needs no recent sign-in; the issue form does.
	b.search(target.DisplayName)
	if status := b.openUser(target); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	if status := b.click(`a[href="` + issuePath + `"]`); status != http.StatusOK {
		t.Fatalf("the issue button ended with %d on %s", status, b.path())
	}
	b.wantPicker()
	b.keyPage("picker")
	if status := b.pickPersona("operator"); status != http.StatusOK {
		t.Fatalf("signing in again ended with %d on %s", status, b.path())
	}
	if got := b.path(); got != issuePath {
		t.Fatalf("signing in again led to %s, want the issue form %s", got, issuePath)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	b.checkClean("the step-up from the issue button")

	// The operator fills the form in and is called away for longer than
	// the portal allows. The provider's clock moves on with the portal's,
	// so that the next sign-in is recent by the portal's clock.
	const (
		reason = "Locked out after a phone reset, identity checked by a call back"
		ticket = "INC-60417"
	)
	b.typeInto("#reason", reason)
	b.typeInto("#ticket", ticket)
	b.tabTo("#lifetime")
	before := b.value("#lifetime")
	b.press(kb.ArrowDown)
	lifetime := b.value("#lifetime")
	if lifetime == before {
		t.Fatalf("the down arrow did not change the lifetime from %s minutes", before)
	}
	portalClock.moveOn(maxAuthAge + time.Minute)
	provider.SetAuthTimeOffset(maxAuthAge + time.Minute)
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("submitting the form ended with %d on %s", status, b.path())
	}
	b.wantPicker()
	if b.exists("#passcode") {
		t.Fatal("a stale sign-in was shown a passcode")
	}
	b.screenshot("picker-again")
	b.checkClean("the step-up from the form")
	if status := b.pickPersona("operator"); status != http.StatusOK {
		t.Fatalf("signing in again ended with %d on %s", status, b.path())
	}
	// The draft comes back from an encrypted cookie, not through a URL
	// that would stay in the browser's history.
	if got := b.path(); got != issuePath {
		t.Fatalf("signing in again led to %s, want the issue form %s with nothing typed in the URL", got, issuePath)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	for field, want := range map[string]string{"#reason": reason, "#ticket": ticket, "#lifetime": lifetime} {
		if got := b.value(field); got != want {
			t.Errorf("after signing in again %s holds %q, want what was typed, %q", field, got, want)
		}
	}
	b.keyPage("restored-form")
	b.submitIssueForm()
	b.checkClean("issuing after the step-up")

	// The operator's history: the submit that was too late is a refusal,
	// with what was typed; the pass, an issue.
	if status := b.click(`nav.mainnav a[href="/my-history"]`); status != http.StatusOK {
		t.Fatalf("My history answered %d", status)
	}
	rows := b.historyRows()
	wantRows(t, "the operator's history", rows, []historyRow{
		{"Action": "Issue", "Outcome": "Issued", "User": userCell(target), "Reason": reason, "Ticket": ticket},
		{"Action": "Issue", "Outcome": "Refused by guardrail", "User": userCell(target), "Reason": reason, "Ticket": ticket,
			"Detail": "The operator's sign-in was too old; they were sent to sign in again before issuing."},
	})
}

// firstLoadBudget is the most the first signed-in page may transfer.
const firstLoadBudget = 30 * 1024

// Journey: an operator on a call has only a surname, an employee id, an
// object id or an address pasted in capitals; each finds the person, with
// the count and the pass on the row.
func TestJourneySearchForms(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "search-forms", portalOptions{})
	var tomas graphemu.User
	j.portal.demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if u.Surname == "Herrera" {
				tomas = *u
			}
		}
	})
	if tomas.ID == "" {
		t.Fatal("the demo tenant has no Herrera")
	}
	b := j.newBrowser()
	b.signInAsOperator()
	// The first page after sign-in, in a browser that has cached nothing:
	// the document and everything it loaded, headers included.
	load := evaluate[struct {
		Bytes, Requests int64
	}](b, `(function () {
  var nav = performance.getEntriesByType("navigation")[0], res = performance.getEntriesByType("resource");
  var out = {Bytes: nav.transferSize, Requests: 1 + res.length};
  res.forEach(function (r) { out.Bytes += r.transferSize; });
  return out;
})()`)
	tally.firstLoad.Store(load.Bytes)
	tally.firstLoadRequests.Store(load.Requests)
	if load.Bytes == 0 || load.Bytes > firstLoadBudget {
		t.Errorf("the first signed-in page transferred %d bytes in %d requests, want at most %d", load.Bytes, load.Requests, firstLoadBudget)
	}
	for i, q := range []string{"Herrera", tomas.EmployeeID, tomas.ID, strings.ToUpper(tomas.UserPrincipalName)} {
		b.open("/search")
		b.search(q)
		if i == 0 {
			b.keyPage("search-surname")
		}
		if got := b.text("#result-count"); !strings.HasPrefix(got, "1 user matches") {
			t.Errorf("searching %q: the count reads %q, want “1 user matches …”", q, got)
		}
		if got := b.text(`#results td[data-label="Name"] a`); got != tomas.DisplayName {
			t.Errorf("searching %q found %q, want %s", q, got, tomas.DisplayName)
		}
		if got := b.text(`#results td[data-label="Pass"]`); !strings.Contains(got, "Usable") || !strings.Contains(got, "until") {
			t.Errorf("searching %q: the pass column reads %q, want the usable pass and its end", q, got)
		}
	}
}
