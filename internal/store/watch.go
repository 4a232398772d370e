package store

import (
	"context"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.PassWatches = (*Store)(nil)

const watchColumns = `id, record_id, audit_id, target_id, target_upn, target_name, made_us, tap_id, state, pass_use,
	still_usable, after, ends_us, signed_in_us, sign_in, detail, checked_us, next_us`

// watching selects the passes still looked at.
const watching = `state IN ('new', 'open', 'unknown')`

// WatchNew implements portal.PassWatches. A pass is watched once, by its
// record or its audit entry, whichever replica starts it.
func (s *Store) WatchNew(ctx context.Context, since time.Time) (int, error) {
	var total int
	for _, insert := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO pass_watch (id, record_id, target_id, target_upn, target_name, made_us, tap_id)
			SELECT 'r' || CAST(id AS TEXT), id, target_id, target_upn, target_name, time_us, lower(tap_id) FROM events
			WHERE action = ? AND outcome = ? AND tap_id <> '' AND time_us >= ?
			ON CONFLICT (id) DO NOTHING`,
			[]any{string(portal.ActionIssue), string(portal.OutcomeSuccess), micros(since)}},
		{`INSERT INTO pass_watch (id, audit_id, target_id, target_upn, target_name, made_us)
			SELECT 'a' || id, id, target_id, target_upn, target_name, time_us FROM directory_audits
			WHERE intent_id = 0 AND activity = ? AND time_us >= ?
			ON CONFLICT (id) DO NOTHING`,
			[]any{string(portal.PassCreated), micros(since)}},
	} {
		n, err := changedRows(s.write.ExecContext(ctx, s.q(insert.query), insert.args...))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// DueWatches implements portal.PassWatches.
func (s *Store) DueWatches(ctx context.Context, now time.Time, limit int) ([]portal.WatchedPass, error) {
	return s.watches(ctx, "WHERE "+watching+" AND next_us <= ? ORDER BY next_us, id LIMIT ?", micros(now), limit)
}

// SaveWatch implements portal.PassWatches.
func (s *Store) SaveWatch(ctx context.Context, p portal.WatchedPass) error {
	_, err := s.write.ExecContext(ctx, s.q(`UPDATE pass_watch SET tap_id = ?, state = ?, pass_use = ?, still_usable = ?, after = ?,
		ends_us = ?, signed_in_us = ?, sign_in = ?, detail = ?, checked_us = ?, next_us = ? WHERE id = ?`),
		strings.ToLower(p.TAPID), string(p.State), string(p.Use), p.StillUsable, p.After, micros(p.Ends), micros(p.SignedIn), p.SignIn, p.Detail,
		micros(p.Checked), micros(p.Next), p.ID)
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Watches implements portal.PassWatches.
func (s *Store) Watches(ctx context.Context, f portal.WatchFilter) ([]portal.WatchedPass, error) {
	var conds []string
	var args []any
	if f.StillUsable {
		conds = append(conds, "state = 'open' AND still_usable")
	}
	if f.Unused {
		conds = append(conds, "state IN ('ended', 'gone') AND pass_use = ?")
		args = append(args, string(portal.UseNotUsed))
	}
	if f.TargetID != "" {
		conds, args = append(conds, "target_id = ?"), append(args, f.TargetID)
	}
	if f.TAPID != "" {
		conds, args = append(conds, "tap_id = ?"), append(args, strings.ToLower(f.TAPID))
	}
	conds, args = madeIn(f, conds, args)
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	return s.watches(ctx, where+" ORDER BY made_us DESC, id DESC LIMIT ?", append(args, limit)...)
}

// WatchCounts implements portal.PassWatches.
func (s *Store) WatchCounts(ctx context.Context, f portal.WatchFilter) (portal.WatchCounts, error) {
	var c portal.WatchCounts
	conds, args := madeIn(f, []string{"TRUE"}, []any{string(portal.UseNotUsed)})
	err := s.read.QueryRowContext(ctx, s.q(`SELECT
		COALESCE(SUM(CASE WHEN state = 'open' AND NOT still_usable THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'open' AND still_usable THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'used' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state IN ('ended', 'gone') AND pass_use = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state IN ('new', 'unknown') THEN 1 ELSE 0 END), 0)
		FROM pass_watch WHERE `+strings.Join(conds, " AND ")), args...).
		Scan(&c.Waiting, &c.StillUsable, &c.Used, &c.Unused, &c.Unknown)
	if err != nil {
		return c, unavailable(err)
	}
	return c, nil
}

// madeIn adds the conditions of f's period.
func madeIn(f portal.WatchFilter, conds []string, args []any) ([]string, []any) {
	if !f.From.IsZero() {
		conds, args = append(conds, "made_us >= ?"), append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "made_us < ?"), append(args, micros(f.To))
	}
	return conds, args
}

func (s *Store) watches(ctx context.Context, rest string, args ...any) ([]portal.WatchedPass, error) {
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+watchColumns+" FROM pass_watch "+rest), args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.WatchedPass
	for rows.Next() {
		var p portal.WatchedPass
		var state, use string
		var made, ends, signedIn, checked, next int64
		if err := rows.Scan(&p.ID, &p.RecordID, &p.AuditID, &p.TargetID, &p.TargetUPN, &p.TargetName, &made, &p.TAPID, &state, &use,
			&p.StillUsable, &p.After, &ends, &signedIn, &p.SignIn, &p.Detail, &checked, &next); err != nil {
			return nil, unavailable(err)
		}
		p.State, p.Use = portal.Watch(state), portal.Use(use)
		p.Made, p.Ends, p.SignedIn = fromMicros(made), fromMicros(ends), fromMicros(signedIn)
		p.Checked, p.Next = fromMicros(checked), fromMicros(next)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
