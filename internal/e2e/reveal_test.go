package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tapportal/portal/internal/handlers"
	// The package's own portal type is the portal under test.
	domain "github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
	"github.com/tapportal/portal/web/static"
)

// revealPortal is the portal's web layer with one-time reveal links on,
// served on a loopback port over SQLite in a temporary directory. The
// links' pages need no sign-in and no directory, so it runs without the
// demo tenant; the whole portal does not make links yet.
type revealPortal struct {
	url    string
	server *handlers.Server
	store  *store.Store
}

func startRevealPortal(t *testing.T) *revealPortal {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "portal.db"), store.Options{AuditKeys: testutil.AuditKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(session.Options{Keys: []string{"reveal journey session key, not a secret"}, IdleTimeout: time.Hour, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://" + ln.Addr().String())
	logs := &testutil.Buffer{}
	srv := handlers.New(handlers.Config{
		Assets: assets, Sessions: sessions, PublicURL: base,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Reveal: &handlers.Reveal{Links: st},
	})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		if t.Failed() {
			t.Logf("portal logs:\n%s", logs.String())
		}
	})
	return &revealPortal{url: base.String(), server: srv, store: st}
}

// newRevealJourney is newJourney for a reveal portal.
func newRevealJourney(t *testing.T, name string) (*journey, *revealPortal) {
	t.Helper()
	chromium := findChromium(t)
	dir := os.Getenv("PORTAL_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shots := filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	rp := startRevealPortal(t)
	tally.journeys.Add(1)
	return &journey{t: t, name: name, portal: &portal{url: rp.url}, chromium: chromium, shots: shots}, rp
}

// link makes a reveal link for passcode and returns its address, key in
// the fragment, and its id.
func (rp *revealPortal) link(t *testing.T, passcode string) (addr, id string) {
	t.Helper()
	now := time.Now()
	l, a, err := reveal.Make(t.Context(), rp.store, rp.url, domain.NewSecret(passcode),
		domain.RevealLink{TargetID: "user-1", OperatorID: "op-1", Created: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("reveal.Make = %v", err)
	}
	return a.Reveal(), l.ID
}

// state is where the store says the link stands.
func (rp *revealPortal) state(t *testing.T, id string) domain.RevealState {
	t.Helper()
	l, err := rp.store.RevealLinkStatus(t.Context(), id)
	if err != nil {
		t.Fatalf("RevealLinkStatus = %v", err)
	}
	return l.State(time.Now())
}

// Journey: the user a pass was sent to opens the link, presses the
// button and reads the passcode, which the browser decrypted with the key
// in the fragment; the fragment is gone from the address bar, and a
// reload says the passcode was already revealed.
func TestJourneyRevealLink(t *testing.T) {
	t.Parallel()
	j, rp := newRevealJourney(t, "reveal")
	const passcode = "Ab3$xY7!kQ2#mN4@"
	addr, id := rp.link(t, passcode)
	path := "/reveal/" + id

	b := j.newBrowser()
	resp := b.navigation("open the link", chromedp.Navigate(addr))
	if resp.Status != http.StatusOK {
		t.Fatalf("the link answered %d", resp.Status)
	}
	if cc := header(resp, "Cache-Control"); cc != "no-store" {
		t.Errorf("the link's page has Cache-Control %q, want no-store", cc)
	}
	b.wantHeading("Your Temporary Access Pass")
	b.waitVisible("#reveal-button")
	b.wantNoPasscode(passcode)
	// The page has the key: it leaves the address bar and the history
	// before anyone presses anything.
	if href := evaluate[string](b, `location.href`); strings.Contains(href, "#") {
		t.Errorf("before the reveal the address is %q, want it without the key", href)
	}
	if st := rp.state(t, id); st != domain.RevealReady {
		t.Fatalf("opening the page left the link %s, want ready", st)
	}
	b.keyPage("link")

	b.clickInPlace("#reveal-button")
	b.waitVisible("#passcode .pc-group")
	if got := b.text("#passcode"); got != passcode {
		t.Errorf("the page shows the passcode %q, want %q", got, passcode)
	}
	if n := evaluate[int](b, `document.querySelectorAll("#passcode .pc-group").length`); n != 4 {
		t.Errorf("the passcode is shown in %d groups, want 4 of four", n)
	}
	kinds := evaluate[string](b, `Array.from(document.querySelectorAll("#passcode .pc")).map(function (e) { return e.className.replace("pc pc-", "").charAt(0); }).join("")`)
	if want := "uldsludsludsluds"; kinds != want {
		t.Errorf("the characters are marked %q, want %q (upper, lower, digit, symbol)", kinds, want)
	}
	if href := evaluate[string](b, `location.href`); strings.Contains(href, "#") || href != rp.url+path {
		t.Errorf("after the reveal the address is %q, want %s without the key", href, rp.url+path)
	}
	if st := rp.state(t, id); st != domain.RevealRevealed {
		t.Errorf("after the reveal the link is %s, want revealed", st)
	}
	b.keyPage("revealed")

	b.clickInPlace("#reveal-shown button.copy-btn")
	b.waitUntil(`the copy button to say “Copied”`, `document.querySelector("#reveal-shown button.copy-btn").innerText.trim() === "Copied"`)
	if got := evaluate[string](b, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); got != passcode {
		t.Errorf("the clipboard holds %q, want the passcode", got)
	}

	resp = b.navigation("reload", chromedp.Reload())
	if resp.Status != http.StatusGone {
		t.Errorf("the reloaded link answered %d, want %d", resp.Status, http.StatusGone)
	}
	b.wantHeading("Passcode already revealed")
	b.wantText("already revealed")
	b.wantNoPasscode(passcode)
	if b.exists("#reveal-button") {
		t.Errorf("the revealed link still offers its button")
	}
	b.keyPage("already-revealed")
}

// Journey, on a phone: links damaged on the way (cut short, a character
// added by a mail client, the fragment lost) say they are incomplete and
// ask nothing of the server, so the link still works when opened whole. A
// key with one character changed looks whole to the page; the server
// refuses its key check and takes nothing, the page says the link is
// damaged, and the whole link still works.
func TestJourneyRevealDamagedLink(t *testing.T) {
	t.Parallel()
	j, rp := newRevealJourney(t, "reveal-damaged")
	const passcode = "Qr5%St6^Uv7&"
	addr, id := rp.link(t, passcode)
	base, key, _ := strings.Cut(addr, "#")

	b := j.newBrowser()
	b.emulatePhone()
	for i, damaged := range []struct{ name, addr string }{
		{"cut short", base + "#" + key[:len(key)-3]},
		{"a character added", base + "#" + key + ")"},
		{"no key", base},
		{"an empty fragment", base + "#"},
		{"the key in standard base64", base + "#" + strings.NewReplacer("-", "+", "_", "/").Replace(key[:len(key)-1]) + "+"},
	} {
		// A new document each time: a change of fragment alone would not
		// load the page again.
		b.do("leave the page", chromedp.Navigate("about:blank"))
		if resp := b.navigation("open the link "+damaged.name, chromedp.Navigate(damaged.addr)); resp.Status != http.StatusOK {
			t.Fatalf("the link %s answered %d", damaged.name, resp.Status)
		}
		b.waitVisible("#reveal-message")
		if got := b.text("#reveal-message"); got != "This link is incomplete: ask for it again." {
			t.Errorf("the link %s says %q, want it incomplete", damaged.name, got)
		}
		if evaluate[bool](b, `document.querySelector("#reveal-button").offsetParent !== null`) {
			t.Errorf("the link %s offers the button", damaged.name)
		}
		if st := rp.state(t, id); st != domain.RevealReady {
			t.Fatalf("after opening the link %s it is %s, want ready", damaged.name, st)
		}
		if href := evaluate[string](b, `location.href`); strings.Contains(href, "#") {
			t.Errorf("the link %s stays in the address bar as %q, want it without the fragment", damaged.name, href)
		}
		if i == 0 {
			b.phonePage("incomplete")
		}
	}

	// The right length and alphabet, one character changed: only the
	// key check can tell.
	changed := "B" + key[1:]
	if key[0] == 'B' {
		changed = "C" + key[1:]
	}
	b.do("leave the page", chromedp.Navigate("about:blank"))
	if resp := b.navigation("open the link with a character changed", chromedp.Navigate(base+"#"+changed)); resp.Status != http.StatusOK {
		t.Fatalf("the link with a character changed answered %d", resp.Status)
	}
	b.clickInPlace("#reveal-button")
	b.waitVisible("#reveal-message")
	if got, want := b.text("#reveal-message"), "This link is damaged: a character was changed on the way. Ask for the link again, copied whole; the passcode is still safe."; got != want {
		t.Errorf("the link with a character changed says %q, want %q", got, want)
	}
	if b.exists("#passcode .pc") || evaluate[bool](b, `document.querySelector("#reveal-button").offsetParent !== null`) {
		t.Errorf("the link with a character changed shows a passcode or still offers the button")
	}
	if st := rp.state(t, id); st != domain.RevealReady {
		t.Fatalf("after revealing the link with a character changed it is %s, want ready", st)
	}
	if href := evaluate[string](b, `location.href`); strings.Contains(href, "#") {
		t.Errorf("the link with a character changed stays in the address bar as %q, want it without the key", href)
	}
	b.phonePage("damaged")

	b.do("leave the page", chromedp.Navigate("about:blank"))
	if resp := b.navigation("open the whole link", chromedp.Navigate(addr)); resp.Status != http.StatusOK {
		t.Fatalf("the whole link answered %d", resp.Status)
	}
	b.clickInPlace("#reveal-button")
	b.waitVisible("#passcode .pc-group")
	if got := b.text("#passcode"); got != passcode {
		t.Errorf("the whole link shows %q, want %q", got, passcode)
	}
	b.phonePage("revealed")
}

// Journey: a link made by hand with the key check's test vector (see
// internal/reveal's tests), its check written out rather than computed,
// reveals in the browser only if the page's script computes the check
// exactly as the format says.
func TestJourneyRevealCheckVector(t *testing.T) {
	t.Parallel()
	j, rp := newRevealJourney(t, "reveal-vector")
	const (
		passcode = "Vc8*Vc8*Vc8*"
		key      = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
		id       = "AAECAwQFBgcICQoLDA0ODw"
		check    = "hi5-GFYs9aRf-F9NMyeRkg"
	)
	raw, _ := base64.RawURLEncoding.DecodeString(key)
	block, err := aes.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	now := time.Now()
	if err := rp.store.CreateRevealLink(t.Context(),
		domain.RevealLink{ID: id, TargetID: "user-1", OperatorID: "op-1", Created: now, Expires: now.Add(time.Hour)},
		domain.SealedPasscode{Ciphertext: gcm.Seal(nil, nonce, []byte(passcode), []byte(id)), Nonce: nonce, Check: check}); err != nil {
		t.Fatalf("CreateRevealLink = %v", err)
	}

	b := j.newBrowser()
	if resp := b.navigation("open the link", chromedp.Navigate(rp.url+"/reveal/"+id+"#"+key)); resp.Status != http.StatusOK {
		t.Fatalf("the link answered %d", resp.Status)
	}
	b.clickInPlace("#reveal-button")
	b.waitUntil("the passcode or a message", `document.querySelector("#passcode .pc") !== null || !document.querySelector("#reveal-message").hidden`)
	if got := b.text("#passcode"); got != passcode {
		t.Fatalf("the link shows %q and says %q, want the passcode %q: the browser's key check is not the test vector's", got, b.text("#reveal-message"), passcode)
	}
	if st := rp.state(t, id); st != domain.RevealRevealed {
		t.Errorf("after the reveal the link is %s, want revealed", st)
	}
	b.checkClean("the reveal")
}
