package bulk

import (
	"bytes"
	"errors"
	"testing"
)

// TestSeal: a sealed passcode opens with the run's private key for its own
// row only, and its bytes do not hold the passcode.
func TestSeal(t *testing.T) {
	public, private, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	const passcode = "Ab3$kP9!mQ2z"
	sealed, err := Seal(public, "run1", 7, passcode)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(passcode)) {
		t.Fatal("the sealed bytes hold the passcode")
	}
	again, _ := Seal(public, "run1", 7, passcode)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one passcode are equal")
	}
	if got, err := Open(private, "run1", 7, sealed); err != nil || got != passcode {
		t.Fatalf("Open = %q, %v", got, err)
	}
	_, otherPrivate, _ := NewKeys()
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() (string, error){
		"another row":  func() (string, error) { return Open(private, "run1", 8, sealed) },
		"another run":  func() (string, error) { return Open(private, "run2", 7, sealed) },
		"another key":  func() (string, error) { return Open(otherPrivate, "run1", 7, sealed) },
		"altered":      func() (string, error) { return Open(private, "run1", 7, tampered) },
		"truncated":    func() (string, error) { return Open(private, "run1", 7, sealed[:20]) },
		"no key":       func() (string, error) { return Open(nil, "run1", 7, sealed) },
		"not a public": func() (string, error) { _, err := Seal([]byte("short"), "run1", 7, passcode); return "", err },
	} {
		if got, err := open(); err == nil || got != "" {
			t.Errorf("%s: opened %q, %v; want an error", name, got, err)
		} else if name != "not a public" && !errors.Is(err, ErrUnseal) {
			t.Errorf("%s: %v, want ErrUnseal", name, err)
		}
	}
}
