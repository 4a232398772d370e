package portal

import (
	"strings"
	"unicode"
)

// Address is one recipient of a Mail: the address, and the name mail
// clients show beside it, which may be empty.
type Address struct {
	Address string
	Name    string
}

// Mail is a plain-text message the portal sends from its own mailbox: a
// pass's passcode to the user's manager, or a notice. Plain text keeps a
// name from the directory (which may hold markup) from ever being read as
// markup by the recipient's mail client.
type Mail struct {
	To      []Address
	Cc      []Address
	Subject string
	// Text is the body. A passcode travels in it, so it is a Secret:
	// formatting or logging a Mail shows a placeholder, and only the
	// directory client reveals it, to send it.
	Text Secret
}

// Limits on a Mail. Exchange Online takes up to 500 recipients per
// message; the subject bound keeps a subject readable in every client's
// list of messages, where longer ones are cut.
const (
	MaxMailRecipients = 500
	MaxMailSubject    = 255
	maxAddress        = 254 // the longest address SMTP can carry
	maxAddressName    = 256
)

// Check refuses, with EInvalid, a Mail that must not be sent: without
// recipients or text, with an address that is not one, or with a subject
// or a name that is empty where required, too long, or spans lines. A
// line break in a subject or name would start a new header wherever the
// message leaves Exchange as SMTP; in text from the directory it is a
// sign of tampering, not of formatting.
func (m Mail) Check() error {
	n := len(m.To) + len(m.Cc)
	switch {
	case len(m.To) == 0:
		return Errorf(EInvalid, "The mail has no recipient.")
	case n > MaxMailRecipients:
		return Errorf(EInvalid, "The mail has %d recipients; Exchange Online takes at most %d.", n, MaxMailRecipients)
	case strings.TrimSpace(m.Subject) == "":
		return Errorf(EInvalid, "The mail has no subject.")
	case len([]rune(m.Subject)) > MaxMailSubject:
		return Errorf(EInvalid, "The mail's subject is longer than %d characters.", MaxMailSubject)
	case hasControl(m.Subject):
		return Errorf(EInvalid, "The mail's subject holds a line break or another control character.")
	case strings.TrimSpace(m.Text.Reveal()) == "":
		return Errorf(EInvalid, "The mail has no text.")
	}
	for _, a := range append(append([]Address(nil), m.To...), m.Cc...) {
		if !IsMailAddress(a.Address) {
			return Errorf(EInvalid, "%q is not a mail address.", a.Address)
		}
		if len(a.Name) > maxAddressName || hasControl(a.Name) {
			return Errorf(EInvalid, "The name given for %s is too long or spans lines.", a.Address)
		}
	}
	return nil
}

// IsMailAddress reports whether s is a bare mail address: local part and
// domain, no display name, no spaces. Entra holds only such addresses in
// a user's mail, so anything else did not come from the directory.
func IsMailAddress(s string) bool {
	// A user principal name has the same shape as an address; the
	// pattern is shared.
	return len(s) <= maxAddress && upn.MatchString(s)
}

// hasControl reports whether s holds a control character, line breaks
// included.
func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }
