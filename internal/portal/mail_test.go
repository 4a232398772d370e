package portal_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/portal"
)

// TestMailCheck covers portal.Mail.Check, which SendMail applies before
// anything leaves the portal.
func TestMailCheck(t *testing.T) {
	ok := portal.Mail{
		To:      []portal.Address{{Address: "jose.martinez@northwind.example", Name: "José Martínez"}},
		Subject: "Temporary Access Pass for Dana Whitfield",
		Text:    portal.NewSecret("Dana's pass: Ab3$<x>&y!\nRead it to her in person."),
	}
	many := make([]portal.Address, portal.MaxMailRecipients+1)
	for i := range many {
		many[i] = portal.Address{Address: fmt.Sprintf("user%d@northwind.example", i)}
	}
	for _, tt := range []struct {
		name string
		edit func(m *portal.Mail)
		ok   bool
	}{
		{"a pass for a manager", func(*portal.Mail) {}, true},
		{"with a copy", func(m *portal.Mail) { m.Cc = []portal.Address{{Address: "marcus.oyelaran@northwind.example"}} }, true},
		{"an apostrophe in the address", func(m *portal.Mail) { m.To[0].Address = "patrick.o'brien@northwind.example" }, true},
		{"no recipient", func(m *portal.Mail) { m.To = nil }, false},
		{"a copy only", func(m *portal.Mail) { m.Cc, m.To = m.To, nil }, false},
		{"too many recipients", func(m *portal.Mail) { m.To = many }, false},
		{"a name with the address", func(m *portal.Mail) { m.To[0].Address = "José <jose.martinez@northwind.example>" }, false},
		{"no domain", func(m *portal.Mail) { m.To[0].Address = "jose.martinez" }, false},
		{"a space", func(m *portal.Mail) { m.To[0].Address = "jose martinez@northwind.example" }, false},
		{"two addresses", func(m *portal.Mail) { m.To[0].Address = "a@b.example,c@d.example" }, false},
		{"a bad copy", func(m *portal.Mail) { m.Cc = []portal.Address{{Address: "nobody"}} }, false},
		{"a name across lines", func(m *portal.Mail) { m.To[0].Name = "José\r\nBcc: x@evil.example" }, false},
		{"no subject", func(m *portal.Mail) { m.Subject = "  " }, false},
		{"a subject across lines", func(m *portal.Mail) { m.Subject = "Pass\nBcc: x@evil.example" }, false},
		{"a long subject", func(m *portal.Mail) { m.Subject = strings.Repeat("é", portal.MaxMailSubject+1) }, false},
		{"a subject at the limit", func(m *portal.Mail) { m.Subject = strings.Repeat("é", portal.MaxMailSubject) }, true},
		{"no text", func(m *portal.Mail) { m.Text = portal.NewSecret(" \n") }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			m.To = slices.Clone(ok.To)
			tt.edit(&m)
			err := m.Check()
			if (err == nil) != tt.ok {
				t.Fatalf("Check() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && portal.ErrorCode(err) != portal.EInvalid {
				t.Fatalf("Check() code = %s, want %s", portal.ErrorCode(err), portal.EInvalid)
			}
		})
	}
}
