package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// tenantPasses lists what the directory audit log shows of passes: all,
// those made elsewhere, or those made elsewhere for protected accounts.
func (s *Server) tenantPasses(c echo.Context) error {
	v := templates.TenantPassesView{Show: c.QueryParam("show"), Off: s.cfg.AuditLog == nil, Delay: s.cfg.AuditDelay.String()}
	f := portal.TenantPassFilter{Limit: 200}
	switch v.Show {
	case "", "all":
		v.Show = "all"
	case "elsewhere":
		f.Elsewhere = true
	case "protected":
		f.Protected = true
	default:
		return &portal.Error{Code: portal.EInvalid, Message: "show must be all, elsewhere or protected."}
	}
	p := s.page(c, "Passes in the tenant", "passes")
	if v.Off {
		return s.render(c, http.StatusOK, templates.TenantPassesPage(p, v))
	}
	ctx := c.Request().Context()
	var err error
	if v.Cursor, err = s.cfg.AuditLog.AuditCursor(ctx); err != nil {
		return err
	}
	if v.Passes, err = s.cfg.AuditLog.TenantPasses(ctx, f); err != nil {
		return err
	}
	if v.Unaudited, err = s.cfg.AuditLog.Unaudited(ctx, 0); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.TenantPassesPage(p, v))
}
