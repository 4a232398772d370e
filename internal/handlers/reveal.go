package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
	"github.com/tapportal/portal/web/templates"
)

// Reveal configures one-time reveal links: a passcode sent to the user
// as a link whose fragment holds the only key to it (see internal/reveal).
// The link's page is open to anyone who holds the link, with no session:
// the user has no portal account. Opening the page reveals nothing; its
// button asks for the ciphertext once, and the browser decrypts it.
type Reveal struct {
	// Links keeps the links and, until each is revealed or expires, its
	// sealed passcode.
	Links portal.RevealLinks
	// Recorded, when set, is called once a link is revealed, with the
	// link as revealed (Revealed set), so that the history can record
	// the reveal. An error is logged, and the passcode is answered all
	// the same: the link has already forgotten it, and the reveal is
	// recorded on the link itself.
	Recorded func(ctx context.Context, link portal.RevealLink) error
	// Now is the links' clock; nil means time.Now.
	Now func() time.Time
}

func (r *Reveal) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// revealScript is the reveal page's script, which no other page loads.
const revealScript = "js/reveal.js"

// revealPage shows a link's state and, while it is ready, the button that
// reveals it. It reads the link and changes nothing: mail scanners and
// chat previews open links before the person they were sent to does. A
// malformed id is answered as an unknown one, without asking the store.
func (s *Server) revealPage(c echo.Context) error {
	rv := s.cfg.Reveal
	v := templates.RevealView{State: templates.RevealNotFound, Script: s.cfg.Assets.Path(revealScript)}
	status := http.StatusNotFound
	if id := c.Param("id"); reveal.ValidLinkID(id) {
		link, err := rv.Links.RevealLinkStatus(c.Request().Context(), id)
		switch {
		case portal.ErrorCode(err) == portal.ENotFound:
		case err != nil:
			s.revealFailed(c, "reading a reveal link", err)
			v.State, status = templates.RevealUnavailable, http.StatusServiceUnavailable
		default:
			state := link.State(rv.now())
			v.State, v.Expires, v.Revealed = string(state), link.Expires, link.Revealed
			status = http.StatusGone
			if state == portal.RevealReady {
				v.ID, status = link.ID, http.StatusOK
			}
		}
	}
	// The page is for the one person who holds the link.
	c.Response().Header().Set("X-Robots-Tag", "noindex, nofollow")
	return s.render(c, status, templates.RevealPage(s.page(c, templates.RevealTitle(v.State), ""), v))
}

// revealAnswer is the JSON the page's script gets: the sealed passcode,
// base64url, or why there is none.
type revealAnswer struct {
	Ciphertext string `json:"ciphertext,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	// State is, on a refusal, "refused", "malformed", "not_found",
	// "damaged", "expired", "revealed" or "unavailable", and Message
	// says it in words.
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// At is when the link expired or was revealed.
	At string `json:"at,omitempty"`
}

// revealRequest is the JSON the page's script posts: the link's key check,
// which proves it holds the whole key (see internal/reveal).
type revealRequest struct {
	Check string `json:"check"`
}

// maxRevealRequest bounds a reveal's body: {"check":"…"} with a check of
// 22 characters is 33 bytes, and a browser adds nothing to it.
const maxRevealRequest = 256

// revealPasscode reveals a link: it takes the sealed passcode from the
// store, which forgets it in the same step, and answers it once. There is
// no session to carry a CSRF token, so it answers only the portal's own
// pages: anything else could burn a link from another site. And it
// answers only a request that carries the link's key check: the path
// alone, seen in a log, or a link with its key damaged on the way, takes
// nothing, and the link still opens when it is opened whole.
func (s *Server) revealPasscode(c echo.Context) error {
	rv := s.cfg.Reveal
	if !s.sameOrigin(c.Request()) {
		return revealJSON(c, http.StatusForbidden, revealAnswer{State: "refused",
			Message: "The portal answers this link only on its own page. Open the link itself; nothing was revealed."})
	}
	id := c.Param("id")
	if !reveal.ValidLinkID(id) {
		return revealJSON(c, http.StatusNotFound, revealNotFound())
	}
	check, ok := readRevealCheck(c.Request())
	if !ok {
		return revealJSON(c, http.StatusBadRequest, revealAnswer{State: "malformed",
			Message: "The portal could not read this request, and nothing was revealed. Reload the page and try again."})
	}
	link, sealed, err := rv.Links.TakeRevealLink(c.Request().Context(), id, check, rv.now())
	if errors.Is(err, portal.ErrRevealDamaged) {
		// 409: the link is there and can be revealed, but not with this
		// key. The message says what the person can do about it.
		return revealJSON(c, http.StatusConflict, revealAnswer{State: "damaged",
			Message: "This link is damaged: a character was changed on the way. Ask for the link again, copied whole; the passcode is still safe."})
	}
	if gone, ok := errors.AsType[*portal.RevealGone](err); ok {
		if gone.State == portal.RevealRevealed {
			return revealJSON(c, http.StatusGone, revealAnswer{State: string(portal.RevealRevealed), At: gone.Link.Revealed.UTC().Format(time.RFC3339),
				Message: "This passcode was already revealed, at " + gone.Link.Revealed.UTC().Format("2 Jan 2006, 15:04 MST") + ". It can be shown only once: if it was not you, tell your helpdesk now."})
		}
		return revealJSON(c, http.StatusGone, revealAnswer{State: string(portal.RevealExpired), At: gone.Link.Expires.UTC().Format(time.RFC3339),
			Message: "This link expired at " + gone.Link.Expires.UTC().Format("2 Jan 2006, 15:04 MST") + ". Ask your helpdesk for a new one."})
	}
	switch {
	case portal.ErrorCode(err) == portal.ENotFound:
		return revealJSON(c, http.StatusNotFound, revealNotFound())
	case err != nil:
		s.revealFailed(c, "revealing a link", err)
		return revealJSON(c, http.StatusServiceUnavailable, revealAnswer{State: "unavailable",
			Message: "The portal cannot reveal the passcode just now: reload the page and try again in a few minutes."})
	}
	if rv.Recorded != nil {
		// The reveal has happened: recording it must not stop because
		// the browser went away.
		if err := rv.Recorded(context.WithoutCancel(c.Request().Context()), link); err != nil {
			s.revealFailed(c, "recording a reveal", err)
		}
	}
	return revealJSON(c, http.StatusOK, revealAnswer{
		Ciphertext: base64.RawURLEncoding.EncodeToString(sealed.Ciphertext),
		Nonce:      base64.RawURLEncoding.EncodeToString(sealed.Nonce),
	})
}

// readRevealCheck reads the key check from r's body, which must be JSON
// and nothing but {"check": "…"} with a check of the form reveal.Check
// gives: the page's script sends exactly that, so a request with anything
// else comes from no page of the portal. Asking for JSON also keeps
// another site's plain form from posting here.
func readRevealCheck(r *http.Request) (string, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRevealRequest+1))
	if err != nil || len(body) > maxRevealRequest {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req revealRequest
	if err := dec.Decode(&req); err != nil {
		return "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		// Something after the object.
		return "", false
	}
	if !reveal.ValidCheck(req.Check) {
		return "", false
	}
	return req.Check, true
}

func revealNotFound() revealAnswer {
	return revealAnswer{State: "not_found",
		Message: "There is no passcode at this address. Check that you opened the whole link, or ask your helpdesk for a new one."}
}

// revealJSON answers JSON that no cache may keep: the one answer with a
// sealed passcode must not be served twice, by anything.
func revealJSON(c echo.Context, status int, a revealAnswer) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	return c.JSON(status, a)
}

// revealFailed logs a failure the person sees only as "try again": the
// link id and never anything of the passcode, sealed or not.
func (s *Server) revealFailed(c echo.Context, what string, err error) {
	s.cfg.Logger.ErrorContext(c.Request().Context(), what, slog.String("request_id", requestID(c)), slog.String("err", err.Error()))
}

// sameOrigin reports whether r comes from a page of the portal itself.
// Browsers say where a request comes from in Sec-Fetch-Site, which no page
// can set; a browser too old to send it sends Origin with every POST, so
// without it Origin must be the portal's own. A request with neither is
// refused: it comes from no browser page of the portal.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
	default:
		// cross-site, same-site (a sibling host) or none (not a page).
		return false
	}
	origin := r.Header.Get("Origin")
	return origin != "" && s.cfg.PublicURL != nil && sameOriginAs(origin, s.cfg.PublicURL)
}

// sameOriginAs reports whether the Origin header value origin names the
// origin of u: the same scheme, host and port, a default port written or
// not.
func sameOriginAs(origin string, u *url.URL) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Path != "" || o.RawQuery != "" || o.User != nil {
		return false
	}
	return strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(hostPort(o), hostPort(u))
}

// hostPort is u's host and port, with the scheme's default port written.
func hostPort(u *url.URL) string {
	if port := u.Port(); port != "" {
		return u.Host
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Host + ":443"
	case "http":
		return u.Host + ":80"
	}
	return u.Host
}
