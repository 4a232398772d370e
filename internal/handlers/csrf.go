package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
)

// Pages are sent compressed, and a page that holds a secret beside text
// an attacker chose (a search term) could give the secret away through
// its compressed size. So a page never holds the session's CSRF token as
// it is: each render masks it with a fresh random pad, and the form sends
// back the pad and the masked token.

// maskToken returns token masked with a fresh pad: base64url of the pad
// followed by the pad XOR the token.
func maskToken(token string) string {
	b := make([]byte, 2*len(token))
	pad, masked := b[:len(token)], b[len(token):]
	rand.Read(pad)
	subtle.XORBytes(masked, pad, []byte(token))
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenMatches reports whether sent is token masked by maskToken.
func tokenMatches(sent, token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(sent)
	if err != nil || token == "" || len(b) != 2*len(token) {
		return false
	}
	pad, masked := b[:len(token)], b[len(token):]
	plain := make([]byte, len(token))
	subtle.XORBytes(plain, pad, masked)
	return subtle.ConstantTimeCompare(plain, []byte(token)) == 1
}
