package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/metrics"
	testutil "github.com/tapportal/portal/internal/testutil"
	"github.com/tapportal/portal/web/static"
)

// bareServer is a Server with no session, store or Graph: enough for the
// error paths every page shares.
func bareServer(t *testing.T) (*Server, *testutil.Buffer, *metrics.Metrics) {
	t.Helper()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	m := metrics.New()
	s := New(Config{Assets: assets, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m})
	return s, logs, m
}

// A page half written when its template fails: the writer receives the
// first part, then the error.
var failingPage = templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
	io.WriteString(w, "<p>half a page")
	return errors.New("template exploded")
})

func TestTemplateErrorIsALogged500(t *testing.T) {
	s, logs, m := bareServer(t)
	s.echo.GET("/broken", func(c echo.Context) error { return s.render(c, http.StatusOK, failingPage) })
	s.echo.GET("/panics", func(c echo.Context) error { panic("handler bug") })

	for _, path := range []string{"/broken", "/panics"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("GET %s = %d, want 500", path, rec.Code)
		}
		if strings.Contains(body, "half a page") || !strings.Contains(body, "Something went wrong") {
			t.Errorf("GET %s body = %q, want the error page and nothing of the failed page", path, body)
		}
		if strings.Contains(body, "exploded") || strings.Contains(body, "handler bug") {
			t.Errorf("GET %s shows the internal error to the user: %q", path, body)
		}
	}
	out := logs.String()
	for _, want := range []string{`"msg":"request failed"`, "template exploded", "panic: handler bug", `"route":"/broken","status":500`, `"route":"/panics","status":500`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, route := range []string{"/broken", "/panics"} {
		want := `tap_portal_http_requests_total{method="GET",route="` + route + `",status="500"} 1`
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
