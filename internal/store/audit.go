package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.AuditLog = (*Store)(nil)

// auditLockKey serialises the matching of audit entries to intents across
// replicas on PostgreSQL, so that two never match one intent.
const auditLockKey int64 = 0x7461705f617564 // "tap_aud"

const tenantPassColumns = `id, time_us, activity, target_id, target_upn, target_name, by_user_id, by_user_upn,
	by_app_id, by_app_name, seen_us, intent_id, checked, privilege, check_detail`

func scanTenantPass(sc scanner) (portal.TenantPass, error) {
	var p portal.TenantPass
	var activity string
	var timeUS, seenUS int64
	err := sc.Scan(&p.ID, &timeUS, &activity, &p.TargetID, &p.TargetUPN, &p.TargetName, &p.ByUserID, &p.ByUserUPN,
		&p.ByAppID, &p.ByAppName, &seenUS, &p.IntentID, &p.Checked, &p.Privilege, &p.CheckDetail)
	p.Activity, p.Time, p.Seen = portal.PassActivity(activity), fromMicros(timeUS), fromMicros(seenUS)
	return p, err
}

// AuditCursor implements portal.AuditLog.
func (s *Store) AuditCursor(ctx context.Context) (portal.AuditCursor, error) {
	var from, to, problemAt int64
	var c portal.AuditCursor
	err := s.read.QueryRowContext(ctx, "SELECT from_us, to_us, problem, problem_us FROM audit_cursor WHERE name = 'directory'").
		Scan(&from, &to, &c.Problem, &problemAt)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.AuditCursor{}, nil
	}
	if err != nil {
		return portal.AuditCursor{}, unavailable(err)
	}
	c.From, c.To, c.ProblemAt = fromMicros(from), fromMicros(to), fromMicros(problemAt)
	return c, nil
}

// AuditProblem implements portal.AuditLog.
func (s *Store) AuditProblem(ctx context.Context, problem string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO audit_cursor (name, from_us, to_us, problem, problem_us) VALUES ('directory', 0, 0, ?, ?)
		ON CONFLICT (name) DO UPDATE SET problem = excluded.problem, problem_us = excluded.problem_us`), problem, micros(at))
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// actionOf is the portal's action an audit activity carries out.
func actionOf(a portal.PassActivity) portal.Action {
	if a == portal.PassDeleted {
		return portal.ActionRevoke
	}
	return portal.ActionIssue
}

// SaveAudit implements portal.AuditLog. A zero c.To leaves the cursor
// where it is, for the pages of a read before its last.
func (s *Store) SaveAudit(ctx context.Context, entries []portal.AuditEntry, appID string, window, skew time.Duration, c portal.AuditCursor) ([]portal.TenantPass, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	defer tx.Rollback()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", auditLockKey); err != nil {
			return nil, unavailable(err)
		}
	}
	seen := time.Now()
	var saved []portal.TenantPass
	for _, e := range entries {
		var one int
		err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM directory_audits WHERE id = ?"), e.ID).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, unavailable(err)
		}
		p := portal.TenantPass{AuditEntry: e, Seen: seen}
		if appID != "" && strings.EqualFold(e.ByAppID, appID) {
			if p.IntentID, err = s.matchIntent(ctx, tx, e, window, skew); err != nil {
				return nil, unavailable(err)
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO directory_audits (`+tenantPassColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.ID, micros(e.Time), string(e.Activity), e.TargetID, e.TargetUPN, e.TargetName, e.ByUserID, e.ByUserUPN,
			e.ByAppID, e.ByAppName, micros(seen), p.IntentID, false, "", "")
		if err != nil {
			return nil, unavailable(err)
		}
		if p.IntentID != 0 {
			if _, err := tx.ExecContext(ctx, s.q("DELETE FROM unaudited WHERE intent_id = ?"), p.IntentID); err != nil {
				return nil, unavailable(err)
			}
		}
		saved = append(saved, p)
	}
	if !c.To.IsZero() {
		// The first read sets From; a row made by AuditProblem before any
		// read completed has none yet.
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_cursor (name, from_us, to_us) VALUES ('directory', ?, ?)
			ON CONFLICT (name) DO UPDATE SET to_us = excluded.to_us, problem = '', problem_us = 0,
			from_us = CASE WHEN audit_cursor.from_us = 0 THEN excluded.from_us ELSE audit_cursor.from_us END`), micros(c.From), micros(c.To))
		if err != nil {
			return nil, unavailable(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable(err)
	}
	return saved, nil
}

// matchIntent finds the intent an entry made by the portal's app carried
// out: of the same action on the same user, recorded within window before
// the entry (or skew after, for clocks that differ), not matched yet; the
// latest before the entry first, since the portal records an intent
// before it calls Graph. 0 when there is none.
func (s *Store) matchIntent(ctx context.Context, tx *sql.Tx, e portal.AuditEntry, window, skew time.Duration) (int64, error) {
	at := micros(e.Time)
	var id int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT i.id FROM events i
		WHERE i.target_id = ? AND i.action = ? AND i.outcome = ? AND i.time_us >= ? AND i.time_us <= ?
		AND NOT EXISTS (SELECT 1 FROM directory_audits d WHERE d.intent_id = i.id AND d.intent_id <> 0)
		ORDER BY CASE WHEN i.time_us <= ? THEN 0 ELSE 1 END, abs(i.time_us - ?) LIMIT 1`),
		e.TargetID, string(actionOf(e.Activity)), string(portal.OutcomePending),
		micros(e.Time.Add(-window)), micros(e.Time.Add(skew)), at, at).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// UncheckedPasses implements portal.AuditLog.
func (s *Store) UncheckedPasses(ctx context.Context, limit int) ([]portal.TenantPass, error) {
	return s.tenantPasses(ctx, `WHERE intent_id = 0 AND activity = ? AND NOT checked ORDER BY time_us, id LIMIT ?`,
		string(portal.PassCreated), limit)
}

// CheckedPass implements portal.AuditLog.
func (s *Store) CheckedPass(ctx context.Context, id string, done bool, privilege, detail string) error {
	_, err := s.write.ExecContext(ctx, s.q("UPDATE directory_audits SET checked = ?, privilege = ?, check_detail = ? WHERE id = ?"),
		done, privilege, detail, id)
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// TenantPasses implements portal.AuditLog.
func (s *Store) TenantPasses(ctx context.Context, f portal.TenantPassFilter) ([]portal.TenantPass, error) {
	var conds []string
	var args []any
	switch {
	case f.Protected:
		conds = append(conds, "intent_id = 0 AND privilege <> ''")
	case f.Elsewhere:
		conds = append(conds, "intent_id = 0")
	}
	if f.TargetID != "" {
		conds, args = append(conds, "target_id = ?"), append(args, strings.ToLower(f.TargetID))
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "time_us >= ?"), append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "time_us < ?"), append(args, micros(f.To))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	return s.tenantPasses(ctx, where+" ORDER BY time_us DESC, id DESC LIMIT ?", append(args, limit)...)
}

func (s *Store) tenantPasses(ctx context.Context, rest string, args ...any) ([]portal.TenantPass, error) {
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+tenantPassColumns+" FROM directory_audits "+rest), args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.TenantPass
	for rows.Next() {
		p, err := scanTenantPass(rows)
		if err != nil {
			return nil, unavailable(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// completed selects intents whose action Graph carried out: an outcome of
// success, directly or by settling an unknown one.
const completed = `(EXISTS (SELECT 1 FROM events o WHERE o.intent_id = i.id AND o.intent_id <> 0 AND o.outcome = 'success')
	OR EXISTS (SELECT 1 FROM events u JOIN events o ON o.intent_id = u.id
		WHERE u.intent_id = i.id AND u.intent_id <> 0 AND u.outcome = 'unknown' AND o.outcome = 'success'))`

// FlagUnaudited implements portal.AuditLog.
func (s *Store) FlagUnaudited(ctx context.Context, from, to, at time.Time) ([]portal.Unaudited, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(`SELECT `+eventColumns+` FROM events i
		WHERE i.outcome = ? AND i.action IN (?, ?) AND i.time_us >= ? AND i.time_us < ? AND `+completed+`
		AND NOT EXISTS (SELECT 1 FROM directory_audits d WHERE d.intent_id = i.id AND d.intent_id <> 0)
		AND NOT EXISTS (SELECT 1 FROM unaudited x WHERE x.intent_id = i.id)
		ORDER BY i.id`), string(portal.OutcomePending), string(portal.ActionIssue), string(portal.ActionRevoke), micros(from), micros(to))
	if err != nil {
		return nil, unavailable(err)
	}
	var flagged []portal.Unaudited
	sc := newEventScanner()
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			rows.Close()
			return nil, unavailable(err)
		}
		flagged = append(flagged, portal.Unaudited{Intent: e, Flagged: at.UTC().Truncate(time.Microsecond)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	for _, u := range flagged {
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO unaudited (intent_id, flagged_us) VALUES (?, ?) ON CONFLICT (intent_id) DO NOTHING"),
			u.Intent.ID, micros(at)); err != nil {
			return nil, unavailable(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable(err)
	}
	return flagged, nil
}

// Unaudited implements portal.AuditLog.
func (s *Store) Unaudited(ctx context.Context, limit int) ([]portal.Unaudited, error) {
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	var flaggedUS int64
	sc := newEventScanner(&flaggedUS)
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+prefixed("i.", eventColumns)+`, x.flagged_us FROM unaudited x
		JOIN events i ON i.id = x.intent_id ORDER BY x.intent_id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.Unaudited
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return nil, unavailable(err)
		}
		out = append(out, portal.Unaudited{Intent: e, Flagged: fromMicros(flaggedUS)})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
