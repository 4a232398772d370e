package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// Journey: an operator hands passes over without reading them out. One
// goes to the user's manager by mail: the operator never sees it, and the
// demo's mailbox shows the mail with its passcode. The other goes behind a
// one-time link: the operator copies the link, the user opens it, reads
// the passcode once, and a reload says it was revealed.
func TestJourneyChannels(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "channels", portalOptions{})
	byLink := j.portal.eligibleWithoutPass(t)
	byMail := seeded(j.portal, j.portal.p.EligibleUser(t, demotest.Want{Pass: demotest.NoPass, Except: []string{byLink.ID},
		Name: typeable, Also: demotest.ReachableManager}))

	b := j.newBrowser()
	b.signInAsOperator()
	issue := func(u seededUser, channel string) {
		t.Helper()
		if status := b.open("/users/" + u.ID + "/issue"); status != http.StatusOK {
			t.Fatalf("the issue form answered %d", status)
		}
		b.clickInPlace(`input[name="channel"][value="` + channel + `"]`)
		b.typeInto("#reason", "New starter, first sign-in")
	}

	// By mail to the manager.
	issue(byMail, "manager")
	b.keyPage("issue-form-channels")
	if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("issuing by mail answered %d", status)
	}
	b.wantHeading("Pass issued")
	b.wantText("The passcode was mailed to the user's manager")
	if b.exists("#passcode") {
		t.Errorf("the page after a pass mailed to the manager shows a passcode")
	}
	b.keyPage("mailed")
	var mailed string
	for _, m := range j.portal.demo.Graph.Outbox() {
		if strings.HasPrefix(m.Subject, "Temporary Access Pass for ") {
			mailed = regexp.MustCompile(`Temporary Access Pass: (\S+)`).FindStringSubmatch(m.Content)[1]
		}
	}
	if mailed == "" {
		t.Fatal("no mail to the manager in the demo tenant's outbox")
	}
	b.wantNoPasscode(mailed)
	if status := b.click(`nav a[href="/demo/mailbox"]`); status != http.StatusOK {
		t.Fatalf("the demo mailbox answered %d", status)
	}
	b.wantHeading("Demo mailbox")
	b.wantText("Temporary Access Pass for "+byMail.DisplayName, "A Temporary Access Pass was issued for your account")
	b.keyPage("demo-mailbox")

	// Behind a one-time link.
	issue(byLink, "link")
	resp := b.navigation("issue by link", chromedp.Click(chromedp.CSS(`main form button[type="submit"]`), chromedp.NodeVisible))
	if resp.Status != http.StatusOK || !strings.Contains(header(resp, "Cache-Control"), "no-store") {
		t.Fatalf("issuing by link answered %d with Cache-Control %q, want 200 and no-store", resp.Status, header(resp, "Cache-Control"))
	}
	b.wantText("Send this link to the user")
	link := b.text("#reveal-link")
	if !strings.HasPrefix(link, j.portal.url+"/reveal/") || !strings.Contains(link, "#") || b.exists("#passcode") {
		t.Fatalf("the page shows the link %q (and a passcode: %v), want a link with its key and no passcode", link, b.exists("#passcode"))
	}
	b.clickInPlace("button.copy-btn")
	b.waitUntil(`the copy button to say “Copied”`, `document.querySelector("button.copy-btn").innerText.trim() === "Copied"`)
	if got := evaluate[string](b, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); got != link {
		t.Errorf("the clipboard holds %q, want the link", got)
	}
	b.keyPage("link-made")

	// The user opens it, in a browser of their own.
	u := j.newBrowser()
	if resp := u.navigation("open the link", chromedp.Navigate(link)); resp.Status != http.StatusOK {
		t.Fatalf("the link answered %d", resp.Status)
	}
	u.clickInPlace("#reveal-button")
	u.waitVisible("#passcode .pc-group")
	passcode := u.text("#passcode")
	if len(passcode) < 8 {
		t.Fatalf("the link revealed %q", passcode)
	}
	u.keyPage("link-revealed")
	if resp := u.navigation("reload", chromedp.Reload()); resp.Status != http.StatusGone {
		t.Errorf("the reloaded link answered %d, want 410", resp.Status)
	}
	u.wantText("already revealed")
	u.wantNoPasscode(passcode)
	b.wantNoPasscode(passcode)

	// The operator's history says how each went.
	if status := b.open("/my-history"); status != http.StatusOK {
		t.Fatalf("my history answered %d", status)
	}
	b.wantText("Link opened")
	var tap *graphemu.TAP
	j.portal.demo.Graph.View(func(tn *graphemu.Tenant) { tap = tn.LookupUser(byLink.ID).TAP })
	if tap == nil {
		t.Errorf("%s has no pass after the link was made", byLink.DisplayName)
	}
}
