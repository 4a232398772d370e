package main

import (
	"crypto/rand"
	"database/sql"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/testutil"
)

// TestReplicasShareOnePostgreSQL runs the portal as a platform admin
// would: two `portal serve` processes with the production configuration,
// sharing one PostgreSQL, behind a round-robin load balancer, so that
// consecutive requests of one operator land on different processes. The
// tenant is the Graph emulator and the demo OpenID provider, started here
// and reached over the network like Entra ID.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	testutil.SkipWithoutPostgres(t)
	if runtime.GOOS == "windows" {
		t.Skip("the graceful stop needs SIGTERM")
	}
	bin := buildPortal(t)
	// Made before the replicas start, so it is dropped after they stop.
	databaseURL := testutil.PostgresURL(t, "r")

	// The load balancer's address comes first: it is the portal's public
	// URL and the provider's registered redirect URI.
	lbListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lbListener.Close() })
	publicURL := "http://" + lbListener.Addr().String()

	emu, err := graphemu.New(graphemu.Options{Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	certPEM, keyPEM, cert, err := graphemu.GenerateAppCertificate("TAP Portal replica test")
	if err != nil {
		t.Fatal(err)
	}
	emu.RegisterApp(graphemu.App{ClientID: graphemu.DemoGraphClientID, DisplayName: "TAP Portal (replica test)", Certificate: cert, Permissions: graphemu.AllPermissions})
	dir := t.TempDir()
	certFile, caFile := filepath.Join(dir, "graph.pem"), filepath.Join(dir, "graph-ca.pem")
	if err := os.WriteFile(certFile, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	// The tenant holds this app's service principal, with the personas' app roles.
	const clientID = graphemu.DemoSignInAppID
	clientSecret := rand.Text()
	provider, err := devoidc.Start(devoidc.Options{
		Clients: []devoidc.Client{{
			ID: clientID, Secret: clientSecret,
			RedirectURIs:           []string{publicURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{publicURL + "/signed-out"},
		}},
		TenantID: emu.TenantID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { provider.Close() })

	// The production configuration: nothing here is demo-only.
	env := map[string]string{
		"PORTAL_ADDR":                "127.0.0.1:0",
		"PORTAL_PUBLIC_URL":          publicURL,
		"PORTAL_DATABASE_URL":        databaseURL,
		"PORTAL_SESSION_KEYS":        rand.Text() + rand.Text(),
		"PORTAL_AUDIT_KEY":           rand.Text() + rand.Text(),
		"PORTAL_OIDC_ISSUER":         provider.Issuer(),
		"PORTAL_OIDC_CLIENT_ID":      clientID,
		"PORTAL_OIDC_CLIENT_SECRET":  clientSecret,
		"PORTAL_GRAPH_TENANT_ID":     emu.TenantID(),
		"PORTAL_GRAPH_CLIENT_ID":     graphemu.DemoGraphClientID,
		"PORTAL_GRAPH_CERT_FILE":     certFile,
		"PORTAL_GRAPH_BASE_URL":      emu.URL(),
		"PORTAL_GRAPH_AUTHORITY_URL": emu.URL(),
		"PORTAL_EXTRA_CA_FILE":       caFile,
		"PORTAL_LOG_LEVEL":           "info",
	}
	// Both start at once, as a Deployment's pods do: they race for the
	// migration lock on the fresh schema.
	replicas := []*replica{startReplica(t, bin, "a", env), startReplica(t, bin, "b", env)}
	for _, r := range replicas {
		r.waitReady(t)
	}

	lb := newRoundRobin(replicas)
	lbServer := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go lbServer.Serve(lbListener)
	t.Cleanup(func() { lbServer.Close() })

	// Each step needs the one before it: the first failure ends the test.
	op := newBrowser(publicURL)
	if !t.Run("sign in", func(t *testing.T) {
		p := op.signIn(t, "operator")
		if p.status != http.StatusOK || p.url.Path != "/search" || !strings.Contains(p.body, "Find a user") {
			t.Fatalf("signing in landed on %d %s", p.status, p.url)
		}
	}) {
		t.FailNow()
	}

	// Two passes, each issued through a different process, so that the
	// history must gather what both wrote.
	targets := []struct {
		id, reason string
		postTo     int
	}{
		{graphemu.TAPExpiredUserID, "Expired pass, replica test " + rand.Text(), 0},
		{graphemu.TAPUsedUserID, "Used pass, replica test " + rand.Text(), 1},
	}
	for _, tg := range targets {
		var name string
		emu.View(func(tn *graphemu.Tenant) {
			for _, u := range tn.Users {
				if u.ID == tg.id {
					name = u.DisplayName
				}
			}
		})
		if !t.Run("issue to "+name, func(t *testing.T) {
			first, _, _ := strings.Cut(name, " ")
			p := op.get(t, "/search?q="+url.QueryEscape(first))
			if p.status != http.StatusOK || !strings.Contains(p.body, `href="/users/`+tg.id+`"`) {
				t.Fatalf("search for %q = %d, without a link to %s", first, p.status, tg.id)
			}
			p = op.get(t, "/users/"+tg.id)
			if p.status != http.StatusOK || !strings.Contains(p.body, html.EscapeString(name)) {
				t.Fatalf("user page of %s = %d", name, p.status)
			}
			p = op.get(t, "/users/"+tg.id+"/issue")
			csrf, submission := csrfRE.FindStringSubmatch(p.body), submissionRE.FindStringSubmatch(p.body)
			if p.status != http.StatusOK || csrf == nil || submission == nil {
				t.Fatalf("issue form = %d, without a CSRF token and a submission id", p.status)
			}
			// The form came from one process; the issuance goes to the
			// one chosen for it (the other, or the same after a turn).
			lb.steer(t, tg.postTo)
			p = op.post(t, "/users/"+tg.id+"/issue", url.Values{
				"csrf": {html.UnescapeString(csrf[1])}, "submission": {submission[1]}, "start": {"now"}, "lifetime": {"60"}, "reason": {tg.reason},
			})
			if p.status != http.StatusOK || !passcodeRE.MatchString(p.body) {
				t.Fatalf("issuing = %d, without a passcode", p.status)
			}
			if got := p.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("passcode page Cache-Control = %q, want no-store", got)
			}
			if got := lb.lastServedBy("POST", "/users/"+tg.id+"/issue"); got != tg.postTo {
				t.Errorf("the issuance was served by replica %d, want %d", got, tg.postTo)
			}
		}) {
			t.FailNow()
		}
	}

	t.Run("history shows both issuances", func(t *testing.T) {
		bases := []string{publicURL, replicas[0].url, replicas[1].url}
		for _, base := range bases {
			// Cookies carry no port, so the operator's session reaches
			// each process directly as well as through the balancer.
			p := op.get(t, base+"/my-history")
			if p.status != http.StatusOK {
				t.Fatalf("GET %s/my-history = %d", base, p.status)
			}
			for _, tg := range targets {
				if !strings.Contains(p.body, html.EscapeString(tg.reason)) {
					t.Errorf("%s/my-history lacks the issuance %q", base, tg.reason)
				}
			}
		}
	})

	t.Run("load was balanced and nothing lost", func(t *testing.T) {
		served, failed := lb.counts()
		t.Logf("requests through the balancer: replica a %d, replica b %d, failed %d", served[0], served[1], failed)
		for i, n := range served {
			if n < 3 {
				t.Errorf("replica %s served %d requests, want several", replicas[i].name, n)
			}
		}
		if failed > 0 {
			t.Errorf("%d requests failed at the balancer", failed)
		}
		for _, h := range lb.hops() {
			if h.status >= 500 {
				t.Errorf("%s %s on replica %d = %d", h.method, h.path, h.backend, h.status)
			}
		}
	})

	t.Run("graceful stop", func(t *testing.T) {
		// A slow Graph keeps a user page in flight on replica a while it
		// is told to stop; it must finish the page, then exit 0.
		remove := emu.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: 3 * time.Second})
		defer remove()
		// A first request leaves an accepted keep-alive connection, so
		// the slow one is on the server as soon as it is written.
		op.get(t, replicas[0].url+"/healthz")
		written := make(chan struct{})
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(written) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, replicas[0].url+"/users/"+graphemu.TAPExpiredUserID, nil)
		type result struct {
			status int
			err    error
		}
		inflight := make(chan result, 1)
		go func() {
			resp, err := op.client.Do(req)
			if err != nil {
				inflight <- result{err: err}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			inflight <- result{status: resp.StatusCode}
		}()
		select {
		case <-written:
		case <-time.After(10 * time.Second):
			t.Fatal("the slow request was never sent")
		}
		// Time for the server to read the request line and mark the
		// connection active, which Shutdown then waits for.
		time.Sleep(300 * time.Millisecond)
		replicas[0].stop(t)
		select {
		case r := <-inflight:
			if r.err != nil || r.status != http.StatusOK {
				t.Errorf("the request in flight during the stop = %d, %v; want 200", r.status, r.err)
			}
		case <-time.After(app.ShutdownTimeout):
			t.Error("the request in flight did not finish")
		}
		replicas[1].stop(t)
	})

	// Both processes appended to one keyed chain and logged checkpoints,
	// the last as each stopped; verify walks the chain against them, as
	// an auditor would with the replicas' merged logs.
	logs := replicas[1].out.String() + replicas[0].out.String()
	verify := func(t *testing.T) (string, error) {
		cmd := exec.Command(bin, "audit", "verify", "-checkpoints", "-")
		cmd.Env = []string{"PORTAL_DATABASE_URL=" + databaseURL, "PORTAL_AUDIT_KEY=" + env["PORTAL_AUDIT_KEY"]}
		cmd.Stdin = strings.NewReader(logs)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Run("history chain intact", func(t *testing.T) {
		out, err := verify(t)
		m := regexp.MustCompile(`checkpoints: (\d+) verified \(from the database and (\d+) from the log\)`).FindStringSubmatch(out)
		logged := 0
		if m != nil {
			logged, _ = strconv.Atoi(m[2])
		}
		if err != nil || !strings.Contains(out, "history chain intact") || logged < 3 || strings.Contains(out, "FOUND") {
			t.Errorf("portal audit verify -checkpoints = %v\n%s\nwant intact, with a checkpoint at each start and stop (3 or more)", err, out)
		}
	})
	t.Run("deleting the newest record shows", func(t *testing.T) {
		db, err := sql.Open("pgx", databaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// A DBA deletes the newest record and the checkpoints after the
		// one before it: the database alone cannot tell, the log can.
		if _, err := db.Exec("DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("DELETE FROM checkpoints WHERE head_id > (SELECT MAX(id) FROM events)"); err != nil {
			t.Fatal(err)
		}
		out, err := verify(t)
		if err == nil || !strings.Contains(out, "were deleted") || !strings.Contains(out, "is missing from the database") {
			t.Errorf("portal audit verify -checkpoints after a deletion = %v\n%s\nwant exit 1 naming the deleted record and checkpoints", err, out)
		}
	})
}

// buildPortal builds the command once for the test, from the module root.
// It mirrors the test's -race, so the build reuses the packages the test
// run already compiled and the replicas run under the race detector too.
func buildPortal(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the portal: %v", err)
	}
	gomod, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		t.Fatalf("go env GOMOD = %q, %v", gomod, err)
	}
	bin := filepath.Join(t.TempDir(), "portal")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	cmd := exec.Command(goTool, append(args, "./cmd/portal")...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/portal = %v\n%s", err, out)
	}
	return bin
}

// replica is one `portal serve` process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	out    *testutil.Buffer
	url    string
	exited chan error
}

func startReplica(t *testing.T, bin, name string, env map[string]string) *replica {
	t.Helper()
	r := &replica{name: name, out: &testutil.Buffer{}, exited: make(chan error, 1)}
	r.cmd = exec.Command(bin, "serve")
	// Only the portal's settings: nothing from the developer's environment
	// leaks into the configuration under test.
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("replica %s output:\n%s", r.name, r.out.String())
		}
	})
	return r
}

// waitReady waits for the process to listen and answer /readyz with 200.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.exited:
			t.Fatalf("replica %s stopped before it was ready: %v\n%s", r.name, err, r.out.String())
		default:
		}
		if r.url == "" {
			if m := listening.FindStringSubmatch(r.out.String()); m != nil {
				r.url = "http://" + m[1]
			}
		}
		if r.url != "" {
			if resp, err := http.Get(r.url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %s was not ready within a minute:\n%s", r.name, r.out.String())
}

// stop sends SIGTERM, as the kubelet does, and expects a clean exit
// within the portal's shutdown bound.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to replica %s: %v", r.name, err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			t.Errorf("replica %s exited with %v after SIGTERM, want status 0\n%s", r.name, err, r.out.String())
		}
		r.exited <- err // for the cleanup
	case <-time.After(app.ShutdownTimeout + 5*time.Second):
		t.Errorf("replica %s still running %s after SIGTERM", r.name, app.ShutdownTimeout+5*time.Second)
	}
	if !strings.Contains(r.out.String(), `"msg":"shutting down"`) {
		t.Errorf("replica %s did not log its graceful shutdown", r.name)
	}
}

// hop is one request the balancer passed on.
type hop struct {
	backend      int
	method, path string
	status       int
}

// roundRobin is the load balancer: each request goes to the next process
// in turn, whoever sent it.
type roundRobin struct {
	proxies []*httputil.ReverseProxy
	turn    atomic.Uint64

	mu     sync.Mutex
	log    []hop
	failed int
}

func newRoundRobin(replicas []*replica) *roundRobin {
	rr := &roundRobin{}
	for _, r := range replicas {
		target, _ := url.Parse(r.url)
		rr.proxies = append(rr.proxies, &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				// A load balancer keeps the public host name.
				pr.Out.Host = pr.In.Host
			},
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				rr.mu.Lock()
				rr.failed++
				rr.mu.Unlock()
				http.Error(w, "bad gateway: "+err.Error(), http.StatusBadGateway)
			},
		})
	}
	return rr
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	i := int((rr.turn.Add(1) - 1) % uint64(len(rr.proxies)))
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rr.proxies[i].ServeHTTP(rec, req)
	rr.mu.Lock()
	rr.log = append(rr.log, hop{backend: i, method: req.Method, path: req.URL.Path, status: rec.status})
	rr.mu.Unlock()
}

// steer spends turns on /healthz until backend is next in line.
func (rr *roundRobin) steer(t *testing.T, backend int) {
	t.Helper()
	for range len(rr.proxies) {
		if int(rr.turn.Load()%uint64(len(rr.proxies))) == backend {
			return
		}
		rec := &discardWriter{header: http.Header{}}
		req, _ := http.NewRequest(http.MethodGet, "/healthz", nil)
		rr.ServeHTTP(rec, req)
	}
	t.Fatalf("could not steer the balancer to replica %d", backend)
}

func (rr *roundRobin) counts() (served []int, failed int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	served = make([]int, len(rr.proxies))
	for _, h := range rr.log {
		served[h.backend]++
	}
	return served, rr.failed
}

func (rr *roundRobin) hops() []hop {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]hop(nil), rr.log...)
}

// lastServedBy returns the backend of the last request to method path.
func (rr *roundRobin) lastServedBy(method, path string) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for i := len(rr.log) - 1; i >= 0; i-- {
		if rr.log[i].method == method && rr.log[i].path == path {
			return rr.log[i].backend
		}
	}
	return -1
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

var (
	authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	submissionRE  = regexp.MustCompile(`name="submission" value="([^"]+)"`)
	passcodeRE    = regexp.MustCompile(`<p id="passcode" class="passcode"[^>]*><span class="pc-group">`)
)

// browser is an operator's browser: it keeps cookies and follows
// redirects itself, so that every hop goes through the balancer.
type browser struct {
	base   string
	client *http.Client
}

// page is a response the browser ended on.
type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
	err    error
}

func newBrowser(base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fetch sends one request and follows its redirects; it reports failure
// in the page rather than through t, so a goroutine may call it.
func (b *browser) fetch(method, target string, form url.Values) page {
	if !strings.HasPrefix(target, "http") {
		target = b.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return page{err: err}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for range 10 {
		resp, err := b.client.Do(req)
		if err != nil {
			return page{url: req.URL, err: err}
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" || resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return page{status: resp.StatusCode, header: resp.Header, body: string(data), url: req.URL}
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return page{url: req.URL, err: err}
		}
		req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
	}
	return page{url: req.URL, err: io.ErrUnexpectedEOF}
}

func (b *browser) get(t *testing.T, target string) page {
	t.Helper()
	p := b.fetch(http.MethodGet, target, nil)
	if p.err != nil {
		t.Fatalf("GET %s: %v", target, p.err)
	}
	return p
}

func (b *browser) post(t *testing.T, target string, form url.Values) page {
	t.Helper()
	p := b.fetch(http.MethodPost, target, form)
	if p.err != nil {
		t.Fatalf("POST %s: %v", target, p.err)
	}
	return p
}

// signIn goes through the provider's persona picker as persona and
// returns the page the portal lands on.
func (b *browser) signIn(t *testing.T, persona string) page {
	t.Helper()
	picker := b.get(t, "/auth/login?return_to=/search")
	m := authRequestRE.FindStringSubmatch(picker.body)
	if picker.status != http.StatusOK || m == nil {
		t.Fatalf("sign-in did not reach the persona picker: %d %s", picker.status, picker.url)
	}
	return b.post(t, picker.url.Scheme+"://"+picker.url.Host+"/login", url.Values{
		"authRequestID": {html.UnescapeString(m[1])}, "persona": {persona},
	})
}
