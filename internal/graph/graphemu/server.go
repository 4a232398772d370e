// Package graphemu emulates the parts of Microsoft Graph v1.0 and of the
// Entra ID token endpoint that the portal uses, over HTTPS with its own
// certificate authority, faithfully enough that the real Graph SDK and
// azidentity cannot tell it from the cloud. It is the engine of the demo
// tenant (`portal dev`) and of the contract tests.
//
// What each part serves:
//
//   - token.go, auth.go: the certificate credential's token flow and the
//     application permissions each route needs, for every Graph call.
//   - users.go, search.go, odata.go, query.go: user lookup and search
//     ($filter, $search with ConsistencyLevel, $select, $top, $count,
//     $orderby, skip-token paging). The portal's search uses the prefix
//     $filter; $search and $count are there for a search by any word.
//   - tap.go, methods.go, policy.go: Temporary Access Pass create, list,
//     get and delete, the sign-in methods, and the tenant's pass policy.
//   - roles.go: transitive memberships (groups and directory roles) and
//     checkMemberGroups, for the guardrails.
//   - audit.go: the directory audit log that creates and deletes write,
//     with its own throttle, for reconciling passes made outside the
//     portal.
//   - mail.go: a user's manager, and sendMail into an outbox that tests
//     and the demo read, for passes delivered by mail and for notices.
//   - batch.go: JSON $batch with per-item faults, for bulk issuance.
//   - server.go, tenant.go, seed.go: the server, its faults, its request
//     log and clock, the tenant model and the demo tenant's seed.
package graphemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// TenantID of the emulated tenant; default DemoTenantID.
	TenantID string
	// Seed loads the demo tenant (users, groups, roles, policy, passes).
	// Without it the tenant is empty but for a default policy.
	Seed bool
	// Clock is the emulated time; default a NewClock.
	Clock *Clock
	// Logger receives one line per request; default discards.
	Logger *slog.Logger
	// MaxPageSize, when set, caps every collection's page, so that tests
	// see the paging Graph may do on any listing.
	MaxPageSize int
}

// Server is a running emulator.
type Server struct {
	clock   *Clock
	logger  *slog.Logger
	maxPage int

	caCert *x509.Certificate
	caPEM  []byte
	ln     net.Listener
	srv    *http.Server
	url    string
	// graph routes Graph v1.0 requests; $batch dispatches its items to it.
	graph *http.ServeMux

	mu     sync.Mutex
	tenant *Tenant
	apps   map[string]*App   // by client id
	tokens map[string]*token // by access token
	faults []*faultEntry
	seq    uint64
	reqLog []RequestRecord
	outbox []Mail
}

// New starts an emulator listening on opts.Addr with a freshly generated CA.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.TenantID == "" {
		opts.TenantID = DemoTenantID
	}
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		clock:   opts.Clock,
		logger:  opts.Logger,
		maxPage: opts.MaxPageSize,
		apps:    map[string]*App{},
		tokens:  map[string]*token{},
	}
	if opts.Seed {
		s.tenant = seedTenant(opts.TenantID, s.clock.Now())
	} else {
		s.tenant = emptyTenant(opts.TenantID)
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("graph emulator: listen on %s: %w", opts.Addr, err)
	}
	tlsCert, err := s.generateCertificates()
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()

	// Graph and the token endpoint are different hosts in the cloud; here
	// they share one, so each gets its own mux and the root splits them by
	// the /v1.0/ prefix. That keeps the token routes' leading {tenant}
	// wildcard from conflicting with any catch-all Graph route.
	s.graph = http.NewServeMux()
	s.registerGraphRoutes(s.graph)
	s.registerPrivilegeRoutes(s.graph)
	s.registerMailRoutes(s.graph)
	s.registerBatchRoutes(s.graph)
	login := http.NewServeMux()
	s.registerTokenRoutes(login)
	root := http.NewServeMux()
	root.Handle("/v1.0/", s.graph)
	root.Handle("/", login)
	s.srv = &http.Server{
		Handler:           s.middleware(root),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	go s.srv.ServeTLS(ln, "", "")
	return s, nil
}

// URL is the emulator's base URL, for example https://127.0.0.1:43121.
// Graph lives under URL()+"/v1.0" and the authority at URL()+"/".
func (s *Server) URL() string { return s.url }

// CACertPEM returns the PEM of the CA that signed the server certificate.
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.caPEM) }

// CertPool returns a pool holding only the emulator's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.caCert)
	return p
}

// Clock returns the emulated clock.
func (s *Server) Clock() *Clock { return s.clock }

// TenantID returns the id of the emulated tenant.
func (s *Server) TenantID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenant.ID
}

// Close stops the server at once.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// View calls f with the tenant under the server's lock. f must not keep
// references to the tenant after it returns.
func (s *Server) View(f func(t *Tenant)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.tenant)
}

// Update calls f with the tenant under the server's lock, for changes.
func (s *Server) Update(f func(t *Tenant)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.tenant)
}

func (s *Server) generateCertificates() (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Graph emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	s.caCert, err = x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}

// RequestRecord describes one request the emulator served, for tests.
type RequestRecord struct {
	Method string
	Path   string // unescaped
	Query  string // raw
	Header http.Header
	Body   []byte // decompressed
	Status int
	// Batched is set on the items of a $batch: they travelled inside
	// another request, not over a connection of their own.
	Batched bool
	// At is when the emulator answered, in real time.
	At time.Time
}

// Requests returns the requests served so far, in the order they finished.
// The items of a $batch are recorded as requests of their own, ahead of the
// batch that carried them.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.reqLog...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqLog = nil
}

// maxRecordedRequests bounds the request log so a long demo session does
// not grow without limit.
const maxRecordedRequests = 10000

// Fault is a failure a test switches on for matching requests.
type Fault struct {
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path is a path.Match pattern on the unescaped path, for example
	// "/v1.0/users/*/authentication/temporaryAccessPassMethods", or a
	// prefix ending in "/**" ("/v1.0/**"); empty matches every path.
	Path string
	// Latency delays the reply.
	Latency time.Duration
	// Status, when set, replies with this status and Graph's error JSON
	// instead of serving the request (429 carries RetryAfter).
	Status int
	// RetryAfter is sent as Retry-After, in whole seconds, with Status.
	RetryAfter time.Duration
	// Body, when set without Status, replies 200 with this JSON body
	// instead of what the route would answer: a reply Graph should never
	// send (null, an object without the list asked for), which a client
	// must refuse rather than read as "nothing there".
	Body string
	// Drop closes the connection without a reply.
	Drop bool
	// After makes the fault act after the request was served: the write
	// happens, then the reply is the fault's Status, or the connection is
	// dropped (Drop), or the reply waits Latency first (long enough, the
	// client times out). Graph can act and then fail, and a client that
	// cannot tell must not guess.
	After bool
	// Times limits how many requests the fault hits; 0 means until removed.
	Times int
}

type faultEntry struct {
	Fault
	hits int
}

// Inject switches on a fault and returns a function that removes it.
func (s *Server) Inject(f Fault) (remove func()) {
	e := &faultEntry{Fault: f}
	s.mu.Lock()
	s.faults = append(s.faults, e)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.faults {
			if x == e {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// matchFaults returns the total latency of matching faults and the first
// matching fault that replies or drops, counting a hit on each.
func (s *Server) matchFaults(r *http.Request) (time.Duration, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var latency time.Duration
	var action *Fault
	kept := s.faults[:0]
	for _, e := range s.faults {
		match := (e.Method == "" || e.Method == r.Method) && (e.Path == "" || pathMatch(e.Path, r.URL.Path))
		acts := e.Status != 0 || e.Drop || e.After || e.Body != ""
		if match && (!acts || action == nil) {
			if !e.After {
				latency += e.Latency
			}
			if acts {
				f := e.Fault
				action = &f
			}
			e.hits++
		}
		if e.Times == 0 || e.hits < e.Times {
			kept = append(kept, e)
		}
	}
	s.faults = kept
	return latency, action
}

// pathMatch is path.Match, plus a trailing "/**" that matches everything
// below a prefix ("/v1.0/**" is every Graph call).
func pathMatch(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		return strings.HasPrefix(p, prefix+"/")
	}
	ok, err := path.Match(pattern, p)
	return err == nil && ok
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	// envelopeLatencyKey holds the latency already spent on the HTTP
	// exchange that carries a request (a $batch, for its items).
	envelopeLatencyKey
)

// requestID returns the id the emulator gave the request (Graph's
// request-id).
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// maxBody bounds request bodies; Graph's own limit is 4 MB, past which
// it answers 413.
const maxBody = 4 << 20

var errBodyTooLarge = errors.New("request body exceeds 4 MB")

// middleware gives every request an id, applies faults, decompresses gzip
// bodies and records the exchange.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seq++
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq>>16, s.seq)
		s.mu.Unlock()
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		w.Header().Set("request-id", id)
		if c := r.Header.Get("client-request-id"); c != "" {
			w.Header().Set("client-request-id", c)
		}

		latency, fault := s.matchFaults(r)
		if !sleep(r.Context(), latency) {
			return
		}
		// A batch's items run inside the exchange whose latency was just
		// spent: they wait only for what their own faults add beyond it.
		r = r.WithContext(context.WithValue(r.Context(), envelopeLatencyKey, latency))
		if fault != nil && fault.Drop && !fault.After {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}

		body, err := readBody(r)
		if errors.Is(err, errBodyTooLarge) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body exceeds Microsoft Graph's limit of 4 MB.")
			return
		}
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Encoding")
		s.serve(w, r, body, fault, next)
	})
}

// sleep waits for d, or until ctx ends; it reports whether the wait ran its
// course.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serve answers r with next, or with the error reply of fault when it has a
// Status, and records the exchange. body is r's body, already read and
// decompressed. Both the middleware and $batch items come through here, so
// faults and the request log treat a batch item like a request of its own.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte, fault *Fault, next http.Handler) {
	rec := &statusRecorder{ResponseWriter: w}
	if fault != nil && fault.After {
		s.serveThenFail(w, rec, r, body, fault, next)
		return
	}
	if fault != nil && fault.Status != 0 && fault.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((fault.RetryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case fault != nil && fault.Status != 0:
		writeFault(rec, r, fault.Status)
	case fault != nil && fault.Body != "":
		writeRaw(rec, fault.Body)
	default:
		next.ServeHTTP(rec, r)
	}

	s.logRequest(r, body, rec.status)
}

// serveThenFail serves r for real, so that a write happens, and then
// fails as fault says: the status the handler produced is recorded, the
// client gets the fault.
func (s *Server) serveThenFail(w http.ResponseWriter, rec *statusRecorder, r *http.Request, body []byte, fault *Fault, next http.Handler) {
	acted := newItemRecorder()
	next.ServeHTTP(acted, r)
	s.logRequest(r, body, acted.status)
	if !sleep(r.Context(), fault.Latency) || fault.Drop {
		panic(http.ErrAbortHandler)
	}
	if fault.Status != 0 {
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((fault.RetryAfter+time.Second-1)/time.Second)))
		}
		writeFault(rec, r, fault.Status)
		return
	}
	if fault.Body != "" {
		writeRaw(rec, fault.Body)
		return
	}
	for k, v := range acted.Header() {
		w.Header()[k] = v
	}
	rec.WriteHeader(max(acted.status, http.StatusOK))
	rec.Write(acted.body.Bytes())
}

// writeFault answers with a fault's status and the error Graph gives
// with it.
func writeFault(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusTooManyRequests {
		writeError(w, r, status, "TooManyRequests", "Too many requests.")
		return
	}
	writeError(w, r, status, "serviceNotAvailable", http.StatusText(status))
}

// writeRaw answers 200 with body as JSON, whatever it holds.
func writeRaw(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
}

// logRequest records one exchange in the request log.
func (s *Server) logRequest(r *http.Request, body []byte, status int) {
	s.mu.Lock()
	if len(s.reqLog) < maxRecordedRequests {
		s.reqLog = append(s.reqLog, RequestRecord{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Status: status, Batched: r.Context().Value(batchItemKey{}) != nil,
			At: time.Now(),
		})
	}
	s.mu.Unlock()
	s.logger.Debug("graph emulator", "method", r.Method, "path", r.URL.Path, "status", status, "request_id", requestID(r))
}

// readBody reads the request body, decompressing it when the client sent
// Content-Encoding: gzip (as the Graph SDK does).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = io.LimitReader(r.Body, maxBody+1)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("request body is not valid gzip: %v", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxBody+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("reading request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// writeJSON writes v as a JSON reply with Graph's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes Graph's error JSON, carrying the request id.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	body := map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        requestID(r),
				"client-request-id": r.Header.Get("client-request-id"),
			},
		},
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
