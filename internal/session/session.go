// Package session keeps the signed-in operator in a signed and encrypted
// cookie, so that any replica can serve any request with no shared session
// store. Keys rotate: the newest encodes, every configured key decodes.
package session

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// Role is what a signed-in person may do.
type Role string

// The portal's roles. A supervisor can do everything an operator can.
const (
	RoleOperator   Role = "operator"
	RoleSupervisor Role = "supervisor"
)

// Session is the signed-in operator.
type Session struct {
	// ID is random, new at every sign-in.
	ID string `json:"id"`
	// Subject is the operator's directory object id (oid), or the ID
	// token's sub when the provider has no oid.
	Subject  string `json:"sub"`
	Name     string `json:"name"`
	Username string `json:"upn"`
	Role     Role   `json:"role"`
	// CSRF is the token every state-changing form must echo.
	CSRF string `json:"csrf"`
	// AuthTime is when the provider last authenticated the operator; zero
	// when it did not say.
	AuthTime time.Time `json:"auth_time"`
	// NoAuthTime marks a fresh sign-in after which the provider still did
	// not say when the operator signed in: asking again would loop.
	NoAuthTime bool      `json:"no_auth_time,omitempty"`
	Created    time.Time `json:"created"`
	LastSeen   time.Time `json:"seen"`
}

// IsSupervisor reports whether the session carries supervisor rights.
func (s *Session) IsSupervisor() bool { return s.Role == RoleSupervisor }

// Login is the state of one sign-in attempt, kept in a short-lived cookie
// between the redirect to the provider and the callback.
type Login struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to"`
	Expires  time.Time `json:"exp"`
	// Fresh marks a sign-in that asked the provider to authenticate again.
	Fresh bool `json:"fresh,omitempty"`
}

// Options configure a Manager.
type Options struct {
	// Keys are the secrets, newest first.
	Keys []string
	// Secure marks cookies Secure and uses the __Host- prefix, which pins
	// them to this host and path /.
	Secure      bool
	IdleTimeout time.Duration
	MaxAge      time.Duration
	Now         func() time.Time
}

// Manager reads and writes the session and login cookies.
type Manager struct {
	codecs      []securecookie.Codec
	secure      bool
	idle        time.Duration
	maxAge      time.Duration
	now         func() time.Time
	sessionName string
	loginName   string
	draftName   string
}

// ErrNoSession means the request carries no valid, unexpired session.
var ErrNoSession = errors.New("session: not signed in")

// LoginTTL bounds how long a sign-in attempt may take at the provider.
const LoginTTL = 10 * time.Minute

// New returns a Manager.
func New(o Options) (*Manager, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("session: at least one key is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var pairs [][]byte
	for _, k := range o.Keys {
		hashKey, err := hkdf.Key(sha256.New, []byte(k), nil, "tap-portal session hash", 64)
		if err != nil {
			return nil, err
		}
		blockKey, err := hkdf.Key(sha256.New, []byte(k), nil, "tap-portal session block", 32)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, hashKey, blockKey)
	}
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		sc := c.(*securecookie.SecureCookie)
		sc.SetSerializer(securecookie.JSONEncoder{})
		// The cookie's own expiry is checked against the session's times;
		// this bound only stops very old cookies early.
		sc.MaxAge(int((o.MaxAge + time.Hour) / time.Second))
		sc.MaxLength(8192)
	}
	m := &Manager{codecs: codecs, secure: o.Secure, idle: o.IdleTimeout, maxAge: o.MaxAge, now: o.Now,
		sessionName: "tap_session", loginName: "tap_login", draftName: "tap_draft"}
	if o.Secure {
		m.sessionName, m.loginName, m.draftName = "__Host-tap_session", "__Host-tap_login", "__Host-tap_draft"
	}
	return m, nil
}

// Start creates a session for a freshly signed-in operator; the id and the
// CSRF token are new, so nothing from before sign-in carries over.
func (m *Manager) Start(s Session) Session {
	now := m.now()
	s.ID = RandomToken()
	s.CSRF = RandomToken()
	s.Created, s.LastSeen = now, now
	return s
}

// Get returns the request's session, or ErrNoSession when it is missing,
// forged, made with a retired key, idle too long or too old.
func (m *Manager) Get(r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.sessionName)
	if err != nil {
		return nil, ErrNoSession
	}
	var s Session
	if err := securecookie.DecodeMulti(m.sessionName, c.Value, &s, m.codecs...); err != nil {
		return nil, ErrNoSession
	}
	now := m.now()
	if s.ID == "" || now.Sub(s.Created) > m.maxAge || now.Sub(s.LastSeen) > m.idle || s.Created.After(now.Add(time.Minute)) {
		return nil, ErrNoSession
	}
	return &s, nil
}

// Expiry is the latest time s can be valid: its absolute lifetime's end.
func (m *Manager) Expiry(s *Session) time.Time { return s.Created.Add(m.maxAge) }

// MaxAge is the longest a session lives.
func (m *Manager) MaxAge() time.Duration { return m.maxAge }

// Touch records activity. It rewrites the cookie at most once a minute so
// that most responses carry no Set-Cookie.
func (m *Manager) Touch(w http.ResponseWriter, s *Session) error {
	now := m.now()
	if now.Sub(s.LastSeen) < time.Minute {
		return nil
	}
	s.LastSeen = now
	return m.Save(w, s)
}

// Save writes the session cookie.
func (m *Manager) Save(w http.ResponseWriter, s *Session) error {
	v, err := securecookie.EncodeMulti(m.sessionName, s, m.codecs...)
	if err != nil {
		return fmt.Errorf("session: encode: %w", err)
	}
	http.SetCookie(w, m.cookie(m.sessionName, v, m.maxAge))
	return nil
}

// Clear removes the session cookie.
func (m *Manager) Clear(w http.ResponseWriter) {
	http.SetCookie(w, m.cookie(m.sessionName, "", -1))
}

// SaveLogin writes the sign-in attempt's cookie.
func (m *Manager) SaveLogin(w http.ResponseWriter, l Login) error {
	l.Expires = m.now().Add(LoginTTL)
	v, err := securecookie.EncodeMulti(m.loginName, l, m.codecs...)
	if err != nil {
		return fmt.Errorf("session: encode login: %w", err)
	}
	http.SetCookie(w, m.cookie(m.loginName, v, LoginTTL))
	return nil
}

// TakeLogin reads and removes the sign-in attempt's cookie, so that a
// callback can be used once.
func (m *Manager) TakeLogin(w http.ResponseWriter, r *http.Request) (Login, error) {
	c, err := r.Cookie(m.loginName)
	if err != nil {
		return Login{}, errors.New("no sign-in is in progress in this browser")
	}
	http.SetCookie(w, m.cookie(m.loginName, "", -1))
	var l Login
	if err := securecookie.DecodeMulti(m.loginName, c.Value, &l, m.codecs...); err != nil {
		return Login{}, errors.New("the sign-in state is not valid")
	}
	if m.now().After(l.Expires) {
		return Login{}, errors.New("the sign-in took too long")
	}
	return l, nil
}

// draft is a form's fields kept across a fresh sign-in, with the person
// who typed them.
type draft struct {
	Path    string              `json:"path"`
	Owner   Owner               `json:"owner"`
	Values  map[string][]string `json:"values"`
	Expires time.Time           `json:"exp"`
}

// Owner is the operator a draft belongs to.
type Owner struct {
	Subject string `json:"sub"`
	Name    string `json:"name"`
}

// SaveDraft keeps a form's fields, typed by owner, in an encrypted cookie
// while the operator signs in again, so they come back without passing
// through a URL (and the browser's history). It is for path alone.
func (m *Manager) SaveDraft(w http.ResponseWriter, path string, owner Owner, values map[string][]string) error {
	d := draft{Path: path, Owner: owner, Values: values, Expires: m.now().Add(LoginTTL)}
	v, err := securecookie.EncodeMulti(m.draftName, d, m.codecs...)
	if err != nil {
		return fmt.Errorf("session: encode draft: %w", err)
	}
	http.SetCookie(w, m.cookie(m.draftName, v, LoginTTL))
	return nil
}

// TakeDraft returns and removes the draft kept for path, if subject typed
// it. A draft of someone else (the fresh sign-in returned another person)
// is removed too, unread, and its owner returned so that
// the caller can record it.
func (m *Manager) TakeDraft(w http.ResponseWriter, r *http.Request, path, subject string) (values map[string][]string, other *Owner) {
	c, err := r.Cookie(m.draftName)
	if err != nil {
		return nil, nil
	}
	var d draft
	if securecookie.DecodeMulti(m.draftName, c.Value, &d, m.codecs...) != nil || d.Path != path || m.now().After(d.Expires) {
		return nil, nil
	}
	http.SetCookie(w, m.cookie(m.draftName, "", -1))
	if d.Owner.Subject != subject {
		return nil, &d.Owner
	}
	return d.Values, nil
}

// key is a secret kept in the browser for one path, such as the key
// that opens a bulk run's passcodes.
type key struct {
	Path    string    `json:"path"`
	Subject string    `json:"sub"`
	Key     []byte    `json:"key"`
	Expires time.Time `json:"exp"`
}

// keyName is the cookie that holds path's key. Paths differ by run, and a
// cookie scoped to one is not sent to another.
func (m *Manager) keyName() string {
	if m.secure {
		// __Host- would pin the cookie to path /.
		return "__Secure-tap_key"
	}
	return "tap_key"
}

// SaveKey keeps secret for subject in an encrypted cookie that only
// requests under path carry, for ttl. The server keeps no copy.
func (m *Manager) SaveKey(w http.ResponseWriter, path, subject string, secret []byte, ttl time.Duration) error {
	v, err := securecookie.EncodeMulti(m.keyName(), key{Path: path, Subject: subject, Key: secret, Expires: m.now().Add(ttl)}, m.codecs...)
	if err != nil {
		return fmt.Errorf("session: encode key: %w", err)
	}
	c := m.cookie(m.keyName(), v, ttl)
	c.Path, c.SameSite = path, http.SameSiteStrictMode
	http.SetCookie(w, c)
	return nil
}

// Key returns the secret SaveKey kept for path and subject, or nil.
func (m *Manager) Key(r *http.Request, path, subject string) []byte {
	for _, c := range r.CookiesNamed(m.keyName()) {
		var k key
		if securecookie.DecodeMulti(m.keyName(), c.Value, &k, m.codecs...) == nil && k.Path == path && k.Subject == subject && m.now().Before(k.Expires) {
			return k.Key
		}
	}
	return nil
}

// ClearKey removes path's key from the browser.
func (m *Manager) ClearKey(w http.ResponseWriter, path string) {
	c := m.cookie(m.keyName(), "", -1)
	c.Path, c.SameSite = path, http.SameSiteStrictMode
	http.SetCookie(w, c)
}

func (m *Manager) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   m.secure,
		// Lax lets the provider's redirect back carry the login cookie;
		// every state change is a POST with a CSRF token besides.
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// RandomToken returns 32 random bytes, base64url-encoded.
func RandomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
