package store_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
)

const (
	benchRecords = 1_000_000
	// benchVersion names the cached SQLite file; change it whenever the
	// schema, the chain encoding or the generated data change.
	benchVersion = "v2"
	// benchOperator is the operator the page benchmarks filter on.
	benchOperator = "op-07"
)

// benchEnd is when the generated history ends; it starts 90 days before.
var benchEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkHistory measures the history on a million records per
// database: pages as the history screen reads them, and a full CSV
// export. Page benchmarks report p50 and p95 latency; export reports
// throughput and how much the heap and RSS grow while it streams.
func BenchmarkHistory(b *testing.B) {
	for _, db := range []struct {
		name string
		load func(b *testing.B) *store.Store
	}{
		{"sqlite", loadSQLite},
		{"postgres", loadPostgres},
	} {
		b.Run(db.name, func(b *testing.B) {
			s := db.load(b)
			ctx := context.Background()
			newest, err := s.List(ctx, portal.EventFilter{Limit: 1})
			if err != nil || len(newest) != 1 {
				b.Fatalf("List(Limit: 1) = %v, %v", newest, err)
			}
			weekStart := newest[0].Time.Add(-60 * 24 * time.Hour)

			b.Run("first-page", func(b *testing.B) {
				benchPage(b, s, portal.EventFilter{OperatorID: benchOperator})
			})
			b.Run("deep-page", func(b *testing.B) {
				benchPage(b, s, portal.EventFilter{OperatorID: benchOperator, Before: benchRecords / 10})
			})
			b.Run("date-range", func(b *testing.B) {
				benchPage(b, s, portal.EventFilter{From: weekStart, To: weekStart.Add(7 * 24 * time.Hour)})
			})
			b.Run("export", func(b *testing.B) { benchExport(b, s) })
			b.Run("verify", func(b *testing.B) { benchVerify(b, s) })
		})
	}
}

// benchPage lists one page of 50 per iteration and reports latency
// percentiles, which matter more for a page than the mean.
func benchPage(b *testing.B, s *store.Store, f portal.EventFilter) {
	ctx := context.Background()
	var latencies []time.Duration
	for b.Loop() {
		start := time.Now()
		events, err := s.List(ctx, f)
		latencies = append(latencies, time.Since(start))
		if err != nil || len(events) != 50 {
			b.Fatalf("List(%+v) = %d events, %v; want 50", f, len(events), err)
		}
	}
	slices.Sort(latencies)
	ms := func(p int) float64 {
		i := (len(latencies)*p+99)/100 - 1
		return float64(latencies[max(i, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(95), "p95-ms")
}

// benchExport exports everything through encoding/csv per iteration, as
// the export handler does, and reports records per second and the peak
// growth of the live heap and of RSS while it runs. A first export, not
// counted in the rate, reads the database into the system's page cache,
// as a portal's own use keeps it; its rate is reported apart
// ("first-records/s"): it depends on what the system had cached, and on
// the disk. The growth of memory counts it too.
func benchExport(b *testing.B, s *store.Store) {
	ctx := context.Background()
	var heapGrowth, rssGrowth float64
	measured := func() time.Duration {
		runtime.GC()
		rssBefore := procStatus("VmRSS")
		resetPeakRSS()
		sampler := sampleHeap()
		start := time.Now()
		n, err := exportAll(ctx, s)
		took := time.Since(start)
		heapGrowth = max(heapGrowth, sampler.stop())
		if peak := procStatus("VmHWM"); peak > 0 && rssBefore > 0 {
			rssGrowth = max(rssGrowth, peak-rssBefore)
		}
		if err != nil || n != benchRecords {
			b.Fatalf("Export() = %d records, %v; want %d", n, err, benchRecords)
		}
		return took
	}
	first := benchRecords / measured().Seconds()
	var records int64
	var elapsed time.Duration
	for b.Loop() {
		elapsed += measured()
		records += benchRecords
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(first, "first-records/s")
	b.ReportMetric(heapGrowth, "heap-growth-MB")
	b.ReportMetric(rssGrowth, "rss-growth-MB")
}

// exportAll exports every record as CSV to nowhere, and counts them.
func exportAll(ctx context.Context, s *store.Store) (int64, error) {
	w := csv.NewWriter(io.Discard)
	row := make([]string, 0, 22)
	var n int64
	err := s.Export(ctx, portal.EventFilter{}, func(e portal.Event) error {
		n++
		row = csvRow(row[:0], e)
		return w.Write(row)
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	return n, err
}

// benchVerify walks the whole chain per iteration, as every checkpoint
// and "portal audit verify" do, and reports records verified per second.
func benchVerify(b *testing.B, s *store.Store) {
	ctx := context.Background()
	var records int64
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		v, err := s.Verify(ctx)
		elapsed += time.Since(start)
		if err != nil || !v.Intact() || v.Checked != benchRecords {
			b.Fatalf("Verify() = %+v, %v; want %d records intact", v, err, benchRecords)
		}
		records += v.Checked
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
}

// csvRow appends e's columns in export order.
func csvRow(row []string, e portal.Event) []string {
	start := ""
	if !e.Start.IsZero() {
		start = e.Start.Format(time.RFC3339)
	}
	return append(row,
		strconv.FormatInt(e.ID, 10), e.Time.Format(time.RFC3339Nano), string(e.Action), string(e.Outcome),
		e.OperatorID, e.OperatorName, e.TargetID, e.TargetUPN, e.TargetName, e.TAPID,
		strconv.Itoa(e.LifetimeMinutes), strconv.FormatBool(e.OneTime), start, e.Reason, e.Ticket,
		e.Detail, e.RefusalCode, e.GraphRequestID, e.RequestID, strconv.FormatInt(e.IntentID, 10),
		strconv.FormatBool(e.Reconciled), e.Hash)
}

// heapSampler tracks the peak of the live heap while something runs.
type heapSampler struct {
	base float64
	peak float64
	done chan struct{}
	wg   sync.WaitGroup
}

// sampleHeap starts sampling heap object bytes every few milliseconds;
// runtime/metrics reads them without stopping the world.
func sampleHeap() *heapSampler {
	h := &heapSampler{base: heapBytes(), done: make(chan struct{})}
	h.peak = h.base
	h.wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				h.peak = max(h.peak, heapBytes())
			}
		}
	})
	return h
}

// stop ends sampling and returns the peak growth in MiB.
func (h *heapSampler) stop() float64 {
	close(h.done)
	h.wg.Wait()
	h.peak = max(h.peak, heapBytes())
	return (h.peak - h.base) / (1 << 20)
}

func heapBytes() float64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return float64(sample[0].Value.Uint64())
}

// procStatus returns a memory figure of /proc/self/status in MiB, or 0
// where there is none (outside Linux).
func procStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS, so that it
// shows the peak of what follows rather than of the data set's loading.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// loadSQLite returns a store on a million-record SQLite database, built
// once and kept in the temporary directory between runs.
func loadSQLite(b *testing.B) *store.Store {
	path := filepath.Join(os.TempDir(), "tapportal-bench-"+benchVersion+".db")
	if s, err := store.Open(b.Context(), "sqlite:"+path, testOptions); err == nil {
		if n, _ := countRecords(s); n == benchRecords {
			b.Cleanup(func() { s.Close() })
			return s
		}
		s.Close()
	}
	b.Logf("building %s with %d records", path, benchRecords)
	tmp := path + ".building"
	removeSQLite(tmp)
	s, err := store.Open(b.Context(), "sqlite:"+tmp, testOptions)
	if err != nil {
		b.Fatal(err)
	}
	if err := bulkInsertSQLite(b.Context(), s); err != nil {
		s.Close()
		b.Fatal(err)
	}
	// Closing checkpoints the WAL into the file, which can then move.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	removeSQLite(path)
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	s, err = store.Open(b.Context(), "sqlite:"+path, testOptions)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

func countRecords(s *store.Store) (int, error) {
	db, _ := store.WriteDB(s)
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM events").Scan(&n)
	return n, err
}

// benchColumns are the columns bulk loading fills.
var benchColumns = []string{"id", "time_us", "action", "outcome", "operator_id", "operator_name", "target_id",
	"target_upn", "target_name", "tap_id", "lifetime_minutes", "one_time", "start_us", "reason", "ticket",
	"detail", "refusal_code", "graph_request_id", "request_id", "intent_id", "reconciled", "anchor",
	"prev_hash", "hash", "key_id"}

// values returns e's columns in benchColumns order.
func values(e portal.Event, prevHash, keyID string) []any {
	start := int64(0)
	if !e.Start.IsZero() {
		start = e.Start.UnixMicro()
	}
	return []any{e.ID, e.Time.UnixMicro(), string(e.Action), string(e.Outcome), e.OperatorID, e.OperatorName,
		e.TargetID, e.TargetUPN, e.TargetName, e.TAPID, e.LifetimeMinutes, e.OneTime, start, e.Reason,
		e.Ticket, e.Detail, e.RefusalCode, e.GraphRequestID, e.RequestID, e.IntentID, e.Reconciled, "",
		prevHash, e.Hash, keyID}
}

// bulkInsertSQLite loads the generated history with multi-row INSERTs in
// large transactions.
func bulkInsertSQLite(ctx context.Context, s *store.Store) error {
	db, _ := store.WriteDB(s)
	const rowsPerInsert, rowsPerTx = 500, 100_000
	one := "(" + strings.Repeat("?, ", len(benchColumns)-1) + "?)"
	insert := "INSERT INTO events (" + strings.Join(benchColumns, ", ") + ") VALUES " +
		strings.Repeat(one+", ", rowsPerInsert-1) + one
	g := newHistoryGenerator()
	for g.id < benchRecords {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			tx.Rollback()
			return err
		}
		args := make([]any, 0, rowsPerInsert*len(benchColumns))
		for range rowsPerTx / rowsPerInsert {
			args = args[:0]
			for range rowsPerInsert {
				args = append(args, values(g.next())...)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// loadPostgres returns a store on a new schema loaded with a million
// records by COPY, dropped when the benchmark ends.
func loadPostgres(b *testing.B) *store.Store {
	skipWithoutPostgres(b)
	ctx := b.Context()
	u := testutil.PostgresURL(b, "bench")
	s, err := store.Open(ctx, u, testOptions)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })

	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	g := newHistoryGenerator()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, benchColumns, pgx.CopyFromFunc(func() ([]any, error) {
		if g.id >= benchRecords {
			return nil, nil
		}
		return values(g.next()), nil
	}))
	if err != nil || n != benchRecords {
		b.Fatalf("COPY = %d rows, %v", n, err)
	}
	// Autovacuum would analyse a table this size soon after loading;
	// without statistics the planner's first guesses are not what a
	// running portal sees.
	if _, err := conn.Exec(ctx, "ANALYZE events"); err != nil {
		b.Fatal(err)
	}
	return s
}

// historyGenerator makes a realistic, reproducible history: about 40
// operators (some busier than others), 5,000 users, 80% issues and 20%
// revocations over 90 days; a tenth refused by a guardrail, the rest an
// intent followed by its outcome, mostly success.
type historyGenerator struct {
	rng    *mathrand.Rand
	id     int64
	timeUS int64
	stepUS int64
	prev   string
	// key keys the hashes.
	key     string
	pending *portal.Event // an outcome due after the intent just made
}

func newHistoryGenerator() *historyGenerator {
	span := int64(90 * 24 * time.Hour / time.Microsecond)
	return &historyGenerator{
		rng:    mathrand.New(mathrand.NewPCG(2026, 11)),
		timeUS: benchEnd.UnixMicro() - span,
		stepUS: span / benchRecords,
		prev:   store.Genesis,
		key:    testutil.AuditKeys[0],
	}
}

var refusalCodes = []string{"protected-role", "protected-group", "guest", "disabled", "self", "lifetime-bounds", "rate-limit"}

// next returns the next record with its hash, the previous hash and
// the id of the key.
func (g *historyGenerator) next() (e portal.Event, prev, keyID string) {
	g.id++
	g.timeUS += g.rng.Int64N(2 * g.stepUS)
	if g.pending != nil {
		e, g.pending = *g.pending, nil
	} else {
		e = g.action()
	}
	e.ID = g.id
	e.Time = time.UnixMicro(g.timeUS).UTC()
	prev = g.prev
	e.Hash, keyID = store.KeyedHash(g.key, prev, e, "")
	g.prev = e.Hash
	return e, prev, keyID
}

// action makes a new action: a refusal, or an intent whose outcome next
// returns after it.
func (g *historyGenerator) action() portal.Event {
	r := g.rng
	// Squaring skews towards low numbers: a few operators do most work.
	op := int(40 * r.Float64() * r.Float64())
	user := r.IntN(5000)
	e := portal.Event{
		Action:       portal.ActionIssue,
		OperatorID:   fmt.Sprintf("op-%02d", op),
		OperatorName: fmt.Sprintf("Operator %02d", op),
		TargetID:     fmt.Sprintf("00000000-0000-4000-8000-%012d", user),
		TargetUPN:    fmt.Sprintf("user%04d@contoso.example", user),
		TargetName:   fmt.Sprintf("User %04d", user),
		Reason:       "User lost their phone and needs to register a new authenticator",
		Ticket:       fmt.Sprintf("INC-%06d", r.IntN(1_000_000)),
		RequestID:    fmt.Sprintf("%016x", r.Uint64()),
	}
	if r.IntN(5) == 0 {
		e.Action = portal.ActionRevoke
		e.Reason = "Onboarding finished"
	} else {
		e.LifetimeMinutes = []int{60, 480, 1440}[r.IntN(3)]
		e.OneTime = r.IntN(2) == 0
		e.Start = time.UnixMicro(g.timeUS).UTC()
	}
	if r.IntN(10) == 0 {
		e.Outcome = portal.OutcomeRefused
		e.RefusalCode = refusalCodes[r.IntN(len(refusalCodes))]
		e.Detail = "The target is protected by a guardrail: " + e.RefusalCode
		return e
	}
	e.Outcome = portal.OutcomePending
	outcome := e
	outcome.IntentID = g.id
	outcome.Outcome = portal.OutcomeSuccess
	outcome.GraphRequestID = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Int64N(1<<48))
	if e.Action == portal.ActionIssue {
		outcome.TAPID = fmt.Sprintf("%016x", r.Uint64())
	}
	if r.IntN(12) == 0 {
		outcome.Outcome = portal.OutcomeFailed
		outcome.Detail = "Graph returned 503 Service Unavailable"
		outcome.TAPID = ""
	}
	g.pending = &outcome
	return e
}
