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
	// own is true when db is this set's own pool, closed with it.
	own bool
	// local is true for SQLite, whose reads are in this process.
	local bool
	mu    sync.Mutex
	cache map[string]*sql.Stmt
}

func newStatements(db *sql.DB, own, local bool) *statements {
	return &statements{db: db, own: own, local: local, cache: map[string]*sql.Stmt{}}
}

// quick is the context for a read that is a lookup by key or one page of
// one user's records along an index. For a context that can be cancelled,
// database/sql and the SQLite driver each start a goroutine per statement
// to watch it, which on SQLite costs more than such a read (there are two
// on every user page). So on SQLite a quick read runs detached from the
// request's cancellation once the request is known to be live: it takes
// microseconds, and its pool is its own (see Open), so it waits for no
// export or verification, only for other short reads, and at most for its
// busy timeout. A request already cancelled still fails at once.
// PostgreSQL's reads go over the network and keep the request's context.
func (s *statements) quick(ctx context.Context) context.Context {
	if s.local && ctx.Err() == nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// prepare returns query's statement, preparing it the first time. The lock
// is not held while preparing, which may wait for a connection: of two
// callers preparing the same query at once, the second's is closed.
func (s *statements) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.cache[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.cache[query]; ok {
		st.Close()
		return first, nil
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

// Close closes the prepared statements, and the pool when it is theirs.
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
	if s.own {
		if err := s.db.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
