package reveal

import (
	"context"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// Make seals passcode for a new link and keeps the link in links, with
// the key check (see Check) that taking it will ask for. link brings the
// target, the operator and the history record; Make sets its id. It
// returns the link as kept and its address, base + "/reveal/" + id + "#"
// + key: a Secret, since whoever holds it can reveal the passcode, to be
// shown once and never logged, stored or redirected to.
func Make(ctx context.Context, links portal.RevealLinks, base string, passcode portal.Secret, link portal.RevealLink) (portal.RevealLink, portal.Secret, error) {
	if passcode.IsZero() {
		return portal.RevealLink{}, portal.Secret{}, portal.Errorf(portal.EInvalid, "There is no passcode to send.")
	}
	if !link.Expires.After(link.Created) {
		return portal.RevealLink{}, portal.Secret{}, portal.Errorf(portal.EInvalid, "A link must expire after it is made.")
	}
	link.ID = NewLinkID()
	ciphertext, nonce, key, err := Seal([]byte(passcode.Reveal()), link.ID)
	if err != nil {
		return portal.RevealLink{}, portal.Secret{}, &portal.Error{Code: portal.EInternal, Message: "The passcode could not be sealed.", Err: err}
	}
	check, err := Check(key, link.ID)
	if err != nil {
		return portal.RevealLink{}, portal.Secret{}, &portal.Error{Code: portal.EInternal, Message: "The passcode could not be sealed.", Err: err}
	}
	if err := links.CreateRevealLink(ctx, link, portal.SealedPasscode{Ciphertext: ciphertext, Nonce: nonce, Check: check}); err != nil {
		return portal.RevealLink{}, portal.Secret{}, err
	}
	return link, portal.NewSecret(strings.TrimSuffix(base, "/") + Path(link.ID) + "#" + key), nil
}

// Path is the path of link id's page.
func Path(id string) string { return "/reveal/" + id }
