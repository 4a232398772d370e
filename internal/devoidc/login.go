package devoidc

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Paths of the provider's own pages, beside the op package's endpoints.
const (
	loginPath      = "/login"
	signedOutPath  = "/signed-out"
	stylesheetPath = "/static/devoidc.css"
)

//go:embed web
var webFS embed.FS

var pages = template.Must(template.ParseFS(webFS, "web/*.html"))

// pickerPage is the view model of the persona picker.
type pickerPage struct {
	Title         string
	Stylesheet    string
	AuthRequestID string
	ClientID      string
	Personas      []personaView
}

type personaView struct {
	Key         string
	Name        string
	Email       string
	Roles       string
	Description string
}

// messagePage is the view model of a page that only says something.
type messagePage struct {
	Title      string
	Stylesheet string
	Heading    string
	Message    string
}

// showPicker answers the op package's redirect to the login page with the
// persona picker for that auth request.
func (p *Provider) showPicker(w http.ResponseWriter, r *http.Request) {
	req, err := p.store.pendingRequest(r.URL.Query().Get("authRequestID"))
	if err != nil {
		p.showStaleRequest(w)
		return
	}
	page := pickerPage{
		Title:         "Sign in",
		Stylesheet:    stylesheetPath,
		AuthRequestID: req.id,
		ClientID:      req.clientID,
	}
	for _, persona := range p.store.personaList {
		page.Personas = append(page.Personas, personaView{
			Key:         persona.Key,
			Name:        persona.Name,
			Email:       persona.Email,
			Roles:       rolesLabel(persona.Roles),
			Description: persona.Description,
		})
	}
	// The form posts here, and the answer redirects through the op
	// package's callback to the client: browsers hold every step of that
	// chain to form-action.
	csp := "default-src 'none'; style-src 'self'; form-action 'self' " + origin(req.redirectURI) +
		"; frame-ancestors 'none'; base-uri 'none'"
	p.render(w, http.StatusOK, csp, "picker.html", page)
}

// choosePersona completes the auth request with the chosen persona, or
// cancels it, and sends the browser on to the client.
func (p *Provider) choosePersona(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("authRequestID")
	req, err := p.store.pendingRequest(id)
	if err != nil {
		p.showStaleRequest(w)
		return
	}

	if r.PostForm.Has("cancel") {
		p.logger.Info("demo sign-in cancelled", slog.String("client_id", req.clientID))
		if err := p.store.DeleteAuthRequest(r.Context(), id); err != nil {
			p.logger.Error("forget cancelled auth request", slog.Any("error", err))
		}
		p.errorRedirect(w, r, req, oidc.ErrAccessDenied().WithDescription("the user cancelled the sign-in"))
		return
	}

	persona, ok := p.store.personaByKey(r.PostForm.Get("persona"))
	if !ok {
		http.Error(w, "Choose one of the people on the sign-in page.", http.StatusBadRequest)
		return
	}
	authTime := time.Now().Add(time.Duration(p.authTimeOffset.Load()))
	if p.omitAuthTime.Load() {
		// A zero time leaves the claim out of the ID token.
		authTime = time.Time{}
	}
	if err := p.store.complete(id, persona.Subject, authTime); err != nil {
		p.showStaleRequest(w)
		return
	}
	p.logger.Info("demo sign-in",
		slog.String("persona", persona.Key),
		slog.String("client_id", req.clientID),
		slog.Time("auth_time", authTime))
	http.Redirect(w, r, p.authCallbackURL(r.Context(), id), http.StatusSeeOther)
}

// showStaleRequest explains an unknown, expired or already used auth
// request, which is what the back button or an old tab leads to.
func (p *Provider) showStaleRequest(w http.ResponseWriter) {
	p.render(w, http.StatusBadRequest, pageCSP, "message.html", messagePage{
		Title:      "Sign-in expired",
		Stylesheet: stylesheetPath,
		Heading:    "This sign-in has expired",
		Message:    "It was completed already or is more than ten minutes old. Go back to the application and sign in again.",
	})
}

// showSignedOut is where the end-session endpoint leads when the client
// named no post-logout redirect URI of its own.
func (p *Provider) showSignedOut(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, pageCSP, "message.html", messagePage{
		Title:      "Signed out",
		Stylesheet: stylesheetPath,
		Heading:    "You have signed out",
		Message:    "You can close this tab, or go back to the application to sign in again.",
	})
}

// pageCSP is the policy of the pages that have no form.
const pageCSP = "default-src 'none'; style-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// render writes a page once it has rendered in full, so a template error
// becomes a clean 500 instead of half a page.
func (p *Provider) render(w http.ResponseWriter, status int, csp, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.logger.Error("render page", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// serveStylesheet serves the pages' only stylesheet.
func serveStylesheet(w http.ResponseWriter, r *http.Request) {
	css, err := webFS.ReadFile("web/devoidc.css")
	if err != nil {
		http.Error(w, "no stylesheet", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Revalidated each time: the demo is rebuilt often and the file is tiny.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "devoidc.css", time.Time{}, bytes.NewReader(css))
}

func rolesLabel(roles []string) string {
	switch len(roles) {
	case 0:
		return "No role"
	case 1:
		return "Role: " + roles[0]
	default:
		return "Roles: " + strings.Join(roles, ", ")
	}
}

// origin returns scheme://host of a redirect URI, which Start has checked
// is an absolute http or https URL.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
