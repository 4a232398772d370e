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
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
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
	// br and gz are the file compressed with brotli and gzip, or nil
	// where compressing does not pay (images, fonts, tiny files).
	br, gz []byte
}

// Assets knows every embedded file and its content-hashed URL. It is
// immutable after [New] and safe for concurrent use.
type Assets struct {
	urls  map[string]string // "css/app.css" -> "/static/css/app.3f2a9c1b.css"
	files map[string]file   // "css/app.3f2a9c1b.css" -> content
}

// New reads the embedded files, computes their hashed URLs and compresses
// them, once per process: the files are embedded, so every call would
// give the same answer.
func New() (*Assets, error) {
	return embeddedAssets()
}

var embeddedAssets = sync.OnceValues(func() (*Assets, error) { return newAssets(embedded) })

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
		f := file{data: data, contentType: contentType(name)}
		if compressible(f.contentType) && len(data) >= minCompress {
			if f.br, err = compress(data, brotliWriter(len(data))); err != nil {
				return err
			}
			if f.gz, err = compress(data, gzipWriter); err != nil {
				return err
			}
		}
		a.files[hashed] = f
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
	data := f.data
	if f.gz != nil {
		// Each coding is a representation of its own: caches keep them
		// apart by Accept-Encoding, and a Range applies to the one sent.
		h.Add("Vary", "Accept-Encoding")
		ae := r.Header.Get("Accept-Encoding")
		switch {
		case Accepts(ae, "br"):
			h.Set("Content-Encoding", "br")
			data = f.br
		case Accepts(ae, "gzip"):
			h.Set("Content-Encoding", "gzip")
			data = f.gz
		}
	}
	// ServeContent handles HEAD and Range requests; the zero modification
	// time leaves out Last-Modified, which the hashed URL makes pointless.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

// minCompress is the size below which a file is sent as it is: its
// compressed form would save less than a packet.
const minCompress = 1024

// compressible reports whether files of a content type are text that
// compression shrinks.
func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.HasPrefix(contentType, "application/json") ||
		strings.HasPrefix(contentType, "image/svg+xml")
}

// brotliWriter compresses a file of size bytes at the best quality, with a
// window no larger than the file: the default window of 4 MiB gains
// nothing on files of kilobytes and made the compressor allocate 32 MiB
// at start-up, most of the process's idle memory.
func brotliWriter(size int) func(io.Writer) io.WriteCloser {
	window := 10 // brotli's smallest
	for window < 24 && 1<<window < size {
		window++
	}
	return func(w io.Writer) io.WriteCloser {
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: window})
	}
}

func gzipWriter(w io.Writer) io.WriteCloser {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	return zw
}

func compress(data []byte, writer func(io.Writer) io.WriteCloser) ([]byte, error) {
	var buf bytes.Buffer
	zw := writer(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Accepts reports whether an Accept-Encoding header value accepts coding,
// by name or by "*", with a weight above zero.
func Accepts(header, coding string) bool {
	star := false
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, coding) && name != "*" {
			continue
		}
		ok := true
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if strings.EqualFold(name, coding) {
			return ok // the coding's own entry decides
		}
		star = ok
	}
	return star
}
