package devoidc

import (
	"crypto/rand"
	"crypto/rsa"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is the provider's RSA key; it signs every ID token with RS256.
type signingKey struct {
	id      string
	private *rsa.PrivateKey
}

var _ op.SigningKey = signingKey{}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.private }
func (k signingKey) ID() string                                  { return k.id }

// publicKey is the half of signingKey published at the JWKS endpoint.
type publicKey struct {
	signingKey
}

var _ op.Key = publicKey{}

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.private.PublicKey }

// randomKey returns a 256-bit key for the op package's AES-GCM encryption of
// codes and access tokens.
func randomKey() [32]byte {
	var k [32]byte
	rand.Read(k[:]) // never returns an error
	return k
}
