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
