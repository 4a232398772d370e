package handlers_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/notify"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
)

// mailedPasscodeRE finds the passcode in the mail to a manager.
var mailedPasscodeRE = regexp.MustCompile(`Temporary Access Pass: (\S+)\n`)

// issueBy issues a pass for u by channel and returns the page.
func issueBy(t *testing.T, b *browser, u graphemu.User, channel string) page {
	t.Helper()
	csrf := issueForm(t, b, u.ID)
	return b.post("/users/"+u.ID+"/issue", url.Values{
		"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "one_time": {"on"}, "channel": {channel},
		"reason": {"New starter, first sign-in"}, "ticket": {"INC0077"}, "confirm_replace": {"yes"},
	})
}

// lastRecord is the newest history record of the target.
func lastRecord(t *testing.T, h *harness, targetID string) portal.Event {
	t.Helper()
	events, err := h.App.Store.List(t.Context(), portal.EventFilter{TargetID: targetID, Limit: 1})
	if err != nil || len(events) == 0 {
		t.Fatalf("the history of %s = %v, %v", targetID, events, err)
	}
	return events[0]
}

// TestIssueMailedToManager hands the passcode to the user's manager by
// mail: the operator never sees it, the mail says how to use it and when
// it expires, the record names the channel and the manager, and the
// passcode is nowhere else: not in a page, the database or the logs.
func TestIssueMailedToManager(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.EligibleUser(t, demotest.Want{Pass: demotest.NoPass, Also: demotest.ReachableManager})
	var manager graphemu.User
	h.Demo.Graph.View(func(tn *graphemu.Tenant) { manager = *tn.ManagerOf(tn.LookupUser(u.ID)) })
	h.Demo.Graph.ClearOutbox()

	p := issueBy(t, b, u, "manager")
	if p.status != http.StatusOK || !strings.Contains(p.body, "mailed to the user's manager") || passcodeIn(p.body) != "" {
		t.Fatalf("issue by mail = %d, want the page saying it was mailed, with no passcode: %s", p.status, p.body)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", p.header.Get("Cache-Control"))
	}
	var toManager []graphemu.Mail
	for _, m := range h.Demo.Graph.Outbox() {
		if m.SenderAddress != graphemu.PortalMailboxAddress {
			t.Errorf("a mail went out as %s, want the portal's mailbox", m.SenderAddress)
		}
		if len(m.To) == 1 && m.To[0].Address == manager.Mail {
			toManager = append(toManager, m)
		}
	}
	if len(toManager) != 1 {
		t.Fatalf("mails to the manager %s: %d, want 1", manager.Mail, len(toManager))
	}
	mail := toManager[0]
	match := mailedPasscodeRE.FindStringSubmatch(mail.Content)
	if match == nil {
		t.Fatalf("the manager's mail holds no passcode:\n%s", mail.Content)
	}
	code := match[1]
	for _, says := range []string{u.DisplayName, "It works for one sign-in", "until", "aka.ms/mysecurityinfo", "do not forward", "INC0077"} {
		if !strings.Contains(mail.Content, says) {
			t.Errorf("the manager's mail does not say %q:\n%s", says, mail.Content)
		}
	}
	if mail.SaveToSentItems {
		t.Error("the mail with the passcode was kept in the portal mailbox's Sent Items")
	}
	e := lastRecord(t, h, u.ID)
	if e.Outcome != portal.OutcomeSuccess || e.Channel != portal.ChannelManager || !strings.Contains(e.Detail, manager.Mail) {
		t.Errorf("record = %+v, want a success by mail naming the manager", e)
	}
	if ev := b.get("/my-history/" + strconv.FormatInt(e.ID, 10)); !strings.Contains(ev.body, "Mailed to the user&#39;s manager") {
		t.Errorf("the record's page does not name the channel")
	}
	for name, where := range map[string]string{"the page": p.body, "the database": h.dbDump(t), "the logs": h.Logs.String()} {
		if leaks(where, code) {
			t.Errorf("the passcode is in %s", name)
		}
	}
	for _, m := range h.Demo.Graph.Outbox() {
		if m.To[0].Address != manager.Mail && leaks(m.Content, code) {
			t.Errorf("the notice to %s holds the passcode", m.To[0].Address)
		}
	}
}

// TestIssueToManagerRefused refuses a mail to a manager who cannot have
// it before anything is made: the operator is told to choose another
// channel, the refusal is recorded, and no pass and no mail exist.
func TestIssueToManagerRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	for _, tt := range []struct {
		name string
		id   string
		says string
	}{
		{"no manager", graphemu.NoManagerUserID, "has no manager"},
		{"a manager without a mailbox", graphemu.ReportsToUnlicensedUserID, "has no mail address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before *graphemu.TAP
			h.Demo.Graph.View(func(tn *graphemu.Tenant) { before = tn.LookupUser(tt.id).TAP })
			h.Demo.Graph.ClearOutbox()
			u := graphemu.User{ID: tt.id}
			p := issueBy(t, b, u, "manager")
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, tt.says) || !strings.Contains(p.body, "choose another way") {
				t.Fatalf("issue = %d, want the form again saying %q: %s", p.status, tt.says, p.body)
			}
			e := lastRecord(t, h, tt.id)
			if e.Outcome != portal.OutcomeRefused || e.RefusalCode != "channel_unavailable" {
				t.Errorf("record = %+v, want a refusal, channel_unavailable", e)
			}
			var after *graphemu.TAP
			h.Demo.Graph.View(func(tn *graphemu.Tenant) { after = tn.LookupUser(tt.id).TAP })
			if after != before {
				t.Errorf("the user's pass changed: a pass was made")
			}
			if n := len(h.Demo.Graph.Outbox()); n != 0 {
				t.Errorf("%d mails went out, want none", n)
			}
		})
	}
}

// TestIssueMailFailsRevokes revokes a pass whose mail Graph did not
// confirm: nobody can be sure who holds its passcode.
func TestIssueMailFailsRevokes(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.EligibleUser(t, demotest.Want{Pass: demotest.NoPass, Also: demotest.ReachableManager})
	h.Demo.Graph.Inject(graphemu.Fault{Method: "POST", Path: "/v1.0/users/*/sendMail", Status: 503, After: true, Times: 1})
	p := issueBy(t, b, u, "manager")
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "revoked the pass") {
		t.Fatalf("issue = %d, want 503 saying the pass was revoked: %s", p.status, p.body)
	}
	var pass *graphemu.TAP
	h.Demo.Graph.View(func(tn *graphemu.Tenant) { pass = tn.LookupUser(u.ID).TAP })
	if pass != nil {
		t.Errorf("the user still holds a pass: %+v", pass)
	}
	// The pass was made, so its issue stays recorded as made, saying why
	// its passcode reached nobody; the revocation that follows is
	// recorded as any other, linked to it.
	events, err := h.App.Store.List(t.Context(), portal.EventFilter{TargetID: u.ID, Fold: true, Limit: 10})
	if err != nil || len(events) != 2 {
		t.Fatalf("the history of the user = %+v, %v; want the issue's outcome and the revocation's", events, err)
	}
	revoked, issued := events[0], events[1]
	if issued.Action != portal.ActionIssue || issued.Outcome != portal.OutcomeSuccess || issued.Channel != portal.ChannelManager ||
		!strings.Contains(issued.Detail, "did not confirm") {
		t.Errorf("the issue's record = %+v, want made, by mail, saying Graph did not confirm the mail", issued)
	}
	if revoked.Action != portal.ActionRevoke || revoked.Outcome != portal.OutcomeSuccess || revoked.TAPID != issued.TAPID ||
		!strings.Contains(revoked.Detail, fmt.Sprintf("history record %d", issued.ID)) {
		t.Errorf("the revocation's record = %+v, want the pass revoked, naming the issue's record %d", revoked, issued.ID)
	}
}

// TestIssueByLink seals the passcode behind a one-time link: the operator
// gets the link once, the portal holds ciphertext it cannot read, the
// link opens once and its opening is recorded, linked to the issue.
func TestIssueByLink(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	p := issueBy(t, b, u, "link")
	m := regexp.MustCompile(`<code id="reveal-link">([^<]+)</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || passcodeIn(p.body) != "" {
		t.Fatalf("issue by link = %d, want the link and no passcode: %s", p.status, p.body)
	}
	link, err := url.Parse(m[1])
	if err != nil || !strings.HasPrefix(link.String(), h.URL+"/reveal/") || !reveal.ValidKey(link.Fragment) {
		t.Fatalf("link %q, want one under the portal with its key in the fragment", m[1])
	}
	id := strings.TrimPrefix(link.Path, "/reveal/")
	issue := lastRecord(t, h, u.ID)
	if issue.Channel != portal.ChannelLink || issue.Outcome != portal.OutcomeSuccess || strings.Contains(issue.Detail, link.Fragment) {
		t.Errorf("record = %+v, want a success by link, without its key", issue)
	}
	st, err := h.App.Store.RevealLinkStatus(t.Context(), id)
	if err != nil || st.EventID != issue.ID || st.TargetID != u.ID || st.Expires.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Errorf("link = %+v, %v; want it tied to record %d, ending with the pass", st, err, issue.ID)
	}

	// The user opens it: a page, then the passcode once.
	anon := h.browser(t)
	if page := anon.get(link.Path); page.status != http.StatusOK || !strings.Contains(page.body, "Show the passcode") {
		t.Fatalf("GET %s = %d, want the page with its button", link.Path, page.status)
	}
	// What the page's script posts: the key check, derived from the key.
	check, err := reveal.Check(link.Fragment, id)
	if err != nil {
		t.Fatalf("Check(the link's key) = %v", err)
	}
	take := func() (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, h.URL+link.Path, strings.NewReader(`{"check":"`+check+`"}`))
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Content-Type", "application/json")
		resp, err := anon.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := take()
	ct, _ := base64.RawURLEncoding.DecodeString(body["ciphertext"])
	nonce, _ := base64.RawURLEncoding.DecodeString(body["nonce"])
	code, err := reveal.Open(ct, nonce, link.Fragment, id)
	if status != http.StatusOK || err != nil || len(code) < 8 {
		t.Fatalf("reveal = %d, %v; want the passcode", status, err)
	}
	if again, _ := take(); again != http.StatusGone {
		t.Errorf("a second reveal = %d, want 410", again)
	}
	opened := lastRecord(t, h, u.ID)
	if opened.Action != portal.ActionReveal || opened.TAPID != issue.TAPID || opened.OperatorID != issue.OperatorID || !strings.Contains(opened.Detail, strconv.FormatInt(issue.ID, 10)) {
		t.Errorf("record = %+v, want the link's opening, tied to the issue %d", opened, issue.ID)
	}
	for name, where := range map[string]string{"the database": h.dbDump(t), "the logs": h.Logs.String()} {
		if leaks(where, string(code)) || strings.Contains(where, link.Fragment) {
			t.Errorf("the passcode or the link's key is in %s", name)
		}
	}
}

// TestSecurityEventsPosted posts the security events of an issue and of a
// run of refusals to the webhook, signed; the demo's receiver checks the
// signatures and the demo's mailbox page shows them with the mail sent.
func TestSecurityEventsPosted(t *testing.T) {
	h := newHarness(t, map[string]string{"PORTAL_REFUSAL_ALERT": "2/15m"})
	b := h.signedIn(t, "operator")
	u := h.eligible(t, false)
	if p := issueBy(t, b, u, "read"); p.status != http.StatusOK {
		t.Fatalf("issue = %d", p.status)
	}
	admin := h.user(t, "Global Administrator", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.ID == graphemu.GlobalAdminUserID })
	csrf := csrfOf(t, b.get("/users/"+admin.ID))
	for range 2 {
		p := b.post("/users/"+admin.ID+"/issue", url.Values{"csrf": {csrf}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Locked out"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("issue to an administrator = %d, want 403", p.status)
		}
	}
	want := map[string]bool{"pass.issued": false, "refusals.repeated": false}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (!want["pass.issued"] || !want["refusals.repeated"]) {
		for _, e := range h.Demo.Events() {
			if e.Problem != "" {
				t.Fatalf("event %s: %s", e.ID, e.Problem)
			}
			want[e.Kind] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	for kind, got := range want {
		if !got {
			t.Errorf("no %s event reached the webhook", kind)
		}
	}
	page := b.get("/demo/mailbox")
	for _, says := range []string{"refusals.repeated", "pass.issued", "Verified", "A Temporary Access Pass was issued for your account"} {
		if !strings.Contains(page.body, says) {
			t.Errorf("the demo mailbox does not show %q", says)
		}
	}
	counts, err := h.App.Store.DeliveryCounts(t.Context())
	if err != nil || counts.Delivered < 2 || counts.Dead != 0 {
		t.Errorf("deliveries = %+v, %v; want at least two delivered, none dead", counts, err)
	}
}

// TestDeadEventsSentAgain: an event the webhook never accepts dies after
// its last attempt, shows to supervisors with the receiver's answer, and
// is sent again on their word once the receiver works.
func TestDeadEventsSentAgain(t *testing.T) {
	var healthy atomic.Bool
	var got atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "receiver down for maintenance", http.StatusServiceUnavailable)
			return
		}
		got.Add(1)
	}))
	t.Cleanup(receiver.Close)
	secret := make([]byte, 32)
	h := newHarness(t, map[string]string{"PORTAL_WEBHOOK_URL": receiver.URL, "PORTAL_WEBHOOK_SECRET": notify.FormatSecret(secret),
		"PORTAL_WEBHOOK_MAX_ATTEMPTS": "1"})
	b := h.signedIn(t, "operator")
	if p := issueBy(t, b, h.eligible(t, false), "read"); p.status != http.StatusOK {
		t.Fatalf("issue = %d", p.status)
	}
	sup := h.signedIn(t, "supervisor")
	var page page
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if page = sup.get("/history/events"); strings.Contains(page.body, "Send again") {
			break
		}
	}
	if !strings.Contains(page.body, "receiver down for maintenance") || !strings.Contains(page.body, "pass.issued") {
		t.Fatalf("the events page does not show the dead event with the receiver's answer: %s", page.body)
	}
	if d := sup.get("/history/dashboard"); !strings.Contains(d.body, `id="events-summary"`) || !strings.Contains(d.body, "1 dead") {
		t.Errorf("the dashboard does not count the dead event")
	}
	healthy.Store(true)
	action := regexp.MustCompile(`action="(/history/events/\d+/requeue)"`).FindStringSubmatch(page.body)
	if action == nil {
		t.Fatal("no way to send the event again")
	}
	p := sup.postNoFollow(action[1], url.Values{"csrf": {csrfOf(t, page)}})
	if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || loc != "/history/events?done=requeued" {
		t.Fatalf("send again = %d to %q, want a redirect to the events page", p.status, loc)
	}
	if p := sup.get(p.header.Get("Location")); p.status != http.StatusOK || !strings.Contains(p.body, "being sent again") {
		t.Fatalf("the events page after sending again = %d: %s", p.status, p.body)
	}
	recorded, err := h.App.Store.List(t.Context(), portal.EventFilter{Action: portal.ActionEventRequeue})
	if err != nil || len(recorded) != 1 || recorded[0].OperatorID != graphemu.SupervisorUserID || recorded[0].Outcome != portal.OutcomeSuccess ||
		!strings.Contains(recorded[0].Detail, "delivery "+regexp.MustCompile(`\d+`).FindString(action[1])+",") {
		t.Errorf("the history of events sent again = %+v, %v; want one record by the supervisor naming the delivery", recorded, err)
	}
	for deadline := time.Now().Add(10 * time.Second); got.Load() == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	if got.Load() != 1 {
		t.Fatalf("the receiver got %d events after the event was sent again, want 1", got.Load())
	}
	if p := sup.post(action[1], url.Values{"csrf": {csrfOf(t, page)}}); p.status != http.StatusConflict {
		t.Errorf("sending a delivered event again = %d, want 409", p.status)
	}
}
