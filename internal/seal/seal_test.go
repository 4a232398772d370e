package seal_test

import (
	"errors"
	"testing"

	"github.com/tapportal/portal/internal/seal"
)

// TestSealOpens opens a sealed passcode only with its private key, its
// label and its data, and not once a byte of it changed.
func TestSealOpens(t *testing.T) {
	public, private, err := seal.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := seal.NewKeys()
	const passcode = "Ab3$xY7!"
	sealed, err := seal.Seal(public, "use", []byte("row 1"), passcode)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := seal.Open(private, "use", []byte("row 1"), sealed); err != nil || got != passcode {
		t.Fatalf("Open = %q, %v; want %q", got, err, passcode)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for _, tt := range []struct {
		name        string
		key         []byte
		label, data string
		sealed      []byte
	}{
		{"another key", other, "use", "row 1", sealed},
		{"another label", private, "other use", "row 1", sealed},
		{"another row", private, "use", "row 2", sealed},
		{"a changed byte", private, "use", "row 1", tampered},
		{"cut short", private, "use", "row 1", sealed[:20]},
		{"not a key", []byte("short"), "use", "row 1", sealed},
	} {
		if got, err := seal.Open(tt.key, tt.label, []byte(tt.data), tt.sealed); !errors.Is(err, seal.ErrUnseal) || got != "" {
			t.Errorf("Open with %s = %q, %v; want ErrUnseal", tt.name, got, err)
		}
	}
	if again, _ := seal.Seal(public, "use", []byte("row 1"), passcode); string(again) == string(sealed) {
		t.Error("two seals of one passcode are the same bytes: each needs a key of its own")
	}
}

// TestKeys refuses what is not a key, and derives a private key's public
// half as NewKeys made it.
func TestKeys(t *testing.T) {
	public, private, err := seal.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.CheckPublic(public); err != nil {
		t.Errorf("CheckPublic(a public key) = %v, want nil", err)
	}
	for _, bad := range [][]byte{nil, {}, []byte("short"), append(public, 0)} {
		if err := seal.CheckPublic(bad); !errors.Is(err, seal.ErrKey) {
			t.Errorf("CheckPublic(%d bytes) = %v, want ErrKey", len(bad), err)
		}
		if _, err := seal.PublicOf(bad); !errors.Is(err, seal.ErrKey) {
			t.Errorf("PublicOf(%d bytes) = %v, want ErrKey", len(bad), err)
		}
	}
	// A low-order point parses as a key, but nothing seals to it.
	lowOrder := make([]byte, 32)
	if _, err := seal.Seal(lowOrder, "use", nil, "x"); err == nil {
		t.Fatal("Seal(a low-order point) = no error")
	}
	if err := seal.CheckPublic(lowOrder); !errors.Is(err, seal.ErrKey) {
		t.Errorf("CheckPublic(a low-order point) = %v, want ErrKey", err)
	}
	got, err := seal.PublicOf(private)
	if err != nil || string(got) != string(public) {
		t.Errorf("PublicOf(private) = %x, %v; want %x", got, err, public)
	}
}
