package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// search finds users. An htmx request gets the result list alone.
func (s *Server) search(c echo.Context) error {
	v := templates.SearchView{Query: c.QueryParam("q"), Cursor: c.QueryParam("cursor")}
	status := http.StatusOK
	if v.Query != "" || v.Cursor != "" {
		v.Searched = true
		page, err := s.cfg.Service.Search(c.Request().Context(), v.Query, v.Cursor)
		switch portal.ErrorCode(err) {
		case "":
			v.Users, v.Next, v.Count, v.Prefix = page.Users, page.Next, page.Count, page.Prefix
		case portal.EInvalid:
			v.Error, status = portal.ErrorMessage(err), http.StatusBadRequest
		default:
			return err
		}
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("Vary", "HX-Request")
		return s.render(c, status, templates.SearchResults(s.page(c, "Find a user", "search"), v))
	}
	return s.render(c, status, templates.SearchPage(s.page(c, "Find a user", "search"), v))
}

// userPage shows one user; its Graph calls run concurrently.
func (s *Server) userPage(c echo.Context) error {
	uv, err := s.cfg.Service.View(c.Request().Context(), operator(c), c.Param("id"))
	if err != nil {
		return err
	}
	v := templates.UserView{
		User: uv.User, Methods: uv.Methods, MethodsError: uv.MethodsError, TAP: uv.TAP, TAPState: uv.TAPState, Policy: uv.Policy, History: uv.History,
		FollowUp: uv.FollowUp,
	}
	for _, p := range uv.Privileges {
		v.Privileges = append(v.Privileges, p.Text)
	}
	if s.cfg.Watches != nil && uv.TAP != nil && uv.FollowUp != nil && uv.FollowUp.Use == portal.UseUnknown {
		s.lastSignIn(c, uv.User.ID, uv.TAP.ID, uv.FollowUp)
	}
	v.Refusals = s.refusals(uv.Verdict)
	switch c.QueryParam("done") {
	case "revoked":
		v.Notice = "The Temporary Access Pass was revoked."
	}
	return s.render(c, http.StatusOK, templates.UserPage(s.page(c, uv.User.DisplayName, "search"), v))
}

// lastSignIn adds to f what the portal's last look at the user's pass
// saw of their sign-in activity: the user page does not spend a Graph
// read on it.
func (s *Server) lastSignIn(c echo.Context, userID, tapID string, f *portal.FollowUp) {
	ws, err := s.cfg.Watches.Watches(c.Request().Context(), portal.WatchFilter{TargetID: userID, TAPID: tapID, Limit: 1})
	switch {
	case err != nil:
		f.SignIn = "Not known: the portal's follow-up of the pass could not be read."
	case len(ws) == 1 && ws[0].SignIn != "":
		f.SignedIn, f.SignIn, f.SignInAsOf = ws[0].SignedIn, ws[0].SignIn, ws[0].Checked
	}
}

// refusals are a verdict's reasons, each with what to do next.
func (s *Server) refusals(v issuance.Verdict) []templates.RefusalView {
	out := make([]templates.RefusalView, len(v.Refusals))
	for i, r := range v.Refusals {
		out[i] = templates.RefusalView{Message: r.Message, Help: s.cfg.RefusalHelp[r.Code]}
	}
	return out
}
