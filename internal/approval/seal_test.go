package approval_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tapportal/portal/internal/approval"
)

// TestSeal: a sealed passcode opens with the requester's private key for
// its own request only, and its bytes do not hold the passcode.
func TestSeal(t *testing.T) {
	public, private, err := approval.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	const passcode = "Ab3$kP9!mQ2z"
	id := approval.NewID()
	sealed, err := approval.Seal(public, id, passcode)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(passcode)) {
		t.Fatal("the sealed bytes hold the passcode")
	}
	if again, _ := approval.Seal(public, id, passcode); bytes.Equal(sealed, again) {
		t.Fatal("two seals of one passcode are equal")
	}
	if got, err := approval.Open(private, id, sealed); err != nil || got != passcode {
		t.Fatalf("Open(private, id, sealed) = %q, %v, want %q", got, err, passcode)
	}
	_, otherPrivate, err := approval.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name    string
		private []byte
		id      string
		sealed  []byte
	}{
		{"another request", private, approval.NewID(), sealed},
		{"another key", otherPrivate, id, sealed},
		{"altered", private, id, tampered},
		{"truncated", private, id, sealed[:20]},
		{"no key", nil, id, sealed},
		{"the public key as private", public[:31], id, sealed},
	} {
		if got, err := approval.Open(tc.private, tc.id, tc.sealed); got != "" || !errors.Is(err, approval.ErrUnseal) {
			t.Errorf("%s: Open() = %q, %v, want ErrUnseal", tc.name, got, err)
		}
	}
	if _, err := approval.Seal([]byte("short"), id, passcode); err == nil {
		t.Error("Seal(a key that is not one) = no error")
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := approval.NewID()
		if !approval.IsID(id) {
			t.Fatalf("IsID(NewID() = %q) = false, want true", id)
		}
		if seen[id] {
			t.Fatalf("NewID() = %q twice", id)
		}
		seen[id] = true
	}
	for _, s := range []string{"", "abc", "AAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAAA/", "../../../../etc/passwd", "AAAAAAAAAAAAAAAAAAAAAB"} {
		if approval.IsID(s) {
			t.Errorf("IsID(%q) = true, want false", s)
		}
	}
	if !approval.IsID("AAAAAAAAAAAAAAAAAAAAAA") || !approval.IsID("_-_-_-_-_-_-_-_-_-_-_w") {
		t.Error("IsID(a 22-character base64url id) = false, want true")
	}
}

// TestKeyChecks refuses a public key nothing can be sealed to, and tells
// the private half of a request's key from any other key.
func TestKeyChecks(t *testing.T) {
	public, private, err := approval.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := approval.NewKeys()
	if err := approval.CheckKey(public); err != nil {
		t.Errorf("CheckKey(a public key) = %v, want nil", err)
	}
	if err := approval.CheckKey([]byte("short")); err == nil {
		t.Error("CheckKey(5 bytes) = nil, want an error")
	}
	for _, c := range []struct {
		name    string
		private []byte
		want    bool
	}{
		{"its private key", private, true},
		{"another private key", other, false},
		{"no key", nil, false},
		{"not a key", []byte("short"), false},
	} {
		if got := approval.Holds(c.private, public); got != c.want {
			t.Errorf("Holds(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
