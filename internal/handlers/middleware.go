package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
)

const (
	ctxRequestID = "request_id"
	ctxSession   = "session"
)

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

func sessionOf(c echo.Context) *session.Session {
	s, _ := c.Get(ctxSession).(*session.Session)
	return s
}

// requestID gives every request a fresh id: in the response header, the
// logs, the history and Graph's client-request-id.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := session.RandomToken()[:22]
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		r := c.Request()
		c.SetRequest(r.WithContext(portal.WithRequestID(r.Context(), id)))
		return next(c)
	}
}

// logRequests writes one JSON line per request and observes it in the
// metrics, whatever way it ends: an error, a panic (recovered into a 500
// page), or an aborted response. It logs the route, not the raw URL, and
// never a form body.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		aborted := false
		defer func() {
			status := c.Response().Status
			if aborted && !c.Response().Committed {
				status = 0
			}
			attrs := []slog.Attr{
				slog.String("request_id", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
			}
			if aborted {
				attrs = append(attrs, slog.Bool("aborted", true))
			}
			if sess := sessionOf(c); sess != nil {
				attrs = append(attrs, slog.String("operator", sess.Subject))
			}
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.ObserveHTTP(c.Path(), c.Request().Method, status, time.Since(start))
			}
			s.cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
		}()
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						// The handler cut a streamed response short on
						// purpose; net/http closes the connection.
						aborted = true
						panic(r)
					}
					err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
				}
			}()
			return next(c)
		}()
		if err != nil {
			c.Error(err)
		}
		return nil
	}
}

// securityHeaders sets a strict CSP and the other protective headers on
// every response, and forbids caching of anything but static files.
func securityHeaders(cfg Config) echo.MiddlewareFunc {
	formAction := "'self'"
	if cfg.ProviderOrigin != "" {
		// Sign-out posts a form that redirects to the provider, and
		// browsers apply form-action to that redirect.
		formAction += " " + cfg.ProviderOrigin
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src 'self'",
		"form-action " + formAction,
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; ")
	hsts := cfg.PublicURL != nil && cfg.PublicURL.Scheme == "https"
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), clipboard-write=(self)")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}

// requireSession loads the session; without one, a page request goes to
// sign-in and comes back, anything else gets 401.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.cfg.Sessions.Get(c.Request())
		if err != nil {
			// Only a page the person navigated to starts a sign-in: a
			// sub-resource or htmx request would replace the sign-in
			// state of another tab and cannot follow the provider anyway.
			mode := c.Request().Header.Get("Sec-Fetch-Mode")
			if c.Request().Method == http.MethodGet && c.Request().Header.Get("HX-Request") == "" && (mode == "" || mode == "navigate") {
				return c.Redirect(http.StatusFound, "/auth/login?return_to="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			return &portal.Error{Code: portal.EUnauthorized, Message: "Your session has ended. Sign in again; nothing was changed."}
		}
		revoked, err := s.cfg.Revoked.SessionRevoked(c.Request().Context(), sess.ID, sess.Subject, sess.Created)
		if err != nil {
			return err
		}
		if revoked {
			s.cfg.Sessions.Clear(c.Response())
			return c.Redirect(http.StatusFound, "/auth/login?return_to="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		c.Set(ctxSession, sess)
		if err := s.cfg.Sessions.Touch(c.Response(), sess); err != nil {
			return err
		}
		return next(c)
	}
}

// requireSupervisor refuses everyone but supervisors.
func (s *Server) requireSupervisor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !sessionOf(c).IsSupervisor() {
			return &portal.Error{Code: portal.EDenied, Message: "This page is for supervisors. Your own history is under My history."}
		}
		return next(c)
	}
}

// checkCSRF requires every state-changing request to echo the session's
// CSRF token. Only POST changes state; other unsafe methods are refused.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead:
			return next(c)
		case http.MethodPost:
		default:
			return echo.NewHTTPError(http.StatusMethodNotAllowed)
		}
		sess := sessionOf(c)
		got := c.FormValue("csrf")
		if sess == nil || !tokenMatches(got, sess.CSRF) {
			return &portal.Error{Code: portal.EDenied, Message: "The form was out of date or did not come from this portal. Reload the page and try again; nothing was changed."}
		}
		return next(c)
	}
}
