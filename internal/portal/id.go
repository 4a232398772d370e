package portal

import (
	"crypto/rand"
	"encoding/base64"
)

// IDSize is the size of a random id before encoding: 128 bits, which no
// one guesses.
const IDSize = 16

// idEncoding is base64url without padding, strict so that every id has
// exactly one spelling.
var idEncoding = base64.RawURLEncoding.Strict()

// NewID returns a new random id for a URL's path: IDSize random bytes,
// base64url without padding, 22 characters. One-time links and requests
// for approval are named so.
func NewID() string {
	b := make([]byte, IDSize)
	// crypto/rand.Read never fails: it crashes the program rather than
	// return predictable bytes.
	rand.Read(b)
	return idEncoding.EncodeToString(b)
}

// ValidID reports whether s has the form NewID gives, strictly: a
// handler answers any other id as unknown without asking the store.
func ValidID(s string) bool {
	if len(s) != idEncoding.EncodedLen(IDSize) {
		return false
	}
	b, err := idEncoding.DecodeString(s)
	return err == nil && len(b) == IDSize
}
