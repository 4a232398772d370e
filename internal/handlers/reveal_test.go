package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/handlers"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
	"github.com/tapportal/portal/web/static"
)

// revealSite is the web layer with reveal links on, alone: the links'
// pages need no sign-in and no directory, so no demo tenant either. It is
// served on a loopback port over SQLite in a temporary directory.
type revealSite struct {
	URL    string
	Server *handlers.Server
	Store  *store.Store
	DBPath string
	Logs   *testutil.Buffer
	// ahead moves the links' clock on, in nanoseconds.
	ahead atomic.Int64

	mu       sync.Mutex
	recorded []portal.RevealLink
	// recordErr, when set, is what the reveal recorder returns.
	recordErr error
}

const revealLifetime = time.Hour

func newRevealSite(t *testing.T) *revealSite {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "portal.db")
	st, err := store.Open(t.Context(), "sqlite:"+dbPath, store.Options{AuditKeys: testutil.AuditKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	// Requests the reveal routes do not take go to the signed-in routes,
	// which send them to sign in, as in the whole portal.
	sessions, err := session.New(session.Options{Keys: []string{"reveal test session key, not a secret"}, IdleTimeout: time.Hour, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + hs.Listener.Addr().String())
	site := &revealSite{URL: base.String(), Store: st, DBPath: dbPath, Logs: &testutil.Buffer{}}
	site.Server = handlers.New(handlers.Config{
		Assets: assets, Sessions: sessions, PublicURL: base,
		Logger: slog.New(slog.NewJSONHandler(site.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Reveal: &handlers.Reveal{Links: st, Recorded: site.record, Now: site.now},
	})
	hs.Config.Handler = site.Server
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("portal logs:\n%s", site.Logs.String())
		}
	})
	return site
}

func (s *revealSite) now() time.Time { return time.Now().Add(time.Duration(s.ahead.Load())) }

func (s *revealSite) record(_ context.Context, l portal.RevealLink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, l)
	return s.recordErr
}

func (s *revealSite) reveals() []portal.RevealLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]portal.RevealLink(nil), s.recorded...)
}

// link is a reveal link as the operator would send it, and the key check
// the page's script derives from its key.
type link struct {
	ID, Path, Key, Passcode, Check string
}

// newLink makes a link for passcode through the portal's own helper.
func (s *revealSite) newLink(t *testing.T, passcode string) link {
	t.Helper()
	now := s.now()
	made, addr, err := reveal.Make(t.Context(), s.Store, s.URL, portal.NewSecret(passcode),
		portal.RevealLink{TargetID: "a1000000-0000-4000-8000-000000000017", OperatorID: "op-1", EventID: 7, Created: now, Expires: now.Add(revealLifetime)})
	if err != nil {
		t.Fatalf("reveal.Make = %v", err)
	}
	u, err := url.Parse(addr.Reveal())
	if err != nil || u.Scheme+"://"+u.Host != s.URL || u.Path != "/reveal/"+made.ID || u.RawQuery != "" || !reveal.ValidKey(u.Fragment) {
		t.Fatalf("reveal.Make's address %q is not %s/reveal/%s#<key>", addr.Reveal(), s.URL, made.ID)
	}
	if got := made.Expires.Sub(made.Created); got != revealLifetime {
		t.Errorf("the new link lasts %s, want %s", got, revealLifetime)
	}
	check, err := reveal.Check(u.Fragment, made.ID)
	if err != nil {
		t.Fatalf("Check(the link's key) = %v", err)
	}
	return link{ID: made.ID, Path: u.Path, Key: u.Fragment, Passcode: passcode, Check: check}
}

type revealReply struct {
	status int
	header http.Header
	body   string
}

func (s *revealSite) get(t *testing.T, path string) revealReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	return s.do(t, req)
}

// take posts to path what the page's script posts, the key check as
// JSON, with these request headers besides.
func (s *revealSite) take(t *testing.T, path, check string, headers map[string]string) revealReply {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	maps.Copy(h, headers)
	return s.post(t, path, h, `{"check":"`+check+`"}`)
}

// post posts body to path with these request headers; "" is no body.
func (s *revealSite) post(t *testing.T, path string, headers map[string]string, body string) revealReply {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, r)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return s.do(t, req)
}

func (s *revealSite) do(t *testing.T, req *http.Request) revealReply {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return revealReply{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// sameOrigin is what a browser sends with the reveal page's fetch.
func (s *revealSite) sameOrigin() map[string]string {
	return map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.URL}
}

// answer decodes a POST's JSON.
type answer struct {
	Ciphertext, Nonce, State, Message, At string
}

func (r revealReply) answer(t *testing.T) answer {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("the answer is %s, want JSON: %s", ct, r.body)
	}
	var a answer
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("the answer %q: %v", r.body, err)
	}
	return a
}

// wantNoStore fails the test unless no cache may keep the reply.
func (r revealReply) wantNoStore(t *testing.T, what string) {
	t.Helper()
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, cc)
	}
}

func (s *revealSite) state(t *testing.T, id string) portal.RevealState {
	t.Helper()
	l, err := s.Store.RevealLinkStatus(t.Context(), id)
	if err != nil {
		t.Fatalf("RevealLinkStatus(%s) = %v", id, err)
	}
	return l.State(s.now())
}

// TestRevealLink opens a link as its reader does: the page, as often as a
// mail scanner likes, reveals nothing; the button's POST answers the
// sealed passcode once, which opens with the link's key; after that the
// POST and the page say it was revealed, and the history was told once.
func TestRevealLink(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	l := s.newLink(t, "Xy7#kQ2!mN4@pL9$")

	for i := range 3 {
		p := s.get(t, l.Path)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Show the passcode") || !strings.Contains(p.body, `data-reveal-id="`+l.ID+`"`) {
			t.Fatalf("GET %s (%d) = %d, want 200 with the button:\n%s", l.Path, i+1, p.status, p.body)
		}
		p.wantNoStore(t, "the page")
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || p.header.Get("X-Request-Id") == "" {
			t.Errorf("the page lacks the portal's headers: CSP %q, request id %q", csp, p.header.Get("X-Request-Id"))
		}
		if leaks(p.body, l.Passcode) || strings.Contains(p.body, l.Key) {
			t.Fatalf("the page holds the passcode or the key")
		}
		if !regexp.MustCompile(`<script src="/static/js/reveal\.[0-9a-f]{8}\.js" defer></script>`).MatchString(p.body) {
			t.Errorf("the page does not load the content-hashed reveal script")
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") {
			t.Errorf("the page has inline script or style, which the CSP forbids")
		}
	}
	if st := s.state(t, l.ID); st != portal.RevealReady {
		t.Fatalf("after three GETs the link is %s, want ready", st)
	}
	if got := s.reveals(); len(got) != 0 {
		t.Fatalf("after GETs the recorder was called %d times, want 0", len(got))
	}

	r := s.take(t, l.Path, l.Check, s.sameOrigin())
	if r.status != http.StatusOK {
		t.Fatalf("POST %s = %d, want 200: %s", l.Path, r.status, r.body)
	}
	r.wantNoStore(t, "the sealed passcode")
	a := r.answer(t)
	ciphertext, cerr := base64.RawURLEncoding.Strict().DecodeString(a.Ciphertext)
	nonce, nerr := base64.RawURLEncoding.Strict().DecodeString(a.Nonce)
	if cerr != nil || nerr != nil {
		t.Fatalf("the answer's ciphertext and nonce are not base64url: %v, %v", cerr, nerr)
	}
	if got, err := reveal.Open(ciphertext, nonce, l.Key, l.ID); err != nil || string(got) != l.Passcode {
		t.Errorf("the answer opens to %q, %v, want %q", got, err, l.Passcode)
	}
	if leaks(r.body, l.Passcode) {
		t.Errorf("the answer holds the passcode in the clear")
	}

	recorded := s.reveals()
	if len(recorded) != 1 || recorded[0].ID != l.ID || recorded[0].EventID != 7 || recorded[0].TargetID == "" || recorded[0].Revealed.IsZero() {
		t.Fatalf("the recorder got %+v, want the link once, revealed", recorded)
	}

	again := s.take(t, l.Path, l.Check, s.sameOrigin())
	again.wantNoStore(t, "the second POST")
	if a := again.answer(t); again.status != http.StatusGone || a.State != "revealed" || !strings.Contains(a.Message, "already revealed") ||
		a.Ciphertext != "" || a.At != recorded[0].Revealed.UTC().Format(time.RFC3339) {
		t.Errorf("the second POST = %d %+v, want 410 already revealed at %s, without a ciphertext", again.status, a, recorded[0].Revealed)
	}
	page := s.get(t, l.Path)
	if page.status != http.StatusGone || !strings.Contains(page.body, "already revealed") || strings.Contains(page.body, "Show the passcode") {
		t.Errorf("GET after the reveal = %d, want 410 saying already revealed, without the button:\n%s", page.status, page.body)
	}
	if got := s.reveals(); len(got) != 1 {
		t.Errorf("the recorder was called %d times, want once", len(got))
	}
}

// TestRevealTakenOnce posts twice at once: one gets the passcode.
func TestRevealTakenOnce(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	l := s.newLink(t, "Ab3$Cd4%Ef5^")
	statuses := make([]int, 6)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.take(t, l.Path, l.Check, s.sameOrigin()).status })
	}
	wg.Wait()
	ok, gone := 0, 0
	for _, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
		case http.StatusGone:
			gone++
		}
	}
	if ok != 1 || gone != len(statuses)-1 {
		t.Errorf("%d concurrent POSTs answered %v, want one 200 and the rest 410", len(statuses), statuses)
	}
	if got := s.reveals(); len(got) != 1 {
		t.Errorf("the recorder was called %d times, want once", len(got))
	}
}

// TestRevealRefusesOtherOrigins refuses a POST that does not come from
// the portal's own page, whatever else it says, and takes nothing.
func TestRevealRefusesOtherOrigins(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	u, _ := url.Parse(s.URL)
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site with the portal's origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": s.URL}, http.StatusForbidden},
		{"same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other." + u.Hostname()}, http.StatusForbidden},
		{"not from a page", map[string]string{"Sec-Fetch-Site": "none"}, http.StatusForbidden},
		{"a foreign origin", map[string]string{"Origin": "https://attacker.example"}, http.StatusForbidden},
		{"an opaque origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"another port", map[string]string{"Origin": "http://" + u.Hostname() + ":1"}, http.StatusForbidden},
		{"another scheme", map[string]string{"Origin": "https://" + u.Host}, http.StatusForbidden},
		{"the origin with a path", map[string]string{"Origin": s.URL + "/reveal"}, http.StatusForbidden},
		{"neither header", nil, http.StatusForbidden},
		{"the portal's origin, from an older browser", map[string]string{"Origin": s.URL}, http.StatusOK},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := s.newLink(t, "Pq8&Rs9*Tu0(")
			r := s.take(t, l.Path, l.Check, tt.headers)
			r.wantNoStore(t, tt.name)
			if r.status != tt.want {
				t.Fatalf("POST with %v = %d %s, want %d", tt.headers, r.status, r.body, tt.want)
			}
			if tt.want != http.StatusForbidden {
				return
			}
			if a := r.answer(t); a.State != "refused" || a.Ciphertext != "" || a.Message == "" {
				t.Errorf("the refusal = %+v, want refused, with a message and no ciphertext", a)
			}
			if st := s.state(t, l.ID); st != portal.RevealReady {
				t.Errorf("after a refused POST the link is %s, want ready", st)
			}
		})
	}
	if got := s.reveals(); len(got) != 2 {
		t.Errorf("the recorder was called %d times, want twice (the two accepted)", len(got))
	}
}

// TestRevealKeyCheck takes a link only with its key check. A wrong check,
// such as a key damaged on the way gives, is answered 409 and says so; a
// request without a check, or with anything but the script's JSON, is
// answered 400. Neither takes anything: the link stays ready and its page
// offers the button. The link's own check then takes it, once; after
// that, any check is told it was revealed, as the page tells anyone.
func TestRevealKeyCheck(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	l := s.newLink(t, "Kc1!Kc1!Kc1!")
	other := s.newLink(t, "Ot2@Ot2@Ot2@")
	// One character of the key changed: the right length and alphabet,
	// which the page cannot tell from the key sent.
	changed := "B" + l.Key[1:]
	if l.Key[0] == 'B' {
		changed = "C" + l.Key[1:]
	}
	changedCheck, err := reveal.Check(changed, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	asJSON := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name    string
		headers map[string]string
		body    string
		want    int
	}{
		{"a key with a character changed", asJSON, `{"check":"` + changedCheck + `"}`, http.StatusConflict},
		{"another link's check", asJSON, `{"check":"` + other.Check + `"}`, http.StatusConflict},
		{"JSON with a charset", map[string]string{"Content-Type": "application/json; charset=utf-8"}, `{"check":"` + changedCheck + `"}`, http.StatusConflict},
		{"no body", nil, "", http.StatusBadRequest},
		{"no body, said to be JSON", asJSON, "", http.StatusBadRequest},
		{"an empty object", asJSON, `{}`, http.StatusBadRequest},
		{"null", asJSON, `null`, http.StatusBadRequest},
		{"an empty check", asJSON, `{"check":""}`, http.StatusBadRequest},
		{"the check cut short", asJSON, `{"check":"` + l.Check[:21] + `"}`, http.StatusBadRequest},
		{"the check as a number", asJSON, `{"check":1}`, http.StatusBadRequest},
		{"not JSON", asJSON, `{"check":"` + l.Check, http.StatusBadRequest},
		{"another field", asJSON, `{"check":"` + l.Check + `","key":"` + l.Key + `"}`, http.StatusBadRequest},
		{"something after the object", asJSON, `{"check":"` + l.Check + `"} {}`, http.StatusBadRequest},
		{"too long", asJSON, `{"check":"` + l.Check + `"}` + strings.Repeat(" ", 300), http.StatusBadRequest},
		{"the check as a form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "check=" + l.Check, http.StatusBadRequest},
		{"the check as text", map[string]string{"Content-Type": "text/plain"}, `{"check":"` + l.Check + `"}`, http.StatusBadRequest},
		{"no content type", nil, `{"check":"` + l.Check + `"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := s.sameOrigin()
			maps.Copy(h, tt.headers)
			r := s.post(t, l.Path, h, tt.body)
			r.wantNoStore(t, tt.name)
			a := r.answer(t)
			if r.status != tt.want || a.Ciphertext != "" || a.Nonce != "" {
				t.Fatalf("POST %s = %d %s, want %d without a ciphertext", tt.name, r.status, r.body, tt.want)
			}
			switch tt.want {
			case http.StatusConflict:
				if a.State != "damaged" || !strings.Contains(a.Message, "This link is damaged") || !strings.Contains(a.Message, "the passcode is still safe") {
					t.Errorf("POST %s = %+v, want damaged, saying the passcode is still safe", tt.name, a)
				}
			case http.StatusBadRequest:
				if a.State != "malformed" || !strings.Contains(a.Message, "nothing was revealed") {
					t.Errorf("POST %s = %+v, want malformed, saying nothing was revealed", tt.name, a)
				}
			}
			if st := s.state(t, l.ID); st != portal.RevealReady {
				t.Fatalf("after POST %s the link is %s, want ready", tt.name, st)
			}
			if p := s.get(t, l.Path); p.status != http.StatusOK || !strings.Contains(p.body, "Show the passcode") {
				t.Errorf("GET after POST %s = %d, want 200 with the button", tt.name, p.status)
			}
		})
	}
	if got := s.reveals(); len(got) != 0 {
		t.Fatalf("after refused POSTs the recorder was called %d times, want 0", len(got))
	}
	if st := s.state(t, other.ID); st != portal.RevealReady {
		t.Errorf("the other link, whose check was tried, is %s, want ready", st)
	}

	r := s.take(t, l.Path, l.Check, s.sameOrigin())
	if r.status != http.StatusOK {
		t.Fatalf("POST the link's check = %d %s, want 200", r.status, r.body)
	}
	a := r.answer(t)
	ciphertext, _ := base64.RawURLEncoding.DecodeString(a.Ciphertext)
	nonce, _ := base64.RawURLEncoding.DecodeString(a.Nonce)
	if got, err := reveal.Open(ciphertext, nonce, l.Key, l.ID); err != nil || string(got) != l.Passcode {
		t.Errorf("the answer opens to %q, %v, want %q", got, err, l.Passcode)
	}
	for _, check := range []string{l.Check, changedCheck} {
		again := s.take(t, l.Path, check, s.sameOrigin())
		if a := again.answer(t); again.status != http.StatusGone || a.State != "revealed" || a.Ciphertext != "" {
			t.Errorf("POST %s after the reveal = %d %+v, want 410 revealed", check, again.status, a)
		}
	}
	if got := s.reveals(); len(got) != 1 {
		t.Errorf("the recorder was called %d times, want once", len(got))
	}
	if logs := s.Logs.String(); strings.Contains(logs, "revealing a link") || strings.Contains(logs, l.Check) || strings.Contains(logs, changedCheck) {
		t.Errorf("a refused check was logged as a failure, or a check was logged:\n%s", logs)
	}
}

// TestRevealExpired answers an expired link's page and POST with 410,
// and reveals nothing.
func TestRevealExpired(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	l := s.newLink(t, "Ex1!Ex1!Ex1!")
	s.ahead.Store(int64(revealLifetime + time.Second))

	page := s.get(t, l.Path)
	page.wantNoStore(t, "the expired page")
	if page.status != http.StatusGone || !strings.Contains(page.body, "This link has expired") || strings.Contains(page.body, "Show the passcode") {
		t.Errorf("GET of an expired link = %d, want 410 saying it expired, without the button:\n%s", page.status, page.body)
	}
	r := s.take(t, l.Path, l.Check, s.sameOrigin())
	r.wantNoStore(t, "the expired POST")
	if a := r.answer(t); r.status != http.StatusGone || a.State != "expired" || !strings.Contains(a.Message, "expired") || a.Ciphertext != "" || a.At == "" {
		t.Errorf("POST of an expired link = %d %+v, want 410 expired, when, and no ciphertext", r.status, a)
	}
	if got := s.reveals(); len(got) != 0 {
		t.Errorf("the recorder was called for an expired link: %+v", got)
	}
	if dump := dumpSQLite(t, s.DBPath); s.holdsSecret(dump, l) != "" {
		t.Errorf("after a try at an expired link the database holds its %s", s.holdsSecret(dump, l))
	}
}

// TestRevealUnknown answers an unknown id and a malformed one alike: the
// same "not found" page, and a 404 to the POST.
func TestRevealUnknown(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	known := s.newLink(t, "Kn0wn!Kn0wn!")
	requestIDs := regexp.MustCompile(`<span class="mono">[A-Za-z0-9_-]{22}</span>`)
	notFound := ""
	for _, id := range []string{
		reveal.NewLinkID(),           // unknown
		"abc",                        // too short
		known.ID + "A",               // too long
		known.ID[:21] + "=",          // padded
		"AAAAAAAAAAAAAAAAAAAAAB",     // not canonical
		known.ID + "%23" + known.Key, // a fragment sent by a broken client
		strings.Repeat("A", 500),
		"%2e%2e",
		"%00" + known.ID[1:],
	} {
		p := s.get(t, "/reveal/"+id)
		p.wantNoStore(t, "the not found page")
		page := requestIDs.ReplaceAllString(p.body, "")
		if p.status != http.StatusNotFound || !strings.Contains(page, "Link not found") || strings.Contains(page, "Show the passcode") {
			t.Errorf("GET /reveal/%s = %d, want 404 Link not found:\n%s", id, p.status, p.body)
		}
		if notFound == "" {
			notFound = page
		} else if page != notFound {
			t.Errorf("GET /reveal/%s differs from an unknown id's page:\n%s\nwant:\n%s", id, page, notFound)
		}
		r := s.take(t, "/reveal/"+id, known.Check, s.sameOrigin())
		r.wantNoStore(t, "the not found answer")
		if a := r.answer(t); r.status != http.StatusNotFound || a.State != "not_found" || a.Message == "" {
			t.Errorf("POST /reveal/%s = %d %+v, want 404 not_found", id, r.status, a)
		}
	}
	if st := s.state(t, known.ID); st != portal.RevealReady {
		t.Errorf("the known link is %s, want ready", st)
	}
	if strings.Contains(s.Logs.String(), known.Key) {
		t.Errorf("the logs hold a key sent in a path")
	}
}

// TestRevealLeavesNoSecret reveals a link and searches what the portal
// kept: its database at every step and its logs, for the passcode, the
// key, the ciphertext and the link's address.
func TestRevealLeavesNoSecret(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	l := s.newLink(t, "Zq9!Zq9!Zq9!Zq9!")
	if what := s.holdsSecret(dumpSQLite(t, s.DBPath), l); what != "" {
		t.Fatalf("after the link is made the database holds the %s", what)
	}
	s.get(t, l.Path)
	r := s.take(t, l.Path, l.Check, s.sameOrigin())
	if r.status != http.StatusOK {
		t.Fatalf("POST = %d", r.status)
	}
	a := r.answer(t)
	dump := dumpSQLite(t, s.DBPath)
	if what := s.holdsSecret(dump, l); what != "" {
		t.Errorf("after the link is revealed the database holds the %s", what)
	}
	ciphertext, _ := base64.RawURLEncoding.DecodeString(a.Ciphertext)
	if strings.Contains(dump, string(ciphertext)) || strings.Contains(dump, a.Ciphertext) {
		t.Errorf("after the link is revealed the database still holds its ciphertext")
	}
	s.take(t, l.Path, l.Check, s.sameOrigin())
	s.get(t, l.Path)

	logs := s.Logs.String()
	for what, secret := range map[string]string{"key": l.Key, "key check": l.Check, "ciphertext": a.Ciphertext, "nonce": a.Nonce, "link id": l.ID} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold the %s:\n%s", what, logs)
		}
	}
	if leaks(logs, l.Passcode) {
		t.Errorf("the logs hold the passcode:\n%s", logs)
	}
	// Every request was logged under its route, never its address.
	lines := 0
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var entry struct{ Msg, Route, Method string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if entry.Msg == "request" {
			lines++
			if entry.Route != "/reveal/:id" {
				t.Errorf("a request was logged under %q, want /reveal/:id", entry.Route)
			}
		}
	}
	if lines != 4 {
		t.Errorf("%d request lines logged, want 4", lines)
	}
}

// TestRevealRecorderFails answers the passcode even when the history
// cannot record the reveal: the link has already forgotten it. The
// failure is logged, without the passcode.
func TestRevealRecorderFails(t *testing.T) {
	t.Parallel()
	s := newRevealSite(t)
	s.mu.Lock()
	s.recordErr = errors.New("the history is down")
	s.mu.Unlock()
	l := s.newLink(t, "Rc0!Rc0!Rc0!")
	r := s.take(t, l.Path, l.Check, s.sameOrigin())
	if r.status != http.StatusOK || r.answer(t).Ciphertext == "" {
		t.Fatalf("POST with a failing recorder = %d %s, want 200 with the passcode", r.status, r.body)
	}
	if logs := s.Logs.String(); !strings.Contains(logs, "recording a reveal") || !strings.Contains(logs, "the history is down") {
		t.Errorf("the recorder's failure was not logged:\n%s", logs)
	}
}

// TestRevealOff leaves the routes out when reveal links are off: the
// address is one of the signed-in portal's, which sends the browser to
// sign in.
func TestRevealOff(t *testing.T) {
	t.Parallel()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(session.Options{Keys: []string{"reveal test session key, not a secret"}, IdleTimeout: time.Hour, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := handlers.New(handlers.Config{Assets: assets, Sessions: sessions, Logger: slog.New(slog.DiscardHandler)})
	path := "/reveal/" + reveal.NewLinkID()
	get := httptest.NewRecorder()
	srv.ServeHTTP(get, httptest.NewRequest(http.MethodGet, path, nil))
	if loc := get.Header().Get("Location"); get.Code != http.StatusFound || !strings.HasPrefix(loc, "/auth/login") {
		t.Errorf("GET %s with reveal links off = %d to %q, want a redirect to sign in", path, get.Code, loc)
	}
}

// holdsSecret names what of the link's secrets dump holds, in any
// encoding a column could hold it in, or returns "".
func (s *revealSite) holdsSecret(dump string, l link) string {
	if leaks(dump, l.Passcode) {
		return "passcode"
	}
	raw, _ := base64.RawURLEncoding.DecodeString(l.Key)
	for _, form := range []string{l.Key, string(raw), hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
		if strings.Contains(dump, form) {
			return "key"
		}
	}
	if bytes.Contains([]byte(dump), []byte("#"+l.Key)) {
		return "address"
	}
	return ""
}
