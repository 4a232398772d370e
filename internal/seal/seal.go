// Package seal encrypts a passcode to a public key whose private key only
// one browser holds: the database keeps ciphertext the portal cannot open
// on its own, and whichever replica holds the public key can seal.
//
// The construction: X25519 with an ephemeral key for each seal, the
// shared secret through HKDF-SHA256 (salted with the ephemeral public key,
// with a label naming the use), AES-256-GCM with what the passcode belongs
// to as associated data. A sealed passcode is the ephemeral public key
// followed by the ciphertext; each seal has a key of its own, so the nonce
// may be fixed. The label and the associated data keep a passcode sealed
// for one use, or for one row or request, from opening as another.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// ErrUnseal is returned for a sealed passcode that cannot be opened: the
// wrong key, the wrong label or associated data, or altered bytes.
var ErrUnseal = errors.New("seal: the passcode cannot be opened with this key")

// NewKeys makes a key pair: the public key to seal with, the private key
// to open with.
func NewKeys() (public, private []byte, err error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return k.PublicKey().Bytes(), k.Bytes(), nil
}

// ErrKey is returned for a public or private key that is not an X25519
// key: a browser that sent something else, or bytes damaged on the way.
var ErrKey = errors.New("seal: not an X25519 key")

// CheckPublic returns ErrKey unless public is a key Seal can seal to, so
// that a key is refused when it is handed over, not when a passcode that
// nobody else will ever hold needs sealing to it. Any 32 bytes parse as
// a key, but a few (the low-order points) agree on no secret with anyone:
// a trial agreement finds them.
func CheckPublic(public []byte) error {
	to, err := ecdh.X25519().NewPublicKey(public)
	if err != nil {
		return ErrKey
	}
	trial, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if _, err := trial.ECDH(to); err != nil {
		return ErrKey
	}
	return nil
}

// PublicOf returns the public key of private, or ErrKey: what a holder of
// a private key proves it holds the right one with, before anything is
// opened with it.
func PublicOf(private []byte) ([]byte, error) {
	k, err := ecdh.X25519().NewPrivateKey(private)
	if err != nil {
		return nil, ErrKey
	}
	return k.PublicKey().Bytes(), nil
}

// Seal encrypts passcode to public for the use label names, bound to
// data.
func Seal(public []byte, label string, data []byte, passcode string) ([]byte, error) {
	to, err := ecdh.X25519().NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	aead, err := aeadFor(eph, to, eph.PublicKey().Bytes(), label)
	if err != nil {
		return nil, err
	}
	out := eph.PublicKey().Bytes()
	return aead.Seal(out, make([]byte, aead.NonceSize()), []byte(passcode), data), nil
}

// Open decrypts a sealed passcode with the private key, for the same
// label and data it was sealed with, or returns ErrUnseal.
func Open(private []byte, label string, data, sealed []byte) (string, error) {
	k, err := ecdh.X25519().NewPrivateKey(private)
	if err != nil || len(sealed) < 32 {
		return "", ErrUnseal
	}
	from, err := ecdh.X25519().NewPublicKey(sealed[:32])
	if err != nil {
		return "", ErrUnseal
	}
	aead, err := aeadFor(k, from, sealed[:32], label)
	if err != nil {
		return "", ErrUnseal
	}
	plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), sealed[32:], data)
	if err != nil {
		return "", ErrUnseal
	}
	return string(plain), nil
}

// aeadFor is the AEAD under the key own and peer share, salted with the
// ephemeral public key and bound to label.
func aeadFor(own *ecdh.PrivateKey, peer *ecdh.PublicKey, ephemeral []byte, label string) (cipher.AEAD, error) {
	shared, err := own.ECDH(peer)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, shared, ephemeral, label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
