package reveal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

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
	}
	for _, tt := range tests {
		if got := tt.valid(tt.s); got != tt.want {
			t.Errorf("%s: valid(%q) = %v, want %v", tt.name, tt.s, got, tt.want)
		}
	}
}
