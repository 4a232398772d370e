// Package store keeps the portal's history in SQLite (the default, pure Go)
// and implements portal.History on it.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/tapportal/portal/internal/portal"
)

// Store is a portal.History backed by SQL.
type Store struct {
	db *sql.DB
}

var _ portal.History = (*Store)(nil)

// Open opens the database named by url (sqlite:PATH) and applies the
// schema.
func Open(ctx context.Context, url string) (*Store, error) {
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok || path == "" {
		return nil, fmt.Errorf("store: unsupported database URL %q (want sqlite:PATH)", url)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer; a single connection serialises writes
	// without busy errors.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) migrate(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS events (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	time             TEXT NOT NULL,
	action           TEXT NOT NULL,
	outcome          TEXT NOT NULL,
	operator_id      TEXT NOT NULL,
	operator_name    TEXT NOT NULL,
	target_id        TEXT NOT NULL,
	target_upn       TEXT NOT NULL,
	target_name      TEXT NOT NULL,
	tap_id           TEXT NOT NULL,
	lifetime_minutes INTEGER NOT NULL,
	one_time         INTEGER NOT NULL,
	start            TEXT NOT NULL,
	reason           TEXT NOT NULL,
	ticket           TEXT NOT NULL,
	detail           TEXT NOT NULL,
	refusal_code     TEXT NOT NULL,
	graph_request_id TEXT NOT NULL,
	request_id       TEXT NOT NULL,
	intent_id        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_target ON events (target_id, id);
CREATE INDEX IF NOT EXISTS events_operator ON events (operator_id, id);`)
	if err != nil {
		return fmt.Errorf("store: schema: %w", err)
	}
	return nil
}

const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeFormat, s)
	return t
}

func unavailable(err error) error {
	return &portal.Error{Code: portal.EUnavailable, Message: "The history store is unavailable, so the portal will not act: nothing may happen unrecorded.", Err: err}
}

// Record implements portal.History.
func (s *Store) Record(ctx context.Context, e portal.Event) (portal.Event, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO events (time, action, outcome, operator_id, operator_name, target_id, target_upn, target_name,
		tap_id, lifetime_minutes, one_time, start, reason, ticket, detail, refusal_code, graph_request_id, request_id, intent_id)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		formatTime(e.Time), e.Action, e.Outcome, e.OperatorID, e.OperatorName, e.TargetID, e.TargetUPN, e.TargetName,
		e.TAPID, e.LifetimeMinutes, e.OneTime, formatTime(e.Start), e.Reason, e.Ticket, e.Detail, e.RefusalCode,
		e.GraphRequestID, e.RequestID, e.IntentID)
	if err != nil {
		return e, unavailable(err)
	}
	e.ID, err = res.LastInsertId()
	if err != nil {
		return e, unavailable(err)
	}
	return e, nil
}

// List implements portal.History.
func (s *Store) List(ctx context.Context, f portal.EventFilter) ([]portal.Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.OperatorID != "" {
		add("operator_id = ?", f.OperatorID)
	}
	if f.TargetID != "" {
		add("target_id = ?", f.TargetID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.From.IsZero() {
		add("time >= ?", formatTime(f.From))
	}
	if !f.To.IsZero() {
		add("time < ?", formatTime(f.To))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	q := `SELECT id, time, action, outcome, operator_id, operator_name, target_id, target_upn, target_name, tap_id,
		lifetime_minutes, one_time, start, reason, ticket, detail, refusal_code, graph_request_id, request_id, intent_id FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.Event
	for rows.Next() {
		var e portal.Event
		var t, start string
		if err := rows.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.OperatorID, &e.OperatorName, &e.TargetID, &e.TargetUPN,
			&e.TargetName, &e.TAPID, &e.LifetimeMinutes, &e.OneTime, &start, &e.Reason, &e.Ticket, &e.Detail,
			&e.RefusalCode, &e.GraphRequestID, &e.RequestID, &e.IntentID); err != nil {
			return nil, unavailable(err)
		}
		e.Time, e.Start = parseTime(t), parseTime(start)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
