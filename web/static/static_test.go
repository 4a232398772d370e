package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

func newTestAssets(t *testing.T) *Assets {
	t.Helper()
	a, err := New()
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return a
}

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

// The layout links these names; each must exist, be non-empty and get a hash.
func TestReferencedAssetsExist(t *testing.T) {
	a := newTestAssets(t)
	tests := []struct {
		name string
		want *regexp.Regexp
	}{
		{AppCSS, regexp.MustCompile(`^/static/css/app\.[0-9a-f]{8}\.css$`)},
		{AppJS, regexp.MustCompile(`^/static/js/app\.[0-9a-f]{8}\.js$`)},
		{HTMX, regexp.MustCompile(`^/static/vendor/htmx\.min\.[0-9a-f]{8}\.js$`)},
		{"vendor/htmx.LICENSE", regexp.MustCompile(`^/static/vendor/htmx\.[0-9a-f]{8}\.LICENSE$`)},
	}
	for _, tt := range tests {
		got := a.Path(tt.name)
		if !tt.want.MatchString(got) {
			t.Errorf("Path(%q) = %q, want match for %s", tt.name, got, tt.want)
		}
		data, err := fs.ReadFile(embedded, tt.name)
		if err != nil {
			t.Errorf("ReadFile(%q) error = %v", tt.name, err)
			continue
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", tt.name)
		}
	}
}

func TestPathIsFirstEightHexOfSHA256(t *testing.T) {
	a := newTestAssets(t)
	data, err := fs.ReadFile(embedded, AppCSS)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := "/static/css/app." + hex.EncodeToString(sum[:])[:8] + ".css"
	if got := a.Path(AppCSS); got != want {
		t.Errorf("Path(%q) = %q, want %q", AppCSS, got, want)
	}
}

func TestPathIsStable(t *testing.T) {
	a, b := newTestAssets(t), newTestAssets(t)
	for _, name := range []string{AppCSS, AppJS, HTMX} {
		if pa, pb := a.Path(name), b.Path(name); pa != pb {
			t.Errorf("Path(%q) = %q then %q, want the same", name, pa, pb)
		}
	}
}

func TestPathChangesWithContent(t *testing.T) {
	build := func(css string) *Assets {
		t.Helper()
		a, err := newAssets(fstest.MapFS{
			"css/app.css": {Data: []byte(css)},
			"js/app.js":   {Data: []byte("'use strict';")},
		})
		if err != nil {
			t.Fatalf("newAssets() error = %v", err)
		}
		return a
	}
	v1, v1again, v2 := build("body{color:red}"), build("body{color:red}"), build("body{color:blue}")
	if v1.Path(AppCSS) != v1again.Path(AppCSS) {
		t.Errorf("same content: Path = %q and %q, want equal", v1.Path(AppCSS), v1again.Path(AppCSS))
	}
	if v1.Path(AppCSS) == v2.Path(AppCSS) {
		t.Errorf("changed content: Path = %q both times, want different", v1.Path(AppCSS))
	}
	if v1.Path(AppJS) != v2.Path(AppJS) {
		t.Errorf("unchanged js: Path = %q and %q, want equal", v1.Path(AppJS), v2.Path(AppJS))
	}
}

func TestPathUnknownIsUnhashed(t *testing.T) {
	a := newTestAssets(t)
	if got, want := a.Path("css/missing.css"), "/static/css/missing.css"; got != want {
		t.Errorf("Path(unknown) = %q, want %q", got, want)
	}
}

func TestHashedName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"css/app.css", "css/app.HASH.css"},
		{"vendor/htmx.min.js", "vendor/htmx.min.HASH.js"},
		{"vendor/htmx.LICENSE", "vendor/htmx.HASH.LICENSE"},
		{"README", "README.HASH"},
	}
	for _, tt := range tests {
		got := hashedName(tt.name, []byte("x"))
		sum := sha256.Sum256([]byte("x"))
		want := strings.Replace(tt.want, "HASH", hex.EncodeToString(sum[:])[:8], 1)
		if got != want {
			t.Errorf("hashedName(%q) = %q, want %q", tt.name, got, want)
		}
	}
}

func TestHandlerServesHashedPaths(t *testing.T) {
	a := newTestAssets(t)
	h := a.Handler()
	tests := []struct {
		name, contentType string
	}{
		{AppCSS, "text/css; charset=utf-8"},
		{AppJS, "text/javascript; charset=utf-8"},
		{HTMX, "text/javascript; charset=utf-8"},
		{"vendor/htmx.LICENSE", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := fs.ReadFile(embedded, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				res := get(t, h, method, a.Path(tt.name))
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s %s status = %d, want 200", method, a.Path(tt.name), res.StatusCode)
				}
				headers := map[string]string{
					"Content-Type":           tt.contentType,
					"Cache-Control":          "public, max-age=31536000, immutable",
					"X-Content-Type-Options": "nosniff",
				}
				for k, v := range headers {
					if got := res.Header.Get(k); got != v {
						t.Errorf("%s %s header %s = %q, want %q", method, tt.name, k, got, v)
					}
				}
				if method == http.MethodGet && string(body) != string(want) {
					t.Errorf("GET %s body differs from the embedded file (%d bytes, want %d)", tt.name, len(body), len(want))
				}
				if method == http.MethodHead && len(body) != 0 {
					t.Errorf("HEAD %s body = %d bytes, want none", tt.name, len(body))
				}
			}
		})
	}
}

func TestHandlerNotFound(t *testing.T) {
	a := newTestAssets(t)
	h := a.Handler()
	hashed := a.Path(AppCSS)
	tests := []string{
		"/static/css/app.css",                        // unhashed
		"/static/css/app.00000000.css",               // outdated hash
		"/static/css/missing.css",                    // unknown
		strings.TrimPrefix(hashed, "/static"),        // without the prefix
		"/static/css/../" + hashed[len("/static/"):], // not a clean path
		"/static/",
		"/static/css",
		"/static/css/",
	}
	for _, target := range tests {
		res := get(t, h, http.MethodGet, target)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s status = %d, want 404", target, res.StatusCode)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", target, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s X-Content-Type-Options = %q, want nosniff", target, got)
		}
	}
}

func TestHandlerRejectsOtherMethods(t *testing.T) {
	a := newTestAssets(t)
	res := get(t, a.Handler(), http.MethodPost, a.Path(AppCSS))
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", res.StatusCode)
	}
	if got := res.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("POST Allow = %q, want %q", got, "GET, HEAD")
	}
}

// A file added without a known type would be served as a download.
func TestEveryEmbeddedFileHasAContentType(t *testing.T) {
	err := fs.WalkDir(embedded, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if got := contentType(name); got == "application/octet-stream" {
			t.Errorf("contentType(%q) = %q, want a specific type", name, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The templates rely on these classes; removing one breaks a page silently.
func TestStylesheetDefinesClasses(t *testing.T) {
	css, err := fs.ReadFile(embedded, AppCSS)
	if err != nil {
		t.Fatal(err)
	}
	classes := []string{
		"skip-link", "topbar", "brand", "mainnav", "nav-active", "usermenu", "container",
		"page-header", "subtitle", "breadcrumbs", "card", "card-header", "card-body", "card-footer",
		"grid-2", "stack", "row", "footer",
		"form", "field", "hint", "field-error", "invalid", "choices", "checkbox", "actions",
		"btn", "btn-primary", "btn-danger", "btn-secondary", "btn-link", "btn-small", "search-bar",
		"table-wrap", "table", "props", "pager", "empty",
		"badge", "badge-success", "badge-warning", "badge-danger", "badge-neutral", "badge-info",
		"alert", "alert-error", "alert-warning", "alert-success", "alert-info",
		"verdict", "verdict-ok", "verdict-blocked",
		"passcode-box", "passcode", "copy-btn", "copied", "copy-failed",
		"muted", "mono", "small", "visually-hidden", "center-card", "kbd",
	}
	for _, c := range classes {
		re := regexp.MustCompile(`\.` + regexp.QuoteMeta(c) + `[^a-zA-Z0-9_-]`)
		if !re.Match(css) {
			t.Errorf("%s has no rule for .%s", AppCSS, c)
		}
	}
	if strings.Contains(string(css), "url(") || strings.Contains(string(css), "@import") {
		t.Errorf("%s loads an external resource; the CSP allows none", AppCSS)
	}
}

func TestScriptIsStrict(t *testing.T) {
	js, err := fs.ReadFile(embedded, AppJS)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), "'use strict'") {
		t.Errorf("%s lacks 'use strict'", AppJS)
	}
}

// Text assets go out precompressed in the coding the browser prefers,
// brotli before gzip, each decoding to the file itself; the reply says
// it varies by Accept-Encoding; a coding refused with q=0 is not sent.
func TestHandlerServesPrecompressed(t *testing.T) {
	a := newTestAssets(t)
	h := a.Handler()
	for _, name := range []string{AppCSS, AppJS, HTMX} {
		plain := a.files[strings.TrimPrefix(a.Path(name), Prefix)].data
		for _, tt := range []struct{ accept, want string }{
			{"gzip, deflate, br, zstd", "br"},
			{"gzip", "gzip"},
			{"br;q=0, gzip;q=0.5", "gzip"},
			{"*", "br"},
			{"br;q=0, *", "gzip"},
			{"identity", ""},
			{"", ""},
			{"gzip;q=0, br;q=0", ""},
		} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, a.Path(name), nil)
			req.Header.Set("Accept-Encoding", tt.accept)
			h.ServeHTTP(rec, req)
			resp := rec.Result()
			if got := resp.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("%s with Accept-Encoding %q: Content-Encoding %q, want %q", name, tt.accept, got, tt.want)
			}
			if got := resp.Header.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("%s: Vary %q, want Accept-Encoding", name, got)
			}
			var body io.Reader = resp.Body
			switch tt.want {
			case "br":
				body = brotli.NewReader(resp.Body)
			case "gzip":
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			got, err := io.ReadAll(body)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%s in %q decodes to %d bytes (%v), want the %d bytes of the file", name, tt.want, len(got), err, len(plain))
			}
			if tt.want != "" && rec.Body.Len() >= len(plain)/2 {
				t.Errorf("%s in %s is %d bytes of %d: compression did not pay", name, tt.want, rec.Body.Len(), len(plain))
			}
		}
	}
}

func TestAccepts(t *testing.T) {
	for _, tt := range []struct {
		header, coding string
		want           bool
	}{
		{"gzip, br", "br", true},
		{"GZIP", "gzip", true},
		{"gzip;q=0", "gzip", false},
		{"gzip; q=0.001", "gzip", true},
		{"gzip;q=zero", "gzip", false},
		{"*;q=0", "gzip", false},
		{"*", "gzip", true},
		{"gzip;q=0, *", "gzip", false},
		{"br", "gzip", false},
		{"xgzip", "gzip", false},
		{"", "gzip", false},
	} {
		if got := Accepts(tt.header, tt.coding); got != tt.want {
			t.Errorf("Accepts(%q, %q) = %v, want %v", tt.header, tt.coding, got, tt.want)
		}
	}
}
