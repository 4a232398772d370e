package fake

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Links are portal.RevealLinks in memory. Set Err to make every call
// fail.
type Links struct {
	Err error

	mu     sync.Mutex
	links  map[string]portal.RevealLink
	sealed map[string]portal.SealedPasscode
}

var _ portal.RevealLinks = (*Links)(nil)

// CreateRevealLink implements portal.RevealLinks.
func (l *Links) CreateRevealLink(_ context.Context, link portal.RevealLink, sealed portal.SealedPasscode) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	if l.links == nil {
		l.links, l.sealed = map[string]portal.RevealLink{}, map[string]portal.SealedPasscode{}
	}
	if sealed.Check == "" {
		return portal.Errorf(portal.EInvalid, "Link %s has no key check.", link.ID)
	}
	if _, ok := l.links[link.ID]; ok {
		return portal.Errorf(portal.EConflict, "Link %s exists.", link.ID)
	}
	l.links[link.ID], l.sealed[link.ID] = link, sealed
	return nil
}

// SetRevealLinkEvent implements portal.RevealLinks.
func (l *Links) SetRevealLinkEvent(_ context.Context, id string, eventID int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	link, ok := l.links[id]
	if !ok {
		return portal.Errorf(portal.ENotFound, "No link %s.", id)
	}
	link.EventID = eventID
	l.links[id] = link
	return nil
}

// TakeRevealLink implements portal.RevealLinks, in the store's order: a
// link that is gone is gone whatever the check.
func (l *Links) TakeRevealLink(_ context.Context, id, check string, now time.Time) (portal.RevealLink, portal.SealedPasscode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	link, ok := l.links[id]
	if !ok {
		return portal.RevealLink{}, portal.SealedPasscode{}, portal.Errorf(portal.ENotFound, "No link %s.", id)
	}
	if st := link.State(now); st != portal.RevealReady {
		return portal.RevealLink{}, portal.SealedPasscode{}, &portal.RevealGone{State: st, Link: link}
	}
	sealed, kept := l.sealed[id]
	if !kept {
		// Purged by a clock a moment ahead: at its expiry, as the store
		// says.
		return portal.RevealLink{}, portal.SealedPasscode{}, &portal.RevealGone{State: portal.RevealExpired, Link: link}
	}
	if check == "" || subtle.ConstantTimeCompare([]byte(check), []byte(sealed.Check)) != 1 {
		return portal.RevealLink{}, portal.SealedPasscode{}, portal.ErrRevealDamaged
	}
	link.Revealed = now
	l.links[id] = link
	delete(l.sealed, id)
	sealed.Check = ""
	return link, sealed, nil
}

// RevealLinkStatus implements portal.RevealLinks.
func (l *Links) RevealLinkStatus(_ context.Context, id string) (portal.RevealLink, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	link, ok := l.links[id]
	if !ok {
		return portal.RevealLink{}, portal.Errorf(portal.ENotFound, "No link %s.", id)
	}
	return link, nil
}

// PurgeRevealLinks implements portal.RevealLinks.
func (l *Links) PurgeRevealLinks(_ context.Context, before time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, link := range l.links {
		if _, ok := l.sealed[id]; ok && !link.Expires.After(before) {
			delete(l.sealed, id)
			n++
		}
	}
	return n, nil
}

// All returns every link, with whether its ciphertext is still kept.
func (l *Links) All() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for id := range l.links {
		_, kept := l.sealed[id]
		out[id] = kept
	}
	return out
}
