package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/web/templates"
)

func (s *Server) revokeForm(c echo.Context) error {
	t, err := s.cfg.Service.RevokeForm(c.Request().Context(), operator(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.RevokePage(s.page(c, "Revoke the pass", "search"), templates.RevokeForm{User: t.User, TAP: t.TAP}))
}

// revoke deletes the pass the form names: if it has been replaced since
// the form was shown, nothing is deleted and the operator is told.
func (s *Server) revoke(c echo.Context) error {
	t, err := s.cfg.Service.Revoke(c.Request().Context(), operator(c), c.Param("id"), issuance.RevokeRequest{
		TAPID: c.FormValue("tap_id"), Reason: strings.TrimSpace(c.FormValue("reason")), RequestID: requestID(c),
	})
	if uerr := s.unsettled(c, err); uerr != nil {
		return uerr
	}
	form := templates.RevokeForm{User: t.User, TAP: t.TAP, Reason: c.FormValue("reason"), Errors: map[string]string{}}
	var invalid issuance.FieldErrors
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/users/"+url.PathEscape(t.User.ID)+"?done=revoked")
	case errors.Is(err, issuance.ErrPassChanged):
		form.Error = "The user's pass changed since this form was shown. Check the pass below before revoking."
		return s.render(c, http.StatusConflict, templates.RevokePage(s.page(c, "Revoke the pass", "search"), form))
	case errors.As(err, &invalid):
		form.Errors = invalid
		return s.render(c, http.StatusBadRequest, templates.RevokePage(s.page(c, "Revoke the pass", "search"), form))
	}
	return err
}
