package approval

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/tapportal/portal/internal/seal"
)

// An approved pass is issued when the approver acts, long after the
// requester asked, and possibly on another replica. Its passcode waits
// for the requester in the database sealed to a public key made with the
// request, whose private key went only to the requester's browser: the
// database holds ciphertext the portal cannot open on its own, and no
// approver ever sees the passcode.
//
// The construction is that of a cohort run's passcodes (internal/seal),
// with a label of its own and the request's id as associated data, so
// that a sealed passcode of one kind does not open as the other, or as
// another request's.

// sealLabel binds the derived keys to their use.
const sealLabel = "tap-portal approval passcode v1"

// ErrUnseal is returned for a sealed passcode that cannot be opened: the
// wrong key, another request's, or altered bytes.
var ErrUnseal = seal.ErrUnseal

// NewKeys makes a request's key pair: the public key to keep with the
// request, the private key for the requester's browser alone.
func NewKeys() (public, private []byte, err error) { return seal.NewKeys() }

// Seal encrypts the passcode of request id to the requester's public
// key.
func Seal(public []byte, id, passcode string) ([]byte, error) {
	return seal.Seal(public, sealLabel, []byte(id), passcode)
}

// Open decrypts the sealed passcode of request id with the requester's
// private key, or returns ErrUnseal.
func Open(private []byte, id string, sealed []byte) (string, error) {
	return seal.Open(private, sealLabel, []byte(id), sealed)
}

// idBytes is the size of a request's id before encoding: 128 bits, which
// no one guesses.
const idBytes = 16

// NewID returns a new request id: 128 random bits, base64url without
// padding, fit for a URL's path.
func NewID() string {
	b := make([]byte, idBytes)
	// crypto/rand.Read never fails (it crashes the program instead).
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// IsID reports whether s has the shape of a request id, so that a handler
// refuses anything else before it reaches the store or a page.
func IsID(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == idBytes
}
