package store

import (
	"context"
	"database/sql"

	"github.com/tapportal/portal/internal/portal"
)

// Genesis is the prev_hash of the first record, for tests that build
// chains themselves.
var Genesis = genesis

// ChainHash returns the hash of e stored after prevHash, for benchmarks
// that bulk-load valid chains.
func ChainHash(prevHash string, e portal.Event, anchor string) string {
	r := record{Event: e, PrevHash: prevHash, Anchor: anchor}
	return r.chainHash()
}

// Exec runs a statement written with ? placeholders behind the store's
// back, as someone tampering with the database would.
func Exec(ctx context.Context, s *Store, query string, args ...any) error {
	_, err := s.write.ExecContext(ctx, s.q(query), args...)
	return err
}

// WriteDB returns the store's writer pool and a function adapting ?
// placeholders to it, for bulk loading.
func WriteDB(s *Store) (*sql.DB, func(string) string) { return s.write, s.q }
