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
	db *sql.DB
	// local is true for SQLite, whose reads are short and in this process.
	local bool
	mu    sync.Mutex
	cache map[string]*sql.Stmt
}

func newStatements(db *sql.DB, local bool) *statements {
	return &statements{db: db, local: local, cache: map[string]*sql.Stmt{}}
}

// context is the context a read runs under. For a context that can be
// cancelled, database/sql and the SQLite driver each start a goroutine
// per statement to watch it, which on SQLite costs more than the read
// itself (two reads a user page). Every query run here is a lookup by key
// or one page along an index, and a SQLite read waits at most its busy
// timeout, so it runs to its end even if the request is cancelled
// meanwhile; a request already cancelled still fails at once. PostgreSQL's reads go over the network and keep the
// request's cancellation.
func (s *statements) context(ctx context.Context) context.Context {
	if s.local && ctx.Err() == nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
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
	ctx = s.context(ctx)
	st, err := s.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its prepared statement.
func (s *statements) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = s.context(ctx)
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
