package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

func issuePath(c echo.Context) string { return "/users/" + url.PathEscape(c.Param("id")) + "/issue" }

// reauthenticate sends the operator through the provider with
// prompt=login and back to the issue form; what they typed waits in an
// encrypted cookie, not in a URL.
func (s *Server) reauthenticate(c echo.Context, draft url.Values) error {
	if len(draft) > 0 {
		if err := s.cfg.Sessions.SaveDraft(c.Response(), issuePath(c), draft); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/auth/login?reauth=1&return_to="+url.QueryEscape(issuePath(c)))
}

// draftFields are the issue form's fields that survive a fresh sign-in;
// none of them is secret.
var draftFields = []string{"start", "start_at", "lifetime", "one_time", "reason", "ticket"}

// issueForm shows the form, or the reasons the user cannot get a pass. A
// sign-in too old to issue is refreshed first, so nothing typed is lost.
func (s *Server) issueForm(c echo.Context) error {
	op := operator(c)
	if !s.cfg.Service.FreshSignIn(op) {
		return s.reauthenticate(c, nil)
	}
	uv, err := s.cfg.Service.View(c.Request().Context(), op, c.Param("id"))
	if err != nil {
		return err
	}
	if !uv.Verdict.Eligible() {
		return refusalError(uv.Verdict)
	}
	v := templates.IssueForm{
		User: uv.User, Policy: uv.Policy,
		Values: templates.IssueValues{StartMode: "now", Lifetime: uv.Policy.DefaultLifetimeMinutes, OneTime: uv.Policy.OneTimeForced},
	}
	if d := s.cfg.Sessions.TakeDraft(c.Response(), c.Request(), issuePath(c)); d != nil {
		// What was typed before a fresh sign-in.
		c.Request().Form = d
		_, draft, _ := parseIssue(c, location(c))
		if draft.StartMode == "" {
			draft.StartMode = "now"
		}
		if draft.Lifetime == 0 {
			draft.Lifetime = v.Values.Lifetime
		}
		draft.OneTime = draft.OneTime || uv.Policy.OneTimeForced
		v.Values = draft
	}
	s.withCurrent(&v, uv.TAP)
	return render(c, http.StatusOK, templates.IssuePage(s.page(c, "Issue a pass", "search"), v))
}

func refusalError(v issuance.Verdict) error {
	msgs := make([]string, len(v.Refusals))
	for i, r := range v.Refusals {
		msgs[i] = r.Message
	}
	return &portal.Error{Code: portal.EPolicy, Message: "The portal will not issue a pass to this user. " + strings.Join(msgs, " ")}
}

// withCurrent shows an existing pass the new one would replace, if it is
// still usable or yet to start.
func (s *Server) withCurrent(v *templates.IssueForm, tap *portal.TAP) {
	if tap == nil {
		return
	}
	st := tap.State(s.cfg.Service.Now())
	if st == portal.TAPUsable || st == portal.TAPNotYetValid {
		v.Current, v.CurrentState = tap, st
	}
}

// parseIssue reads the form. Each field's problem is reported next to it.
func parseIssue(c echo.Context, loc *time.Location) (issuance.IssueRequest, templates.IssueValues, issuance.FieldErrors) {
	fe := issuance.FieldErrors{}
	vals := templates.IssueValues{
		StartMode: c.FormValue("start"),
		StartAt:   c.FormValue("start_at"),
		OneTime:   c.FormValue("one_time") == "on",
		Reason:    c.FormValue("reason"),
		Ticket:    strings.TrimSpace(c.FormValue("ticket")),
	}
	req := issuance.IssueRequest{OneTime: vals.OneTime, Reason: strings.TrimSpace(vals.Reason), Ticket: vals.Ticket,
		ConfirmReplace: c.FormValue("confirm_replace") == "yes", RequestID: requestID(c)}

	raw := strings.TrimSpace(c.FormValue("lifetime"))
	if n, err := strconv.Atoi(raw); err != nil || n <= 0 {
		fe["lifetime"] = "Choose a lifetime from the list."
	} else {
		req.LifetimeMinutes, vals.Lifetime = n, n
	}
	if name := c.FormValue("tz"); name != "" {
		if l, ok := loadLocation(name); ok {
			loc = l
		}
	}
	switch vals.StartMode {
	case "now":
	case "later":
		t, err := time.ParseInLocation("2006-01-02T15:04", vals.StartAt, loc)
		if err != nil {
			fe["start"] = "Enter the scheduled start as a date and time."
		} else {
			req.Start = t
		}
	default:
		fe["start"] = "Choose when the pass becomes valid."
	}
	return req, vals, fe
}

// issue issues the pass and shows the passcode, once. The response is the
// only place the passcode ever appears: it is not stored, logged or put in
// a URL, and the page is not cached.
func (s *Server) issue(c echo.Context) error {
	ctx := c.Request().Context()
	op := operator(c)
	req, vals, fe := parseIssue(c, location(c))
	var issued issuance.Issued
	err := error(fe)
	if len(fe) == 0 {
		issued, err = s.cfg.Service.Issue(ctx, op, c.Param("id"), req)
	}
	if errors.Is(err, issuance.ErrStaleSignIn) {
		draft := url.Values{}
		for _, k := range draftFields {
			if v := c.FormValue(k); v != "" {
				draft.Set(k, v)
			}
		}
		return s.reauthenticate(c, draft)
	}
	if err == nil {
		c.Response().Header().Set("Cache-Control", "no-store")
		return render(c, http.StatusOK, templates.PasscodePage(s.page(c, "Pass issued", "search"), templates.PasscodeView{
			User: issued.User, TAP: issued.TAP, Passcode: issued.Passcode.Reveal(),
		}))
	}

	// Show the form again, with what was typed and what is wrong.
	var invalid issuance.FieldErrors
	if !errors.Is(err, issuance.ErrNeedsConfirmation) && !errors.As(err, &invalid) && portal.ErrorCode(err) != portal.EPolicy {
		return err
	}
	uv, verr := s.cfg.Service.View(ctx, op, c.Param("id"))
	if verr != nil {
		return verr
	}
	form := templates.IssueForm{User: uv.User, Policy: uv.Policy, Values: vals, Errors: map[string]string{}, Confirm: req.ConfirmReplace}
	s.withCurrent(&form, uv.TAP)
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, issuance.ErrNeedsConfirmation):
		form.Errors["confirm_replace"] = "Confirm that the new pass replaces the current one."
		status = http.StatusConflict
	case invalid != nil:
		form.Errors = invalid
		// A malformed form never reached the policy check: show its
		// verdict on the other fields too.
		for k, msg := range req.Validate(uv.Policy, s.cfg.Service.Now()) {
			if _, seen := form.Errors[k]; !seen {
				form.Errors[k] = msg
			}
		}
	default:
		form.Error = "Nothing was issued. " + portal.ErrorMessage(err)
		status = http.StatusForbidden
	}
	return render(c, status, templates.IssuePage(s.page(c, "Issue a pass", "search"), form))
}
