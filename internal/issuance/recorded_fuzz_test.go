package issuance

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRecordedText throws any reason and ticket at what the history
// records of a request: the text is either what the forms accept, or a
// note that it was not recorded, never raw markup, control characters,
// invalid UTF-8 or an unbounded length.
func FuzzRecordedText(f *testing.F) {
	for _, s := range []string{"New phone", "<script>", "\x1b[2J", "\x00", "\xff\xfe", strings.Repeat("a", 600), "INC-1", "=cmd|' /C calc'!A0", "\u202e"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, reason, ticket string) {
		for _, c := range []struct {
			got, field string
			check      func(FieldErrors, string)
		}{
			{recordable(reason, CheckReason, "reason"), "reason", CheckReason},
			{recordable(ticket, CheckTicket, "ticket"), "ticket", CheckTicket},
		} {
			if !utf8.ValidString(c.got) || utf8.RuneCountInString(c.got) > MaxReasonLength+100 {
				t.Fatalf("%s recorded as %q: invalid or unbounded", c.field, c.got)
			}
			if strings.HasPrefix(c.got, "[not recorded: ") {
				if strings.ContainsAny(c.got, "<>\x00\x1b") {
					t.Fatalf("%s note %q carries what it stands for", c.field, c.got)
				}
				continue
			}
			fe := FieldErrors{}
			c.check(fe, c.got)
			if msg, bad := fe[c.field]; bad && strings.TrimSpace(c.got) != "" {
				t.Fatalf("%s recorded as %q, which the form refuses: %s", c.field, c.got, msg)
			}
		}
	})
}
