package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/templates"
)

// noAuthTime is the refusal when the provider never says when the operator
// signed in.
const noAuthTime = "The identity provider does not say when you signed in, even when asked to (the auth_time claim), " +
	"so the portal cannot confirm a fresh sign-in and will not issue passes. Ask the platform admin to have the provider send auth_time."

func issuePath(c echo.Context) string { return "/users/" + url.PathEscape(c.Param("id")) + "/issue" }

// reauthenticate sends the operator through the provider with
// prompt=login and back to the issue form; what they typed waits in an
// encrypted cookie, not in a URL.
func (s *Server) reauthenticate(c echo.Context, draft url.Values) error {
	if sessionOf(c).NoAuthTime {
		// A fresh sign-in was asked for and the provider still did not say
		// when it happened: asking again would go round in circles.
		return &portal.Error{Code: portal.EDenied, Message: noAuthTime}
	}
	if len(draft) > 0 {
		op := operator(c)
		if err := s.cfg.Sessions.SaveDraft(c.Response(), issuePath(c), session.Owner{Subject: op.ID, Name: op.Name}, draft); err != nil {
			return err
		}
	}
	return s.reauthenticateTo(c, issuePath(c))
}

// reauthenticateTo sends the operator through the provider with
// prompt=login and back to path.
func (s *Server) reauthenticateTo(c echo.Context, path string) error {
	if sessionOf(c).NoAuthTime {
		return &portal.Error{Code: portal.EDenied, Message: noAuthTime}
	}
	return c.Redirect(http.StatusSeeOther, "/auth/login?reauth=1&return_to="+url.QueryEscape(path))
}

// draftFields are the issue form's fields that survive a fresh sign-in;
// none of them is secret.
var draftFields = []string{"start", "start_at", "lifetime", "one_time", "reason", "ticket", "channel", "submission"}

// issueForm shows the form, or the reasons the user cannot get a pass. A
// sign-in too old to issue is refreshed first, so nothing typed is lost.
func (s *Server) issueForm(c echo.Context) error {
	op := operator(c)
	if !s.cfg.Service.FreshSignIn(op) {
		return s.reauthenticate(c, nil)
	}
	f, err := s.cfg.Service.IssueForm(c.Request().Context(), op, c.Param("id"))
	if err != nil {
		return err
	}
	if !f.Verdict.Eligible() {
		return s.refused(c, f)
	}
	vals := templates.IssueValues{StartMode: "now", Lifetime: f.Policy.DefaultLifetimeMinutes, OneTime: f.Policy.OneTimeForced}
	d, other := s.cfg.Sessions.TakeDraft(c.Response(), c.Request(), issuePath(c), op.ID)
	notice := ""
	if other != nil {
		// The fresh sign-in returned someone else: the first person's form
		// is not theirs to send.
		s.cfg.Service.RecordOperatorChange(c.Request().Context(), portal.Operator{ID: other.Subject, Name: other.Name}, op, f.User, requestID(c))
		notice = "The sign-in was as " + op.Name + ", not " + other.Name + " who filled in this form: their entries were discarded. Fill in the form again."
	}
	if d != nil {
		// What was typed before a fresh sign-in.
		c.Request().Form = d
		_, draft := parseIssue(c, s.location(c))
		if draft.StartMode == "" {
			draft.StartMode = "now"
		}
		if draft.Lifetime == 0 {
			draft.Lifetime = vals.Lifetime
		}
		draft.OneTime = draft.OneTime || f.Policy.OneTimeForced
		vals = draft
	}
	v := s.issueView(f, vals)
	v.Error = notice
	v.Submission = issuance.NewSubmission()
	if d != nil && c.FormValue("submission") != "" {
		// The form as it was before the fresh sign-in: the same submission.
		v.Submission = c.FormValue("submission")
	}
	return s.render(c, http.StatusOK, templates.IssuePage(s.page(c, "Issue a pass", "search"), v))
}

// refused shows why the user cannot get a pass, and what to do next.
func (s *Server) refused(c echo.Context, f issuance.IssueForm) error {
	return s.render(c, http.StatusForbidden, templates.RefusedPage(s.page(c, "No pass for "+f.User.DisplayName, "search"),
		templates.RefusedView{User: f.User, Refusals: s.refusals(f.Verdict)}))
}

// issueView is the form's view model: what was decided, and what was typed.
func (s *Server) issueView(f issuance.IssueForm, vals templates.IssueValues) templates.IssueForm {
	v := templates.IssueForm{User: f.User, Policy: f.Policy, Values: vals, Errors: map[string]string{}, QuickReasons: s.cfg.QuickReasons,
		Channels: s.cfg.Service.Channels()}
	if f.Replaces != nil {
		v.Current, v.CurrentState = f.Replaces, f.ReplacesState
	}
	return v
}

// parseIssue reads the form. What it cannot read is reported next to
// each field, in the request's Malformed.
func parseIssue(c echo.Context, loc *time.Location) (issuance.IssueRequest, templates.IssueValues) {
	fe := issuance.FieldErrors{}
	vals := templates.IssueValues{
		StartMode: c.FormValue("start"),
		StartAt:   c.FormValue("start_at"),
		OneTime:   c.FormValue("one_time") == "on",
		Reason:    c.FormValue("reason"),
		Ticket:    strings.TrimSpace(c.FormValue("ticket")),
	}
	req := issuance.IssueRequest{OneTime: vals.OneTime, Reason: strings.TrimSpace(vals.Reason), Ticket: vals.Ticket,
		ConfirmReplace: c.FormValue("confirm_replace") == "yes", RequestID: requestID(c), Malformed: fe,
		Submission: c.FormValue("submission")}

	if raw := c.FormValue("channel"); raw != "" {
		if ch, ok := portal.ParseChannel(raw); ok {
			req.Channel, vals.Channel = ch, ch
		} else {
			fe["channel"] = "Choose how the passcode reaches the user."
		}
	}
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
		switch {
		case err != nil:
			fe["start"] = "Enter the scheduled start as a date and time."
		case t.Year() < 2000 || t.Year() > 9999:
			// Year 1 would read as "no start", that is, now.
			fe["start"] = "Enter a scheduled start between now and 30 days ahead."
		default:
			req.Start = t
		}
	default:
		fe["start"] = "Choose when the pass becomes valid."
	}
	return req, vals
}

// issue issues the pass and shows the passcode, once. The response is the
// only place the passcode ever appears: it is not stored, logged or put in
// a URL, and the page is not cached. Anything else shows the form again,
// from the facts the service read.
func (s *Server) issue(c echo.Context) error {
	req, vals := parseIssue(c, s.location(c))
	var private []byte
	if s.cfg.Service.ApprovalsOn() {
		// The issue may wait for approval: what reaches the requester then
		// is sealed to this key pair's public half, and only this browser
		// keeps the private half.
		public, priv, err := approval.NewKeys()
		if err != nil {
			return err
		}
		req.ApprovalKey, private = public, priv
	}
	res, err := s.cfg.Service.Issue(c.Request().Context(), operator(c), c.Param("id"), req)
	if wait := (*issuance.AwaitingApproval)(nil); errors.As(err, &wait) {
		return s.awaitApproval(c, wait, private)
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
		d := res.Delivered
		if d.Channel != portal.ChannelRead {
			return s.render(c, http.StatusOK, templates.DeliveredPage(s.page(c, "Pass issued", "search"), templates.DeliveredView{
				User: res.Form.User, TAP: res.Issued.TAP, Now: time.Now(), Channel: d.Channel, Recipient: d.Recipient,
				Link: d.Link.Reveal(), LinkExpires: d.LinkExpires, NoticeProblems: d.NoticeProblems,
			}))
		}
		return s.render(c, http.StatusOK, templates.PasscodePage(s.page(c, "Pass issued", "search"), templates.PasscodeView{
			User: res.Form.User, TAP: res.Issued.TAP, Passcode: res.Issued.Passcode.Reveal(),
			Now: time.Now(), Instructions: s.cfg.PassInstructions, NoticeProblems: d.NoticeProblems,
		}))
	}

	if err := s.unsettled(c, err); err != nil {
		return err
	}
	form := s.issueView(res.Form, vals)
	form.Confirm, form.Submission = req.ConfirmReplace, req.Submission
	var invalid issuance.FieldErrors
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, issuance.ErrNeedsConfirmation):
		form.Errors["confirm_replace"] = "Confirm that the new pass replaces the current one."
		status = http.StatusConflict
	case errors.As(err, &invalid):
		form.Errors = invalid
	case portal.ErrorCode(err) == portal.EPolicy && !res.Form.Verdict.Eligible() && res.Form.User.ID != "":
		// The user may not get a pass at all: the reasons, not a form to
		// send again.
		return s.refused(c, res.Form)
	case portal.ErrorCode(err) == portal.EPolicy:
		form.Error = "Nothing was issued. " + portal.ErrorMessage(err)
		status = http.StatusForbidden
	default:
		return err
	}
	return s.render(c, status, templates.IssuePage(s.page(c, "Issue a pass", "search"), form))
}

// unsettled turns the errors of an action that cannot be shown on its
// form into pages in the operator's time zone: a form sent again, an
// action already in flight for the user, and writes whose outcome Graph
// did not confirm. Other errors come back unchanged.
func (s *Server) unsettled(c echo.Context, err error) error {
	loc := s.location(c)
	var handled *issuance.AlreadyHandledError
	var busy *issuance.InProgressError
	switch {
	case errors.As(err, &handled):
		return &portal.Error{Code: portal.EConflict, Message: fmt.Sprintf("This request was already handled at %s (%s). Nothing more was done.",
			handled.Record.Intent.Time.In(loc).Format("15:04:05"), handled.Outcome())}
	case errors.As(err, &busy):
		return &portal.Error{Code: portal.EConflict, Message: fmt.Sprintf("Another action for this user is in progress: %s started it at %s. Nothing was done; look at the user's page in a moment.",
			busy.Lock.HolderName, busy.Lock.Since.In(loc).Format("15:04:05"))}
	case errors.Is(err, issuance.ErrPasscodeLost), errors.Is(err, issuance.ErrIssueUnknown), errors.Is(err, issuance.ErrRevokeUnknown):
		return err
	}
	return nil
}
