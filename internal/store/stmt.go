package store

import (
	"context"
	"database/sql"
	"sync"
)

// statements runs queries on a pool through statements prepared once per
// query text. SQLite parses and plans a query anew each time it is run
// unprepared, which cost a tenth of a user page's time; database/sql keeps
// a prepared statement per connection and prepares it again where needed.
// The query texts are the store's own, so there are few of them.
type statements struct {
	db    *sql.DB
	mu    sync.Mutex
	cache map[string]*sql.Stmt
}

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, cache: map[string]*sql.Stmt{}}
}

func (s *statements) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.cache[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.cache[query] = st
	return st, nil
}

// QueryContext runs query through its prepared statement.
func (s *statements) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its prepared statement.
func (s *statements) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepare(ctx, query)
	if err != nil {
		// A Row carries its error only when made by database/sql: run the
		// query unprepared, which reports the same error on Scan.
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the prepared statements.
func (s *statements) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for q, st := range s.cache {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.cache, q)
	}
	return first
}
