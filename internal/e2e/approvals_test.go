package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tapportal/portal/internal/demotest"
	domain "github.com/tapportal/portal/internal/portal"
)

// Journey: passes for the finance team wait for a second pair of eyes.
// An operator asks; a supervisor whose sign-in is an hour old approves
// after signing in again; the passcode opens once in the operator's
// browser. Another request is rejected with a note, a third expires, and
// a supervisor's own request offers them no way to approve it.
func TestJourneyApproval(t *testing.T) {
	t.Parallel()
	portalClock := &clock{}
	j := newJourney(t, "approval", portalOptions{
		Env: map[string]string{"PORTAL_MAX_AUTH_AGE": "15m", "PORTAL_APPROVAL_TTL": "10m"},
		Now: portalClock.now,
	})
	provider := j.portal.demo.Provider
	// One in the finance team; two others, for passes longer than the
	// four hours that need approval in the demo: eight.
	watched := []seededUser{seeded(j.portal, j.portal.p.WatchedUser(t, demotest.Want{Pass: demotest.NoPass, Name: typeable}))}
	for range 2 {
		var except []string
		for _, w := range watched {
			except = append(except, w.ID)
		}
		watched = append(watched, j.portal.eligibleWithoutPass(t, except...))
	}

	op := j.newBrowser()
	op.signInAsOperator()
	ask := func(b *browser, u seededUser, why string) string {
		t.Helper()
		if status := b.open("/users/" + u.ID + "/issue"); status != http.StatusOK {
			t.Fatalf("the issue form answered %d", status)
		}
		if why != "Finance Team" {
			evaluate[chromedp.Void](b, `document.querySelector("#lifetime").value = "480"`)
		}
		b.typeInto("#reason", "Month-end close, locked out")
		if status := b.click(`main form button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("asking answered %d", status)
		}
		if !strings.HasPrefix(b.path(), "/approvals/") {
			t.Fatalf("asking for %s led to %s, want the request's page", u.DisplayName, b.path())
		}
		b.wantText("waits for a supervisor other than you", why)
		return b.path()
	}
	first := ask(op, watched[0], "Finance Team")
	op.keyPage("request-waiting")

	// A supervisor signed in an hour ago approves: the portal sends them
	// to sign in again, and back to the request.
	sup := j.newBrowser()
	provider.SetAuthTimeOffset(-time.Hour)
	sup.signIn("supervisor")
	provider.SetAuthTimeOffset(0)
	if status := sup.click(`nav a[href="/approvals"]`); status != http.StatusOK {
		t.Fatalf("the approvals page answered %d", status)
	}
	sup.wantText(watched[0].DisplayName, "Waiting for approval")
	sup.keyPage("approvals")
	if status := sup.click(`a[href="` + first + `"]`); status != http.StatusOK {
		t.Fatalf("the request answered %d", status)
	}
	sup.wantText("Nothing changed since the request", "Finance Team")
	sup.keyPage("request-to-decide")
	sup.typeInto("#note", "Checked with the finance lead")
	if status := sup.click(`button[formaction$="/approve"]`); status != http.StatusOK {
		t.Fatalf("approving ended with %d on %s", status, sup.path())
	}
	sup.wantPicker()
	if status := sup.pickPersona("supervisor"); status != http.StatusOK {
		t.Fatalf("signing in again ended with %d on %s", status, sup.path())
	}
	if got := sup.path(); got != first {
		t.Fatalf("signing in again led to %s, want the request %s", got, first)
	}
	if got := sup.value("#note"); got != "Checked with the finance lead" {
		t.Errorf("after signing in again the note is %q, want what was written before", got)
	}
	if status := sup.click(`button[formaction$="/approve"]`); status != http.StatusOK {
		t.Fatalf("approving again ended with %d", status)
	}
	sup.wantText("Issued", "Checked with the finance lead")
	if sup.exists("#passcode") {
		t.Error("the approver was shown a passcode")
	}

	// The passcode opens once, in the browser that asked.
	if status := op.open(first); status != http.StatusOK {
		t.Fatalf("the request answered %d", status)
	}
	if status := op.click("#open-passcode"); status != http.StatusOK {
		t.Fatalf("opening the passcode answered %d", status)
	}
	passcode := op.text("#passcode")
	if len(passcode) < 8 {
		t.Fatalf("the passcode page shows %q", passcode)
	}
	op.keyPage("approved-passcode")
	op.open(first)
	op.wantText("You opened it at")
	op.wantNoPasscode(passcode)
	sup.open(first)
	sup.wantNoPasscode(passcode)

	// Rejected, with a note.
	second := ask(op, watched[1], "8 hours")
	sup.open(second)
	sup.typeInto("#note", "Ask the user's manager to call")
	if status := sup.click(`button[formaction$="/reject"]`); status != http.StatusOK {
		t.Fatalf("rejecting ended with %d", status)
	}
	op.open(second)
	op.wantText("Rejected", "Ask the user's manager to call")

	// Expired: nobody decided within ten minutes.
	third := ask(op, watched[2], "8 hours")
	portalClock.moveOn(11 * time.Minute)
	provider.SetAuthTimeOffset(11 * time.Minute)
	op.open(third)
	op.wantText("Expired")
	if n, err := j.portal.p.App.Service.ExpireApprovals(context.Background()); n != 1 || err != nil {
		t.Errorf("ExpireApprovals = %d, %v; want the request expired and recorded", n, err)
	}
	evs, _ := j.portal.p.App.Store.List(context.Background(), domain.EventFilter{TargetID: watched[2].ID, Action: domain.ActionApprovalExpire})
	if len(evs) != 1 {
		t.Errorf("records of the expiry = %d, want 1", len(evs))
	}

	// A supervisor's own request: nothing to approve it with.
	own := ask(sup, watched[2], "8 hours")
	if sup.exists(`button[formaction$="/approve"]`) {
		t.Errorf("the supervisor is offered to approve their own request %s", own)
	}
	sup.keyPage("own-request")
}
