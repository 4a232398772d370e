package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// MaxBody bounds request bodies: the largest form is a few kilobytes.
const MaxBody = "64K"

// routes lists every route the portal serves.
func (s *Server) routes() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlash())
	e.Use(s.requestID, s.logRequests, s.recoverPanics, securityHeaders(s.cfg), middleware.BodyLimit(MaxBody))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(s.cfg.Assets.Handler()))

	e.GET("/auth/login", s.login)
	e.GET("/auth/callback", s.callback)
	e.POST("/auth/logout", s.logout, s.requireSession, s.checkCSRF)
	e.GET("/signed-out", s.signedOut)

	op := e.Group("", s.requireSession, s.checkCSRF)
	op.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/search") })
	op.GET("/search", s.search)
	op.GET("/users/:id", s.userPage)
	op.GET("/users/:id/issue", s.issueForm)
	op.POST("/users/:id/issue", s.issue)
	op.GET("/users/:id/revoke", s.revokeForm)
	op.POST("/users/:id/revoke", s.revoke)
}
