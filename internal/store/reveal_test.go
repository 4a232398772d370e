package store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
	"github.com/tapportal/portal/internal/store"
)

// newRevealLink seals passcode under a new link made at created that
// lasts lifetime, and returns the link, its sealed passcode with its key
// check, and its key.
func newRevealLink(t *testing.T, passcode string, created time.Time, lifetime time.Duration) (portal.RevealLink, portal.SealedPasscode, string) {
	t.Helper()
	id := reveal.NewLinkID()
	ciphertext, nonce, key, err := reveal.Seal([]byte(passcode), id)
	if err != nil {
		t.Fatal(err)
	}
	check, err := reveal.Check(key, id)
	if err != nil {
		t.Fatal(err)
	}
	l := portal.RevealLink{ID: id, TargetID: "user-1", OperatorID: "op-1", Created: created, Expires: created.Add(lifetime)}
	return l, portal.SealedPasscode{Ciphertext: ciphertext, Nonce: nonce, Check: check}, key
}

// unchecked is sealed as TakeRevealLink returns it: without the check.
func unchecked(sealed portal.SealedPasscode) portal.SealedPasscode {
	sealed.Check = ""
	return sealed
}

func createRevealLink(t *testing.T, s *store.Store, l portal.RevealLink, sealed portal.SealedPasscode) {
	t.Helper()
	if err := s.CreateRevealLink(t.Context(), l, sealed); err != nil {
		t.Fatalf("CreateRevealLink(%s) = %v", l.ID, err)
	}
}

// TestRevealLinks makes a link, reads its status, reveals it once, and is
// told why not on every later try: revealed (and when), expired, unknown.
func TestRevealLinks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		const passcode = "Xy7#kQ2!mN4@pL9$"
		l, sealed, key := newRevealLink(t, passcode, t0, time.Hour)
		createRevealLink(t, s, l, sealed)

		if err := s.CreateRevealLink(ctx, l, sealed); code(err) != portal.EConflict {
			t.Errorf("CreateRevealLink(the same id again) = %v, want %s", err, portal.EConflict)
		}
		invalid := []struct {
			name   string
			link   func(portal.RevealLink) portal.RevealLink
			sealed portal.SealedPasscode
		}{
			{"no id", func(l portal.RevealLink) portal.RevealLink { l.ID = ""; return l }, sealed},
			{"no user", func(l portal.RevealLink) portal.RevealLink { l.TargetID = ""; return l }, sealed},
			{"no operator", func(l portal.RevealLink) portal.RevealLink { l.OperatorID = ""; return l }, sealed},
			{"no ciphertext", func(l portal.RevealLink) portal.RevealLink { return l }, portal.SealedPasscode{Nonce: sealed.Nonce, Check: sealed.Check}},
			{"no nonce", func(l portal.RevealLink) portal.RevealLink { return l }, portal.SealedPasscode{Ciphertext: sealed.Ciphertext, Check: sealed.Check}},
			{"no key check", func(l portal.RevealLink) portal.RevealLink { return l }, unchecked(sealed)},
			{"expires when made", func(l portal.RevealLink) portal.RevealLink { l.Expires = l.Created; return l }, sealed},
			{"revealed already", func(l portal.RevealLink) portal.RevealLink { l.Revealed = l.Created; return l }, sealed},
		}
		for _, tt := range invalid {
			base := l
			base.ID += "-" + strings.ReplaceAll(tt.name, " ", "-")
			l := tt.link(base)
			if err := s.CreateRevealLink(ctx, l, tt.sealed); code(err) != portal.EInvalid {
				t.Errorf("CreateRevealLink(%s) = %v, want %s", tt.name, err, portal.EInvalid)
			}
		}

		got, err := s.RevealLinkStatus(ctx, l.ID)
		if err != nil || got != l || got.State(t0.Add(time.Minute)) != portal.RevealReady {
			t.Fatalf("RevealLinkStatus(new link) = %+v, %v, want %+v, ready", got, err, l)
		}
		if err := s.SetRevealLinkEvent(ctx, l.ID, 42); err != nil {
			t.Fatalf("SetRevealLinkEvent = %v", err)
		}
		if err := s.SetRevealLinkEvent(ctx, "unknown", 42); code(err) != portal.ENotFound {
			t.Errorf("SetRevealLinkEvent(unknown) = %v, want %s", err, portal.ENotFound)
		}
		l.EventID = 42

		at := t0.Add(10*time.Minute + 1234*time.Nanosecond)
		taken, gotSealed, err := s.TakeRevealLink(ctx, l.ID, sealed.Check, at)
		if err != nil {
			t.Fatalf("TakeRevealLink = %v", err)
		}
		if gotSealed.Check != "" {
			t.Errorf("TakeRevealLink gave out the key check %q, want none", gotSealed.Check)
		}
		want := l
		want.Revealed = at.Truncate(time.Microsecond)
		if taken != want {
			t.Errorf("TakeRevealLink = %+v, want %+v", taken, want)
		}
		if plain, err := reveal.Open(gotSealed.Ciphertext, gotSealed.Nonce, key, l.ID); err != nil || string(plain) != passcode {
			t.Errorf("the taken passcode opens to %q, %v, want %q", plain, err, passcode)
		}
		if got, err := s.RevealLinkStatus(ctx, l.ID); err != nil || got != want || got.State(at) != portal.RevealRevealed {
			t.Errorf("RevealLinkStatus(revealed) = %+v, %v, want %+v, revealed", got, err, want)
		}

		again := at.Add(time.Minute)
		_, gotSealed, err = s.TakeRevealLink(ctx, l.ID, sealed.Check, again)
		gone, ok := errors.AsType[*portal.RevealGone](err)
		if !ok || gone.State != portal.RevealRevealed || !gone.Link.Revealed.Equal(want.Revealed) || !gotSealed.IsZero() {
			t.Errorf("TakeRevealLink(revealed) = %+v, %v, want gone: revealed at %s", gotSealed, err, want.Revealed)
		}

		if _, _, err := s.TakeRevealLink(ctx, reveal.NewLinkID(), sealed.Check, at); code(err) != portal.ENotFound {
			t.Errorf("TakeRevealLink(unknown) = %v, want %s", err, portal.ENotFound)
		}
		if _, err := s.RevealLinkStatus(ctx, reveal.NewLinkID()); code(err) != portal.ENotFound {
			t.Errorf("RevealLinkStatus(unknown) = %v, want %s", err, portal.ENotFound)
		}

		// An expired link is refused at its expiry, not only after, and
		// forgets its ciphertext on the way.
		old, oldSealed, _ := newRevealLink(t, passcode, t0, time.Hour)
		createRevealLink(t, s, old, oldSealed)
		_, gotSealed, err = s.TakeRevealLink(ctx, old.ID, oldSealed.Check, old.Expires)
		gone, ok = errors.AsType[*portal.RevealGone](err)
		if !ok || gone.State != portal.RevealExpired || !gone.Link.Expires.Equal(old.Expires) || !gotSealed.IsZero() {
			t.Errorf("TakeRevealLink(at its expiry) = %+v, %v, want gone: expired at %s", gotSealed, err, old.Expires)
		}
		if row := revealRow(t, s, old.ID); row.Ciphertext != nil || row.Nonce != nil || row.Revealed != nil {
			t.Errorf("the expired link after a try = %+v, want no ciphertext, no nonce, not revealed", row)
		}
		if got, err := s.RevealLinkStatus(ctx, old.ID); err != nil || got.State(old.Expires) != portal.RevealExpired || !got.Revealed.IsZero() {
			t.Errorf("RevealLinkStatus(expired) = %+v, %v, want expired and never revealed", got, err)
		}
	})
}

// TestRevealLinkTakenOnce has several takers with the link's key check
// reveal each link at once, among takers with a wrong one: exactly one
// gets the passcode, every other with the check is told it was revealed,
// and those without it are refused, or told it was revealed if they come
// after.
func TestRevealLinkTakenOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		const takers, guessers = 8, 4
		for round := range 5 {
			l, sealed, _ := newRevealLink(t, fmt.Sprintf("passcode-%d", round), t0, time.Hour)
			createRevealLink(t, s, l, sealed)
			_, otherSealed, _ := newRevealLink(t, "another", t0, time.Hour)
			var wg sync.WaitGroup
			var mu sync.Mutex
			got, gone := 0, 0
			start := make(chan struct{})
			take := func(check string) {
				<-start
				_, sealed, err := s.TakeRevealLink(t.Context(), l.ID, check, t0.Add(time.Minute))
				mu.Lock()
				defer mu.Unlock()
				g, isGone := errors.AsType[*portal.RevealGone](err)
				revealed := isGone && g.State == portal.RevealRevealed
				switch {
				case check != otherSealed.Check && err == nil && !sealed.IsZero():
					got++
				case check != otherSealed.Check && revealed:
					gone++
				case check == otherSealed.Check && (errors.Is(err, portal.ErrRevealDamaged) || revealed) && sealed.IsZero():
				default:
					t.Errorf("TakeRevealLink(the check is the link's: %v) = %+v, %v", check != otherSealed.Check, sealed, err)
				}
			}
			for range takers {
				wg.Go(func() { take(sealed.Check) })
			}
			for range guessers {
				wg.Go(func() { take(otherSealed.Check) })
			}
			close(start)
			wg.Wait()
			if got != 1 || gone != takers-1 {
				t.Fatalf("round %d: %d takers got the passcode and %d were told it was revealed, want 1 and %d", round, got, gone, takers-1)
			}
		}
	})
}

// TestRevealLinkKeyCheck takes a link only with its key check: a wrong
// check and a missing one take nothing and leave the link ready, its
// ciphertext kept; the right one takes it, once. A link that is gone is
// said to be gone whatever the check, as its page says to anyone.
func TestRevealLinkKeyCheck(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		const passcode = "Kc1!Kc1!Kc1!"
		l, sealed, key := newRevealLink(t, passcode, t0, time.Hour)
		createRevealLink(t, s, l, sealed)
		if row := revealRow(t, s, l.ID); row.KeyCheck != sealed.Check {
			t.Fatalf("the stored key check = %q, want %q", row.KeyCheck, sealed.Check)
		}
		_, otherSealed, _ := newRevealLink(t, passcode, t0, time.Hour)
		// A key with one character changed on the way: its form is right,
		// so only its check can tell.
		changed := "B" + key[1:]
		if key[0] == 'B' {
			changed = "C" + key[1:]
		}
		changedCheck, err := reveal.Check(changed, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Minute)
		wrong := []struct{ name, check string }{
			{"a key with a character changed", changedCheck},
			{"another link's check", otherSealed.Check},
			{"no check", ""},
			{"the check cut short", sealed.Check[:len(sealed.Check)-1]},
			{"the check with a character added", sealed.Check + "A"},
		}
		for _, tt := range wrong {
			taken, got, err := s.TakeRevealLink(ctx, l.ID, tt.check, at)
			if !errors.Is(err, portal.ErrRevealDamaged) || !got.IsZero() || taken != (portal.RevealLink{}) {
				t.Errorf("TakeRevealLink(%s) = %+v, %d bytes, %v, want %v and nothing", tt.name, taken, len(got.Ciphertext), err, portal.ErrRevealDamaged)
			}
			if row := revealRow(t, s, l.ID); !bytes.Equal(row.Ciphertext, sealed.Ciphertext) || !bytes.Equal(row.Nonce, sealed.Nonce) || row.Revealed != nil {
				t.Errorf("after TakeRevealLink(%s) the link = %+v, want it as made, its ciphertext kept", tt.name, row)
			}
			if got, err := s.RevealLinkStatus(ctx, l.ID); err != nil || got != l || got.State(at) != portal.RevealReady {
				t.Errorf("after TakeRevealLink(%s) RevealLinkStatus = %+v, %v, want %+v, ready", tt.name, got, err, l)
			}
		}

		_, got, err := s.TakeRevealLink(ctx, l.ID, sealed.Check, at)
		if plain, oerr := reveal.Open(got.Ciphertext, got.Nonce, key, l.ID); err != nil || oerr != nil || string(plain) != passcode {
			t.Fatalf("TakeRevealLink(the link's check) opens to %q, %v, %v, want %q", plain, err, oerr, passcode)
		}
		// Gone, whatever the check: the page tells anyone as much, and
		// the holder of a damaged copy must hear that someone revealed
		// it, not that it is safe.
		for _, tt := range append(wrong, struct{ name, check string }{"the link's check", sealed.Check}) {
			_, got, err := s.TakeRevealLink(ctx, l.ID, tt.check, at.Add(time.Minute))
			if g, ok := errors.AsType[*portal.RevealGone](err); !ok || g.State != portal.RevealRevealed || !got.IsZero() {
				t.Errorf("TakeRevealLink(revealed, %s) = %v, want gone: revealed", tt.name, err)
			}
		}
		old, oldSealed, _ := newRevealLink(t, passcode, t0, time.Hour)
		createRevealLink(t, s, old, oldSealed)
		for _, tt := range append(wrong, struct{ name, check string }{"the link's check", oldSealed.Check}) {
			_, got, err := s.TakeRevealLink(ctx, old.ID, tt.check, old.Expires)
			if g, ok := errors.AsType[*portal.RevealGone](err); !ok || g.State != portal.RevealExpired || !got.IsZero() {
				t.Errorf("TakeRevealLink(expired, %s) = %v, want gone: expired", tt.name, err)
			}
		}
	})
}

// TestRevealLinkRefusedOnTheReadPool answers an unknown id, a wrong key
// check and a link that is gone while the test holds SQLite's one writer:
// anyone may ask, and none of these may take the writer from the portal.
// A call that waits for the writer fails the test instead of answering.
func TestRevealLinkRefusedOnTheReadPool(t *testing.T) {
	s, ctx := open(t, backends[0]), t.Context()
	ready, readySealed, _ := newRevealLink(t, "still-ready", t0, 3*time.Hour)
	createRevealLink(t, s, ready, readySealed)
	revealed, revealedSealed, _ := newRevealLink(t, "revealed", t0, time.Hour)
	createRevealLink(t, s, revealed, revealedSealed)
	if _, _, err := s.TakeRevealLink(ctx, revealed.ID, revealedSealed.Check, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	expired, expiredSealed, _ := newRevealLink(t, "expired", t0, time.Hour)
	createRevealLink(t, s, expired, expiredSealed)
	if n, err := s.PurgeRevealLinks(ctx, expired.Expires); err != nil || n != 1 {
		t.Fatalf("PurgeRevealLinks = %d, %v, want 1", n, err)
	}

	db, _ := store.WriteDB(s)
	held, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	at := t0.Add(2 * time.Minute)
	for _, tc := range []struct {
		name, id, check string
		want            func(error) bool
	}{
		{"an unknown id", "no-such-link", readySealed.Check, func(err error) bool { return code(err) == portal.ENotFound }},
		{"a wrong key check", ready.ID, revealedSealed.Check, func(err error) bool { return errors.Is(err, portal.ErrRevealDamaged) }},
		{"no key check", ready.ID, "", func(err error) bool { return errors.Is(err, portal.ErrRevealDamaged) }},
		{"a revealed link", revealed.ID, revealedSealed.Check, func(err error) bool {
			g, ok := errors.AsType[*portal.RevealGone](err)
			return ok && g.State == portal.RevealRevealed
		}},
		{"an expired link", expired.ID, expiredSealed.Check, func(err error) bool {
			g, ok := errors.AsType[*portal.RevealGone](err)
			return ok && g.State == portal.RevealExpired
		}},
	} {
		waits := db.Stats().WaitCount
		done := make(chan error, 1)
		go func() {
			_, _, err := s.TakeRevealLink(ctx, tc.id, tc.check, at)
			done <- err
		}()
		for answered := false; !answered; {
			select {
			case err := <-done:
				if !tc.want(err) {
					t.Errorf("TakeRevealLink(%s) = %v, not the answer expected", tc.name, err)
				}
				answered = true
			default:
				if db.Stats().WaitCount > waits {
					t.Fatalf("TakeRevealLink(%s) waits for the writer, want an answer from the read pool", tc.name)
				}
				runtime.Gosched()
			}
		}
	}
	held.Rollback()
	if row := revealRow(t, s, ready.ID); !bytes.Equal(row.Ciphertext, readySealed.Ciphertext) || row.Revealed != nil {
		t.Errorf("the ready link after the refusals = %+v, want it as made", row)
	}
}

// TestPurgeRevealLinks forgets the ciphertext of expired links only, and
// keeps every link's facts.
func TestPurgeRevealLinks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		now := t0.Add(2 * time.Hour)
		expired, expiredSealed, _ := newRevealLink(t, "expired-one", t0, time.Hour)
		atNow, atNowSealed, _ := newRevealLink(t, "expires-now", t0, 2*time.Hour)
		live, liveSealed, liveKey := newRevealLink(t, "still-live", t0, 3*time.Hour)
		for _, c := range []struct {
			l portal.RevealLink
			s portal.SealedPasscode
		}{{expired, expiredSealed}, {atNow, atNowSealed}, {live, liveSealed}} {
			createRevealLink(t, s, c.l, c.s)
		}

		n, err := s.PurgeRevealLinks(ctx, now)
		if err != nil || n != 2 {
			t.Fatalf("PurgeRevealLinks(now) = %d, %v, want 2", n, err)
		}
		if n, err := s.PurgeRevealLinks(ctx, now); err != nil || n != 0 {
			t.Errorf("PurgeRevealLinks(now) again = %d, %v, want 0", n, err)
		}
		for _, l := range []portal.RevealLink{expired, atNow} {
			if row := revealRow(t, s, l.ID); row.Ciphertext != nil || row.Nonce != nil {
				t.Errorf("link expiring at %s after the purge = %+v, want no ciphertext and no nonce", l.Expires, row)
			}
			if got, err := s.RevealLinkStatus(ctx, l.ID); err != nil || got != l {
				t.Errorf("RevealLinkStatus(purged) = %+v, %v, want %+v", got, err, l)
			}
		}
		if row := revealRow(t, s, live.ID); !bytes.Equal(row.Ciphertext, liveSealed.Ciphertext) || !bytes.Equal(row.Nonce, liveSealed.Nonce) {
			t.Errorf("the live link after the purge = %+v, want its ciphertext kept", row)
		}
		_, sealed, err := s.TakeRevealLink(ctx, live.ID, liveSealed.Check, now)
		if plain, oerr := reveal.Open(sealed.Ciphertext, sealed.Nonce, liveKey, live.ID); err != nil || oerr != nil || string(plain) != "still-live" {
			t.Errorf("revealing the live link after the purge = %q, %v, %v", plain, err, oerr)
		}
	})
}

// TestRevealLinkHoldsNoSecret dumps every column of every link after it
// is made and after it is revealed: never the passcode, never the key in
// any encoding, and nothing of the ciphertext once revealed.
func TestRevealLinkHoldsNoSecret(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		const passcode = "Zq9!Zq9!Zq9!Zq9!"
		l, sealed, key := newRevealLink(t, passcode, t0, time.Hour)
		createRevealLink(t, s, l, sealed)
		wantNoSecret := func(when string) {
			t.Helper()
			dump := dumpRevealLinks(t, s)
			if what := secretIn(dump, passcode, key); what != "" {
				t.Errorf("%s the table holds the %s:\n%q", when, what, dump)
			}
		}
		wantNoSecret("after the link is made,")
		if _, _, err := s.TakeRevealLink(t.Context(), l.ID, sealed.Check, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		wantNoSecret("after the link is revealed,")
		if row := revealRow(t, s, l.ID); row.Ciphertext != nil || row.Nonce != nil || row.Revealed == nil {
			t.Errorf("the revealed link = %+v, want no ciphertext, no nonce, and its reveal time", row)
		}
		if dump := dumpRevealLinks(t, s); bytes.Contains(dump, sealed.Ciphertext) || bytes.Contains(dump, sealed.Nonce) {
			t.Errorf("after the link is revealed the table still holds its ciphertext or nonce")
		}
	})
}

// secretIn names the secret the dump holds, in any encoding a column
// could hold it in, or returns "".
func secretIn(dump []byte, passcode, key string) string {
	raw, _ := base64.RawURLEncoding.DecodeString(key)
	forms := func(b []byte) [][]byte {
		return [][]byte{b, []byte(hex.EncodeToString(b)), []byte(base64.StdEncoding.EncodeToString(b)),
			[]byte(base64.RawStdEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b))}
	}
	for _, f := range forms([]byte(passcode)) {
		if bytes.Contains(dump, f) {
			return "passcode"
		}
	}
	for _, f := range forms(raw) {
		if bytes.Contains(dump, f) {
			return "key"
		}
	}
	return ""
}

// dumpRevealLinks returns every value of every row of reveal_links, read
// behind the store's back.
func dumpRevealLinks(t *testing.T, s *store.Store) []byte {
	t.Helper()
	db, _ := store.WriteDB(s)
	rows, err := db.QueryContext(t.Context(), `SELECT * FROM reveal_links`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out bytes.Buffer
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				out.WriteString(cols[i] + "=")
				out.Write(x)
			default:
				fmt.Fprintf(&out, "%s=%v", cols[i], x)
			}
			out.WriteByte('\n')
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// revealStored is one link's row as stored, the nullable columns as nil
// when NULL.
type revealStored struct {
	Ciphertext, Nonce []byte
	KeyCheck          string
	Revealed          *int64
}

func revealRow(t *testing.T, s *store.Store, id string) revealStored {
	t.Helper()
	db, q := store.WriteDB(s)
	var r revealStored
	if err := db.QueryRowContext(t.Context(), q(`SELECT ciphertext, nonce, key_check, revealed_us FROM reveal_links WHERE id = ?`), id).
		Scan(&r.Ciphertext, &r.Nonce, &r.KeyCheck, &r.Revealed); err != nil {
		t.Fatalf("reading the link %s: %v", id, err)
	}
	return r
}
