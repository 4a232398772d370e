package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// The viewport of a common phone held upright, in CSS pixels.
const (
	phoneWidth  = 390
	phoneHeight = 844
)

// TestPhoneLayout: an operator on a phone finds a user, sees the pass card
// and the Issue button in the first screen, issues a pass and spells it
// out; a supervisor reviews the history. No page of the way is wider than
// the phone's screen, and each passes axe-core at that width.
func TestPhoneLayout(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "phone", portalOptions{})
	target := j.portal.eligibleWithoutPass(t)
	userPath := "/users/" + target.ID

	b := j.newBrowser()
	b.emulatePhone()
	b.signInAsOperator()

	b.search(target.DisplayName)
	b.phonePage("search-results")

	if status := b.openUser(target); status != http.StatusOK {
		t.Fatalf("the user page answered %d", status)
	}
	b.wantHeading(target.DisplayName)
	b.phonePage("user")
	// On a call the operator needs the pass and the verdict first, not
	// the whole profile above them.
	for _, sel := range []string{"#tap-heading", ".verdict", `a[href="` + userPath + `/issue"]`} {
		if bottom := evaluate[float64](b, `document.querySelector(`+js(sel)+`).getBoundingClientRect().bottom`); bottom > phoneHeight {
			t.Errorf("%s ends %.0f px down the user page, below the first screen (%d px)", sel, bottom, phoneHeight)
		}
	}

	if status := b.click(`a[href="` + userPath + `/issue"]`); status != http.StatusOK {
		t.Fatalf("the issue form answered %d", status)
	}
	b.wantHeading("Issue a Temporary Access Pass")
	b.phonePage("issue-form")

	// The schedule shows only once "At a scheduled time" is chosen, and a
	// common reason is one tap.
	shown := func() bool { return evaluate[bool](b, `document.querySelector("#schedule").offsetParent !== null`) }
	if shown() {
		t.Error("the scheduled start shows while “Now” is chosen")
	}
	b.clickInPlace(`input[name="start"][value="later"]`)
	if !shown() {
		t.Error("choosing “At a scheduled time” did not show the scheduled start")
	}
	b.clickInPlace(`input[name="start"][value="now"]`)
	if shown() {
		t.Error("going back to “Now” left the scheduled start showing")
	}
	b.clickInPlace(`.quick-reasons button`)
	if got := b.value("#reason"); got != config.DefaultQuickReasons[:strings.Index(config.DefaultQuickReasons, "|")] {
		t.Errorf("the first quick reason filled the reason with %q", got)
	}
	b.submitIssueForm()
	passcode := b.text("#passcode")
	if len(passcode) != 8 {
		t.Fatalf("the passcode page shows %q, want 8 characters with no separators", passcode)
	}
	b.clickInPlace(".spelling summary")
	b.waitVisible(".spelling ol li")
	b.phonePage("passcode-spelled")
	spelled := evaluate[[]string](b, `Array.from(document.querySelectorAll(".spelling li")).map(function (li) { return li.innerText.trim(); })`)
	if len(spelled) != len(passcode) {
		t.Fatalf("the spelling lists %d characters, want %d: %q", len(spelled), len(passcode), spelled)
	}
	for i, line := range spelled {
		if !strings.HasPrefix(line, string(passcode[i])) || len(line) < 4 {
			t.Errorf("spelling line %d = %q, want character %q and how to say it", i+1, line, passcode[i])
		}
	}
	if got := b.text("time[data-countdown]"); !strings.HasPrefix(got, "in ") {
		t.Errorf("the expiry countdown reads %q, want “in … min” or “in … h”", got)
	}

	b.open(userPath + "/revoke")
	b.phonePage("revoke-form")
	b.open("/my-history")
	b.phonePage("my-history")
	b.open("/users/" + graphemu.GlobalAdminUserID)
	b.phonePage("user-refused")
	b.open("/users/" + graphemu.GlobalAdminUserID + "/issue")
	b.phonePage("refused")

	sup := j.newBrowser()
	sup.emulatePhone()
	if status := sup.signIn("supervisor"); status != http.StatusOK {
		t.Fatalf("signing in as the supervisor ended with %d", status)
	}
	sup.open("/history")
	sup.phonePage("history")
	if status := sup.click(`td[data-label="When"] a`); status != http.StatusOK {
		t.Fatalf("a history record answered %d", status)
	}
	sup.phonePage("history-record")
	sup.open("/history/dashboard")
	sup.phonePage("dashboard")
	if _, _, err := j.portal.p.App.Reconcile(t.Context()); err != nil {
		t.Fatalf("reading the demo's audit log: %v", err)
	}
	sup.open("/history/passes")
	sup.wantText("Made elsewhere")
	sup.phonePage("tenant-passes")
	sup.open("/users/" + graphemu.StillUsableUserID)
	sup.wantText("It has done its job")
	sup.phonePage("user-still-usable")
	sup.signOut()
	sup.phonePage("signed-out")

	nobody := j.newBrowser()
	nobody.emulatePhone()
	nobody.signIn("no-role")
	nobody.phonePage("no-access")
}

// emulatePhone makes the tab a phone held upright.
func (b *browser) emulatePhone() {
	b.t.Helper()
	b.do("emulate a phone", chromedp.EmulateViewport(phoneWidth, phoneHeight,
		chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.phone = true
}

// layoutWidth is how wide a page is laid out, and what sticks out of it.
type layoutWidth struct {
	InnerWidth  int `json:"innerWidth"`
	ClientWidth int `json:"clientWidth"`
	ScrollWidth int `json:"scrollWidth"`
	// Wide describes the elements that reach past the right edge of the
	// window outside a scrolling box, the likely culprits of an overflow.
	Wide []string `json:"wide"`
}

// measureLayout measures the page's width, with the elements that stick
// out past the window's right edge.
const measureLayout = `(function () {
  var w = window.innerWidth, wide = [];
  var scrolls = function (e) {
    for (var p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") { return true; }
    }
    return false;
  };
  document.querySelectorAll("body *").forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5 && !scrolls(e) && wide.length < 10) {
      var name = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
        (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
      wide.push(name + " reaches " + Math.round(r.right) + "px: " + (e.textContent || "").replace(/\s+/g, " ").trim().slice(0, 60));
    }
  });
  return {innerWidth: w, clientWidth: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth, wide: wide};
})()`

// phonePage records a key page seen on a phone: laid out for the phone's
// width, with no horizontal scrolling, then as keyPage.
func (b *browser) phonePage(step string) {
	b.t.Helper()
	m := evaluate[layoutWidth](b, measureLayout)
	// A page wider than the phone makes the browser zoom out, and the
	// window wider than the phone.
	if m.InnerWidth != phoneWidth || m.ClientWidth != phoneWidth {
		b.t.Errorf("%s: %s on a phone %d px wide is laid out %d px wide (window %d px)",
			b.j.name, b.path(), phoneWidth, m.ClientWidth, m.InnerWidth)
	}
	if m.ScrollWidth > m.InnerWidth {
		b.t.Errorf("%s: %s scrolls sideways on a phone: it is %d px wide in a window of %d px; sticking out:\n  %s",
			b.j.name, b.path(), m.ScrollWidth, m.InnerWidth, strings.Join(m.Wide, "\n  "))
	}
	b.keyPage(step)
}
