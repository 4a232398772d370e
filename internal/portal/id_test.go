package portal_test

import (
	"testing"

	"github.com/tapportal/portal/internal/portal"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := portal.NewID()
		if !portal.ValidID(id) {
			t.Fatalf("ValidID(NewID() = %q) = false, want true", id)
		}
		if seen[id] {
			t.Fatalf("NewID() = %q twice", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAA", true},
		{"_-_-_-_-_-_-_-_-_-_-_w", true},
		{"AAAAAAAAAAAAAAAAAAAAAQ", true},
		{"", false},
		{"abc", false},
		{"AAAAAAAAAAAAAAAAAAAAAA=", false},
		{"AAAAAAAAAAAAAAAAAAAA==", false},
		{"AAAAAAAAAAAAAAAAAAAA+/", false},
		{"AAAAAAAAAAAAAAAAAAAAA/", false},
		{"../../../../etc/passwd", false},
		// Not canonical: the last character's low bits are not zero.
		{"AAAAAAAAAAAAAAAAAAAAAB", false},
	} {
		if got := portal.ValidID(c.s); got != c.want {
			t.Errorf("ValidID(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}
