package graphemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Graph's fixed bounds on any pass's lifetime, whatever the policy says.
const (
	minTAPLifetime = 10
	maxTAPLifetime = 43200
)

// maxStartSkew is how far in the past a requested start may lie: a little
// slack for clocks, no back-dating.
const maxStartSkew = 5 * time.Minute

// Messages Graph sends when it refuses a pass.
const (
	msgPolicyRefused = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass]."
	msgGuestRefused  = "Temporary Access Pass cannot be added to an external guest user."
)

// The authentication-method APIs spell their codes in camel case.
const codeAuthBadRequest = "badRequest"

func (s *Server) listTAPs(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permAuthMethods, permsTAPRead...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id := r.PathValue("id")
	now := s.clock.Now()
	var userID string
	items := []map[string]any{}
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u == nil {
			return
		}
		userID = u.ID
		if v := t.readView(u); v.TAP != nil {
			items = append(items, renderTAP(t, v, now))
		}
	})
	if userID == "" {
		writeAPIError(w, r, notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, "users('"+userID+"')/authentication/temporaryAccessPassMethods"), items, 0, false, ""))
}

func (s *Server) getTAP(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permAuthMethods, permsTAPRead...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id, tapID := r.PathValue("id"), r.PathValue("tapId")
	now := s.clock.Now()
	var out map[string]any
	var aerr *apiError
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u != nil {
			u = t.readView(u)
		}
		switch {
		case u == nil:
			aerr = notFound(id)
		case u.TAP == nil || !strings.EqualFold(u.TAP.ID, tapID):
			aerr = notFound(tapID)
		default:
			out = renderTAP(t, u, now)
			out["@odata.context"] = s.contextURL(r, "users('"+u.ID+"')/authentication/temporaryAccessPassMethods/$entity")
		}
	})
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// tapRequest is a checked create body; nil fields were not sent.
type tapRequest struct {
	start      *time.Time
	lifetime   *int
	usableOnce *bool
}

// tapReadOnly are the pass's properties a client cannot set.
var tapReadOnly = []string{"id", "temporaryAccessPass", "createdDateTime", "isUsable", "methodUsabilityReason"}

// parseTAPRequest checks a create body. Graph binds the body to its type
// strictly: an unknown property is an error, not something to ignore.
func parseTAPRequest(body []byte) (tapRequest, *apiError) {
	var req tapRequest
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.Decode(new(json.RawMessage)) != io.EOF {
		return req, badRequest(codeAuthBadRequest, "The request body must be one JSON object describing a temporaryAccessPassAuthenticationMethod.")
	}
	for name, raw := range fields {
		isNull := string(raw) == "null"
		switch {
		case name == "@odata.type":
			// The SDK names the type it sends; the resource fixes it anyway.
		case name == "startDateTime":
			if isNull {
				continue
			}
			var v string
			t, err := time.Time{}, json.Unmarshal(raw, &v)
			if err == nil {
				t, err = time.Parse(time.RFC3339Nano, v)
			}
			if err != nil {
				return req, badRequest(codeAuthBadRequest, "Cannot convert the literal %s to the expected type 'Edm.DateTimeOffset'.", raw)
			}
			req.start = &t
		case name == "lifetimeInMinutes":
			if isNull {
				continue
			}
			var n int
			if err := json.Unmarshal(raw, &n); err != nil {
				// Not a whole number: Graph answers with the same words it
				// uses for a number out of range, so -1 marks it.
				n = -1
			}
			req.lifetime = &n
		case name == "isUsableOnce":
			if isNull {
				continue
			}
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return req, badRequest(codeAuthBadRequest, "Cannot convert the literal %s to the expected type 'Edm.Boolean'.", raw)
			}
			req.usableOnce = &b
		case slicesContainFold(tapReadOnly, name):
			return req, badRequest(codeAuthBadRequest, "The property '%s' is read-only and cannot be set when creating a Temporary Access Pass.", name)
		default:
			return req, badRequest(codeAuthBadRequest, "The property '%s' does not exist on type 'microsoft.graph.temporaryAccessPassAuthenticationMethod'. Make sure to only use property names that are defined by the type or mark the type as open type.", name)
		}
	}
	return req, nil
}

func slicesContainFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (s *Server) createTAP(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permAuthMethods, permsTAPWrite...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAPIError(w, r, badRequest(codeAuthBadRequest, "The request body could not be read."))
		return
	}
	req, aerr := parseTAPRequest(body)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	app := s.callerApp(r)
	id := r.PathValue("id")
	now := ticks(s.clock.Now())

	var out map[string]any
	var wait time.Duration
	s.Update(func(t *Tenant) {
		if wait = t.throttleWrite(appKey(app), time.Now()); wait > 0 {
			return
		}
		u := t.LookupUser(id)
		if u == nil {
			aerr = notFound(id)
			return
		}
		var tap *TAP
		if tap, aerr = t.newTAP(u, req, now); aerr != nil {
			return
		}
		code, err := passcode(t.Policy.DefaultLength)
		if err != nil {
			aerr = &apiError{status: http.StatusInternalServerError, code: "generalException", msg: "Could not generate a passcode."}
			return
		}
		// A new pass replaces the one the user holds, as Graph now does.
		t.beforeWrite(u)
		u.TAP = tap
		t.auditTAP(app, u, now, "Admin registered security info", "Add",
			"Admin registered temporary access pass method for user")
		out = renderTAP(t, u, now)
		out["temporaryAccessPass"] = code
		out["@odata.context"] = s.contextURL(r, "users('"+u.ID+"')/authentication/temporaryAccessPassMethods/$entity")
	})
	if wait > 0 {
		writeThrottled(w, r, wait)
		return
	}
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// newTAP applies Graph's rules to a create request for u.
func (t *Tenant) newTAP(u *User, req tapRequest, now time.Time) (*TAP, *apiError) {
	p := t.Policy
	if p.State != "enabled" || !t.TAPTargets(u) {
		return nil, badRequest(codeAuthBadRequest, msgPolicyRefused)
	}
	if strings.EqualFold(u.UserType, "Guest") {
		return nil, badRequest(codeAuthBadRequest, msgGuestRefused)
	}
	lo, hi := max(p.MinimumLifetimeInMinutes, minTAPLifetime), min(p.MaximumLifetimeInMinutes, maxTAPLifetime)
	lifetime := p.DefaultLifetimeInMinutes
	if req.lifetime != nil {
		lifetime = *req.lifetime
	}
	if lifetime < lo || lifetime > hi {
		return nil, badRequest(codeAuthBadRequest, "Invalid LifetimeInMinutes specified. The valid range between %d and %d.", lo, hi)
	}
	once := p.IsUsableOnce
	if req.usableOnce != nil {
		if p.IsUsableOnce && !*req.usableOnce {
			// Graph's documentation does not say whether it refuses or
			// overrides this; refusing keeps a client from believing it
			// issued a reusable pass.
			return nil, badRequest(codeAuthBadRequest,
				"Invalid IsUsableOnce specified. The authentication method policy requires every Temporary Access Pass to be usable once.")
		}
		once = *req.usableOnce
	}
	start := now
	if req.start != nil {
		if req.start.Before(now.Add(-maxStartSkew)) {
			return nil, badRequest(codeAuthBadRequest,
				"Invalid StartDateTime specified. The start time cannot be more than 5 minutes in the past.")
		}
		start = ticks(*req.start)
	}
	return &TAP{ID: newGUID(), Created: now, Start: start, LifetimeMinutes: lifetime, UsableOnce: once}, nil
}

func (s *Server) deleteTAP(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permAuthMethods, permsTAPWrite...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	app := s.callerApp(r)
	id, tapID := r.PathValue("id"), r.PathValue("tapId")
	now := ticks(s.clock.Now())
	var aerr *apiError
	var wait time.Duration
	s.Update(func(t *Tenant) {
		if wait = t.throttleWrite(appKey(app), time.Now()); wait > 0 {
			return
		}
		u := t.LookupUser(id)
		switch {
		case u == nil:
			aerr = notFound(id)
		case u.TAP == nil || !strings.EqualFold(u.TAP.ID, tapID):
			aerr = notFound(tapID)
		default:
			t.beforeWrite(u)
			u.TAP = nil
			t.auditTAP(app, u, now, "Admin deleted security info", "Delete",
				"Admin deleted temporary access pass method for user")
		}
	})
	if wait > 0 {
		writeThrottled(w, r, wait)
		return
	}
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Passcode alphabet. Entra draws passes from a broad character set and
// leaves nothing out: no rule keeps look-alike characters (0 and O, 1, l
// and I) apart, and symbols appear. The emulator draws from every printable
// ASCII letter, digit and symbol, the widest reading of that, so that the
// demo shows the hardest pass a helpdesk has to read aloud and every page
// that shows one must escape markup characters.
const (
	passUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	passLower   = "abcdefghijklmnopqrstuvwxyz"
	passDigits  = "0123456789"
	passSymbols = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// passcode returns a random pass of n characters holding at least one
// character of each class.
func passcode(n int) (string, error) {
	if n < 4 {
		return "", errors.New("graph emulator: passcode length below 4")
	}
	classes := []string{passUpper, passLower, passDigits, passSymbols}
	all := strings.Join(classes, "")
	for {
		b := make([]byte, n)
		for i := range b {
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(all))))
			if err != nil {
				return "", err
			}
			b[i] = all[k.Int64()]
		}
		code := string(b)
		ok := true
		for _, c := range classes {
			ok = ok && strings.ContainsAny(code, c)
		}
		if ok {
			return code, nil
		}
	}
}

// MarkTAPUsed signs the user in with their one-time Temporary Access
// Pass, which uses it up. It fails, as the sign-in would, when the user
// has no pass or the pass is not usable now, and also when the pass is
// not a one-time pass, since signing in does not change a reusable one.
func (s *Server) MarkTAPUsed(userID string) error { return s.signInWithTAP(userID, true) }

// SignInWithTAP signs the user in with their pass, one-time or reusable:
// a reusable pass stays usable, and only the user's sign-in activity
// shows that someone signed in.
func (s *Server) SignInWithTAP(userID string) error { return s.signInWithTAP(userID, false) }

func (s *Server) signInWithTAP(userID string, oneTimeOnly bool) error {
	now := s.clock.Now()
	var err error
	s.Update(func(t *Tenant) {
		u := t.LookupUser(userID)
		switch {
		case u == nil:
			err = fmt.Errorf("graph emulator: no user %q", userID)
			return
		case u.TAP == nil:
			err = fmt.Errorf("graph emulator: user %s has no Temporary Access Pass", u.UserPrincipalName)
			return
		case oneTimeOnly && !u.TAP.UsableOnce:
			err = fmt.Errorf("graph emulator: the Temporary Access Pass of %s is reusable, so signing in does not use it up", u.UserPrincipalName)
			return
		}
		if usable, reason := t.TAPUsability(u, now); !usable {
			err = fmt.Errorf("graph emulator: the Temporary Access Pass of %s cannot be used to sign in: %s", u.UserPrincipalName, reason)
			return
		}
		u.TAP.Used = u.TAP.UsableOnce
		u.LastSignIn = now
	})
	return err
}
