package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/auth"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/templates"
)

// SafeReturnTo accepts only a path on this portal: no scheme, no host, no
// protocol-relative or backslash tricks. Anything else becomes "/search".
func SafeReturnTo(s string) string {
	const fallback = "/search"
	if s == "" || len(s) > 2048 || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t") {
		return fallback
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(u.Path, "/auth/") {
		return fallback
	}
	return u.RequestURI()
}

// login sends the browser to the provider. ?reauth=1 asks the provider to
// authenticate again (prompt=login): for a fresh sign-in before issuing,
// or to sign in as someone else.
func (s *Server) login(c echo.Context) error {
	returnTo := SafeReturnTo(c.QueryParam("return_to"))
	l, target := s.cfg.Auth.Begin(returnTo, c.QueryParam("reauth") != "")
	if err := s.cfg.Sessions.SaveLogin(c.Response(), l); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, target)
}

// callback completes the sign-in. A replayed or forged callback finds no
// matching sign-in state and is refused.
func (s *Server) callback(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.cfg.Sessions.TakeLogin(c.Response(), c.Request())
	if err != nil {
		return &portal.Error{Code: portal.EUnauthorized, Message: "The sign-in could not be completed: " + err.Error() + ". Start again.", Err: err}
	}
	// Nothing of the callback is believed, its error text included, before
	// its state is this browser's and unused: the page must not show what
	// someone else put in a link.
	if state := c.QueryParam("state"); state == "" || state != l.State {
		return &portal.Error{Code: portal.EUnauthorized, Message: "The sign-in could not be completed. Start again.", Err: auth.ErrStateMismatch}
	}
	if fresh, err := s.cfg.Revoked.UseState(ctx, l.State, l.Expires); err != nil {
		return err
	} else if !fresh {
		return &portal.Error{Code: portal.EUnauthorized, Message: "This sign-in was already completed once. Start again."}
	}
	if e := c.QueryParam("error"); e != "" {
		s.cfg.Logger.InfoContext(ctx, "the provider refused the sign-in", "request_id", requestID(c),
			"error", truncate(e, 80), "description", truncate(c.QueryParam("error_description"), 300))
		return &portal.Error{Code: portal.EUnauthorized, Message: providerRefusal(e)}
	}
	id, err := s.cfg.Auth.Finish(c.Request().Context(), l, c.QueryParam("state"), c.QueryParam("code"))
	if err != nil {
		return &portal.Error{Code: portal.EUnauthorized, Message: "The sign-in could not be completed. Start again.", Err: err}
	}
	role, ok := s.cfg.Auth.RoleOf(id)
	if !ok {
		s.cfg.Sessions.Clear(c.Response())
		s.cfg.Logger.InfoContext(c.Request().Context(), "sign-in without a portal role", "request_id", requestID(c), "subject", id.Subject)
		v := templates.NoAccessView{Name: nameOr(id.Name, id.Username), Roles: id.Roles}
		v.OperatorRole, v.SupervisorRole = s.cfg.Auth.RoleValues()
		if len(v.Roles) > 10 {
			v.Roles = v.Roles[:10]
		}
		return s.render(c, http.StatusForbidden, templates.NoAccess(s.page(c, "No access", ""), v))
	}
	if old, err := s.cfg.Sessions.Get(c.Request()); err == nil && old.Subject != id.Subject {
		// Another person signed in on this browser (a fresh sign-in for an
		// issue that returned someone else, say): the first one's session
		// ends here, not merely under a new cookie.
		if err := s.cfg.Revoked.RevokeSession(c.Request().Context(), old.ID, s.cfg.Sessions.Expiry(old)); err != nil {
			return err
		}
		s.cfg.Logger.WarnContext(c.Request().Context(), "sign-in as another person ended the previous session", "request_id", requestID(c),
			"previous", old.Subject, "operator", id.Subject)
	}
	sess := s.cfg.Sessions.Start(session.Session{
		Subject: id.Subject, Name: nameOr(id.Name, id.Username), Username: id.Username, Role: role, AuthTime: id.AuthTime,
		NoAuthTime: l.Fresh && id.AuthTime.IsZero(),
	})
	if err := s.cfg.Sessions.Save(c.Response(), &sess); err != nil {
		return err
	}
	s.cfg.Logger.InfoContext(c.Request().Context(), "signed in", "request_id", requestID(c), "operator", sess.Subject, "role", string(role))
	return c.Redirect(http.StatusSeeOther, SafeReturnTo(l.ReturnTo))
}

// providerRefusal says what a provider's error code means, in the portal's
// own words: the code is one of OAuth's, the description is the
// provider's text and goes to the log only.
func providerRefusal(code string) string {
	switch code {
	case "access_denied":
		return "The sign-in was cancelled or refused at the identity provider. Start again."
	case "login_required", "interaction_required", "consent_required":
		return "The identity provider needs you to sign in again. Start again."
	case "temporarily_unavailable", "server_error":
		return "The identity provider could not sign you in just now. Try again in a moment."
	}
	return "The identity provider did not sign you in. Start again."
}

func nameOr(name, fallback string) string {
	if name != "" {
		return name
	}
	return fallback
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// logout ends the local session and, when the provider has one, its
// session too.
func (s *Server) logout(c echo.Context) error {
	sess := sessionOf(c)
	if err := s.cfg.Revoked.RevokeSession(c.Request().Context(), sess.ID, s.cfg.Sessions.Expiry(sess)); err != nil {
		return err
	}
	s.cfg.Sessions.Clear(c.Response())
	back := s.cfg.PublicURL.String() + "/signed-out"
	if target := s.cfg.Auth.EndSessionURL("", back); target != "" {
		return c.Redirect(http.StatusSeeOther, target)
	}
	return c.Redirect(http.StatusSeeOther, "/signed-out")
}

// logoutEverywhere ends every session of the operator, on every browser
// and replica, then signs this one out.
func (s *Server) logoutEverywhere(c echo.Context) error {
	sess := sessionOf(c)
	now := s.cfg.Service.Now()
	if err := s.cfg.Revoked.RevokeSubject(c.Request().Context(), sess.Subject, now.Add(time.Second), now.Add(s.cfg.Sessions.MaxAge())); err != nil {
		return err
	}
	s.cfg.Logger.InfoContext(c.Request().Context(), "signed out everywhere", "request_id", requestID(c), "operator", sess.Subject)
	return s.logout(c)
}

// endSessions lets a supervisor end every session of an operator: someone
// who left, or whose device was lost. It is recorded in the history.
func (s *Server) endSessions(c echo.Context) error {
	target := c.Param("id")
	if err := portal.CheckTarget(target); err != nil {
		return err
	}
	now := s.cfg.Service.Now()
	ctx := c.Request().Context()
	if err := s.cfg.Revoked.RevokeSubject(ctx, target, now.Add(time.Second), now.Add(s.cfg.Sessions.MaxAge())); err != nil {
		return err
	}
	if err := s.cfg.Service.RecordSessionsEnded(ctx, operator(c), target, requestID(c)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/history?operator="+url.QueryEscape(target)+"&done=sessions")
}

func (s *Server) signedOut(c echo.Context) error {
	return s.render(c, http.StatusOK, templates.SignedOut(s.page(c, "Signed out", "")))
}
