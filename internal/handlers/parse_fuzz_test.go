package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// FuzzParseIssue throws arbitrary form values at the issue form's parser
// and the issuance rules: nothing panics, and whatever they accept is
// inside every bound.
func FuzzParseIssue(f *testing.F) {
	f.Add("now", "", "60", "on", "New phone", "INC001", "Europe/Paris")
	f.Add("later", "2026-12-01T09:30", "120", "", "Onboarding", "", "America/New_York")
	f.Add("later", "2026-02-30T25:61", "-5", "yes", "<script>", "=cmd|' /C calc'!A0", "../../etc/passwd")
	f.Add("", "", "9999999999999999999", "on", strings.Repeat("é", 501), strings.Repeat("9", 65), "")
	policy := portal.Policy{Enabled: true, DefaultLifetimeMinutes: 60, MinLifetimeMinutes: 60, MaxLifetimeMinutes: 480}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	e := echo.New()
	f.Fuzz(func(t *testing.T, start, startAt, lifetime, oneTime, reason, ticket, tz string) {
		form := url.Values{"start": {start}, "start_at": {startAt}, "lifetime": {lifetime}, "one_time": {oneTime},
			"reason": {reason}, "ticket": {ticket}, "tz": {tz}}
		req := httptest.NewRequest(http.MethodPost, "/users/x/issue", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		c := e.NewContext(req, httptest.NewRecorder())
		r, _ := parseIssue(c, time.UTC)
		if len(r.Malformed) > 0 {
			return
		}
		if errs := r.Validate(policy, now); len(errs) > 0 {
			return
		}
		switch {
		case r.LifetimeMinutes < policy.MinLifetimeMinutes || r.LifetimeMinutes > policy.MaxLifetimeMinutes:
			t.Fatalf("accepted lifetime %d outside the policy", r.LifetimeMinutes)
		case strings.TrimSpace(r.Reason) == "" || utf8.RuneCountInString(r.Reason) > issuance.MaxReasonLength || strings.ContainsAny(r.Reason, "<>"):
			t.Fatalf("accepted reason %q", r.Reason)
		case utf8.RuneCountInString(r.Ticket) > issuance.MaxTicketLength || strings.ContainsAny(r.Ticket, "<>=\"'"):
			t.Fatalf("accepted ticket %q", r.Ticket)
		case !r.Start.IsZero() && (r.Start.Before(now.Add(-time.Minute)) || r.Start.After(now.Add(issuance.MaxScheduleAhead))):
			t.Fatalf("accepted start %s", r.Start)
		case start != "now" && start != "later":
			t.Fatalf("accepted start mode %q", start)
		case start == "later" && r.Start.IsZero():
			t.Fatalf("a scheduled start %q became now", startAt)
		}
	})
}
