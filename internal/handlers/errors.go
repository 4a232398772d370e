package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// statusOf maps the domain's error codes to HTTP, in one place.
func statusOf(code string) int {
	switch code {
	case portal.EInvalid:
		return http.StatusBadRequest
	case portal.EUnauthorized:
		return http.StatusUnauthorized
	case portal.EDenied, portal.EPolicy:
		return http.StatusForbidden
	case portal.ENotFound:
		return http.StatusNotFound
	case portal.EThrottled, portal.ELimited:
		return http.StatusTooManyRequests
	case portal.EConflict:
		return http.StatusConflict
	case portal.EForbidden, portal.EConfig:
		// The portal's own Graph app lacks a permission: an upstream
		// configuration fault, not the operator's.
		return http.StatusBadGateway
	case portal.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var headings = map[int]string{
	http.StatusBadRequest:            "That request was not valid",
	http.StatusUnauthorized:          "Please sign in",
	http.StatusForbidden:             "Not allowed",
	http.StatusNotFound:              "Not found",
	http.StatusMethodNotAllowed:      "Not allowed",
	http.StatusRequestEntityTooLarge: "Too much data",
	http.StatusTooManyRequests:       "Microsoft Graph is busy",
	http.StatusBadGateway:            "The portal is not set up correctly",
	http.StatusServiceUnavailable:    "A service is unavailable",
	http.StatusInternalServerError:   "Something went wrong",
}

// handleError renders every error as a page. 5xx are logged with the
// request id; the page shows a message that helps without leaking
// internals, and Graph's request id when there is one.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	v := templates.ErrorView{}
	var he *echo.HTTPError
	var pe *portal.Error
	switch {
	case errors.As(err, &pe):
		v.Status = statusOf(pe.Code)
		v.Message = pe.Message
		v.GraphRequestID = pe.RequestID
		v.SignIn = pe.Code == portal.EUnauthorized
		if pe.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(pe.RetryAfter.Seconds())))
			v.Message += " Try again at " + time.Now().Add(pe.RetryAfter).In(s.location(c)).Format("15:04:05") + "."
		}
		if pe.Code == portal.ELimited {
			v.Heading = "Rate limit reached"
		}
	case errors.As(err, &he):
		v.Status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			v.Message = "There is no page at this address."
		case http.StatusMethodNotAllowed:
			v.Message = "This address does not accept that kind of request."
		case http.StatusRequestEntityTooLarge:
			v.Message = "The form sent more data than the portal accepts. Shorten the text and try again; nothing was changed."
			if s.cohortUpload(c) {
				v.Message = "The file is over " + byteSize(s.cfg.Bulk.Limits.MaxBytes) + ": split the cohort into several files. Nothing was kept."
			}
		default:
			v.Message = http.StatusText(he.Code)
		}
	default:
		v.Status = http.StatusInternalServerError
	}
	if v.Status >= 500 {
		if v.Message == "" || v.Status == http.StatusInternalServerError {
			v.Message = "The portal hit an unexpected error. Nothing more was changed. If it happens again, give the request id below to the portal's administrators."
		}
		s.cfg.Logger.ErrorContext(c.Request().Context(), "request failed", slog.String("request_id", requestID(c)),
			slog.Int("status", v.Status), slog.String("err", err.Error()))
	}
	if v.Heading == "" {
		v.Heading = headings[v.Status]
	}
	if v.Heading == "" {
		v.Heading = http.StatusText(v.Status)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(v.Status)
		return
	}
	if rerr := s.render(c, v.Status, templates.ErrorPage(s.page(c, v.Heading, ""), v)); rerr != nil {
		// The error page itself failed: a plain page still says what
		// happened, and the log says why.
		s.cfg.Logger.ErrorContext(c.Request().Context(), "rendering the error page", slog.String("request_id", requestID(c)), slog.String("err", rerr.Error()))
		c.HTMLBlob(v.Status, []byte(fallbackPage))
	}
}

// fallbackPage is the page shown when the error page cannot be rendered.
const fallbackPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong</title></head>` +
	`<body><h1>Something went wrong</h1><p>The portal hit an unexpected error. Nothing more was changed. If it happens again, tell the portal's administrators the time it happened.</p></body></html>`
