package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// maxBody bounds request bodies: the largest form is a few kilobytes.
const maxBody = 64 << 10

// bodyLimit bounds every request body before anything reads it (the CSRF
// check reads the form): maxBody, or for a cohort upload the file limit
// and room for the form around it.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := int64(maxBody)
		if s.cohortUpload(c) {
			limit = s.cfg.Bulk.Limits.MaxBytes + maxBody
		}
		r := c.Request()
		if r.ContentLength > limit {
			return echo.ErrStatusRequestEntityTooLarge
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

func (s *Server) cohortUpload(c echo.Context) bool {
	return s.cfg.Bulk != nil && c.Path() == "/bulk" && c.Request().Method == http.MethodPost
}

// routes lists every route the portal serves.
func (s *Server) routes() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlash())
	e.Use(s.requestID, s.logRequests, securityHeaders(s.cfg), s.bodyLimit)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.cfg.Metrics != nil && s.cfg.MetricsRoute {
		e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics.Handler(s.cfg.MetricsToken)))
	}
	e.GET("/static/*", echo.WrapHandler(s.cfg.Assets.Handler()))
	// Pages declare no icon; answer the browsers that ask anyway before
	// the signed-in routes' catch-all would send them to sign in.
	e.GET("/favicon.ico", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })

	e.GET("/auth/login", s.login)
	e.GET("/auth/callback", s.callback)
	e.POST("/auth/logout", s.logout, s.requireSession, s.checkCSRF)
	e.POST("/auth/logout-everywhere", s.logoutEverywhere, s.requireSession, s.checkCSRF)
	// Signing out changes state, so it is a POST; say so to anything else.
	e.Match([]string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch}, "/auth/logout",
		func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderAllow, http.MethodPost)
			return echo.ErrMethodNotAllowed
		})
	e.GET("/signed-out", s.signedOut)

	if s.cfg.Reveal != nil {
		// A reveal link is opened by the user the pass is for, who has no
		// portal account: no session and no CSRF token. The POST answers
		// only the portal's own page (revealPasscode).
		e.GET("/reveal/:id", s.revealPage)
		e.POST("/reveal/:id", s.revealPasscode)
	}

	op := e.Group("", s.requireSession, s.checkCSRF)
	op.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/search") })
	op.GET("/search", s.search)
	op.GET("/users/:id", s.userPage)
	op.GET("/users/:id/issue", s.issueForm)
	op.POST("/users/:id/issue", s.issue)
	op.GET("/users/:id/revoke", s.revokeForm)
	op.POST("/users/:id/revoke", s.revoke)
	op.GET("/my-history", s.myHistory)
	op.GET("/my-history/:id", s.myEvent)

	if s.cfg.Demo != nil {
		op.GET("/demo/mailbox", s.demoMailbox)
	}
	if s.cfg.Service.ApprovalsOn() {
		op.GET("/approvals", s.approvalsPage)
		op.GET("/approvals/:id", s.approvalPage)
		// The service refuses anyone but a supervisor too; the routes say
		// so first.
		op.POST("/approvals/:id/approve", s.approvalDecide(true), s.requireSupervisor)
		op.POST("/approvals/:id/reject", s.approvalDecide(false), s.requireSupervisor)
		op.POST("/approvals/:id/cancel", s.approvalCancel)
		op.POST("/approvals/:id/passcode", s.approvalPasscode)
	}
	if s.cfg.Bulk != nil {
		op.GET("/bulk", s.bulkPage)
		op.POST("/bulk", s.bulkUpload)
		op.GET("/bulk/template.csv", s.bulkTemplate)
		op.GET("/bulk/sample.csv", s.bulkSample)
		op.GET("/bulk/:id", s.bulkRunPage)
		op.GET("/bulk/:id/progress", s.bulkProgress)
		op.POST("/bulk/:id/confirm", s.bulkConfirm)
		op.POST("/bulk/:id/cancel", s.bulkCancel)
		op.POST("/bulk/:id/passcodes", s.bulkPasscodes)
	}

	sup := op.Group("/history", s.requireSupervisor)
	sup.GET("", s.history)
	sup.GET("/:id", s.supervisorEvent)
	sup.GET("/export.csv", s.export)
	sup.GET("/dashboard", s.dashboard)
	sup.GET("/passes", s.tenantPasses)
	sup.POST("/operators/:id/end-sessions", s.endSessions)
	if s.cfg.Events != nil {
		sup.GET("/events", s.eventsPage)
		sup.POST("/events/:id/requeue", s.eventRequeue)
	}
}
