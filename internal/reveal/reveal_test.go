package reveal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
)

// TestSealOpen seals a passcode and opens it with what a link carries, and
// with every part of it wrong.
func TestSealOpen(t *testing.T) {
	const passcode = "Xy7#kQ2!mN4@pL9$"
	id := reveal.NewLinkID()
	ciphertext, nonce, key, err := reveal.Seal([]byte(passcode), id)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	otherCiphertext, otherNonce, otherKey, err := reveal.Seal([]byte(passcode), id)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	if otherKey == key || bytes.Equal(otherNonce, nonce) || bytes.Equal(otherCiphertext, ciphertext) {
		t.Fatalf("two seals of one passcode share a key, nonce or ciphertext")
	}
	flipped := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name       string
		ciphertext []byte
		nonce      []byte
		key        string
		linkID     string
		want       string
		wantErr    error
	}{
		{"round trip", ciphertext, nonce, key, id, passcode, nil},
		{"another link's key", ciphertext, nonce, otherKey, id, "", reveal.ErrOpen},
		{"another link id", ciphertext, nonce, key, reveal.NewLinkID(), "", reveal.ErrOpen},
		{"the link id in another case", ciphertext, nonce, key, strings.ToUpper(id), "", reveal.ErrOpen},
		{"a changed ciphertext", flipped(ciphertext, 0), nonce, key, id, "", reveal.ErrOpen},
		{"a changed tag", flipped(ciphertext, len(ciphertext)-1), nonce, key, id, "", reveal.ErrOpen},
		{"a cut ciphertext", ciphertext[:len(ciphertext)-1], nonce, key, id, "", reveal.ErrOpen},
		{"a changed nonce", ciphertext, flipped(nonce, 0), key, id, "", reveal.ErrOpen},
		{"a short nonce", ciphertext, nonce[:8], key, id, "", reveal.ErrOpen},
		{"a key cut short", ciphertext, nonce, key[:42], id, "", reveal.ErrKey},
		{"a key with a character added", ciphertext, nonce, key + ".", id, "", reveal.ErrKey},
		{"a key in standard base64", ciphertext, nonce, strings.NewReplacer("-", "+", "_", "/").Replace(key) + "+", id, "", reveal.ErrKey},
		{"no key", ciphertext, nonce, "", id, "", reveal.ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reveal.Open(tt.ciphertext, tt.nonce, tt.key, tt.linkID)
			if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
				t.Errorf("Open = %q, %v, want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestFormat opens a sealed passcode with the standard library alone, as
// the package comment describes it and as the browser's script does: the
// key from base64url, AES-256-GCM, the link id as additional data.
func TestFormat(t *testing.T) {
	const passcode = "Ab3$Ab3$Ab3$"
	id := reveal.NewLinkID()
	ciphertext, nonce, key, err := reveal.Seal([]byte(passcode), id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 || len(key) != 43 {
		t.Fatalf("key %q decodes to %d bytes, %v; want 32 bytes in 43 characters", key, len(raw), err)
	}
	if len(nonce) != 12 || len(ciphertext) != len(passcode)+16 {
		t.Fatalf("nonce %d bytes, ciphertext %d bytes; want 12, and the passcode's %d plus a 16-byte tag", len(nonce), len(ciphertext), len(passcode))
	}
	block, _ := aes.NewCipher(raw)
	gcm, _ := cipher.NewGCM(block)
	got, err := gcm.Open(nil, nonce, ciphertext, []byte(id))
	if err != nil || string(got) != passcode {
		t.Errorf("AES-256-GCM open = %q, %v, want %q", got, err, passcode)
	}
}

// The key check's test vector: the key of bytes 0 to 31 and the link id
// of bytes 0 to 15. It pins the format that web/static/js/reveal.js
// computes with WebCrypto; internal/e2e has the browser take a link made
// with it.
const (
	vectorKey    = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	vectorLinkID = "AAECAwQFBgcICQoLDA0ODw"
	vectorCheck  = "hi5-GFYs9aRf-F9NMyeRkg"
)

// TestCheck computes key checks: the test vector, the same check for the
// same key and link, another for any other, and none for a malformed key.
func TestCheck(t *testing.T) {
	id := reveal.NewLinkID()
	_, _, key, _ := reveal.Seal([]byte("x"), id)
	_, _, otherKey, _ := reveal.Seal([]byte("x"), id)
	check, err := reveal.Check(key, id)
	if err != nil {
		t.Fatalf("Check = %v", err)
	}
	// One character of the key changed, as a mail client might: the form
	// stays right, so only the check can tell.
	changed := "B" + key[1:]
	if key[0] == 'B' {
		changed = "C" + key[1:]
	}
	tests := []struct {
		name      string
		key, id   string
		want      string
		wantErr   error
		wantOther bool
	}{
		{"the test vector", vectorKey, vectorLinkID, vectorCheck, nil, false},
		{"the same key and link", key, id, check, nil, false},
		{"another key", otherKey, id, "", nil, true},
		{"a key with a character changed", changed, id, "", nil, true},
		{"another link id", key, reveal.NewLinkID(), "", nil, true},
		{"the link id in another case", key, strings.ToUpper(id), "", nil, true},
		{"a key cut short", key[:42], id, "", reveal.ErrKey, false},
		{"no key", "", id, "", reveal.ErrKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reveal.Check(tt.key, tt.id)
			switch {
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("Check = %q, %v, want error %v", got, err, tt.wantErr)
			case err != nil:
				if got != "" {
					t.Errorf("Check = %q, %v, want no check", got, err)
				}
				return
			case !reveal.ValidCheck(got):
				t.Errorf("Check = %q, not of a check's form", got)
			case tt.wantOther && got == check:
				t.Errorf("Check = %q, want another check than the link's", got)
			case !tt.wantOther && got != tt.want:
				t.Errorf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckFormat computes the check with the standard library alone, as
// the package comment describes it and as the browser's script does.
func TestCheckFormat(t *testing.T) {
	id := reveal.NewLinkID()
	_, _, key, _ := reveal.Seal([]byte("x"), id)
	raw, _ := base64.RawURLEncoding.DecodeString(key)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("tapportal reveal key check v1:" + id))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
	if got, err := reveal.Check(key, id); err != nil || got != want || len(got) != 22 {
		t.Errorf("Check = %q, %v, want %q, 22 characters", got, err, want)
	}
}

// TestMakeKeepsCheck makes a link and takes it with its key check, which
// Make kept, and not with another.
func TestMakeKeepsCheck(t *testing.T) {
	links := &fake.Links{}
	now := time.Now()
	l, addr, err := reveal.Make(t.Context(), links, "https://portal.example/", portal.NewSecret("Ab3$Ab3$Ab3$"),
		portal.RevealLink{TargetID: "user-1", OperatorID: "op-1", Created: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Make = %v", err)
	}
	_, key, _ := strings.Cut(addr.Reveal(), "#")
	check, err := reveal.Check(key, l.ID)
	if err != nil {
		t.Fatalf("Check(the link's key) = %v", err)
	}
	other, _ := reveal.Check(vectorKey, l.ID)
	if _, _, err := links.TakeRevealLink(t.Context(), l.ID, other, now); !errors.Is(err, portal.ErrRevealDamaged) {
		t.Errorf("TakeRevealLink(another key's check) = %v, want %v", err, portal.ErrRevealDamaged)
	}
	_, sealed, err := links.TakeRevealLink(t.Context(), l.ID, check, now)
	if err != nil {
		t.Fatalf("TakeRevealLink(the link's check) = %v", err)
	}
	if got, err := reveal.Open(sealed.Ciphertext, sealed.Nonce, key, l.ID); err != nil || string(got) != "Ab3$Ab3$Ab3$" {
		t.Errorf("the taken passcode opens to %q, %v, want the passcode", got, err)
	}
}

func TestLinkID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := reveal.NewLinkID()
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) != 16 || len(id) != 22 {
			t.Fatalf("NewLinkID() = %q: %d bytes, %v; want 16 bytes in 22 characters", id, len(raw), err)
		}
		if !reveal.ValidLinkID(id) {
			t.Errorf("ValidLinkID(%q) = false, want true", id)
		}
		if seen[id] {
			t.Fatalf("NewLinkID() gave %q twice", id)
		}
		seen[id] = true
	}
}

func TestValid(t *testing.T) {
	id := reveal.NewLinkID()
	_, _, key, _ := reveal.Seal([]byte("x"), id)
	tests := []struct {
		name  string
		valid func(string) bool
		s     string
		want  bool
	}{
		{"a link id", reveal.ValidLinkID, id, true},
		{"a link id cut short", reveal.ValidLinkID, id[:21], false},
		{"a link id too long", reveal.ValidLinkID, id + "A", false},
		{"a link id with padding", reveal.ValidLinkID, id[:20] + "==", false},
		{"a link id with a slash", reveal.ValidLinkID, "/" + id[1:], false},
		{"a link id with a dot", reveal.ValidLinkID, "." + id[1:], false},
		// 22 characters hold 132 bits: the last character's low four
		// bits must be zero, so that an id has one spelling.
		{"a link id not canonical", reveal.ValidLinkID, "AAAAAAAAAAAAAAAAAAAAAB", false},
		{"a link id canonical", reveal.ValidLinkID, "AAAAAAAAAAAAAAAAAAAAAQ", true},
		{"no link id", reveal.ValidLinkID, "", false},
		{"a key", reveal.ValidKey, key, true},
		{"a key cut short", reveal.ValidKey, key[:40], false},
		{"a key with a space", reveal.ValidKey, key[:42] + " ", false},
		{"a link id as a key", reveal.ValidKey, id, false},
		{"a key as a link id", reveal.ValidLinkID, key, false},
		{"a check", reveal.ValidCheck, vectorCheck, true},
		{"a check cut short", reveal.ValidCheck, vectorCheck[:21], false},
		{"a check with padding", reveal.ValidCheck, vectorCheck[:20] + "==", false},
		{"a check not canonical", reveal.ValidCheck, vectorCheck[:21] + "h", false},
		{"a key as a check", reveal.ValidCheck, key, false},
		{"no check", reveal.ValidCheck, "", false},
	}
	for _, tt := range tests {
		if got := tt.valid(tt.s); got != tt.want {
			t.Errorf("%s: valid(%q) = %v, want %v", tt.name, tt.s, got, tt.want)
		}
	}
}
