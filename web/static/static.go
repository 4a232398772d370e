// Package static embeds the portal's stylesheet, script and vendored
// libraries, and serves each file under a URL that contains a hash of its
// content (for example /static/css/app.3f2a9c1b.css).
//
// Because a new version of a file gets a new URL, browsers may cache every
// file for a year without ever showing a stale one. The handler serves only
// the hashed URLs: an unhashed or outdated URL is a 404, so a template that
// forgets to call [Assets.Path] fails visibly instead of being cached with
// the wrong lifetime. During a rolling deploy a replica may briefly be asked
// for a hash it does not have; the 404 says no-cache so that the next try
// reaches a replica that has it.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is the URL path under which [Assets.Handler] expects to be mounted.
const Prefix = "/static/"

// Names of the assets that the layout references, for use with [Assets.Path].
const (
	AppCSS = "css/app.css"
	AppJS  = "js/app.js"
	HTMX   = "vendor/htmx.min.js"
)

// The embedded tree is the one package-level variable: go:embed only
// works on package-level variables, and it is read-only.
//
//go:embed css js vendor
var embedded embed.FS

const (
	cacheForever = "public, max-age=31536000, immutable"
	hashLen      = 8 // hex digits of SHA-256 kept in the URL
)

type file struct {
	data        []byte
	contentType string
}

// Assets knows every embedded file and its content-hashed URL. It is
// immutable after [New] and safe for concurrent use.
type Assets struct {
	urls  map[string]string // "css/app.css" -> "/static/css/app.3f2a9c1b.css"
	files map[string]file   // "css/app.3f2a9c1b.css" -> content
}

// New reads the embedded files and computes their hashed URLs.
func New() (*Assets, error) {
	return newAssets(embedded)
}

func newAssets(fsys fs.FS) (*Assets, error) {
	a := &Assets{urls: map[string]string{}, files: map[string]file{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		hashed := hashedName(name, data)
		a.urls[name] = Prefix + hashed
		a.files[hashed] = file{data: data, contentType: contentType(name)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: reading embedded files: %w", err)
	}
	return a, nil
}

// hashedName inserts the content hash before the last extension:
// "vendor/htmx.min.js" becomes "vendor/htmx.min.1a2b3c4d.js".
func hashedName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])[:hashLen]
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// contentType is a fixed table rather than mime.TypeByExtension, whose
// answers depend on the host's mime.types files or registry.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".webp":
		return "image/webp"
	case ".woff2":
		return "font/woff2"
	case ".txt", ".LICENSE":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Path returns the hashed URL path of the named file, such as
// "/static/css/app.3f2a9c1b.css" for "css/app.css". For a name that does
// not exist it returns the unhashed path, which the handler answers with
// 404, so a misspelt name shows up as a broken link rather than a panic.
func (a *Assets) Path(name string) string {
	if u, ok := a.urls[name]; ok {
		return u
	}
	return Prefix + strings.TrimPrefix(name, "/")
}

// Handler serves the files under their hashed paths. It expects the full
// request path, starting with [Prefix]; mount it without stripping the
// prefix, e.g. e.GET("/static/*", echo.WrapHandler(assets.Handler())).
// Only GET and HEAD are allowed.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(a.serve)
}

func (a *Assets) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	f, found := a.files[name]
	if !ok || !found {
		h.Set("Cache-Control", "no-cache")
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cacheForever)
	// ServeContent handles HEAD and Range requests; the zero modification
	// time leaves out Last-Modified, which the hashed URL makes pointless.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
