// Command loadtest measures TAP Portal under many operators browsing at
// once, the way a helpdesk does on a busy morning: each signs in, then
// searches for a user by the first letters of a name and opens the first
// result, again and again, until the time is up. Operators do not pause
// between requests, so each loads the portal like many real ones. It
// reports the request
// rate, latency percentiles, failures by status, and, given the portal's
// process id, its memory before, during and after the run.
//
// Sign-in goes through the persona picker of the demo tenant's OpenID
// provider, so the target is `portal dev`; its -graph-latency flag makes
// the emulated Graph answer as slowly as the real one:
//
//	make build
//	PORTAL_ADDR=127.0.0.1:8080 PORTAL_PUBLIC_URL=http://127.0.0.1:8080 \
//	    PORTAL_DATABASE_URL=sqlite:/tmp/tap-load/portal.db \
//	    bin/portal dev -graph-latency 50ms &
//	go run ./cmd/loadtest -url http://127.0.0.1:8080 -operators 100 -duration 60s -pid $! -settle 30s
//
// -url and PORTAL_PUBLIC_URL must name the same host: the sign-in's
// cookies belong to it.
//
// The exit status is 1 when a request failed, so a script notices.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	base      string
	operators int
	duration  time.Duration
	pid       int
	settle    time.Duration
	persona   string
	timeout   time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.base, "url", "http://localhost:8080", "the portal's base URL (a `portal dev`)")
	fs.IntVar(&o.operators, "operators", 100, "operators signed in and browsing at once")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long the operators browse")
	fs.IntVar(&o.pid, "pid", 0, "the portal's process id, to read its memory (VmRSS, VmHWM) from /proc")
	fs.DurationVar(&o.settle, "settle", 0, "with -pid, wait this long after the run and read the memory again")
	fs.StringVar(&o.persona, "persona", "operator", "the demo persona every operator signs in as")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "upper bound of one request")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	u, err := url.Parse(o.base)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return o, fmt.Errorf("-url %q: want an absolute http(s) URL", o.base)
	case o.operators < 1 || o.operators > 10000:
		return o, fmt.Errorf("-operators %d: want 1 to 10000", o.operators)
	case o.duration <= 0 || o.duration > time.Hour:
		return o, fmt.Errorf("-duration %s: want more than 0 and at most 1h", o.duration)
	case o.settle < 0 || o.settle > time.Hour:
		return o, fmt.Errorf("-settle %s: want 0 to 1h", o.settle)
	}
	o.base = strings.TrimSuffix(o.base, "/")
	return o, nil
}

// prefixes start the names of users in the demo tenant, so every search
// finds someone and the operator has a user page to open.
var prefixes = []string{
	"Am", "An", "Ar", "Ai", "Be", "Ca", "Ch", "Da", "Em", "Et", "Fa", "Gr", "He", "Is", "Ja", "Jo",
	"Kw", "Li", "Lu", "Ma", "Me", "Mo", "Ng", "No", "Ol", "Pa", "Pr", "Ra", "Sa", "So", "To", "Vi", "Yu",
}

var (
	authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	userLinkRE    = regexp.MustCompile(`href="/users/([^"/?#]+)"`)
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// One connection pool for all operators, big enough that none waits
	// for another's connection or opens a fresh one per request, which
	// would measure TCP set-up rather than the portal.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * o.operators
	tr.MaxIdleConnsPerHost = 2 * o.operators
	defer tr.CloseIdleConnections()

	before, err := readMemory(o.pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "TAP Portal load test: %d operators for %s against %s\n", o.operators, o.duration, o.base)

	start := time.Now()
	clients, err := signInAll(ctx, tr, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed in %d operators in %s\n", len(clients), time.Since(start).Round(time.Millisecond))

	results := make([]*recorder, len(clients))
	var wg sync.WaitGroup
	start = time.Now()
	end := start.Add(o.duration)
	for i, c := range clients {
		results[i] = newRecorder()
		wg.Go(func() { browse(ctx, c, o.base, end, results[i]) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := readMemory(o.pid)
	if err != nil {
		return err
	}

	total := newRecorder()
	for _, r := range results {
		total.merge(r)
	}
	total.report(stdout, elapsed)
	if o.pid != 0 {
		// VmHWM is the peak since the process started; a higher one after
		// the run than before it was reached during the run.
		fmt.Fprintf(stdout, "portal memory  before: RSS %s, peak since start %s\n", mib(before.rss), mib(before.hwm))
		fmt.Fprintf(stdout, "               after:  RSS %s, peak since start %s\n", mib(after.rss), mib(after.hwm))
		if o.settle > 0 {
			fmt.Fprintf(stdout, "waiting %s with no load...\n", o.settle)
			select {
			case <-time.After(o.settle):
			case <-ctx.Done():
			}
			settled, err := readMemory(o.pid)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "               %s later: RSS %s, peak since start %s\n", o.settle, mib(settled.rss), mib(settled.hwm))
		}
	}
	if n := total.failures(); n > 0 {
		return fmt.Errorf("%d of %d requests failed", n, total.count())
	}
	return nil
}

// signInAll signs in o.operators operators, a few at a time, and returns
// a client for each, with its own cookies.
func signInAll(ctx context.Context, tr http.RoundTripper, o options) ([]*http.Client, error) {
	clients := make([]*http.Client, o.operators)
	errs := make([]error, o.operators)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			clients[i], errs[i] = signIn(ctx, tr, o)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	return clients, nil
}

// signIn runs the OpenID flow through the demo provider's persona picker
// and returns a client that carries the session and, unlike the one that
// signed in, does not follow redirects: a request sent back to sign in
// must count as a failure, not as a slow success.
func signIn(ctx context.Context, tr http.RoundTripper, o options) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	follow := &http.Client{Transport: tr, Jar: jar, Timeout: o.timeout}
	body, resp, err := fetch(ctx, follow, http.MethodGet, o.base+"/auth/login?return_to=/search", nil)
	if err != nil {
		return nil, err
	}
	m := authRequestRE.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("GET /auth/login ended at %s with %d and no persona picker: is %s a `portal dev`?", resp.Request.URL, resp.StatusCode, o.base)
	}
	picker := resp.Request.URL
	form := url.Values{"authRequestID": {html.UnescapeString(string(m[1]))}, "persona": {o.persona}}
	_, resp, err = fetch(ctx, follow, http.MethodPost, picker.Scheme+"://"+picker.Host+"/login", form)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/search" {
		// The query would hold the authorization code: leave it out.
		at := *resp.Request.URL
		at.RawQuery = ""
		err := fmt.Errorf("signing in as %s ended at %s with %d, not on /search", o.persona, &at, resp.StatusCode)
		if base, _ := url.Parse(o.base); resp.Request.URL.Host != base.Host {
			// The sign-in cookies belong to -url's host; a callback to
			// another host arrives without them.
			err = fmt.Errorf("%w: the portal's PORTAL_PUBLIC_URL and -url must name the same host", err)
		}
		return nil, err
	}
	return &http.Client{
		Transport: tr, Jar: jar, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// fetch sends a request and reads the whole response.
func fetch(ctx context.Context, c *http.Client, method, target string, form url.Values) ([]byte, *http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return data, resp, err
}

// browse is one operator's loop: search, open the first result, repeat
// until end.
func browse(ctx context.Context, c *http.Client, base string, end time.Time, rec *recorder) {
	for time.Now().Before(end) && ctx.Err() == nil {
		q := prefixes[rand.IntN(len(prefixes))]
		body, ok := rec.get(ctx, c, "search", base+"/search?q="+url.QueryEscape(q))
		if !ok {
			continue
		}
		m := userLinkRE.FindSubmatch(body)
		if m == nil {
			rec.empty++
			continue
		}
		rec.get(ctx, c, "user", base+"/users/"+string(m[1]))
	}
}

// recorder collects one operator's measurements; merge adds them up
// after the run, so the loop takes no lock.
type recorder struct {
	latency map[string][]time.Duration // by page kind
	status  map[int]int
	errs    map[string]int // requests that got no response, by error
	empty   int            // searches that found nobody
}

func newRecorder() *recorder {
	return &recorder{latency: map[string][]time.Duration{}, status: map[int]int{}, errs: map[string]int{}}
}

// get fetches target and records the outcome under kind. It reports
// whether the answer was 200, with its body.
func (r *recorder) get(ctx context.Context, c *http.Client, kind, target string) ([]byte, bool) {
	t0 := time.Now()
	body, resp, err := fetch(ctx, c, http.MethodGet, target, nil)
	d := time.Since(t0)
	if ctx.Err() != nil {
		// Interrupted: not the portal's failure.
		return nil, false
	}
	if err != nil {
		r.errs[shorten(err)]++
		return nil, false
	}
	r.latency[kind] = append(r.latency[kind], d)
	r.status[resp.StatusCode]++
	return body, resp.StatusCode == http.StatusOK
}

// shorten keeps an error's last part, without the URL that makes every
// message unique.
func shorten(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return err.Error()
}

func (r *recorder) merge(o *recorder) {
	for k, v := range o.latency {
		r.latency[k] = append(r.latency[k], v...)
	}
	for k, v := range o.status {
		r.status[k] += v
	}
	for k, v := range o.errs {
		r.errs[k] += v
	}
	r.empty += o.empty
}

func (r *recorder) count() int {
	n := 0
	for _, v := range r.status {
		n += v
	}
	for _, v := range r.errs {
		n += v
	}
	return n
}

func (r *recorder) failures() int {
	n := 0
	for code, v := range r.status {
		if code != http.StatusOK {
			n += v
		}
	}
	for _, v := range r.errs {
		n += v
	}
	return n
}

func (r *recorder) report(w io.Writer, elapsed time.Duration) {
	var all []time.Duration
	for _, v := range r.latency {
		all = append(all, v...)
	}
	n := r.count()
	fmt.Fprintf(w, "requests       %d in %s: %.1f/s\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Fprintf(w, "latency        %s\n", percentiles(all))
	for _, kind := range slices.Sorted(maps.Keys(r.latency)) {
		fmt.Fprintf(w, "  %-12s %s\n", kind, percentiles(r.latency[kind]))
	}
	var codes []string
	for _, code := range slices.Sorted(maps.Keys(r.status)) {
		codes = append(codes, fmt.Sprintf("%d: %d", code, r.status[code]))
	}
	fmt.Fprintf(w, "responses      %s\n", strings.Join(codes, ", "))
	if r.empty > 0 {
		fmt.Fprintf(w, "searches that found nobody: %d\n", r.empty)
	}
	failed := r.failures()
	fmt.Fprintf(w, "errors         %d", failed)
	if failed > 0 {
		fmt.Fprint(w, " (")
		sep := ""
		for _, code := range slices.Sorted(maps.Keys(r.status)) {
			if code != http.StatusOK {
				fmt.Fprintf(w, "%sHTTP %d: %d", sep, code, r.status[code])
				sep = ", "
			}
		}
		for _, msg := range slices.Sorted(maps.Keys(r.errs)) {
			fmt.Fprintf(w, "%s%s: %d", sep, msg, r.errs[msg])
			sep = ", "
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
}

// percentiles summarises latencies by nearest rank.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no requests"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(float64(len(s))*p/100+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	}
	return fmt.Sprintf("n=%d  p50 %s  p95 %s  p99 %s  max %s", len(s), ms(at(50)), ms(at(95)), ms(at(99)), ms(s[len(s)-1]))
}

// memory is what /proc says of a process's resident memory, in KiB.
type memory struct{ rss, hwm int64 }

// readMemory reads VmRSS (resident now) and VmHWM (the most resident
// since the process started) of pid; pid 0 reads nothing.
func readMemory(pid int) (memory, error) {
	var m memory
	if pid == 0 {
		return m, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("-pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch {
		case name == "VmRSS" && err == nil:
			m.rss = kb
		case name == "VmHWM" && err == nil:
			m.hwm = kb
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("-pid %d: no VmRSS in /proc/%d/status", pid, pid)
	}
	return m, sc.Err()
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
