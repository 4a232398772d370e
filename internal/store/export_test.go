package store

import (
	"context"
	"database/sql"

	"github.com/tapportal/portal/internal/portal"
)

// Genesis is the prev_hash of the first record, for tests that build
// chains themselves.
var Genesis = genesis

// LegacyHash returns the unkeyed hash (encoding version 1 or 2) of e
// stored after prevHash: that of a record written before the chain was
// keyed, or of one re-hashed by someone without the key.
func LegacyHash(prevHash string, e portal.Event, anchor string) string {
	r := record{Event: e, PrevHash: prevHash, Anchor: anchor}
	return r.chainHash(nil)
}

// KeyedHash returns the hash of e stored after prevHash under the audit
// key secret, and the key's id, for tests and benchmarks that build chains
// (and for forging one as a holder of the key would).
func KeyedHash(secret, prevHash string, e portal.Event, anchor string) (hash, id string) {
	key := &auditKey{id: keyID(secret), secret: []byte(secret)}
	r := record{Event: e, PrevHash: prevHash, Anchor: anchor, KeyID: key.id}
	return r.chainHash(key), key.id
}

// KeyID returns the id of an audit key.
func KeyID(secret string) string { return keyID(secret) }

// Exec runs a statement written with ? placeholders behind the store's
// back, as someone tampering with the database would.
func Exec(ctx context.Context, s *Store, query string, args ...any) error {
	_, err := s.write.ExecContext(ctx, s.q(query), args...)
	return err
}

// WriteDB returns the store's writer pool and a function adapting ?
// placeholders to it, for bulk loading.
func WriteDB(s *Store) (*sql.DB, func(string) string) { return s.write, s.q }
