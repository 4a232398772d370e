package templates

import (
	"strings"
	"testing"
)

// Every character Entra can put in a pass is spelled, each differently,
// and its kind tells the look-alikes apart.
func TestSpellEveryPasscodeCharacter(t *testing.T) {
	seen := map[string]rune{}
	for r := rune('!'); r <= '~'; r++ {
		kind, words := spell(r)
		if words == "" || strings.HasPrefix(words, "the character") {
			t.Errorf("%q has no words of its own: %q", r, words)
		}
		if prev, dup := seen[words]; dup {
			t.Errorf("%q and %q are both spelled %q", prev, r, words)
		}
		seen[words] = r
		if kind == "" {
			t.Errorf("%q has no kind", r)
		}
	}
	for _, pair := range []string{"0O", "1l", "lI", "1I", "5S", "2Z", "8B"} {
		a, _ := spell(rune(pair[0]))
		b, _ := spell(rune(pair[1]))
		if a == b {
			t.Errorf("%q and %q share the kind %q: they would look alike", pair[0], pair[1], a)
		}
	}
	if _, w := spell('X'); w != "capital X, as in X-ray" {
		t.Errorf("X = %q", w)
	}
	if _, w := spell('5'); w != "the digit five" {
		t.Errorf("5 = %q", w)
	}
}

func TestPasscodeGroups(t *testing.T) {
	groups := passcodeChars("!?jmX5ZD<&")
	var got []string
	for _, g := range groups {
		var b strings.Builder
		for _, c := range g {
			b.WriteString(c.Char)
		}
		got = append(got, b.String())
	}
	if strings.Join(got, " ") != "!?jm X5ZD <&" {
		t.Fatalf("groups = %q, want fours from the left", got)
	}
}
