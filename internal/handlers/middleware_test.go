package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestHSTSOnlyOverHTTPS(t *testing.T) {
	for _, tt := range []struct {
		public string
		want   string
	}{
		{"https://tap.example.com", "max-age=31536000; includeSubDomains"},
		{"http://localhost:8080", ""},
	} {
		u, _ := url.Parse(tt.public)
		e := echo.New()
		e.Use(securityHeaders(Config{PublicURL: u, ProviderOrigin: "https://login.example.com"}))
		e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("public URL %s: HSTS = %q, want %q", tt.public, got, tt.want)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://login.example.com") {
			t.Errorf("CSP %q does not allow the provider as the sign-out form's redirect", csp)
		}
	}
}

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{
		"/users/abc?x=1":         "/users/abc?x=1",
		"":                       "/search",
		"https://evil.example/":  "/search",
		"//evil.example":         "/search",
		"/\\evil.example":        "/search",
		"javascript:alert(1)":    "/search",
		"/auth/callback?code=x":  "/search",
		"/ok\r\nSet-Cookie: x=1": "/search",
		"http:evil.example":      "/search",
		"/search?q=%3Cscript%3E": "/search?q=%3Cscript%3E",
	} {
		if got := SafeReturnTo(in); got != want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}
