// Package handlers is the portal's web layer: it parses requests, calls the
// issuance service or the directory, and renders templ pages. Handlers
// return errors; one error handler turns them into pages.
package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/auth"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/metrics"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/static"
	"github.com/tapportal/portal/web/templates"
)

// Check is one readiness check.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Revocations remembers, for every replica, sessions ended by signing out
// (a session cookie is otherwise valid until it expires) and the sign-ins
// already completed.
type Revocations interface {
	RevokeSession(ctx context.Context, id string, until time.Time) error
	// RevokeSubject ends every session of subject started before before.
	RevokeSubject(ctx context.Context, subject string, before, until time.Time) error
	SessionRevoked(ctx context.Context, id, subject string, created time.Time) (bool, error)
	// UseState records a completed sign-in's state; false means it was
	// used before (a replayed callback).
	UseState(ctx context.Context, state string, until time.Time) (bool, error)
}

// Config holds the web layer's dependencies.
type Config struct {
	Service  *issuance.Service
	History  portal.History
	Sessions *session.Manager
	Revoked  Revocations
	Auth     *auth.Authenticator
	Assets   *static.Assets
	Logger   *slog.Logger
	// PublicURL is the portal's external base URL.
	PublicURL *url.URL
	// ProviderOrigin is the OpenID provider's origin, allowed as a form
	// target because sign-out redirects there.
	ProviderOrigin string
	Ready          []Check
	// Capabilities, when set, returns the last probe of the Graph app's
	// permissions, which /readyz reports.
	Capabilities func() []portal.Capability
	// Metrics, when set, observes every request; MetricsRoute serves
	// them on this listener too.
	Metrics      *metrics.Metrics
	MetricsRoute bool
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// PassInstructions is what the passcode page says to tell the user.
	PassInstructions string
	// QuickReasons are the issue form's one-click reasons.
	QuickReasons []string
	// RefusalHelp says what to do after each kind of refusal, by code.
	RefusalHelp map[string]string
	// AuditLog, when set, holds what the portal read of the directory
	// audit log; AuditDelay is how late that log may be.
	AuditLog   portal.AuditLog
	AuditDelay time.Duration
	// Watches, when set, hold the follow-up of passes the dashboard shows.
	Watches portal.PassWatches
	// Review answers the review pages' person filter and counts.
	Review portal.Review
	// Bulk, when set, runs cohort files.
	Bulk *Bulk
	// Demo, in the demo tenant only, shows what the portal sent out.
	Demo DemoMailbox
	// Events, when set, are the security events' deliveries to the
	// webhook, for supervisors.
	Events Events
	// Reveal, when set, serves one-time reveal links; nil leaves their
	// routes out.
	Reveal *Reveal
}

// Server is the portal's HTTP handler.
type Server struct {
	cfg  Config
	echo *echo.Echo
	// buffers hold pages while they render; gzips compress them.
	buffers, gzips sync.Pool
	zones          zoneCache
}

// New builds the Echo instance with every route and middleware.
func New(cfg Config) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{cfg: cfg, echo: e}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// render renders a page into a buffer and only then writes it with
// status: a template that fails returns its error before anything is
// sent, so the error handler can answer with a logged 500 instead of a
// truncated page.
func (s *Server) render(c echo.Context, status int, page templ.Component) error {
	buf := s.buffer()
	defer s.release(buf)
	if err := page.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("rendering the page: %w", err)
	}
	h := c.Response().Header()
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	body := buf
	if buf.Len() >= minCompress && static.Accepts(c.Request().Header.Get(echo.HeaderAcceptEncoding), "gzip") {
		// Pages are compressed whole, once rendered: a page is a few
		// kilobytes, a fifth of that compressed.
		zbuf := s.buffer()
		defer s.release(zbuf)
		zw, _ := s.gzips.Get().(*gzip.Writer)
		if zw == nil {
			zw = gzip.NewWriter(io.Discard)
		}
		defer s.gzips.Put(zw)
		zw.Reset(zbuf)
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		h.Set(echo.HeaderContentEncoding, "gzip")
		body = zbuf
	}
	// With its length known, the page goes out in one piece rather than
	// in chunks, each its own write to the connection.
	h.Set(echo.HeaderContentLength, strconv.Itoa(body.Len()))
	return c.HTMLBlob(status, body.Bytes())
}

// buffer is an empty buffer from the pool.
func (s *Server) buffer() *bytes.Buffer {
	if buf, ok := s.buffers.Get().(*bytes.Buffer); ok {
		return buf
	}
	return new(bytes.Buffer)
}

// release returns buf to the pool, unless it grew past what a page needs.
func (s *Server) release(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		buf.Reset()
		s.buffers.Put(buf)
	}
}

// minCompress is the smallest page worth compressing.
const minCompress = 1024

// page returns the layout's view model for this request.
func (s *Server) page(c echo.Context, title, nav string) templates.Page {
	p := templates.Page{
		Title:     title,
		Nav:       nav,
		RequestID: requestID(c),
		Assets: templates.Assets{
			CSS:  s.cfg.Assets.Path("css/app.css"),
			JS:   s.cfg.Assets.Path("js/app.js"),
			HTMX: s.cfg.Assets.Path("vendor/htmx.min.js"),
		},
		Location: s.location(c),
	}
	if sess := sessionOf(c); sess != nil {
		p.User = &templates.Viewer{Name: sess.Name, Username: sess.Username, Supervisor: sess.IsSupervisor(), Bulk: s.cfg.Bulk != nil,
			Demo: s.cfg.Demo != nil, Approvals: s.cfg.Service.ApprovalsOn()}
		p.CSRF = maskToken(sess.CSRF)
	}
	return p
}

// location is the operator's time zone, from the cookie the page script
// sets; UTC until it has.
func (s *Server) location(c echo.Context) *time.Location {
	if ck, err := c.Cookie("tz"); err == nil {
		if loc, ok := s.zones.load(ck.Value); ok {
			return loc
		}
	}
	return time.UTC
}

// zoneCache keeps the time zones pages were asked for: loading one reads
// and parses its rules each time (about 17 µs), and every page of a
// signed-in browser names one. It holds only zones that loaded, so it is
// bounded by the zone database.
type zoneCache struct{ m sync.Map }

func (z *zoneCache) load(name string) (*time.Location, bool) {
	if loc, ok := z.m.Load(name); ok {
		return loc.(*time.Location), true
	}
	loc, ok := loadLocation(name)
	if ok {
		z.m.Store(name, loc)
	}
	return loc, ok
}

func loadLocation(name string) (*time.Location, bool) {
	if name == "" || len(name) > 64 {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	return loc, true
}

// operator returns the signed-in operator as the domain sees them.
func operator(c echo.Context) portal.Operator {
	sess := sessionOf(c)
	return portal.Operator{ID: sess.Subject, Name: sess.Name, Username: sess.Username, Supervisor: sess.IsSupervisor(), AuthTime: sess.AuthTime}
}

// DemoMailbox is what the demo tenant received from the portal: mail,
// and security events.
type DemoMailbox interface {
	Mails() []templates.DemoMail
	Events() []templates.DemoEvent
}

// demoMailbox shows the demo tenant's mailbox.
func (s *Server) demoMailbox(c echo.Context) error {
	v := templates.DemoMailboxView{Mails: s.cfg.Demo.Mails(), Events: s.cfg.Demo.Events()}
	return s.render(c, http.StatusOK, templates.DemoMailboxPage(s.page(c, "Demo mailbox", "demo"), v))
}
