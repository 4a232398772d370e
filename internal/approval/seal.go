package approval

import (
	"crypto/subtle"

	"github.com/tapportal/portal/internal/portal"
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

// CheckKey refuses a requester's public key that nothing can be sealed
// to, when the request is made: found only once the pass exists, it would
// leave a pass whose passcode nobody can be given.
func CheckKey(public []byte) error { return seal.CheckPublic(public) }

// Holds reports whether private is the private half of public: a browser
// is asked to prove it holds the right key before a sealed passcode is
// taken from the database for it, so that the wrong key burns nothing.
func Holds(private, public []byte) bool {
	derived, err := seal.PublicOf(private)
	return err == nil && subtle.ConstantTimeCompare(derived, public) == 1
}

// NewID returns a new request id: 128 random bits, base64url without
// padding, fit for a URL's path (portal.NewID).
func NewID() string { return portal.NewID() }

// IsID reports whether s has the shape of a request id, so that a handler
// refuses anything else before it reaches the store or a page.
func IsID(s string) bool { return portal.ValidID(s) }
