package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of the Standard Webhooks scheme that every request carries.
const (
	// HeaderID carries the event id, the same on every attempt.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the attempt's time in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one "v1,<base64>" signature per secret,
	// separated by spaces.
	HeaderSignature = "webhook-signature"
)

// The lengths of a secret accepted, in bytes, as the Standard Webhooks
// scheme bounds them: 24 bytes (192 bits, the length Svix makes) is more
// than a guesser can search, and a receiver's library may refuse a
// secret outside the bounds.
const (
	MinSecretLength = 24
	MaxSecretLength = 64
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// secretPrefix marks a secret written as the scheme's libraries write it.
const secretPrefix = "whsec_"

// Errors Verify returns, wrapped with what was found.
var (
	// ErrSignature: the headers are missing or malformed, or no
	// signature matches the body under any secret.
	ErrSignature = errors.New("notify: webhook signature does not verify")
	// ErrTimestamp: the webhook-timestamp is too far from now, as a
	// replayed request's would be.
	ErrTimestamp = errors.New("notify: webhook timestamp outside the tolerance")
)

// Sign returns the webhook-signature value for a message: the HMAC-SHA256
// of "id.timestamp.body" under each secret, base64, as "v1,<signature>",
// separated by spaces. Signing with every secret lets a receiver still
// configured with an older secret verify during a rotation.
func Sign(secrets [][]byte, id string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, ts, body))
	}
	return strings.Join(sigs, " ")
}

func mac(secret []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a request as a receiver would: its webhook-timestamp is
// within tolerance of now (DefaultTolerance when tolerance is not
// positive), and one of its v1 signatures is that of its webhook-id,
// timestamp and body under one of secrets. It returns nil, or an error
// wrapping ErrSignature or ErrTimestamp.
func Verify(secrets [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, header := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || header == "" {
		return fmt.Errorf("%w: want the %s, %s and %s headers", ErrSignature, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrSignature, HeaderTimestamp, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if at := time.Unix(sec, 0); at.Before(now.Add(-tolerance)) || at.After(now.Add(tolerance)) {
		return fmt.Errorf("%w: %s is %v from now, want within %v", ErrTimestamp, HeaderTimestamp, now.Sub(at).Round(time.Second), tolerance)
	}
	for _, secret := range secrets {
		want := mac(secret, id, ts, body)
		for sig := range strings.FieldsSeq(header) {
			version, value, ok := strings.Cut(sig, ",")
			if !ok || version != "v1" {
				// Other versions (v1a is asymmetric) are not ours to check.
				continue
			}
			got, err := base64.StdEncoding.DecodeString(value)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: none of the %d signatures matches", ErrSignature, len(strings.Fields(header)))
}

// ParseSecret decodes a secret written as the scheme's libraries write
// it: "whsec_" followed by the base64 of its bytes (the prefix may be
// left out). It refuses one shorter than MinSecretLength bytes or longer
// than MaxSecretLength.
func ParseSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), secretPrefix))
	if err != nil {
		return nil, errors.New("notify: the webhook secret is not whsec_ followed by base64 (for example from `openssl rand -base64 32`)")
	}
	if err := checkSecret(b); err != nil {
		return nil, fmt.Errorf("notify: the webhook secret is %w", err)
	}
	return b, nil
}

// checkSecret says what is wrong with a secret's length, after "the
// secret is".
func checkSecret(b []byte) error {
	if len(b) < MinSecretLength || len(b) > MaxSecretLength {
		return fmt.Errorf("%d bytes: want %d to %d (for example from `openssl rand -base64 32`)", len(b), MinSecretLength, MaxSecretLength)
	}
	return nil
}

// FormatSecret writes a secret as ParseSecret reads it, for a receiver's
// configuration.
func FormatSecret(secret []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(secret)
}
