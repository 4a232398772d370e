package bulk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strconv"
)

// A run's passcodes are sealed to a key pair made when the operator
// confirms the run. The public key stays with the run in the database, so
// whichever replica runs it, after a restart too, seals each passcode as
// Graph returns it; the private key goes only to the operator's browser,
// so the database holds ciphertext the portal cannot open on its own.

// sealInfo binds the derived keys to their use.
const sealInfo = "tap-portal bulk passcode v1"

// ErrUnseal is returned for a sealed passcode that cannot be opened: the
// wrong key, the wrong row, or altered bytes.
var ErrUnseal = errors.New("bulk: the passcode cannot be opened with this key")

// NewKeys makes a run's key pair: the public key to seal with, the
// private key to open with.
func NewKeys() (public, private []byte, err error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return k.PublicKey().Bytes(), k.Bytes(), nil
}

// Seal encrypts the passcode of a run's row to the run's public key.
func Seal(public []byte, runID string, line int, passcode string) ([]byte, error) {
	to, err := ecdh.X25519().NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	aead, err := sealCipher(eph, to, eph.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), eph.PublicKey().Bytes()...)
	return aead.Seal(out, make([]byte, aead.NonceSize()), []byte(passcode), rowData(runID, line)), nil
}

// Open decrypts a sealed passcode with the run's private key.
func Open(private []byte, runID string, line int, sealed []byte) (string, error) {
	k, err := ecdh.X25519().NewPrivateKey(private)
	if err != nil || len(sealed) < 32 {
		return "", ErrUnseal
	}
	from, err := ecdh.X25519().NewPublicKey(sealed[:32])
	if err != nil {
		return "", ErrUnseal
	}
	aead, err := sealCipher(k, from, sealed[:32])
	if err != nil {
		return "", ErrUnseal
	}
	plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), sealed[32:], rowData(runID, line))
	if err != nil {
		return "", ErrUnseal
	}
	return string(plain), nil
}

// sealCipher is the AEAD under the key shared by own and peer, salted
// with the ephemeral public key. Each seal has a key of its own, so the
// nonce may be fixed.
func sealCipher(own *ecdh.PrivateKey, peer *ecdh.PublicKey, ephemeral []byte) (cipher.AEAD, error) {
	shared, err := own.ECDH(peer)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, shared, ephemeral, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// rowData binds a sealed passcode to its run and row.
func rowData(runID string, line int) []byte {
	return []byte(runID + "\x00" + strconv.Itoa(line))
}
