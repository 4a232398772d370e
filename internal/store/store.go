// Package store keeps the portal's history, a tamper-evident log of every
// action, and implements portal.History on SQLite (one machine, pure Go) or
// PostgreSQL (several replicas sharing one database).
//
// Every record carries a hash chained to the record before it (see
// chain.go), so a record changed or removed behind the portal's back shows
// up in Verify. Both databases run the same SQL through database/sql; they
// differ in their migrations, their placeholders and the way appends are
// serialised: SQLite has a single writer connection, PostgreSQL a
// transaction-scoped advisory lock that every replica takes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tapportal/portal/internal/portal"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Advisory lock keys on PostgreSQL. The values are arbitrary; they only
// have to differ from other advisory locks taken in the same database.
const (
	// chainLockKey serialises appends to the chain across replicas.
	chainLockKey int64 = 0x7461705f636861 // "tap_cha"
	// migrateLockKey serialises migrations when replicas start together.
	migrateLockKey int64 = 0x7461705f6d6967 // "tap_mig"
)

// Store is a portal.History on SQLite or PostgreSQL. It is safe for
// concurrent use, and appends from several Stores (replicas) on one
// PostgreSQL database are serialised too.
type Store struct {
	// write runs appends. On SQLite it holds a single connection, which
	// serialises writers in the process without busy retries.
	write *sql.DB
	// read runs queries. On SQLite it is a separate pool of query-only
	// connections, which WAL lets read while the writer writes; on
	// PostgreSQL it is the same pool as write.
	read *sql.DB
	// reads runs the hot queries through prepared statements: on SQLite
	// on a pool of query-only connections of their own, on PostgreSQL on
	// the one pool.
	reads    *statements
	postgres bool
	// keys key the chain and the checkpoints: the first writes, every one
	// verifies what it wrote.
	keys []auditKey
}

// Options are the store's settings beyond its database.
type Options struct {
	// AuditKeys are the secrets the chain and the checkpoints are keyed
	// with, newest first: new records use the first, and every key whose
	// records remain must stay listed for them to verify. At least one,
	// each at least MinAuditKeyLength long.
	AuditKeys []string
}

var _ portal.History = (*Store)(nil)

// Open opens the database named by databaseURL and brings its schema up
// to date. sqlite:PATH opens (and creates) a SQLite file, creating its
// directory; postgres://… or postgresql://… connects to PostgreSQL. Errors
// are *portal.Error values: EInvalid for a URL the store does not accept,
// EUnavailable for a database it cannot open, reach or migrate. They never
// include a password.
func Open(ctx context.Context, databaseURL string, o Options) (*Store, error) {
	keys, err := auditKeys(o.AuditKeys)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		s, err = openSQLite(ctx, strings.TrimPrefix(databaseURL, "sqlite:"))
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		s, err = openPostgres(ctx, databaseURL)
	default:
		return nil, portal.Errorf(portal.EInvalid, "The database URL %s is not supported: use sqlite:PATH or postgres://user@host/db.", redact(databaseURL))
	}
	if err != nil {
		return nil, err
	}
	s.keys = keys
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, &portal.Error{Code: portal.EUnavailable, Message: "The history database schema could not be brought up to date.", Err: err}
	}
	if err := s.optimize(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	// The path goes to the driver as a plain file name followed by its
	// query parameters, so a "?" in it would be misread, and ":memory:"
	// would give every connection its own empty database.
	if path == "" || path == ":memory:" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") {
		return nil, portal.Errorf(portal.EInvalid, "The SQLite database URL sqlite:%s must name a file, as in sqlite:data/portal.db.", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, &portal.Error{Code: portal.EUnavailable, Message: fmt.Sprintf("The directory for the SQLite database %s cannot be created.", path), Err: err}
	}
	// The history is for the portal alone: the file (and the WAL and
	// shared-memory files SQLite makes beside it, which take the main
	// file's mode) is created readable by its owner only.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// synchronous(FULL) makes every commit durable before Record returns:
	// the portal records an intent before it calls Graph, and a power cut
	// must not lose it. Appends are rare enough that the fsync costs
	// nothing noticeable.
	writer, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, sqliteOpenError(path, err)
	}
	writer.SetMaxOpenConns(1)
	// The single writer connection is opened first: it switches the file to
	// WAL, which is persistent, before any reader opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, sqliteOpenError(path, err)
	}
	readOnly := path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
	reader, err := sql.Open("sqlite", readOnly)
	if err != nil {
		writer.Close()
		return nil, sqliteOpenError(path, err)
	}
	reader.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	reader.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	// The prepared reads (sessions, a user's history, single records)
	// have a pool of their own, so that a page never waits for a
	// connection behind an export or a verification of the chain.
	hot, err := sql.Open("sqlite", readOnly)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, sqliteOpenError(path, err)
	}
	hot.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	hot.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	return &Store{write: writer, read: reader, reads: newStatements(hot, true, true)}, nil
}

func sqliteOpenError(path string, err error) error {
	return &portal.Error{Code: portal.EUnavailable, Message: fmt.Sprintf("The SQLite database %s cannot be opened.", path), Err: err}
}

func openPostgres(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors redact passwords only on a best-effort basis
		// and keep the whole connection string, so none of it is wrapped.
		return nil, portal.Errorf(portal.EInvalid, "The PostgreSQL URL %s is malformed: expected postgres://user@host:port/db?options.", redact(databaseURL))
	}
	if cfg.ConnectTimeout == 0 {
		// Without a bound, a host that drops packets would hold start-up
		// and every query until the kernel gives up on the connection.
		cfg.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		// pgx prepares statements, and PostgreSQL switches a prepared
		// statement to a generic plan after a few runs: one made for an
		// average operator or target, which for a rare one can walk the
		// whole history. Custom plans see the actual values.
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	// Recycled connections spread load again after a failover.
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &portal.Error{Code: portal.EUnavailable, Message: fmt.Sprintf("PostgreSQL at %s cannot be reached.", redact(databaseURL)), Err: err}
	}
	return &Store{write: db, read: db, reads: newStatements(db, false, false), postgres: true}, nil
}

// migrate applies the embedded migrations that the database lacks.
func (s *Store) migrate(ctx context.Context) error {
	dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	}
	if s.postgres {
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		// Replicas that start together queue on a session advisory lock,
		// polling each second for up to five minutes, so that exactly one
		// applies each migration. SQLite needs no lock: one machine, and
		// its migrations run under the writer's BEGIN IMMEDIATE.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockKey), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, s.write, fsys, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// optimize refreshes SQLite's planner statistics when they are missing or
// stale, as SQLite advises at start-up and from time to time (DeleteBefore,
// the periodic retention job, calls it too). Without them SQLite cannot
// tell that an operator's index is far more selective than an outcome's.
// The analysis is not sampled (analysis_limit stays 0): a sample of the
// first entries of a low-cardinality index such as outcome's sees one
// value and misleads the planner. It runs only when the table is new to
// the statistics or has changed size many times over, about a second and
// a half for a million records. PostgreSQL's autovacuum does this itself.
func (s *Store) optimize(ctx context.Context) error {
	if s.postgres {
		return nil
	}
	if _, err := s.write.ExecContext(ctx, "PRAGMA optimize = 0x10002"); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close closes the database. Calls after Close return EUnavailable.
func (s *Store) Close() error {
	err := errors.Join(s.reads.Close(), s.write.Close())
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Ping reports whether the database answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// q adapts a query written with ? placeholders to the database:
// PostgreSQL numbers its placeholders. The store's queries hold no string
// literal with a question mark, so a plain scan is enough.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// forUpdate ends a SELECT that reads rows a write transaction is about to
// change, so that it holds them until the transaction ends: FOR UPDATE on
// PostgreSQL. SQLite needs nothing: its one writer's lock, taken at
// BEGIN, holds the whole database already.
func (s *Store) forUpdate() string {
	if s.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// readTx runs fn in a read-only transaction, so that the queries fn runs
// see one snapshot of the history.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.postgres {
		// READ COMMITTED would give each statement its own snapshot.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.read.BeginTx(ctx, opts)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps a database error: whatever went wrong, the history
// cannot be trusted to have recorded or returned anything.
func unavailable(err error) error {
	if _, ok := errors.AsType[*portal.Error](err); ok {
		return err
	}
	return &portal.Error{Code: portal.EUnavailable, Message: "The history store is unavailable, so the portal will not act: nothing may happen unrecorded.", Err: err}
}

// isUniqueViolation reports whether err is a unique constraint failure.
func isUniqueViolation(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "23505"
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// redact returns databaseURL fit for a message: without its password,
// whether in the user info or in a password parameter, and without
// anything at all when it does not parse.
func redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return "(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
