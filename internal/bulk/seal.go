package bulk

import (
	"strconv"

	"github.com/tapportal/portal/internal/seal"
)

// A run's passcodes are sealed to a key pair made when the operator
// confirms the run. The public key stays with the run in the database, so
// whichever replica runs it, after a restart too, seals each passcode as
// Graph returns it; the private key goes only to the operator's browser,
// so the database holds ciphertext the portal cannot open on its own.

// sealLabel binds the derived keys to their use.
const sealLabel = "tap-portal bulk passcode v1"

// ErrUnseal is returned for a sealed passcode that cannot be opened: the
// wrong key, the wrong row, or altered bytes.
var ErrUnseal = seal.ErrUnseal

// NewKeys makes a run's key pair: the public key to seal with, the
// private key to open with.
func NewKeys() (public, private []byte, err error) { return seal.NewKeys() }

// Seal encrypts the passcode of a run's row to the run's public key.
func Seal(public []byte, runID string, line int, passcode string) ([]byte, error) {
	return seal.Seal(public, sealLabel, rowData(runID, line), passcode)
}

// Open decrypts a sealed passcode with the run's private key.
func Open(private []byte, runID string, line int, sealed []byte) (string, error) {
	return seal.Open(private, sealLabel, rowData(runID, line), sealed)
}

// rowData binds a sealed passcode to its run and row.
func rowData(runID string, line int) []byte {
	return []byte(runID + "\x00" + strconv.Itoa(line))
}
