package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tapportal/portal/internal/devoidc"
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
  if (document.documentElement.outerHTML.indexOf(p) >= 0) { return "markup"; }
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
	for _, want := range append([]string{"Not eligible.", "holds the directory role"}, admin.Roles...) {
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
	b.wantHeading("Not allowed")
	b.wantText("holds the directory role " + admin.Roles[0])
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
	var nobody devoidc.Persona
	for _, p := range devoidc.DemoPersonas() {
		if p.Key == "no-role" {
			nobody = p
		}
	}
	if nobody.Key == "" {
		t.Fatal("the demo provider has no persona without a role")
	}

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

// Journeys 4 and 6 come next, in this file, from the same helpers.
//
//   - Journey 4, a supervisor's history, export and dashboard: newJourney,
//     newBrowser, signIn("supervisor"), then click, open, typeInto and
//     press to move around; keyPage on each page (screenshot, axe-core, no
//     CSP violation or JavaScript error); text, exists, value and
//     wantHeading/wantText to assert. History to review comes from issuing
//     and revoking through the UI first, as journey 1 does.
//   - Journey 6, the step-up of a stale sign-in: portalOptions.Env sets the
//     maximum sign-in age and portalOptions.Now the portal's clock; the
//     persona picker is reached again through signIn's selectors.
