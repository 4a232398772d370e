// Package reveal seals a passcode for a one-time reveal link: a link that
// carries, in its fragment, the only copy of the key the passcode is
// encrypted with. Browsers never send a fragment, so the portal keeps
// ciphertext it cannot read, and the page decrypts it in the browser.
//
// The format, which web/static/js/reveal.js mirrors with WebCrypto:
//
//   - the link id is 16 random bytes (128 bits), base64url without
//     padding: 22 characters;
//   - the key is 32 random bytes (AES-256), fresh for each link,
//     base64url without padding: 43 characters, the link's fragment;
//   - the nonce is 12 random bytes, kept beside the ciphertext;
//   - the ciphertext is AES-256-GCM of the passcode's UTF-8 bytes with
//     the link id's bytes as additional data, the 16-byte tag appended
//     (as Go's cipher.AEAD and WebCrypto's AES-GCM both lay it out);
//   - the key check is the first 16 bytes of HMAC-SHA256, keyed with
//     the key's 32 raw bytes, of the ASCII label
//     "tapportal reveal key check v1:" followed at once by the link id as
//     it is in the path (22 ASCII characters), base64url without
//     padding: 22 characters.
//
// The link id as additional data binds a ciphertext to its link: a
// ciphertext moved to another link's row does not decrypt there.
//
// The key check is how the page shows it holds the whole key without
// sending it. Make keeps the check with the link, and the portal gives
// the ciphertext only to a request that carries it: a key damaged on the
// way (a character changed, which its form cannot show) or no key at all
// (the path seen in a proxy's log) takes nothing, and the link still
// opens when it is opened whole. HMAC is a pseudorandom function: the
// check tells nothing of the key, and without the key no one can make
// it. The label says what is signed and in which version of the format.
//
// Ids and keys are checked strictly (canonical base64url, exact length),
// so a link cut short or with a character added by a mail client is
// recognised as damaged before anything is asked of the server.
package reveal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/tapportal/portal/internal/portal"
)

// Sizes of the format's parts, in bytes.
const (
	IDSize    = portal.IDSize
	KeySize   = 32
	NonceSize = 12
	TagSize   = 16
	CheckSize = 16
)

// checkLabel comes before the link id in the message a key check signs.
// It names the check's purpose and version, so that a later format would
// sign another message.
const checkLabel = "tapportal reveal key check v1:"

// encoding is base64url without padding, strict so that every id and key
// has exactly one spelling.
var encoding = base64.RawURLEncoding.Strict()

// ErrKey is returned by Open for a key that is not one Seal makes.
var ErrKey = errors.New("reveal: the key is not 43 characters of base64url")

// ErrOpen is returned by Open when the ciphertext does not decrypt: the
// wrong key, the wrong link id, or a changed ciphertext or nonce.
var ErrOpen = errors.New("reveal: the passcode does not decrypt with this key and link")

// NewLinkID returns a new link id: 128 random bits, base64url, as every
// random id of the portal is made (portal.NewID).
func NewLinkID() string { return portal.NewID() }

// ValidLinkID reports whether id has the form NewLinkID gives. A handler
// answers any other id as unknown without asking the store.
func ValidLinkID(id string) bool { return portal.ValidID(id) }

// ValidKey reports whether key has the form Seal gives.
func ValidKey(key string) bool {
	return decodedLen(key, KeySize)
}

// ValidCheck reports whether check has the form Check gives. A handler
// refuses any other without asking the store.
func ValidCheck(check string) bool {
	return decodedLen(check, CheckSize)
}

// Check returns the key check of the link linkID sealed under key, as
// the package comment describes it, or ErrKey for a malformed key.
func Check(key, linkID string) (string, error) {
	if !ValidKey(key) {
		return "", ErrKey
	}
	raw, _ := encoding.DecodeString(key)
	defer clear(raw)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(checkLabel))
	mac.Write([]byte(linkID))
	return encoding.EncodeToString(mac.Sum(nil)[:CheckSize]), nil
}

func decodedLen(s string, n int) bool {
	if len(s) != encoding.EncodedLen(n) {
		return false
	}
	b, err := encoding.DecodeString(s)
	return err == nil && len(b) == n
}

// Seal encrypts passcode for the link linkID under a fresh random key,
// and returns the ciphertext and nonce to keep and the key, base64url, to
// put in the link's fragment and nowhere else.
func Seal(passcode []byte, linkID string) (ciphertext, nonce []byte, key string, err error) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	// The raw key is needed only here: cleared once the cipher and the
	// encoded key are made.
	defer clear(raw)
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, nil, "", err
	}
	nonce = make([]byte, NonceSize)
	rand.Read(nonce)
	ciphertext = aead.Seal(nil, nonce, passcode, []byte(linkID))
	return ciphertext, nonce, encoding.EncodeToString(raw), nil
}

// Open decrypts what Seal made, as the browser does: for tests, and to
// document the format in Go. It returns ErrKey for a malformed key and
// ErrOpen when the ciphertext does not decrypt.
func Open(ciphertext, nonce []byte, key, linkID string) ([]byte, error) {
	if !ValidKey(key) {
		return nil, ErrKey
	}
	raw, _ := encoding.DecodeString(key)
	defer clear(raw)
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	if len(nonce) != NonceSize {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, nonce, ciphertext, []byte(linkID))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
