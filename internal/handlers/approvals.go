package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/templates"
)

// approvalPath is a request's page; its key cookie is scoped to it.
func approvalPath(id string) string { return "/approvals/" + url.PathEscape(id) }

// keyLifetime is how long the requester's browser keeps the key their
// passcode is sealed to.
func (s *Server) keyLifetime() time.Duration { return s.cfg.Service.ApprovalKeyLifetime() }

// awaitApproval answers an issue a rule sent to the supervisors' queue:
// the requester's browser keeps the private key the passcode will be
// sealed to, and goes to the request's page.
func (s *Server) awaitApproval(c echo.Context, wait *issuance.AwaitingApproval, private []byte) error {
	r := wait.Request
	if !wait.Again {
		if err := s.cfg.Sessions.SaveKey(c.Response(), approvalPath(r.ID), r.RequesterID, private, s.keyLifetime()); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, approvalPath(r.ID))
}

// approvalsPage lists the requests for approval: every one for a
// supervisor, the operator's own otherwise.
func (s *Server) approvalsPage(c echo.Context) error {
	op := operator(c)
	page := s.page(c, "Approvals", "approvals")
	v := templates.ApprovalsView{Supervisor: op.Supervisor, Now: s.cfg.Service.Now()}
	if q := c.QueryParam("state"); q != "" {
		state, ok := portal.ParseApprovalState(q)
		if !ok {
			v.Error = "The state in the address is not one a request can be in. Choose which requests to see from the list."
			return s.render(c, http.StatusBadRequest, templates.ApprovalsPage(page, v))
		}
		v.State = state
	}
	rs, err := s.cfg.Service.Approvals(c.Request().Context(), op, v.State)
	if err != nil {
		return err
	}
	v.Requests = rs
	return s.render(c, http.StatusOK, templates.ApprovalsPage(page, v))
}

// approvalPage shows a request: to its requester, where it stands and,
// once issued, the button that opens the passcode in the browser that
// asked; to a supervisor, what it asks, why, and what changed since, with
// the decision.
func (s *Server) approvalPage(c echo.Context) error {
	op := operator(c)
	note := ""
	if d, _ := s.cfg.Sessions.TakeDraft(c.Response(), c.Request(), approvalPath(c.Param("id")), op.ID); d != nil {
		// What the approver wrote before signing in again.
		note = url.Values(d).Get("note")
	}
	return s.renderApproval(c, http.StatusOK, "", nil, note)
}

func (s *Server) renderApproval(c echo.Context, status int, message string, errs map[string]string, note string) error {
	op := operator(c)
	v, err := s.cfg.Service.Approval(c.Request().Context(), op, c.Param("id"))
	if err != nil {
		return err
	}
	r := v.Request
	mine := strings.EqualFold(r.RequesterID, op.ID)
	view := templates.ApprovalView{
		Request: r, State: v.State, Now: s.cfg.Service.Now(), Changes: v.Changes, ReadProblem: v.ReadProblem,
		Mine: mine, CanDecide: op.Supervisor && !mine && v.State == portal.ApprovalPending,
		HasKey:  mine && s.cfg.Sessions.Key(c.Request(), approvalPath(r.ID), op.ID) != nil,
		Message: message, Errors: errs, Note: note,
	}
	if v.Now != nil {
		view.NowRefusals = s.refusals(v.NowVerdict)
	}
	if errs == nil {
		view.Errors = map[string]string{}
	}
	return s.render(c, status, templates.ApprovalPage(s.page(c, "Request for approval", "approvals"), view))
}

// approvalDecide approves or rejects a request. Approving needs a fresh
// sign-in: an older one goes through the provider and comes back to the
// request, to approve it again.
func (s *Server) approvalDecide(approve bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := operator(c)
		id, note := c.Param("id"), c.FormValue("note")
		var err error
		if approve {
			_, err = s.cfg.Service.Approve(c.Request().Context(), op, id, note)
		} else {
			_, err = s.cfg.Service.Reject(c.Request().Context(), op, id, note)
		}
		var invalid issuance.FieldErrors
		switch {
		case err == nil:
			return c.Redirect(http.StatusSeeOther, approvalPath(id))
		case errors.Is(err, issuance.ErrStaleSignIn):
			// The note waits in an encrypted cookie while the approver signs
			// in again, and fills the form when they are back.
			if note != "" {
				if err := s.cfg.Sessions.SaveDraft(c.Response(), approvalPath(id), session.Owner{Subject: op.ID, Name: op.Name},
					url.Values{"note": {note}}); err != nil {
					return err
				}
			}
			return s.reauthenticateTo(c, approvalPath(id))
		case errors.As(err, &invalid):
			return s.renderApproval(c, http.StatusBadRequest, "Nothing was decided. Correct the note.", invalid, note)
		case errors.Is(err, issuance.ErrSelfApproval):
			return s.renderApproval(c, http.StatusForbidden, portal.ErrorMessage(err), nil, "")
		case portal.ErrorCode(err) == portal.EConflict:
			return s.renderApproval(c, http.StatusConflict, portal.ErrorMessage(err), nil, "")
		case approve && portal.ErrorCode(err) != portal.ENotFound && portal.ErrorCode(err) != portal.EDenied:
			// Approved, and the guarded path ended otherwise than with a
			// pass handed over (refused, revoked, or not known yet): the
			// service's message says which, as the request now does.
			return s.renderApproval(c, http.StatusOK, "The request was approved. "+portal.ErrorMessage(err), nil, "")
		}
		return err
	}
}

// approvalCancel withdraws a request, for its requester.
func (s *Server) approvalCancel(c echo.Context) error {
	id := c.Param("id")
	if _, err := s.cfg.Service.Cancel(c.Request().Context(), operator(c), id); err != nil {
		if portal.ErrorCode(err) == portal.EConflict {
			return s.renderApproval(c, http.StatusConflict, portal.ErrorMessage(err), nil, "")
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, approvalPath(id))
}

// approvalPasscode opens, once, what an approved request left for its
// requester: the passcode to read out, or the link to send. Only the
// browser that asked holds the key; another is refused before anything
// is taken. The page is not cached, and the key is forgotten.
func (s *Server) approvalPasscode(c echo.Context) error {
	op, id := operator(c), c.Param("id")
	key := s.cfg.Sessions.Key(c.Request(), approvalPath(id), op.ID)
	r, secret, err := s.cfg.Service.TakeApproved(c.Request().Context(), op, id, key)
	if err != nil {
		// Refusals that took nothing (no key, or another key) and a
		// passcode already taken are shown on the request's page.
		if code := portal.ErrorCode(err); code == portal.EConflict || code == portal.EDenied {
			return s.renderApproval(c, http.StatusConflict, portal.ErrorMessage(err), nil, "")
		}
		return err
	}
	s.cfg.Sessions.ClearKey(c.Response(), approvalPath(id))
	c.Response().Header().Set("Cache-Control", "no-store")
	user := portal.User{ID: r.TargetID, DisplayName: r.TargetName, UserPrincipalName: r.TargetUPN}
	tap := portal.TAP{ID: r.TAPID, Start: r.Start, LifetimeMinutes: r.LifetimeMinutes, OneTime: r.OneTime}
	if tap.Start.IsZero() {
		tap.Start = r.Settled
	}
	if portal.Channel(r.Channel) == portal.ChannelLink {
		return s.render(c, http.StatusOK, templates.DeliveredPage(s.page(c, "Pass issued", "approvals"), templates.DeliveredView{
			User: user, TAP: tap, Now: s.cfg.Service.Now(), Channel: portal.ChannelLink, Link: secret.Reveal(),
		}))
	}
	return s.render(c, http.StatusOK, templates.PasscodePage(s.page(c, "Pass issued", "approvals"), templates.PasscodeView{
		User: user, TAP: tap, Passcode: secret.Reveal(), Now: s.cfg.Service.Now(), Instructions: s.cfg.PassInstructions,
	}))
}
