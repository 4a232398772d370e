package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// revokeTarget loads the user and their current pass.
func (s *Server) revokeTarget(c echo.Context) (portal.User, *portal.TAP, error) {
	var u portal.User
	var tap *portal.TAP
	g, ctx := errgroup.WithContext(c.Request().Context())
	g.Go(func() (err error) { u, err = s.cfg.Directory.User(ctx, c.Param("id")); return err })
	g.Go(func() (err error) { tap, err = s.cfg.Directory.CurrentTAP(ctx, c.Param("id")); return err })
	if err := g.Wait(); err != nil {
		return u, nil, err
	}
	if tap == nil {
		return u, nil, &portal.Error{Code: portal.ENotFound, Message: "The user has no Temporary Access Pass to revoke."}
	}
	return u, tap, nil
}

func (s *Server) revokeForm(c echo.Context) error {
	u, tap, err := s.revokeTarget(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.RevokePage(s.page(c, "Revoke the pass", "search"), templates.RevokeForm{User: u, TAP: *tap}))
}

// revoke deletes the pass the form names: if it has been replaced since
// the form was shown, nothing is deleted and the operator is told.
func (s *Server) revoke(c echo.Context) error {
	u, tap, err := s.revokeTarget(c)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	form := templates.RevokeForm{User: u, TAP: *tap, Reason: c.FormValue("reason"), Errors: map[string]string{}}
	if c.FormValue("tap_id") != tap.ID {
		form.Error = "The user's pass changed since this form was shown. Check the pass below before revoking."
		return render(c, http.StatusConflict, templates.RevokePage(s.page(c, "Revoke the pass", "search"), form))
	}
	err = s.cfg.Service.Revoke(c.Request().Context(), operator(c), u, tap.ID, reason, requestID(c))
	var invalid issuance.FieldErrors
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/users/"+url.PathEscape(u.ID)+"?done=revoked")
	case errors.As(err, &invalid):
		form.Errors = invalid
		return render(c, http.StatusBadRequest, templates.RevokePage(s.page(c, "Revoke the pass", "search"), form))
	}
	return err
}
