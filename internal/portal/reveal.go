package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RevealState is where a one-time reveal link stands.
type RevealState string

// The states of a reveal link.
const (
	// RevealReady: the passcode can be revealed, once.
	RevealReady RevealState = "ready"
	// RevealExpired: the link's time ran out before anyone revealed it.
	RevealExpired RevealState = "expired"
	// RevealRevealed: the passcode was revealed; no one can again.
	RevealRevealed RevealState = "revealed"
)

// RevealLink is a one-time reveal link: a passcode sent to a user as a
// link whose fragment holds the key it is encrypted with. The portal keeps
// the link's facts and, until it is revealed or expires, the ciphertext
// (see SealedPasscode); never the key, which is only in the link.
type RevealLink struct {
	// ID is the link's id, in its path: 128 random bits, base64url.
	ID string
	// EventID is the history record of the issue the passcode came
	// from; 0 until it is set.
	EventID int64
	// TargetID is the object id of the user the pass is for;
	// OperatorID the operator who made the link.
	TargetID   string
	OperatorID string
	// Created is when the link was made; it can be revealed until
	// Expires, not at it.
	Created time.Time
	Expires time.Time
	// Revealed is when the passcode was revealed; zero until then.
	Revealed time.Time
}

// State returns where the link stands at now.
func (l RevealLink) State(now time.Time) RevealState {
	switch {
	case !l.Revealed.IsZero():
		return RevealRevealed
	case !now.Before(l.Expires):
		return RevealExpired
	}
	return RevealReady
}

// SealedPasscode is a passcode encrypted for a reveal link: AES-256-GCM
// under the key in the link's fragment (see internal/reveal). Without
// that key it reveals nothing, yet nothing logs it all the same: it is
// shown through fmt, slog and JSON as a placeholder.
type SealedPasscode struct {
	Ciphertext []byte
	Nonce      []byte
	// Check is the link's key check: proof of the key, derived from it,
	// that a reveal must carry (see internal/reveal). It is kept with
	// the link and never given out: TakeRevealLink returns the sealed
	// passcode without it.
	Check string
}

// IsZero reports whether s holds no ciphertext.
func (s SealedPasscode) IsZero() bool { return len(s.Ciphertext) == 0 }

// Format implements fmt.Formatter so that no verb prints the bytes.
func (SealedPasscode) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer with a placeholder.
func (SealedPasscode) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler with a placeholder: the one
// answer that carries the ciphertext builds its JSON on purpose.
func (SealedPasscode) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// RevealGone is the error TakeRevealLink returns for a link that exists
// but can no longer be revealed: State is RevealExpired or RevealRevealed,
// and Link holds its times.
type RevealGone struct {
	State RevealState
	Link  RevealLink
}

// Error implements error.
func (e *RevealGone) Error() string {
	if e.State == RevealRevealed {
		return "the passcode of this link was already revealed at " + e.Link.Revealed.UTC().Format(time.RFC3339)
	}
	return "this link expired at " + e.Link.Expires.UTC().Format(time.RFC3339)
}

// ErrRevealDamaged is the error TakeRevealLink returns for a link that
// could be revealed when the request's key check is not the link's: the
// key in the link it was opened from was damaged on the way, or missing.
// The link is left as it was, to be opened whole.
var ErrRevealDamaged = errors.New("the key check does not match the link's: its key is damaged or missing")

// RevealLinks keep one-time reveal links. Implementations return
// EUnavailable when the store cannot be reached, ENotFound for an unknown
// link and, from TakeRevealLink, *RevealGone for one that can no longer
// be revealed and ErrRevealDamaged for a key check that does not match.
type RevealLinks interface {
	// CreateRevealLink keeps a new link, its sealed passcode and its key
	// check; EInvalid without an id, a ciphertext, a nonce or a check,
	// EConflict for an id in use.
	CreateRevealLink(ctx context.Context, link RevealLink, sealed SealedPasscode) error
	// SetRevealLinkEvent sets the history record a link belongs to.
	SetRevealLinkEvent(ctx context.Context, id string, eventID int64) error
	// TakeRevealLink returns the sealed passcode of a link that is
	// neither revealed nor expired at now, marks it revealed at now and
	// forgets the ciphertext, in one step: of two takers, one gets it.
	// It does so only when check is the link's key check, compared in
	// constant time; any other check, the empty one included, gets
	// ErrRevealDamaged and changes nothing. A link that is revealed or
	// expired is *RevealGone whatever the check: that is what its page
	// tells anyone who has its id.
	TakeRevealLink(ctx context.Context, id, check string, now time.Time) (RevealLink, SealedPasscode, error)
	// RevealLinkStatus returns a link's facts, never its ciphertext.
	RevealLinkStatus(ctx context.Context, id string) (RevealLink, error)
	// PurgeRevealLinks forgets the ciphertext of every link that
	// expired at or before before, and says how many it forgot.
	PurgeRevealLinks(ctx context.Context, before time.Time) (int, error)
}
