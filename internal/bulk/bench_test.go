package bulk_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/bulk"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// benchRows is the cohort of the bulk benchmarks; benchLatency is Graph's
// emulated latency per request.
const (
	benchRows    = 1000
	benchLatency = 150 * time.Millisecond
)

// newHires adds n eligible users to the demo tenant and returns their ids.
func newHires(p *demotest.Portal, n int) []string {
	ids := make([]string, n)
	p.Demo.Graph.Update(func(tn *graphemu.Tenant) {
		g := tn.LookupGroup(graphemu.EligibleGroupID)
		for i := range ids {
			ids[i] = fmt.Sprintf("b2000000-0000-4000-8000-%012d", i)
			name := fmt.Sprintf("hire%04d", i)
			tn.Users = append(tn.Users, &graphemu.User{ID: ids[i], DisplayName: "New Hire " + name, GivenName: "New", Surname: "Hire",
				UserPrincipalName: name + "@" + graphemu.DemoDomain, UserType: "Member", AccountEnabled: true,
				CreatedDateTime: time.Now().Add(-24 * time.Hour)})
			g.Members = append(g.Members, ids[i])
		}
	})
	p.Demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: benchLatency})
	return ids
}

// BenchmarkCohort issues 1,000 rows through the runner (every guardrail,
// a record per row, $batch) at 150 ms per Graph request with Graph's write
// limit on, and reports the rows per second, duplicates and lost rows, and
// the memory the run allocated. Run it once: -benchtime=1x.
func BenchmarkCohort(b *testing.B) {
	for range b.N {
		p := demotest.Start(b, ownRunner)
		ctx := context.Background()
		ids := newHires(p, benchRows)
		run, _ := confirmedRun(b, p, "bench", ids)
		r := bulk.NewRunner(p.App.Service, p.App.Store, p.App.Store, "bench", bulk.RunnerOptions{})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		if _, err := r.Step(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		rows, err := p.App.Store.Rows(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		issued := 0
		for _, w := range rows {
			if w.State == portal.RowIssued && w.Sealed != nil {
				issued++
			}
		}
		created := creates(p)
		b.ReportMetric(float64(benchRows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(elapsed.Seconds(), "s/run")
		b.ReportMetric(float64(created-issued), "duplicates")
		b.ReportMetric(float64(benchRows-issued), "lost")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MiB-alloc")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "MiB-heap")
	}
}

// BenchmarkSequential is the loop helpdesk scripts run: one create at a
// time, no checks and no records, on the same emulator and latency.
func BenchmarkSequential(b *testing.B) {
	for range b.N {
		p := demotest.Start(b, ownRunner)
		ctx := context.Background()
		ids := newHires(p, benchRows)
		start := time.Now()
		for _, id := range ids {
			if _, err := p.App.Graph.CreateTAP(ctx, id, portal.NewTAP{LifetimeMinutes: 60, OneTime: true}); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(benchRows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(elapsed.Seconds(), "s/run")
	}
}

// BenchmarkPreview checks 1,000 rows with the guardrails at 150 ms per
// Graph request, as the preview of a cohort does, and reports the rows
// per second. Run it once: -benchtime=1x.
func BenchmarkPreview(b *testing.B) {
	for range b.N {
		p := demotest.Start(b, ownRunner)
		ids := newHires(p, benchRows)
		rows := make([]bulk.Row, len(ids))
		for i, id := range ids {
			rows[i] = bulk.Row{Line: i + 2, Target: id, Request: issuance.IssueRequest{LifetimeMinutes: 60, Reason: "First day"}}
		}
		op := portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}
		start := time.Now()
		got := bulk.Preview(context.Background(), p.App.Service, op, "bench", rows, time.Now())
		elapsed := time.Since(start)
		eligible := 0
		for _, w := range got {
			if w.State == portal.RowEligible {
				eligible++
			}
		}
		if eligible != benchRows {
			b.Fatalf("%d of %d rows eligible", eligible, benchRows)
		}
		b.ReportMetric(float64(benchRows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(elapsed.Seconds(), "s/run")
	}
}
