package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var (
	oldKey = strings.Repeat("o", 40)
	newKey = strings.Repeat("n", 40)
)

func manager(t *testing.T, c *clock, secure bool, keys ...string) *Manager {
	t.Helper()
	m, err := New(Options{Keys: keys, Secure: secure, IdleTimeout: 30 * time.Minute, MaxAge: 8 * time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// roundTrip saves s and returns a request carrying the cookie.
func roundTrip(t *testing.T, m *Manager, s Session) (*http.Request, *http.Cookie) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.Save(rec, &s); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Save set %d cookies, want 1", len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookies[0])
	return req, cookies[0]
}

func TestSessionLifecycle(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	m := manager(t, c, false, oldKey)
	s := m.Start(Session{Subject: "u1", Name: "Priya", Role: RoleOperator})
	if s.ID == "" || s.CSRF == "" || s.ID == s.CSRF {
		t.Fatalf("Start = %+v, want a fresh id and CSRF token", s)
	}
	if again := m.Start(Session{Subject: "u1"}); again.ID == s.ID || again.CSRF == s.CSRF {
		t.Fatal("a new sign-in reused the session id or CSRF token")
	}
	req, ck := roundTrip(t, m, s)
	if !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie flags = %+v", ck)
	}
	got, err := m.Get(req)
	if err != nil || got.Subject != "u1" || got.Role != RoleOperator {
		t.Fatalf("Get = %+v, %v", got, err)
	}

	c.t = c.t.Add(29 * time.Minute)
	if _, err := m.Get(req); err != nil {
		t.Fatalf("Get after 29 idle minutes = %v, want the session", err)
	}
	c.t = c.t.Add(2 * time.Minute)
	if _, err := m.Get(req); err != ErrNoSession {
		t.Fatalf("Get after 31 idle minutes = %v, want ErrNoSession", err)
	}

	// Activity keeps a session alive, but not past its absolute lifetime.
	c.t = s.Created
	for range 16 {
		c.t = c.t.Add(29 * time.Minute)
		got, err := m.Get(req)
		if err != nil {
			if c.t.Sub(s.Created) <= 8*time.Hour {
				t.Fatalf("active session ended after %s", c.t.Sub(s.Created))
			}
			return
		}
		rec := httptest.NewRecorder()
		if err := m.Touch(rec, got); err != nil {
			t.Fatal(err)
		}
		req = httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(rec.Result().Cookies()[0])
	}
	c.t = s.Created.Add(8*time.Hour + time.Minute)
	if _, err := m.Get(req); err != ErrNoSession {
		t.Fatalf("Get 8h01 after sign-in = %v, want ErrNoSession", err)
	}
}

func TestSessionKeyRotation(t *testing.T) {
	c := &clock{t: time.Now()}
	old := manager(t, c, false, oldKey)
	rotated := manager(t, c, false, newKey, oldKey)
	retired := manager(t, c, false, newKey)

	req, _ := roundTrip(t, old, old.Start(Session{Subject: "u1", Role: RoleSupervisor}))
	if s, err := rotated.Get(req); err != nil || s.Subject != "u1" {
		t.Fatalf("a session made with the old key, read after rotation = %v, %v", s, err)
	}
	if _, err := retired.Get(req); err != ErrNoSession {
		t.Fatalf("a session made with a retired key = %v, want ErrNoSession", err)
	}
	req2, _ := roundTrip(t, rotated, rotated.Start(Session{Subject: "u2"}))
	if _, err := retired.Get(req2); err != nil {
		t.Fatalf("a session made with the new key = %v", err)
	}
}

func TestForgedCookiesRefused(t *testing.T) {
	c := &clock{t: time.Now()}
	m := manager(t, c, true, oldKey)
	_, ck := roundTrip(t, m, m.Start(Session{Subject: "u1", Role: RoleOperator}))
	if ck.Name != "__Host-tap_session" || !ck.Secure {
		t.Fatalf("secure cookie = %s secure=%v, want the __Host- prefix and Secure", ck.Name, ck.Secure)
	}
	tampered := []byte(ck.Value)
	tampered[len(tampered)/2] ^= 1
	for _, v := range []string{"", "garbage", string(tampered), strings.Repeat("A", 5000)} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: v})
		if _, err := m.Get(req); err != ErrNoSession {
			t.Errorf("Get(forged %.20q) = %v, want ErrNoSession", v, err)
		}
	}
	// A cookie made by another deployment (another key) is refused too.
	other := manager(t, c, true, newKey)
	req, _ := roundTrip(t, other, other.Start(Session{Subject: "attacker", Role: RoleSupervisor}))
	if _, err := m.Get(req); err != ErrNoSession {
		t.Fatalf("a session signed with another key = %v, want ErrNoSession", err)
	}
}

func TestLoginCookieIsSingleUse(t *testing.T) {
	c := &clock{t: time.Now()}
	m := manager(t, c, false, oldKey)
	rec := httptest.NewRecorder()
	if err := m.SaveLogin(rec, Login{State: "s", Nonce: "n", Verifier: "v", ReturnTo: "/x"}); err != nil {
		t.Fatal(err)
	}
	ck := rec.Result().Cookies()[0]
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(ck)
	rec = httptest.NewRecorder()
	l, err := m.TakeLogin(rec, req)
	if err != nil || l.State != "s" || l.Verifier != "v" {
		t.Fatalf("TakeLogin = %+v, %v", l, err)
	}
	if cleared := rec.Result().Cookies(); len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Fatalf("TakeLogin did not clear the cookie: %+v", cleared)
	}
	c.t = c.t.Add(LoginTTL + time.Second)
	if _, err := m.TakeLogin(httptest.NewRecorder(), req); err == nil {
		t.Fatal("an expired sign-in attempt was accepted")
	}
}

// TestKey: a key is kept for one path and one subject, encrypted, and
// ends with its time or when cleared.
func TestKey(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	m, err := New(Options{Keys: []string{"a-session-key-of-some-length-123"}, Secure: true, IdleTimeout: time.Hour, MaxAge: 8 * time.Hour,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	rec := httptest.NewRecorder()
	if err := m.SaveKey(rec, "/bulk/run1", "op-1", secret, time.Hour); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if c.Path != "/bulk/run1" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, string(secret)) {
		t.Fatalf("key cookie = %+v: want HttpOnly, Secure, Strict, scoped to the run, and not the key in clear", c)
	}
	req := httptest.NewRequest(http.MethodGet, "/bulk/run1", nil)
	req.AddCookie(c)
	if got := m.Key(req, "/bulk/run1", "op-1"); string(got) != string(secret) {
		t.Fatalf("Key = %q, want the secret", got)
	}
	if got := m.Key(req, "/bulk/run2", "op-1"); got != nil {
		t.Errorf("the key of run1 opened run2")
	}
	if got := m.Key(req, "/bulk/run1", "op-2"); got != nil {
		t.Errorf("the key of op-1 was given to op-2")
	}
	now = now.Add(2 * time.Hour)
	if got := m.Key(req, "/bulk/run1", "op-1"); got != nil {
		t.Errorf("an expired key was returned")
	}
	rec = httptest.NewRecorder()
	m.ClearKey(rec, "/bulk/run1")
	if c := rec.Result().Cookies()[0]; c.MaxAge >= 0 || c.Path != "/bulk/run1" {
		t.Errorf("ClearKey cookie = %+v, want removed on the run's path", c)
	}
}
