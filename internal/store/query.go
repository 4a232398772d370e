package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// eventColumns are the columns of a portal.Event, in eventScanner's order.
const eventColumns = `id, time_us, action, outcome, operator_id, operator_name, target_id, target_upn,
	target_name, tap_id, lifetime_minutes, one_time, start_us, reason, ticket, detail, refusal_code,
	graph_request_id, request_id, intent_id, reconciled, hash, privilege, channel`

// chainColumns add the chain columns that portal.Event does not carry.
const chainColumns = eventColumns + `, anchor, prev_hash, key_id`

// firstAtOrAfter finds the first record at or after a time. Time never
// decreases along ids (see stamp), so the records from a time on are
// exactly those from this id on. Queries filter on the id found instead
// of on time: every query then walks its (column, id) index over just the
// range, whatever else it filters on, after one lookup in the time index.
// The id is looked up first and passed as a value, rather than as a
// subquery, so that PostgreSQL's planner sees the real bound.
const firstAtOrAfter = "SELECT id FROM events WHERE time_us >= ? ORDER BY time_us, id LIMIT 1"

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// idAtOrAfter returns the id of the first record at or after t, and false
// when every record is older.
func (s *Store) idAtOrAfter(ctx context.Context, q queryer, t time.Time) (int64, bool, error) {
	var id int64
	err := q.QueryRowContext(ctx, s.q(firstAtOrAfter), micros(t)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// eventScanner scans rows of eventColumns, then of any extra columns,
// into one set of destinations: a long export then allocates nothing per
// row beyond the values themselves.
type eventScanner struct {
	e               portal.Event
	action, outcome string
	channel         string
	timeUS, startUS int64
	dest            []any
}

func newEventScanner(extra ...any) *eventScanner {
	s := &eventScanner{}
	e := &s.e
	s.dest = append([]any{&e.ID, &s.timeUS, &s.action, &s.outcome, &e.OperatorID, &e.OperatorName, &e.TargetID,
		&e.TargetUPN, &e.TargetName, &e.TAPID, &e.LifetimeMinutes, &e.OneTime, &s.startUS, &e.Reason,
		&e.Ticket, &e.Detail, &e.RefusalCode, &e.GraphRequestID, &e.RequestID, &e.IntentID,
		&e.Reconciled, &e.Hash, &e.Privilege, &s.channel}, extra...)
	return s
}

// scan scans the current row of sc.
func (s *eventScanner) scan(sc scanner) (portal.Event, error) {
	if err := sc.Scan(s.dest...); err != nil {
		return portal.Event{}, err
	}
	e := s.e
	e.Action, e.Outcome, e.Channel = portal.Action(s.action), portal.Outcome(s.outcome), portal.Channel(s.channel)
	e.Time, e.Start = fromMicros(s.timeUS), fromMicros(s.startUS)
	return e, nil
}

// selection is an EventFilter in SQL, with its time range turned into an
// id range.
type selection struct {
	// conds and args select on columns other than id.
	conds []string
	args  []any
	// lo and hi bound the ids: lo <= id < hi, 0 for no bound.
	lo, hi int64
	// none is true when the time range holds no record, so there is
	// nothing to query.
	none bool
}

// where returns " WHERE …" (or "") selecting sel's records with ids in
// [lo, hi) (0 for no bound), and its arguments.
func (sel *selection) where(lo, hi int64) (string, []any) {
	conds := slices.Clip(sel.conds)
	args := slices.Clip(sel.args)
	if lo > 0 {
		conds, args = append(conds, "id >= ?"), append(args, lo)
	}
	if hi > 0 {
		conds, args = append(conds, "id < ?"), append(args, hi)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// selectEvents resolves f; Before counts only when keyset is true.
func (s *Store) selectEvents(ctx context.Context, q queryer, f portal.EventFilter, keyset bool) (selection, error) {
	var sel selection
	add := func(cond string, arg any) {
		sel.conds = append(sel.conds, cond)
		sel.args = append(sel.args, arg)
	}
	if f.OperatorID != "" {
		add("operator_id = ?", f.OperatorID)
	}
	if f.TargetID != "" {
		add("target_id = ?", f.TargetID)
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if f.Fold {
		// intent_id <> 0 repeats the partial index's predicate so that the
		// planner may use it for the probe.
		sel.conds = append(sel.conds, "NOT EXISTS (SELECT 1 FROM events o WHERE o.intent_id = events.id AND o.intent_id <> 0)")
	}
	if !f.From.IsZero() {
		from, ok, err := s.idAtOrAfter(ctx, q, f.From)
		if err != nil {
			return sel, err
		}
		if !ok {
			sel.none = true
			return sel, nil
		}
		sel.lo = from
	}
	if keyset && f.Before > 0 {
		sel.hi = f.Before
	}
	if !f.To.IsZero() {
		// With no record at or after To, every record is before it.
		to, ok, err := s.idAtOrAfter(ctx, q, f.To)
		if err != nil {
			return sel, err
		}
		if ok && (sel.hi == 0 || to < sel.hi) {
			sel.hi = to
		}
	}
	return sel, nil
}

// List returns the records matching f, newest first: at most f.Limit
// (50 when zero, never more than 500), older than f.Before when set.
// Paging with Before set to the last id of a page is stable while records
// are appended: new records always have larger ids.
func (s *Store) List(ctx context.Context, f portal.EventFilter) ([]portal.Event, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	if f.TargetID != "" {
		// One user's records, newest first along their index: a page of
		// them is a quick read, as on every user page.
		ctx = s.reads.quick(ctx)
	}
	sel, err := s.selectEvents(ctx, s.reads, f, true)
	if err != nil {
		return nil, unavailable(err)
	}
	if sel.none {
		return nil, nil
	}
	where, args := sel.where(sel.lo, sel.hi)
	rows, err := s.reads.QueryContext(ctx, s.q("SELECT "+eventColumns+" FROM events"+where+" ORDER BY id DESC LIMIT ?"),
		append(args, limit)...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	events := make([]portal.Event, 0, limit)
	sc := newEventScanner()
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return nil, unavailable(err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return events, nil
}

// Get returns the record with id, or ENotFound.
func (s *Store) Get(ctx context.Context, id int64) (portal.Event, error) {
	row := s.reads.QueryRowContext(ctx, s.q("SELECT "+eventColumns+" FROM events WHERE id = ?"), id)
	e, err := newEventScanner().scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.Event{}, portal.Errorf(portal.ENotFound, "History record %d does not exist.", id)
	}
	if err != nil {
		return portal.Event{}, unavailable(err)
	}
	return e, nil
}

// Export calls fn for every record matching f (Limit ignored), newest
// first, and stops at fn's first error, which it returns unchanged.
//
// It reads in chunks of exportChunk ids, newest first, on separate
// connections, up to exportAhead chunks ahead of fn, and hands them to fn
// in order. Reading rows is most of an export's cost (with SQLite, the
// driver's calls for each column), so reading ahead lets other cores and
// connections share it while fn writes, and memory stays bounded by the
// chunks in flight however long the history is. Records appended during
// the export are left out; a retention run during it may take old records
// away before they are read, as if the export had started after it.
func (s *Store) Export(ctx context.Context, f portal.EventFilter, fn func(portal.Event) error) error {
	sel, err := s.selectEvents(ctx, s.read, f, true)
	if err != nil {
		return unavailable(err)
	}
	if sel.none {
		return nil
	}
	first, last, ok, err := s.idRange(ctx)
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return nil
	}
	lo, hi := max(sel.lo, first), last+1
	if sel.hi > 0 {
		hi = min(hi, sel.hi)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // runs before wg.Wait: readers still running stop
	// Each chunk gets a channel for its result, queued in order; the
	// queue's capacity bounds how many chunks are read ahead of fn.
	queue := make(chan chan chunk, exportAhead)
	wg.Go(func() {
		defer close(queue)
		for top := hi; top > lo; top -= exportChunk {
			bottom := max(top-exportChunk, lo)
			result := make(chan chunk, 1)
			select {
			case queue <- result:
			case <-ctx.Done():
				return
			}
			wg.Go(func() { result <- s.readChunk(ctx, &sel, bottom, top) })
		}
	})
	for result := range queue {
		c := <-result
		if c.err == nil {
			c.err = ctx.Err()
		}
		if c.err != nil {
			return unavailable(c.err)
		}
		for _, e := range c.events {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Export's chunks: big enough that a query's overhead is small next to
// its rows, small enough that the few in memory weigh a few MB each.
const (
	exportChunk = 4096
	exportAhead = 2
)

// chunk is the records of one range of ids, newest first.
type chunk struct {
	events []portal.Event
	err    error
}

// readChunk reads sel's records with ids in [lo, hi).
func (s *Store) readChunk(ctx context.Context, sel *selection, lo, hi int64) chunk {
	where, args := sel.where(lo, hi)
	rows, err := s.read.QueryContext(ctx, s.q("SELECT "+eventColumns+" FROM events"+where+" ORDER BY id DESC"), args...)
	if err != nil {
		return chunk{err: err}
	}
	defer rows.Close()
	var c chunk
	sc := newEventScanner()
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return chunk{err: err}
		}
		c.events = append(c.events, e)
	}
	c.err = rows.Err()
	return c
}

// idRange returns the oldest and newest ids, and false when there are no
// records.
func (s *Store) idRange(ctx context.Context) (first, last int64, ok bool, err error) {
	// Two subqueries, each one step along the primary key: SQLite scans
	// the table for MIN and MAX together.
	var f, l sql.NullInt64
	err = s.read.QueryRowContext(ctx, `SELECT (SELECT id FROM events ORDER BY id LIMIT 1),
		(SELECT id FROM events ORDER BY id DESC LIMIT 1)`).Scan(&f, &l)
	return f.Int64, l.Int64, f.Valid && l.Valid, err
}

// topOperators bounds Stats.PerOperator.
const topOperators = 10

// usPerDay is a day in microseconds: a stored time divided by it is the
// UTC day, since unix time has no leap seconds.
const usPerDay = "86400000000"

// Stats summarises the records matching f (Before and Limit ignored), with
// GROUP BY in the database, from one snapshot: per UTC day the successful
// issues, refusals and failures, oldest day first; the ten operators with
// the most successful issues, labelled with their name; and refusals by
// RefusalCode. Counts that tie are ordered by label.
func (s *Store) Stats(ctx context.Context, f portal.EventFilter) (portal.Stats, error) {
	var st portal.Stats
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		sel, err := s.selectEvents(ctx, tx, f, false)
		if err != nil || sel.none {
			return err
		}
		cond, args := sel.where(sel.lo, sel.hi)
		and := " WHERE "
		if cond != "" {
			and = cond + " AND "
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT time_us / `+usPerDay+` AS day,
			SUM(CASE WHEN action = 'issue' AND outcome = 'success' THEN 1 ELSE 0 END),
			SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END),
			SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END)
			FROM events`+cond+` GROUP BY day ORDER BY day`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var day int64
			var d portal.DayCount
			if err := rows.Scan(&day, &d.Issued, &d.Refused, &d.Failed); err != nil {
				return err
			}
			d.Day = time.Unix(day*86400, 0).UTC()
			st.PerDay = append(st.PerDay, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Operators are counted by id, since names change and repeat; MAX
		// picks one of an operator's names, which is enough for a label.
		st.PerOperator, err = s.counts(ctx, tx, `SELECT COALESCE(NULLIF(MAX(operator_name), ''), operator_id) AS label,
			COUNT(*) FROM events`+and+`action = 'issue' AND outcome = 'success'
			GROUP BY operator_id ORDER BY COUNT(*) DESC, label LIMIT ?`,
			append(args, topOperators)...)
		if err != nil {
			return err
		}
		st.RefusalsByReason, err = s.counts(ctx, tx, `SELECT refusal_code, COUNT(*) FROM events`+and+
			`outcome = 'refused' GROUP BY refusal_code ORDER BY COUNT(*) DESC, refusal_code`, args...)
		return err
	})
	if err != nil {
		return portal.Stats{}, unavailable(err)
	}
	return st, nil
}

// counts runs a query returning (label, count) rows.
func (s *Store) counts(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]portal.Count, error) {
	rows, err := tx.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var counts []portal.Count
	for rows.Next() {
		var c portal.Count
		if err := rows.Scan(&c.Label, &c.N); err != nil {
			return nil, err
		}
		counts = append(counts, c)
	}
	return counts, rows.Err()
}

// Unsettled returns the pending intents and the unknown outcomes recorded
// before olderThan that no later record settles, oldest first: those whose
// Graph call may or may not have happened, for the settler.
func (s *Store) Unsettled(ctx context.Context, olderThan time.Time) ([]portal.Event, error) {
	before, ok, err := s.idAtOrAfter(ctx, s.read, olderThan)
	if err != nil {
		return nil, unavailable(err)
	}
	if !ok {
		before = math.MaxInt64
	}
	// intent_id <> 0 repeats the partial index's predicate so that the
	// planner may use it for the NOT EXISTS probe.
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+eventColumns+` FROM events i
		WHERE outcome IN (?, ?) AND id < ?
		AND NOT EXISTS (SELECT 1 FROM events o WHERE o.intent_id = i.id AND o.intent_id <> 0)
		ORDER BY id`), string(portal.OutcomePending), string(portal.OutcomeUnknown), before)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var events []portal.Event
	sc := newEventScanner()
	for rows.Next() {
		e, err := sc.scan(rows)
		if err != nil {
			return nil, unavailable(err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return events, nil
}
