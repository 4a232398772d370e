// Package testutil holds what several packages' tests share: a buffer
// that concurrent servers write logs to while a test reads them, and
// fresh PostgreSQL schemas for the tests that need a real database.
package testutil

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// PostgresEnv names the variable holding the test PostgreSQL's URL.
const PostgresEnv = "PORTAL_TEST_POSTGRES_DSN"

// SkipWithoutPostgres skips tb, saying what to set, when no test
// PostgreSQL is configured.
func SkipWithoutPostgres(tb testing.TB) {
	tb.Helper()
	if os.Getenv(PostgresEnv) == "" {
		tb.Skip("set " + PostgresEnv + "=postgres://user@host:5432/db to run the PostgreSQL tests")
	}
}

// PostgresURL returns the URL of a new, empty schema on the test
// PostgreSQL (through search_path), dropped when tb ends, so tests never
// see each other's data. It skips tb when none is configured.
func PostgresURL(tb testing.TB, prefix string) string {
	tb.Helper()
	SkipWithoutPostgres(tb)
	dsn := os.Getenv(PostgresEnv)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("sql.Open(%s) = %v", PostgresEnv, err)
	}
	schema := prefix + "_" + strings.ToLower(rand.Text())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		tb.Fatalf("CREATE SCHEMA %s = %v", schema, err)
	}
	tb.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("DROP SCHEMA %s = %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("url.Parse(%s) = %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// AuditKeys are the audit keys test stores are opened with.
var AuditKeys = []string{"test audit key: not a secret, for tests only"}
