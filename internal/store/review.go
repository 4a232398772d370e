package store

import (
	"context"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

var _ portal.Review = (*Store)(nil)

// likeEscaper quotes LIKE's wildcards, so that a name with % or _ is
// matched as written.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// FindPeople implements portal.Review. It scans the history, so it is for
// a person typed into a filter, not for every page.
func (s *Store) FindPeople(ctx context.Context, kind portal.People, text, operatorID string, limit int) ([]portal.Person, error) {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(text)) + "%"
	mine, args := "", []any{pattern}
	if operatorID != "" {
		mine = " AND operator_id = ?"
	}
	var query string
	switch kind {
	case portal.Operators:
		query = `SELECT operator_id, MAX(operator_name), '' FROM events
			WHERE operator_id <> '' AND lower(operator_name) LIKE ? ESCAPE '\'` + mine + `
			GROUP BY operator_id ORDER BY 2, 1 LIMIT ?`
	default:
		query = `SELECT target_id, MAX(target_name), MAX(target_upn) FROM events
			WHERE target_id <> '' AND (lower(target_name) LIKE ? ESCAPE '\' OR lower(target_upn) LIKE ? ESCAPE '\')` + mine + `
			GROUP BY target_id ORDER BY 2, 1 LIMIT ?`
		args = append(args, pattern)
	}
	if operatorID != "" {
		args = append(args, operatorID)
	}
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []portal.Person
	for rows.Next() {
		var p portal.Person
		if err := rows.Scan(&p.ID, &p.Name, &p.UPN); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Count implements portal.Review: it reads at most max rows, so a count
// over a large history costs no more than a page of max records.
func (s *Store) Count(ctx context.Context, f portal.EventFilter, max int) (int, error) {
	sel, err := s.selectEvents(ctx, s.read, f, false)
	if err != nil {
		return 0, unavailable(err)
	}
	if sel.none {
		return 0, nil
	}
	where, args := sel.where(sel.lo, sel.hi)
	var n int
	err = s.read.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM (SELECT 1 FROM events"+where+" LIMIT ?) AS counted"), append(args, max)...).Scan(&n)
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}
